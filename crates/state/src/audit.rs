//! The audit trail: every change people make, appended in order, each
//! entry carrying a hash over its contents and the hash of the one before
//! it. Changing an entry breaks its own hash; removing one breaks the chain
//! after it.
//!
//! The hash is an HMAC under a key kept outside the database
//! ([`AuditSeal`]), so someone who can write to the database but not read
//! the key cannot rewrite an entry and recompute the ones after it; and the
//! newest entry's `(seq, hash)` is written outside the database after every
//! write (the anchor), so cutting the newest entries is caught as well.
//! `verify` checks both. Without a key (tests, a state store opened
//! without its data directory) the hash is a plain SHA-256.
//!
//! Entries are written with their hashes empty and sealed in order when
//! their transaction commits ([`seal`]): the call sites only say what
//! happened, and the chain is linked in one place.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::db::{Db, Dialect, Val};
use super::row::Row;
use super::{By, Result, State, StateError, micros};

/// The `prev` of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// What a keyed hash starts with; a plain one is bare hex.
const KEYED: &str = "hmac:";

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub tenant: String,
    pub action: String,
    pub target: String,
    pub data: String,
    pub prev: String,
    pub hash: String,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    pub entries: i64,
    /// The newest entry's `(seq, hash)`: record it to catch a cut tail later.
    pub head: Option<(i64, String)>,
    /// The first problem, if any.
    pub problem: Option<String>,
}

/// What keeps the chain honest outside the database: the HMAC key and the
/// file that holds the newest entry written.
#[derive(Debug, Clone, Default)]
pub struct AuditSeal {
    pub key: Option<Vec<u8>>,
    pub anchor: Option<PathBuf>,
}

impl AuditSeal {
    /// The key in `key_file` (created with 32 random bytes, readable by
    /// the owner only, when missing) and the anchor at `anchor`.
    pub fn load(key_file: &Path, anchor: &Path) -> std::io::Result<AuditSeal> {
        if !key_file.exists() {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(format!("no OS randomness: {e}")))?;
            match write_private(key_file, &format!("{}\n", hex(&bytes))) {
                // Another process made it first: theirs is the key.
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
        let key = std::fs::read_to_string(key_file)?.trim().to_string();
        if key.len() < 32 {
            return Err(std::io::Error::other(format!(
                "{}: the audit key is shorter than 32 characters",
                key_file.display()
            )));
        }
        Ok(AuditSeal { key: Some(key.into_bytes()), anchor: Some(anchor.to_path_buf()) })
    }

    /// The head the anchor names, if there is one.
    fn anchored(&self) -> std::io::Result<Option<(i64, String)>> {
        let Some(path) = &self.anchor else { return Ok(None) };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let (seq, hash) = text.trim().split_once(' ').unwrap_or(("", ""));
                let seq = seq.parse().map_err(|_| {
                    std::io::Error::other(format!("{}: not `SEQ HASH` as Hinomi writes it", path.display()))
                })?;
                Ok(Some((seq, hash.to_string())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the anchor: a new file renamed over the old, so a crash
    /// leaves one or the other.
    fn anchor_at(&self, seq: i64, hash: &str) -> std::io::Result<()> {
        let Some(path) = &self.anchor else { return Ok(()) };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{seq} {hash}\n"))?;
        std::fs::rename(&tmp, path)
    }
}

/// Writes `text` to a new file at `path`, readable by the owner only, and
/// whole or not at all: it is written beside and linked into place, so a
/// process reading `path` meanwhile never sees it half written (AlreadyExists
/// when another process linked first).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let beside = path.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_file(&beside);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&beside).and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    let linked = written.and_then(|()| std::fs::hard_link(&beside, path));
    let _ = std::fs::remove_file(&beside);
    linked
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of an entry: every field but the hash, each length-prefixed;
/// keyed when there is a key.
pub(crate) fn digest(e: &AuditEntry, key: Option<&[u8]>) -> String {
    let (seq, at) = (e.seq.to_string(), e.at.as_microsecond().to_string());
    let parts = [&seq, &at, &e.actor, &e.tenant, &e.action, &e.target, &e.data, &e.prev];
    match key {
        Some(key) => {
            let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
                // HMAC takes keys of any length.
                return String::new();
            };
            for part in parts {
                mac.update(&(part.len() as u64).to_le_bytes());
                mac.update(part.as_bytes());
            }
            format!("{KEYED}{}", hex(&mac.finalize().into_bytes()))
        }
        None => {
            let mut h = Sha256::new();
            for part in parts {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
            hex(&h.finalize())
        }
    }
}

/// Appends one entry inside the caller's transaction, its hash left for
/// [`seal`] at commit.
pub(super) fn append(db: &mut dyn Db, by: &By<'_>, action: &str, target: &str, data: &serde_json::Value) -> Result<()> {
    if db.dialect() == Dialect::Postgres {
        // One writer at a time, so sequence numbers and links stay in order.
        db.batch("LOCK TABLE audit IN EXCLUSIVE MODE")?;
    }
    let last = db.rows("SELECT seq FROM audit ORDER BY seq DESC LIMIT 1", &[])?;
    let seq = match last.first() {
        Some(r) => r.get::<i64>("seq")? + 1,
        None => 1,
    };
    db.exec(
        "INSERT INTO audit (seq, at, actor, tenant, action, target, data, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, '', '')",
        &[
            Val::Int(seq),
            micros(by.now),
            by.actor.into(),
            by.tenant.into(),
            action.into(),
            target.into(),
            data.to_string().into(),
        ],
    )?;
    Ok(())
}

const COLUMNS: &str = "seq, at, actor, tenant, action, target, data, prev, hash";

/// Links and hashes, in order, the entries this transaction appended;
/// returns the new head when there were any. `head` is the newest sealed
/// entry as this process last saw it (entries after it that another node
/// sealed are linked through, not resealed).
pub(super) fn seal(
    db: &mut dyn Db,
    key: Option<&[u8]>,
    head: &Mutex<Option<(i64, String)>>,
) -> Result<Option<(i64, String)>> {
    let known = head.lock().map_err(|_| StateError::Internal("audit head lock poisoned".into()))?.clone();
    let (after, mut prev) = match known {
        Some(h) => h,
        None => {
            let rows = db.rows("SELECT seq, hash FROM audit WHERE hash <> '' ORDER BY seq DESC LIMIT 1", &[])?;
            match rows.first() {
                Some(r) => (r.get("seq")?, r.get("hash")?),
                None => (0, GENESIS.to_string()),
            }
        }
    };
    let rows = db.rows(&format!("SELECT {COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq"), &[Val::Int(after)])?;
    let mut sealed = None;
    for row in &rows {
        let mut e = AuditEntry::from_row(row)?;
        if e.hash.is_empty() {
            e.prev = prev;
            e.hash = digest(&e, key);
            db.exec(
                "UPDATE audit SET prev = $1, hash = $2 WHERE seq = $3",
                &[e.prev.clone().into(), e.hash.clone().into(), Val::Int(e.seq)],
            )?;
            sealed = Some((e.seq, e.hash.clone()));
        }
        prev = e.hash;
    }
    Ok(sealed)
}

impl State {
    /// After a commit: the new head, remembered and anchored. The entries
    /// are in; an anchor that cannot be written is logged, and verify will
    /// then see an older head, which is still in the chain.
    pub(super) fn sealed(&self, head: (i64, String)) {
        if let Err(e) = self.seal.anchor_at(head.0, &head.1) {
            tracing::error!(error = %e, "writing the audit anchor failed");
        }
        if let Ok(mut known) = self.audit_head.lock() {
            *known = Some(head);
        }
    }
}

impl State {
    /// Records an action that changed no incident (a login, an export).
    pub fn audit(&self, by: &By<'_>, action: &str, target: &str, data: &serde_json::Value) -> Result<()> {
        self.tx(|db| append(db, by, action, target, data))
    }

    /// Entries after `after`, oldest first; a tenant's own, or all.
    pub fn audit_entries(&self, tenant: Option<&str>, after: i64, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = limit.clamp(1, 10_000);
        let cols = COLUMNS;
        let rows = match tenant {
            Some(t) => self.reader()?.rows(
                &format!("SELECT {cols} FROM audit WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT {limit}"),
                &[t.into(), Val::Int(after)],
            )?,
            None => self.reader()?.rows(
                &format!("SELECT {cols} FROM audit WHERE seq > $1 ORDER BY seq LIMIT {limit}"),
                &[Val::Int(after)],
            )?,
        };
        rows.iter().map(AuditEntry::from_row).collect()
    }

    /// Walks the whole chain; `head` is a `(seq, hash)` recorded earlier,
    /// which must still be there, as must the anchor's.
    pub fn audit_verify(&self, head: Option<(i64, &str)>) -> Result<AuditReport> {
        let anchored = self.seal.anchored().map_err(|e| StateError::Io(format!("reading the audit anchor: {e}")))?;
        let key = self.seal.key.as_deref();
        let mut expect_seq = 1;
        let mut prev = GENESIS.to_string();
        let mut problem = None;
        let mut last: Option<(i64, String)> = None;
        let mut found_head = head.is_none();
        let mut found_anchor = anchored.is_none();
        let mut keyed = false;
        loop {
            let page = self.audit_entries(None, expect_seq - 1, 5000)?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                if problem.is_none() {
                    problem = if e.seq != expect_seq {
                        Some(format!("entry {expect_seq} is missing (the next is {})", e.seq))
                    } else if e.prev != prev {
                        Some(format!("entry {} does not link to the entry before it", e.seq))
                    } else if e.hash.starts_with(KEYED) && key.is_none() {
                        Some(format!("entry {} is keyed and no audit key was given to check it", e.seq))
                    } else if keyed && !e.hash.starts_with(KEYED) {
                        Some(format!("entry {} is not keyed, after keyed ones: rewritten without the key", e.seq))
                    } else if digest(e, key.filter(|_| e.hash.starts_with(KEYED))) != e.hash {
                        Some(format!("entry {} was altered (its hash does not match its contents)", e.seq))
                    } else {
                        None
                    };
                    keyed |= e.hash.starts_with(KEYED);
                }
                if let Some((s, h)) = &anchored
                    && *s == e.seq
                {
                    found_anchor = *h == e.hash;
                }
                if let Some((s, h)) = head
                    && s == e.seq
                {
                    found_head = h == e.hash;
                }
                expect_seq = e.seq + 1;
                prev = e.hash.clone();
                last = Some((e.seq, e.hash.clone()));
            }
        }
        if problem.is_none() && !found_head {
            problem =
                head.map(|(s, _)| format!("entry {s}, the recorded head, is gone or changed: entries were removed"));
        }
        if problem.is_none() && !found_anchor {
            problem = anchored.map(|(s, _)| {
                format!("entry {s}, the newest written (the anchor outside the database), is gone or changed: entries were removed or rewritten")
            });
        }
        Ok(AuditReport { entries: last.as_ref().map_or(0, |l| l.0), head: last, problem })
    }
}

impl AuditEntry {
    fn from_row(r: &Row) -> Result<AuditEntry> {
        Ok(AuditEntry {
            seq: r.get("seq")?,
            at: r.get("at")?,
            actor: r.get("actor")?,
            tenant: r.get("tenant")?,
            action: r.get("action")?,
            target: r.get("target")?,
            data: r.get("data")?,
            prev: r.get("prev")?,
            hash: r.get("hash")?,
        })
    }
}
