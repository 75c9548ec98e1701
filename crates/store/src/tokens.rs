//! API and ingest tokens. A token is shown once, when it is created; only
//! its SHA-256 is kept (`tokens.jsonl` in the data directory, one record per
//! line, appended and synced), so a copy of the data directory does not
//! give access.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token is: a sender of events or a person's role. The serialized
/// names are what `tokens.jsonl` holds (`read` is the viewer role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events for its tenant (and source); nothing else.
    Ingest,
    /// Viewer: read the tenant's alerts, incidents and events.
    Read,
    /// Works incidents: status, assignment, notes, tasks, evidence, merges.
    Analyst,
    /// An analyst who also hands incidents to the CSIRT and runs retro-hunts.
    Responder,
    /// SOC lead: also suppressions, asset inventories and SLA policies.
    Lead,
    /// Everything within its tenant, and the server's status.
    Admin,
}

/// What a request does. Which scope may do what is [`Scope::allows`]: the
/// one place permissions are defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send events.
    Ingest,
    /// Read alerts, incidents, detections, sources, dead letters; search.
    Read,
    /// Change incidents: status, assignment, title, waiting, notes, tasks,
    /// evidence, merges and splits.
    Triage,
    /// Hand an incident to the CSIRT.
    Escalate,
    /// Run a retro-hunt over stored events.
    Hunt,
    /// Add suppressions.
    Suppress,
    /// Replace the asset inventory, set SLA policies.
    Configure,
    /// Read the tenant's audit trail.
    Audit,
    /// Read the server's status (counters across tenants).
    Operate,
    /// Manage the tenant's people and tokens: users, roles, API tokens.
    Administer,
}

impl Scope {
    pub const ALL: [Scope; 6] =
        [Scope::Ingest, Scope::Read, Scope::Analyst, Scope::Responder, Scope::Lead, Scope::Admin];

    pub fn parse(s: &str) -> Result<Scope, String> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" | "viewer" => Ok(Scope::Read),
            "analyst" => Ok(Scope::Analyst),
            "responder" => Ok(Scope::Responder),
            "lead" | "soc-lead" => Ok(Scope::Lead),
            "admin" => Ok(Scope::Admin),
            other => {
                Err(format!("unknown scope `{other}` (expected ingest, viewer, analyst, responder, lead or admin)"))
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Analyst => "analyst",
            Scope::Responder => "responder",
            Scope::Lead => "lead",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token of this scope may do `action` (within its tenant).
    pub fn allows(self, action: Action) -> bool {
        use Action as A;
        use Scope as S;
        match action {
            A::Ingest => matches!(self, S::Ingest | S::Admin),
            A::Read => self >= S::Read,
            A::Triage => self >= S::Analyst,
            A::Escalate | A::Hunt => self >= S::Responder,
            A::Suppress | A::Configure | A::Audit => self >= S::Lead,
            A::Operate | A::Administer => self == S::Admin,
        }
    }

    /// Whether a token of this scope may read.
    pub fn can_read(self) -> bool {
        self.allows(Action::Read)
    }

    /// Whether a token of this scope may send events.
    pub fn can_ingest(self) -> bool {
        self.allows(Action::Ingest)
    }
}

/// A stored token: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Short public name, for listings and the audit trail.
    pub id: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub tenant: String,
    pub scope: Scope,
    /// The source events sent with this token are attributed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub created: String,
    /// When the token was revoked; a revoked token opens nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

const FILE: &str = "tokens.jsonl";

/// Tenant names: what fits in paths and URLs without escaping.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(format!("{kind} name `{name}` must be 1-64 of a-z, 0-9, `-` and `_`")) }
}

/// Creates a token, stores its hash and returns the token text (shown once).
pub fn create(
    data: &Path,
    tenant: &str,
    scope: Scope,
    source: Option<&str>,
    created: &str,
) -> io::Result<(String, TokenRecord)> {
    check_name("tenant", tenant).map_err(io::Error::other)?;
    if let Some(s) = source {
        check_name("source", s).map_err(io::Error::other)?;
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| io::Error::other(format!("no OS randomness: {e}")))?;
    let token = format!("hinomi_{}", hex(&secret));
    let sha256 = hash(&token);
    let record = TokenRecord {
        id: sha256[..12].to_string(),
        sha256,
        tenant: tenant.to_string(),
        scope,
        source: source.map(str::to_string),
        created: created.to_string(),
        revoked: None,
    };
    fs::create_dir_all(data)?;
    let mut file = OpenOptions::new().create(true).append(true).open(data.join(FILE))?;
    let mut line = serde_json::to_vec(&record).map_err(io::Error::other)?;
    line.push(b'\n');
    file.write_all(&line)?;
    file.sync_all()?;
    Ok((token, record))
}

/// Every stored token; a damaged line is reported with its number.
pub fn load(data: &Path) -> io::Result<Vec<TokenRecord>> {
    let text = match fs::read_to_string(data.join(FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out: Vec<TokenRecord> = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let record: TokenRecord = serde_json::from_str(line)
            .map_err(|e| io::Error::other(format!("{} line {}: {e}", data.join(FILE).display(), i + 1)))?;
        // A later line for the same token (its revocation) replaces it.
        match out.iter_mut().find(|t| t.sha256 == record.sha256) {
            Some(t) => *t = record,
            None => out.push(record),
        }
    }
    Ok(out)
}

/// Revokes the token with public id `id` (appends its record, revoked);
/// returns that record.
pub fn revoke(data: &Path, id: &str, at: &str) -> io::Result<TokenRecord> {
    let all = load(data)?;
    let mut record = all
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no token with id {id}")))?;
    if record.revoked.is_some() {
        return Err(io::Error::other(format!("token {id} is already revoked")));
    }
    record.revoked = Some(at.to_string());
    let mut file = OpenOptions::new().append(true).open(data.join(FILE))?;
    let mut line = serde_json::to_vec(&record).map_err(io::Error::other)?;
    line.push(b'\n');
    file.write_all(&line)?;
    file.sync_all()?;
    Ok(record)
}

/// The record of a presented token, if it is one of `tokens`.
pub fn find<'a>(tokens: &'a [TokenRecord], presented: &str) -> Option<&'a TokenRecord> {
    let digest = hash(presented.trim());
    tokens.iter().find(|t| t.sha256 == digest && t.revoked.is_none())
}

fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
