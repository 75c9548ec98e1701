//! Token checks for every HTTP route. Tokens are read from the data
//! directory and re-read when `hinomi token create` changes the file, so
//! new tokens work without a restart.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use access::Action;
use axum::http::HeaderMap;
use state::tokens::{self, TokenRecord};

type FileStamp = Option<(SystemTime, u64)>;

pub(crate) struct Tokens {
    data: PathBuf,
    /// The token file's modification time and size, and what it held.
    cache: RwLock<(FileStamp, Arc<Vec<TokenRecord>>)>,
}

/// Why a request was not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No credentials: 401.
    Missing,
    /// Credentials that are not a token: 401 (HEC) / 403.
    Invalid,
    /// A token without the needed scope: 403.
    Forbidden,
}

impl Tokens {
    pub(crate) fn new(data: PathBuf) -> Tokens {
        Tokens { data, cache: RwLock::new((None, Arc::new(Vec::new()))) }
    }

    fn current(&self) -> Arc<Vec<TokenRecord>> {
        let stamp = std::fs::metadata(self.data.join("tokens.jsonl"))
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        if let Ok(cache) = self.cache.read()
            && cache.0 == stamp
        {
            return cache.1.clone();
        }
        let loaded = match tokens::load(&self.data) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                eprintln!("hinomi: cannot read tokens: {e}");
                Arc::new(Vec::new())
            }
        };
        if let Ok(mut cache) = self.cache.write() {
            *cache = (stamp, loaded.clone());
        }
        loaded
    }

    /// The token presented in `headers`, if its scope allows `need`
    /// (`Scope::allows`).
    pub(crate) fn check(&self, headers: &HeaderMap, need: Action) -> Result<TokenRecord, Denied> {
        let presented = presented(headers).ok_or(Denied::Missing)?;
        let all = self.current();
        let record = tokens::find(&all, &presented).ok_or(Denied::Invalid)?;
        if record.scope.allows(need) { Ok(record.clone()) } else { Err(Denied::Forbidden) }
    }
}

/// The secret from `Authorization: Bearer|ApiKey|Splunk <token>` or HTTP
/// Basic (the password, or the user name when the password is empty).
fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "apikey" | "splunk" => Some(rest.to_string()),
        "basic" => {
            let decoded = String::from_utf8(state::password::b64_decode(rest)?).ok()?;
            let (user, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
            Some(if pass.is_empty() { user } else { pass }.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn every_scheme_clients_use() {
        assert_eq!(presented(&headers("Bearer abc")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("ApiKey abc")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("Splunk abc")).as_deref(), Some("abc"));
        // "elastic:abc" and "abc:" in base64.
        assert_eq!(presented(&headers("Basic ZWxhc3RpYzphYmM=")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("Basic YWJjOg==")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("Basic !!!")), None);
        assert_eq!(presented(&headers("Digest x")), None);
        assert_eq!(presented(&HeaderMap::new()), None);
    }
}
