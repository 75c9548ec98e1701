//! API and ingest tokens. A token is shown once, when it is created; only
//! its SHA-256 is kept (`tokens.jsonl` in the data directory, one record per
//! line, appended and synced), so a copy of the data directory does not
//! give access.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use access::{Scope, check_name};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_as_hashes_and_found_by_value() {
        let dir = std::env::temp_dir().join(format!("hinomi-tokens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (token, record) = create(&dir, "default", Scope::Ingest, Some("fw"), "2026-11-22T00:00:00Z").unwrap();
        assert!(token.starts_with("hinomi_") && token.len() == 7 + 64);
        let stored = std::fs::read_to_string(dir.join("tokens.jsonl")).unwrap();
        assert!(!stored.contains(&token[7..]), "the secret must not be stored");
        let all = load(&dir).unwrap();
        assert_eq!(find(&all, &token), Some(&record));
        assert_eq!(find(&all, "hinomi_wrong"), None);
        assert!(create(&dir, "Bad Tenant", Scope::Read, None, "x").is_err());
        // A revoked token opens nothing from then on; the other tokens still work.
        let (other, _) = create(&dir, "default", Scope::Read, None, "2026-11-22T00:00:01Z").unwrap();
        let revoked = revoke(&dir, &record.id, "2026-11-22T00:00:02Z").unwrap();
        assert_eq!(revoked.revoked.as_deref(), Some("2026-11-22T00:00:02Z"));
        let all = load(&dir).unwrap();
        assert_eq!((all.len(), find(&all, &token)), (2, None));
        assert!(find(&all, &other).is_some());
        assert!(revoke(&dir, &record.id, "x").unwrap_err().to_string().contains("already revoked"));
        assert!(revoke(&dir, "nosuchid", "x").is_err());
    }
}
