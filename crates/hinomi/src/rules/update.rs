//! `hinomi rules update`: a rule set fetched as a `.tar.gz` archive (a
//! SigmaHQ release, or a mirror of one), its SHA-256 checked, unpacked
//! beside the set in use, loaded once to prove it works, and switched to
//! atomically.
//!
//! The set directory (`--dir`, `./sigma` by default) is a symbolic link
//! that this command owns: each update unpacks into
//! `DIR.versions/<time>/` and replaces the link with one rename, so a
//! server reading the rules sees the old set or the new one, never half
//! of one; the previous version is kept for a rollback, older ones are
//! removed. The archive is written by someone else: paths that leave the
//! directory, links and devices are refused, and the download, each file
//! and the whole are bounded.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// The archive a default update fetches: SigmaHQ's main branch.
pub(crate) const DEFAULT_URL: &str = "https://github.com/SigmaHQ/sigma/archive/refs/heads/master.tar.gz";

/// Bounds on what is fetched and unpacked.
const MAX_ARCHIVE: u64 = 256 << 20;
const MAX_UNPACKED: u64 = 1 << 30;
const MAX_FILE: u64 = 16 << 20;
const MAX_ENTRIES: usize = 200_000;

/// What to fetch and where to put it.
pub(crate) struct Update {
    pub(crate) dir: PathBuf,
    pub(crate) url: String,
    /// The archive's SHA-256 as hex; without it, `URL.sha256` is fetched
    /// (`sha256sum` format) and must be there.
    pub(crate) sha256: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .timeout_connect(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// `url`'s body, at most `max` bytes.
fn fetch(agent: &ureq::Agent, url: &str, max: u64) -> Result<Vec<u8>> {
    let response = agent.get(url).call().with_context(|| format!("fetching {url}"))?;
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(max + 1)
        .read_to_end(&mut body)
        .with_context(|| format!("reading {url}"))?;
    if body.len() as u64 > max {
        bail!("{url} is larger than {} MiB", max >> 20);
    }
    Ok(body)
}

/// The expected SHA-256: given, or the first word of `URL.sha256`.
fn expected(agent: &ureq::Agent, u: &Update) -> Result<String> {
    let hex = match &u.sha256 {
        Some(h) => h.clone(),
        None => {
            let url = format!("{}.sha256", u.url);
            let text = fetch(agent, &url, 4096).with_context(|| {
                format!("no checksum for {}: pass --sha256 (the release page lists it), or publish {url}", u.url)
            })?;
            String::from_utf8_lossy(&text).split_whitespace().next().unwrap_or("").to_string()
        }
    };
    let hex = hex.trim().to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{hex:?} is not a SHA-256 (64 hex digits)");
    }
    Ok(hex)
}

/// Where an archive entry goes under `root`, or why it may not: the first
/// component (the archive's top directory, `sigma-master/`) is dropped.
fn entry_path(root: &Path, path: &Path) -> Result<Option<PathBuf>> {
    let mut parts = path.components();
    match parts.next() {
        Some(Component::Normal(_)) => {}
        Some(Component::CurDir) => return entry_path(root, parts.as_path()),
        _ => bail!("archive entry {} is not relative", path.display()),
    }
    let rest = parts.as_path();
    if rest.as_os_str().is_empty() {
        return Ok(None);
    }
    if rest.components().any(|c| !matches!(c, Component::Normal(_))) {
        bail!("archive entry {} leaves the archive", path.display());
    }
    Ok(Some(root.join(rest)))
}

/// Unpacks a `.tar.gz` into `root` (which must not exist): regular files
/// and directories only.
fn unpack(archive: &[u8], root: &Path) -> Result<usize> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let (mut files, mut total, mut entries) = (0usize, 0u64, 0usize);
    for entry in tar.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        entries += 1;
        if entries > MAX_ENTRIES {
            bail!("the archive has more than {MAX_ENTRIES} entries");
        }
        let path = entry.path().context("an archive entry's path")?.into_owned();
        let Some(target) = entry_path(root, &path)? else { continue };
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().context("an archive entry's size")?;
                total += size;
                if size > MAX_FILE || total > MAX_UNPACKED {
                    bail!("archive entry {} makes the set too large", path.display());
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                let mut out =
                    std::fs::File::create(&target).with_context(|| format!("writing {}", target.display()))?;
                std::io::copy(&mut (&mut entry).take(MAX_FILE), &mut out)
                    .with_context(|| format!("writing {}", target.display()))?;
                files += 1;
            }
            // GitHub's archives carry a global header; links and devices
            // have no place in a rule set.
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => bail!("archive entry {} is a {other:?}, not a file or directory", path.display()),
        }
    }
    Ok(files)
}

/// Fetches, checks, unpacks, loads and switches to the new set; returns
/// the version directory and how many rules loaded.
pub(crate) fn run(u: &Update) -> Result<(PathBuf, usize)> {
    if u.dir.exists() && !u.dir.is_symlink() {
        bail!(
            "{} is a directory this command did not make (a git checkout?): update it as it was made, or give --dir a new path",
            u.dir.display()
        );
    }
    let agent = agent();
    let want = expected(&agent, u)?;
    eprintln!("hinomi: fetching {}", u.url);
    let archive = fetch(&agent, &u.url, MAX_ARCHIVE)?;
    let got: String = Sha256::digest(&archive).iter().map(|b| format!("{b:02x}")).collect();
    if got != want {
        bail!("{}: SHA-256 is {got}, expected {want}; nothing was changed", u.url);
    }
    let name = u.dir.file_name().context("--dir needs a name")?.to_string_lossy().into_owned();
    let versions = u.dir.with_file_name(format!("{name}.versions"));
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    let version = versions.join(&stamp);
    let staging = versions.join(format!(".{stamp}.partial"));
    let unpacked = unpack(&archive, &staging);
    let files = match unpacked {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // The new set must load before anything points at it.
    let rules_dir = if staging.join("rules").is_dir() { staging.join("rules") } else { staging.clone() };
    let args = super::RuleArgs {
        rules: vec![rules_dir],
        placeholders: Vec::new(),
        unknown_source: super::UnknownSourceArg::Generic,
    };
    let (set, errors) = super::load(&args)?;
    if set.is_empty() {
        let _ = std::fs::remove_dir_all(&staging);
        bail!("{}: no rule loads from the archive's {files} files; nothing was changed", u.url);
    }
    std::fs::rename(&staging, &version).with_context(|| format!("naming {}", version.display()))?;
    // One rename replaces the link: readers see the old set or the new.
    let link = versions.join(format!(".{stamp}.link"));
    std::os::unix::fs::symlink(&version, &link).with_context(|| format!("linking {}", link.display()))?;
    let previous = std::fs::read_link(&u.dir).ok();
    std::fs::rename(&link, &u.dir).with_context(|| format!("switching {} to the new set", u.dir.display()))?;
    // Keep the one before for a rollback; remove older ones.
    if let Ok(list) = std::fs::read_dir(&versions) {
        for e in list.flatten() {
            let p = e.path();
            if p != version && Some(&p) != previous.as_ref() {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
    }
    eprintln!(
        "hinomi: {} now holds {} rules ({} did not load; `hinomi rules check` lists them) from {files} files, SHA-256 {got}",
        u.dir.display(),
        set.len(),
        errors.len()
    );
    Ok((version, set.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_stay_inside_the_set() {
        let root = Path::new("/r");
        assert_eq!(entry_path(root, Path::new("sigma-master/rules/a.yml")).unwrap(), Some(root.join("rules/a.yml")));
        assert_eq!(entry_path(root, Path::new("./sigma-master/rules/a.yml")).unwrap(), Some(root.join("rules/a.yml")));
        assert_eq!(entry_path(root, Path::new("sigma-master/")).unwrap(), None);
        for bad in ["/etc/passwd", "sigma/../../etc/passwd", "sigma/rules/../../x", "../x"] {
            assert!(entry_path(root, Path::new(bad)).is_err(), "{bad}");
        }
    }
}
