//! Lanes: at most so many calls at once to one destination, so that one
//! receiver that hangs (or an attacker's endpoint that answers slowly)
//! holds a few of the workers, never all of them.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug)]
pub(crate) struct Lanes {
    per_key: usize,
    busy: Mutex<HashMap<String, usize>>,
}

/// A place in a lane; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Lane<'a> {
    lanes: &'a Lanes,
    key: String,
}

impl Lanes {
    pub(crate) fn new(per_key: usize) -> Lanes {
        Lanes { per_key: per_key.max(1), busy: Mutex::new(HashMap::new()) }
    }

    /// A place for a call to `key`, if it has one free.
    pub(crate) fn try_take(&self, key: &str) -> Option<Lane<'_>> {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let n = busy.entry(key.to_string()).or_insert(0);
        if *n >= self.per_key {
            return None;
        }
        *n += 1;
        Some(Lane { lanes: self, key: key.to_string() })
    }

    /// A place for a call to `key`, waiting up to `wait` for one to free.
    pub(crate) fn take_within(&self, key: &str, wait: std::time::Duration) -> Option<Lane<'_>> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(lane) = self.try_take(key) {
                return Some(lane);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        let mut busy = self.lanes.busy.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = busy.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.key);
            }
        }
    }
}

/// The destination of a URL: `host:port` (the scheme's port when none is
/// given), without anything secret a path or query may hold.
pub(crate) fn destination(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty()) {
        authority.to_ascii_lowercase()
    } else {
        format!("{}:{}", authority.to_ascii_lowercase(), if scheme == "https" { 443 } else { 80 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_holds_so_many_and_gives_places_back() {
        let lanes = Lanes::new(2);
        let a = lanes.try_take("edr:443");
        let b = lanes.try_take("edr:443");
        assert!(a.is_some() && b.is_some() && lanes.try_take("edr:443").is_none());
        assert!(lanes.try_take("tickets:443").is_some(), "another destination has its own lane");
        drop(a);
        assert!(lanes.try_take("edr:443").is_some());
    }

    #[test]
    fn destinations_are_host_and_port() {
        assert_eq!(destination("https://EDR.example/api?k=secret"), "edr.example:443");
        assert_eq!(destination("http://127.0.0.1:8081/hook"), "127.0.0.1:8081");
        assert_eq!(destination("https://user:pw@hooks.example/x"), "hooks.example:443");
    }
}
