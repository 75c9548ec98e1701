//! API and ingest tokens. A token is shown once, when it is created; only
//! its SHA-256 is kept (`tokens.jsonl` in the data directory, one record per
//! line, appended and synced), so a copy of the data directory does not
//! give access.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events for its tenant (and source); nothing else.
    Ingest,
    /// Read its tenant's alerts and events.
    Read,
    /// Everything within its tenant.
    Admin,
}

impl Scope {
    pub fn parse(s: &str) -> Result<Scope, String> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            other => Err(format!("unknown scope `{other}` (expected ingest, read or admin)")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token of this scope may read.
    pub fn can_read(self) -> bool {
        matches!(self, Scope::Read | Scope::Admin)
    }

    /// Whether a token of this scope may send events.
    pub fn can_ingest(self) -> bool {
        matches!(self, Scope::Ingest | Scope::Admin)
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
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let record = serde_json::from_str(line)
            .map_err(|e| io::Error::other(format!("{} line {}: {e}", data.join(FILE).display(), i + 1)))?;
        out.push(record);
    }
    Ok(out)
}

/// The record of a presented token, if it is one of `tokens`.
pub fn find<'a>(tokens: &'a [TokenRecord], presented: &str) -> Option<&'a TokenRecord> {
    let digest = hash(presented.trim());
    tokens.iter().find(|t| t.sha256 == digest)
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
