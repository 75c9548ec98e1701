//! `hinomi rules update` against a local HTTP server that serves a rule
//! archive built here from the SigmaHQ snapshot (`../shared/sigma`): the
//! set is fetched, checked, unpacked beside the old one and switched to in
//! one rename; a wrong checksum or a hostile archive changes nothing.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{hinomi, sigma_dir};

/// Serves `files` (path → body) over HTTP/1.1 on loopback until the test
/// ends; answers 404 for anything else.
fn serve(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
            }
            let mut out = &stream;
            match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let _ =
                        write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = out.write_all(body);
                }
                None => {
                    let _ = write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    addr
}

/// A `.tar.gz` of `top/rules/…` holding SigmaHQ's built-in Windows rules.
fn archive(work: &Path, top: &str) -> Vec<u8> {
    let staging = work.join(format!("staging-{top}"));
    std::fs::create_dir_all(staging.join(top)).unwrap();
    std::os::unix::fs::symlink(sigma_dir().join("rules/windows/builtin"), staging.join(top).join("rules")).unwrap();
    let out = work.join(format!("{top}.tar.gz"));
    let status = Command::new("tar").arg("-czhf").arg(&out).arg("-C").arg(&staging).arg(top).status().unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

fn sha256(bytes: &[u8], work: &Path) -> String {
    let file = work.join("hash-me");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("sha256sum").arg(&file).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

fn update(dir: &Path, url: &str, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["rules", "update", "--dir", dir.to_str().unwrap(), "--url", url];
    args.extend_from_slice(extra);
    let out = hinomi(&args);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_rule_set_is_fetched_checked_and_switched_to_atomically() {
    let work: PathBuf = std::env::temp_dir().join(format!("hinomi-rules-update-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let (first, second) = (archive(&work, "sigma-r1"), archive(&work, "sigma-r2"));
    // A hostile archive: an entry that climbs out of the set.
    let hostile = {
        let dir = work.join("hostile");
        std::fs::create_dir_all(dir.join("top")).unwrap();
        std::fs::write(dir.join("evil.yml"), "title: x\n").unwrap();
        let out = work.join("hostile.tar.gz");
        let status = Command::new("tar")
            .arg("-czf")
            .arg(&out)
            .arg("-C")
            .arg(dir.join("top"))
            .arg("--absolute-names")
            .arg("../evil.yml")
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(out).unwrap()
    };
    let files = vec![
        ("/r1.tar.gz.sha256".to_string(), format!("{}  r1.tar.gz\n", sha256(&first, &work)).into_bytes()),
        ("/r1.tar.gz".to_string(), first),
        ("/r2.tar.gz".to_string(), second.clone()),
        ("/hostile.tar.gz".to_string(), hostile.clone()),
    ];
    let addr = serve(files);
    let url = |name: &str| format!("http://{addr}/{name}");
    let dir = work.join("sigma");

    // The first set, its checksum from `URL.sha256`.
    let (ok, log) = update(&dir, &url("r1.tar.gz"), &[]);
    assert!(ok, "{log}");
    assert!(dir.is_symlink(), "{log}");
    let first_version = std::fs::read_link(&dir).unwrap();
    let check = hinomi(&["rules", "check", dir.join("rules").to_str().unwrap(), "--format", "jsonl"]);
    let summary = String::from_utf8_lossy(&check.stderr);
    assert!(log.contains("rules (") && !log.contains("holds 0 rules"), "{log}");
    assert!(check.status.success(), "{summary}");

    // A wrong checksum, no checksum at all, a hostile archive: refused, and
    // the set in use is untouched.
    let wrong = "0".repeat(64);
    let (ok, log) = update(&dir, &url("r2.tar.gz"), &["--sha256", &wrong]);
    assert!(!ok && log.contains("SHA-256 is") && log.contains("nothing was changed"), "{log}");
    let (ok, log) = update(&dir, &url("r2.tar.gz"), &[]);
    assert!(!ok && log.contains("pass --sha256"), "{log}");
    let (ok, log) = update(&dir, &url("hostile.tar.gz"), &["--sha256", &sha256(&hostile, &work)]);
    assert!(!ok && (log.contains("not relative") || log.contains("leaves the archive")), "{log}");
    assert!(!work.join("evil.yml").exists() && !work.join("sigma.versions/evil.yml").exists());
    assert_eq!(std::fs::read_link(&dir).unwrap(), first_version);

    // The second set: the link moves, the first is kept for a rollback.
    let (ok, log) = update(&dir, &url("r2.tar.gz"), &["--sha256", &sha256(&second, &work)]);
    assert!(ok, "{log}");
    let second_version = std::fs::read_link(&dir).unwrap();
    assert_ne!(second_version, first_version);
    let kept: Vec<PathBuf> =
        std::fs::read_dir(work.join("sigma.versions")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(kept.len(), 2, "{kept:?}");

    // A directory it did not make is left alone.
    let checkout = work.join("checkout");
    std::fs::create_dir_all(&checkout).unwrap();
    let (ok, log) = update(&checkout, &url("r1.tar.gz"), &[]);
    assert!(!ok && log.contains("did not make"), "{log}");
    let _ = std::fs::remove_dir_all(&work);
}
