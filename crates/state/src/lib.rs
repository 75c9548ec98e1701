//! SOC state: alerts, incidents, notes, tasks, evidence, assets, SLA
//! policies, suppressions, entity risk, console users and sessions, and
//! the hash-chained audit trail, behind one interface over SQLite
//! (embedded, the default) or PostgreSQL. Also API tokens ([`tokens`]),
//! password hashing ([`password`]) and the reader that triages the alert
//! journal into the store ([`reader`]).
//!
//! It is not the durability layer (`wal`: the log and journals) and does
//! not decide who may do what (`access`); it keeps who holds which role.
//!
//! The rules of triage (entities, dedup keys, severity, risk, life cycle,
//! SLA clocks) are `soc`'s pure functions; this module keeps their state
//! and applies them in transactions. Every change to an incident checks
//! and bumps its `version`, so two analysts editing one incident never
//! overwrite each other: the second gets [`StateError::Conflict`] and
//! retries on the fresh copy. Times are passed in (`now`), never read.

mod actions;
mod audit;
mod db;
mod entities;
mod incidents;
mod intel;
mod iocs;
mod outbox;
mod pages;
pub mod password;
pub mod reader;
mod row;
mod runs;
mod schema;
mod searches;
mod tenants;
pub mod tokens;
mod triage;
mod users;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use model::Level;
use soc::{Entity, TriagePolicy};

pub use self::actions::{Acted, EvidenceKind, IncidentAction};
pub use self::audit::{AuditEntry, AuditReport, AuditSeal};
pub use self::db::Postgres;
pub use self::db::{Db, DbError, Dialect, Sqlite, Val};
pub use self::entities::EntityReport;
pub use self::incidents::{Escalation, RuleStats, Scope as ImpactScope, SlaReport, TimelineEntry};
pub use self::intel::{Feed, FeedSource, IndicatorQuery, Stored, StoredIndicator};
pub use self::iocs::{Ioc, Sighting};
pub use self::outbox::{Delivery, DeliveryRow, Page};
pub use self::pages::{PageAck, PageRow};
pub use self::row::Row;
pub use self::runs::{Judged, NewRun, NewStep, Run, RunStep, Verdict};
pub use self::searches::{NewSearch, SavedSearch};
pub use self::tenants::Tenant;
pub use self::triage::{RISK_HISTORY_HOURS, TriageOutcome};
pub use self::users::{Lockout, LoginOutcome, Session, SessionLimits, User};

/// What went wrong, typed for the edge: the caller's mistakes
/// (`Invalid`, `NotFound`, `Conflict`) apart from ours (`Io`, `Internal`).
#[derive(Debug)]
pub enum StateError {
    /// A file the state keeps beside the database could not be read or written.
    Io(String),
    /// The database failed, or holds what no version of Hinomi wrote (a
    /// corrupt row).
    Internal(String),
    NotFound(String),
    /// The incident changed since it was read: `current` is its version now.
    Conflict {
        current: i64,
    },
    Invalid(String),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Io(e) => write!(f, "state files: {e}"),
            StateError::Internal(e) => write!(f, "state store: {e}"),
            StateError::NotFound(what) => write!(f, "{what} not found"),
            StateError::Conflict { current } => {
                write!(f, "the incident was changed by someone else (now at version {current}); reload and try again")
            }
            StateError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StateError {}

impl From<DbError> for StateError {
    fn from(e: DbError) -> StateError {
        StateError::Internal(e.0)
    }
}

pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// One alert: a rule on a set of entities, counted while it repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub tenant: String,
    pub rule_id: String,
    pub title: String,
    pub level: Level,
    pub severity: Level,
    pub tags: Vec<String>,
    /// Rule author (Detection Rule License attribution).
    pub author: Option<String>,
    pub entities: Vec<Entity>,
    /// Ids of evidence events in the event store (the first ones).
    pub evidence: Vec<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: i64,
    /// `open`, `suppressed` or `closed`.
    pub status: String,
    pub suppression_id: Option<i64>,
    pub incident_id: Option<i64>,
    pub origin: Option<String>,
    pub version: i64,
}

/// One incident: grouped alerts with a life cycle, an owner and clocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: i64,
    pub tenant: String,
    /// `alerts` (grouped alerts) or `risk` (an entity crossed the risk threshold).
    pub kind: String,
    pub title: String,
    pub severity: Level,
    pub status: soc::Status,
    pub disposition: Option<soc::Disposition>,
    pub assignee: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub last_activity: Timestamp,
    /// The earliest event time among its alerts: the first sign.
    pub first_seen: Timestamp,
    pub acknowledged: Option<Timestamp>,
    pub resolved: Option<Timestamp>,
    /// Waiting on the customer: `(from, until)`, `until` empty while waiting.
    pub pauses: Vec<(Timestamp, Option<Timestamp>)>,
    pub escalated_to: Option<String>,
    pub escalated: Option<Timestamp>,
    pub alert_count: i64,
    pub entities: Vec<Entity>,
    pub version: i64,
}

/// Who does something, for which tenant, when: every change an analyst
/// makes carries one, and the incident's log records it.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    pub tenant: &'a str,
    pub actor: &'a str,
    pub now: Timestamp,
}

/// Which alerts a queue shows, newest activity first (or most severe
/// first).
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub status: Option<String>,
    pub min_severity: Option<Level>,
    pub rule_id: Option<String>,
    /// Only alerts of rules whose title contains this, in any case.
    pub rule_title: Option<String>,
    pub incident_id: Option<i64>,
    /// Most severe first, then newest activity.
    pub by_severity: bool,
    /// Keyset paging: rows strictly after this `(last_seen, id)` in the
    /// queue's order; by severity, after `(before_severity, last_seen, id)`.
    pub before: Option<(Timestamp, i64)>,
    pub before_severity: Option<Level>,
    pub limit: usize,
}

/// Which incidents a queue shows, newest activity first.
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    /// Only these statuses (all when empty).
    pub statuses: Vec<soc::Status>,
    pub assignee: Option<String>,
    pub before: Option<(Timestamp, i64)>,
    pub limit: usize,
}

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (WAL mode), embedded.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL server: a libpq-style URL or key=value string.
    Postgres(String),
}

/// Connections that read, beside the one that writes: console pages and
/// API reads do not queue behind triage's writes.
const READERS: usize = 4;

/// The state store.
pub struct State {
    /// The one connection that writes: SQLite allows one writer, and one
    /// writer keeps the audit chain and triage in order on both.
    writer: Mutex<Writer>,
    /// Connections that only read, taken in turn.
    readers: Vec<Mutex<Box<dyn Db>>>,
    next_reader: AtomicUsize,
    policy: TriagePolicy,
    seal: AuditSeal,
    /// The newest sealed audit entry this process knows of.
    audit_head: Mutex<Option<(i64, String)>>,
}

/// The writing connection and what triage remembers of the store between
/// its transactions.
struct Writer {
    db: Box<dyn Db>,
    memory: triage::Memory,
}

impl State {
    /// Opens a database, brings its schema up to date, and opens the
    /// connections that read.
    pub fn open(database: &Database, policy: TriagePolicy) -> Result<State> {
        let mut writer: Box<dyn Db> = match database {
            Database::Sqlite(path) => Box::new(Sqlite::open(path)?),
            Database::Postgres(url) => Box::new(Postgres::connect(url)?),
        };
        schema::migrate(&mut *writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader: Box<dyn Db> = match database {
                Database::Sqlite(path) => Box::new(Sqlite::open_reader(path)?),
                Database::Postgres(url) => Box::new(Postgres::connect(url)?),
            };
            readers.push(Mutex::new(reader));
        }
        Ok(State {
            writer: Mutex::new(Writer { db: writer, memory: triage::Memory::default() }),
            readers,
            next_reader: AtomicUsize::new(0),
            policy,
            seal: AuditSeal::default(),
            audit_head: Mutex::new(None),
        })
    }

    /// Keys the audit chain and anchors its head outside the database
    /// (see [`AuditSeal`]).
    pub fn with_seal(mut self, seal: AuditSeal) -> State {
        self.seal = seal;
        self
    }

    /// The embedded default: `state.db` in the data directory.
    pub fn sqlite(path: &std::path::Path, policy: TriagePolicy) -> Result<State> {
        State::open(&Database::Sqlite(path.to_path_buf()), policy)
    }

    pub fn policy(&self) -> &TriagePolicy {
        &self.policy
    }

    pub fn dialect(&self) -> Result<Dialect> {
        Ok(self.write()?.db.dialect())
    }

    fn write(&self) -> Result<std::sync::MutexGuard<'_, Writer>> {
        self.writer.lock().map_err(|_| StateError::Internal("state store lock poisoned by a panic".into()))
    }

    /// A connection to read with: a free one if there is, else the next
    /// in turn.
    fn reader(&self) -> Result<std::sync::MutexGuard<'_, Box<dyn Db>>> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return Ok(guard);
            }
        }
        self.readers[start % n].lock().map_err(|_| StateError::Internal("state store lock poisoned by a panic".into()))
    }

    /// Runs `f` in one transaction: all of it or nothing.
    fn tx<T>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        self.tx_remembering(|db, memory| {
            // Whatever else writes may change what triage remembers of
            // incidents.
            memory.forget_incidents();
            f(db)
        })
    }

    /// Runs `f` in one transaction with triage's [`triage::Memory`]:
    /// forgotten when the transaction fails.
    fn tx_remembering<T>(&self, f: impl FnOnce(&mut dyn Db, &mut triage::Memory) -> Result<T>) -> Result<T> {
        let mut guard = self.write()?;
        let Writer { db, memory } = &mut *guard;
        let db: &mut dyn Db = &mut **db;
        db.batch(db.dialect().begin())?;
        let done = f(db, memory)
            .and_then(|v| Ok((v, audit::seal(db, self.seal.key.as_deref(), &self.audit_head)?)))
            .and_then(|done| Ok(db.batch("COMMIT").map(|()| done)?));
        match done {
            Ok((v, sealed)) => {
                if let Some(head) = sealed {
                    self.sealed(head);
                }
                Ok(v)
            }
            // A failed commit (a full disk) is a failed transaction: what
            // triage remembered of it never was, and SQLite may still hold
            // it open.
            Err(e) => {
                *memory = triage::Memory::default();
                // The transaction's error is the one to report; a failed
                // rollback too means the connection is unusable: say so.
                if let Err(r) = db.batch("ROLLBACK") {
                    tracing::error!(error = %r, "rolling back a failed transaction failed");
                }
                Err(e)
            }
        }
    }

    /// Forgets what triage remembers, as a restart would: for tests that
    /// compare triage with and without it.
    #[cfg(test)]
    pub(crate) fn forget(&self) {
        if let Ok(mut w) = self.write() {
            w.memory = triage::Memory::default();
        }
    }

    /// Runs a statement as is: for tests that play an attacker with
    /// database access.
    #[cfg(test)]
    pub(crate) fn exec_raw(&self, sql: &str) -> Result<u64> {
        let mut guard = self.write()?;
        guard.memory = triage::Memory::default();
        Ok(guard.db.exec(sql, &[])?)
    }

    /// How far a reader (`triage` for the alert journal) has applied.
    pub fn position(&self, name: &str) -> Result<u64> {
        let rows = self.reader()?.rows("SELECT position FROM positions WHERE name = $1", &[name.into()])?;
        let position: i64 = rows.first().map_or(Ok(0), |r| r.get("position"))?;
        u64::try_from(position).map_err(|_| row::corrupt("positions", format!("{name} is at {position}")))
    }
}

// Row helpers shared by the submodules.

pub(crate) fn micros(t: Timestamp) -> Val {
    Val::Int(t.as_microsecond())
}

pub(crate) fn level_val(l: Level) -> Val {
    Val::Int(Level::ALL.iter().position(|x| *x == l).unwrap_or(0) as i64)
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Val {
    Val::Text(serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
}

#[cfg(test)]
mod tests;
