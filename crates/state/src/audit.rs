//! The audit trail: every change people make, appended in order, each
//! entry carrying the SHA-256 of the one before it. Changing an entry
//! breaks its own hash; removing one breaks the chain after it; removing
//! the newest ones is caught against a head (sequence number and hash)
//! recorded elsewhere, which `verify` prints for that purpose.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::db::{Db, Dialect, Val};
use super::row::Row;
use super::{By, Result, State, micros};

/// The `prev` of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// The hash of an entry: every field but the hash, each length-prefixed.
fn digest(e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    let (seq, at) = (e.seq.to_string(), e.at.as_microsecond().to_string());
    for part in [&seq, &at, &e.actor, &e.tenant, &e.action, &e.target, &e.data, &e.prev] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends one entry inside the caller's transaction.
pub(super) fn append(db: &mut dyn Db, by: &By<'_>, action: &str, target: &str, data: &serde_json::Value) -> Result<()> {
    if db.dialect() == Dialect::Postgres {
        // One writer at a time, so sequence numbers and links stay in order.
        db.batch("LOCK TABLE audit IN EXCLUSIVE MODE")?;
    }
    let last = db.rows("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])?;
    let (seq, prev) = match last.first() {
        Some(r) => (r.get::<i64>("seq")? + 1, r.get("hash")?),
        None => (1, GENESIS.to_string()),
    };
    let mut e = AuditEntry {
        seq,
        at: by.now,
        actor: by.actor.to_string(),
        tenant: by.tenant.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        data: data.to_string(),
        prev,
        hash: String::new(),
    };
    e.hash = digest(&e);
    db.exec(
        "INSERT INTO audit (seq, at, actor, tenant, action, target, data, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            Val::Int(e.seq),
            micros(e.at),
            e.actor.into(),
            e.tenant.into(),
            e.action.into(),
            e.target.into(),
            e.data.into(),
            e.prev.into(),
            e.hash.into(),
        ],
    )?;
    Ok(())
}

impl State {
    /// Records an action that changed no incident (a login, an export).
    pub fn audit(&self, by: &By<'_>, action: &str, target: &str, data: &serde_json::Value) -> Result<()> {
        self.tx(|db| append(db, by, action, target, data))
    }

    /// Entries after `after`, oldest first; a tenant's own, or all.
    pub fn audit_entries(&self, tenant: Option<&str>, after: i64, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = limit.clamp(1, 10_000);
        let cols = "seq, at, actor, tenant, action, target, data, prev, hash";
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
    /// which must still be there.
    pub fn audit_verify(&self, head: Option<(i64, &str)>) -> Result<AuditReport> {
        let mut expect_seq = 1;
        let mut prev = GENESIS.to_string();
        let mut problem = None;
        let mut last: Option<(i64, String)> = None;
        let mut found_head = head.is_none();
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
                    } else if digest(e) != e.hash {
                        Some(format!("entry {} was altered (its hash does not match its contents)", e.seq))
                    } else {
                        None
                    };
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
