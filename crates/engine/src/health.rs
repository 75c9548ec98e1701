//! Per-source health: what each source sent, how much of it failed to
//! parse, when it was last heard from, and whether it has gone silent for
//! longer than its configured interval (a SOC must notice when it goes
//! blind).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

/// One source, as `GET /api/v1/sources` shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SourceStats {
    pub tenant: String,
    pub source: String,
    /// Records accepted (written to the log).
    pub events: u64,
    pub bytes: u64,
    /// Accepted records the parser refused (kept in the dead letter).
    pub parse_errors: u64,
    /// Records refused before the log: UDP datagrams dropped under load.
    pub dropped: u64,
    /// Records per second over the last completed 10-second window.
    pub events_per_second: f64,
    pub last_seen: Option<Timestamp>,
    /// Configured silence limit, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent_after_seconds: Option<u64>,
    /// The source has been silent longer than its limit.
    pub silent: bool,
    #[serde(skip)]
    window_start: Option<Timestamp>,
    #[serde(skip)]
    window_count: u64,
}

/// A source that went silent: raised once, cleared when it sends again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub tenant: String,
    pub source: String,
    pub last_seen: Option<Timestamp>,
    pub limit: Duration,
}

type Key = (String, String);

#[derive(Default)]
pub struct Health {
    sources: Mutex<HashMap<Key, SourceStats>>,
}

const WINDOW: i64 = 10;

impl Health {
    /// Declares a source with a silence limit; it counts as silent from
    /// `now` if nothing arrives within the limit.
    pub fn watch(&self, tenant: &str, source: &str, silent_after: Duration, now: Timestamp) {
        self.with(tenant, source, |s| {
            s.silent_after_seconds = Some(silent_after.as_secs());
            s.window_start.get_or_insert(now);
        });
    }

    pub fn received(&self, tenant: &str, source: &str, records: u64, bytes: u64, now: Timestamp) {
        self.with(tenant, source, |s| {
            s.events += records;
            s.bytes += bytes;
            s.last_seen = Some(now);
            s.silent = false;
            let start = *s.window_start.get_or_insert(now);
            let elapsed = now.as_second() - start.as_second();
            if elapsed >= WINDOW {
                s.events_per_second = s.window_count as f64 / elapsed as f64;
                s.window_start = Some(now);
                s.window_count = 0;
            }
            s.window_count += records;
        });
    }

    pub fn parse_errors(&self, tenant: &str, source: &str, n: u64) {
        self.with(tenant, source, |s| s.parse_errors += n);
    }

    pub fn dropped(&self, tenant: &str, source: &str, n: u64) {
        self.with(tenant, source, |s| s.dropped += n);
    }

    fn with(&self, tenant: &str, source: &str, f: impl FnOnce(&mut SourceStats)) {
        let Ok(mut map) = self.sources.lock() else { return };
        let key = (tenant.to_string(), source.to_string());
        let entry = map.entry(key).or_insert_with(|| SourceStats {
            tenant: tenant.to_string(),
            source: source.to_string(),
            ..SourceStats::default()
        });
        f(entry);
    }

    /// Every source, sorted by tenant and name.
    pub fn snapshot(&self) -> Vec<SourceStats> {
        let mut out: Vec<SourceStats> = self.sources.lock().map(|m| m.values().cloned().collect()).unwrap_or_default();
        out.sort_by(|a, b| (&a.tenant, &a.source).cmp(&(&b.tenant, &b.source)));
        out
    }

    /// Sources that passed their silence limit since the last check; each
    /// silence is reported once.
    pub fn newly_silent(&self, now: Timestamp) -> Vec<Silence> {
        let Ok(mut map) = self.sources.lock() else { return Vec::new() };
        let mut out = Vec::new();
        for s in map.values_mut() {
            let Some(limit) = s.silent_after_seconds else { continue };
            let since = s.last_seen.or(s.window_start).map_or(0, |t| t.as_second());
            if !s.silent && now.as_second() - since > limit as i64 {
                s.silent = true;
                out.push(Silence {
                    tenant: s.tenant.clone(),
                    source: s.source.clone(),
                    last_seen: s.last_seen,
                    limit: Duration::from_secs(limit),
                });
            }
        }
        out.sort_by(|a, b| (&a.tenant, &a.source).cmp(&(&b.tenant, &b.source)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn silence_is_raised_once_and_cleared_by_traffic() {
        let h = Health::default();
        h.watch("default", "fw", Duration::from_secs(60), t(0));
        assert!(h.newly_silent(t(30)).is_empty());
        let s = h.newly_silent(t(61));
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].source.as_str(), s[0].last_seen), ("fw", None));
        assert!(h.newly_silent(t(200)).is_empty(), "raised once");
        h.received("default", "fw", 5, 100, t(201));
        assert!(!h.snapshot()[0].silent);
        assert!(h.newly_silent(t(250)).is_empty());
        assert_eq!(h.newly_silent(t(262)).len(), 1);
        // Sources without a limit never go silent.
        h.received("default", "other", 1, 1, t(0));
        assert!(h.newly_silent(t(10_000)).iter().all(|s| s.source == "fw"));
    }

    #[test]
    fn rates_are_per_window() {
        let h = Health::default();
        for i in 0..=20 {
            h.received("t", "s", 100, 1000, t(i));
        }
        let s = &h.snapshot()[0];
        assert_eq!(s.events, 2100);
        assert_eq!(s.events_per_second, 100.0);
    }
}
