//! Per-rule detection rate limits: no rule can flood the alert journal or
//! triage.
//!
//! Each tenant's rule may raise `limit` alerts per window; past that its
//! matches are counted, not raised, until the window ends, and the first
//! one suppressed raises one `rate_limit` alert that says so. Windows are
//! fixed spans of the time the server received the records (kept in the
//! log), not of the events' own times: senders write those, and a replay
//! of the log from its start decides as the first run did.
//!
//! Pure: the caller passes the receive time. The windows live in memory,
//! not in the checkpoint; a restart begins the current window afresh, so a
//! rule may raise up to `limit` more in it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// How many alerts one rule may raise per tenant and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// 0: no limit.
    pub alerts: u32,
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        // A rule that fires more than 1,000 times a minute in one tenant
        // is noise or an attack on the console; either way the analyst
        // needs one alert that says so, not a million.
        RateLimit { alerts: 1000, window: Duration::from_secs(60) }
    }
}

/// What to do with one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Raise,
    /// The first match past the limit in this window: raise one alert
    /// that says the rule is limited until `until` (Unix nanoseconds).
    Limited {
        since: i64,
        until: i64,
    },
    /// Counted only.
    Suppressed,
}

struct Window {
    index: i64,
    raised: u32,
}

pub(crate) struct Throttle {
    limit: RateLimit,
    window_ns: i64,
    /// Tenant, then rule index.
    windows: HashMap<String, HashMap<usize, Window>>,
}

impl Throttle {
    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    pub(crate) fn new(limit: RateLimit) -> Throttle {
        let window_ns = i64::try_from(limit.window.as_nanos()).unwrap_or(i64::MAX).max(1);
        Throttle { limit, window_ns, windows: HashMap::new() }
    }

    /// Decides on a match of rule `rule` in `tenant`, received at
    /// `received` (Unix nanoseconds).
    pub(crate) fn admit(&mut self, tenant: &str, rule: usize, received: i64) -> Verdict {
        if self.limit.alerts == 0 {
            return Verdict::Raise;
        }
        let index = received.div_euclid(self.window_ns);
        if !self.windows.contains_key(tenant) {
            self.windows.insert(tenant.to_string(), HashMap::new());
        }
        let Some(rules) = self.windows.get_mut(tenant) else { return Verdict::Raise };
        let window = rules.entry(rule).or_insert(Window { index, raised: 0 });
        // Records are received in log order, but clocks step back: a
        // window only moves forward.
        if index > window.index {
            *window = Window { index, raised: 0 };
        }
        if window.raised < self.limit.alerts {
            window.raised += 1;
            return Verdict::Raise;
        }
        if window.raised == self.limit.alerts {
            window.raised += 1;
            let since = window.index.saturating_mul(self.window_ns);
            return Verdict::Limited { since, until: since.saturating_add(self.window_ns) };
        }
        Verdict::Suppressed
    }
}

/// A rule's matches that were counted, not raised, in one tenant since the
/// server started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateLimited {
    pub tenant: String,
    pub rule_id: String,
    pub title: String,
    pub suppressed: u64,
}

/// The suppressed counts, shared with the API.
#[derive(Debug, Default)]
pub(crate) struct Suppressed(Mutex<BTreeMap<(String, String), RateLimited>>);

impl Suppressed {
    /// Adds one chunk's counts: tenant, rule id (or indicator), title, count.
    pub(crate) fn add<'a>(&self, counts: impl Iterator<Item = (&'a str, String, String, u64)>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (tenant, rule_id, title, n) in counts {
            map.entry((tenant.to_string(), rule_id.clone()))
                .or_insert_with(|| RateLimited { tenant: tenant.to_string(), rule_id, title, suppressed: 0 })
                .suppressed += n;
        }
    }

    /// The counts of `tenant`, or of every tenant.
    pub(crate) fn list(&self, tenant: Option<&str>) -> Vec<RateLimited> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|r| tenant.is_none_or(|t| r.tenant == t)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn a_rule_raises_its_limit_then_one_notice_then_counts_until_the_window_ends() {
        let mut t = Throttle::new(RateLimit { alerts: 2, window: Duration::from_secs(60) });
        let seen: Vec<Verdict> = (0..5).map(|i| t.admit("acme", 7, 60 * S + i * S)).collect();
        assert_eq!(
            seen,
            [
                Verdict::Raise,
                Verdict::Raise,
                Verdict::Limited { since: 60 * S, until: 120 * S },
                Verdict::Suppressed,
                Verdict::Suppressed
            ]
        );
        // Another rule, another tenant: their own windows.
        assert_eq!(t.admit("acme", 8, 61 * S), Verdict::Raise);
        assert_eq!(t.admit("globex", 7, 61 * S), Verdict::Raise);
        // The next window; a clock stepping back stays in it.
        assert_eq!(t.admit("acme", 7, 120 * S), Verdict::Raise);
        assert_eq!(t.admit("acme", 7, 119 * S), Verdict::Raise);
        assert!(matches!(t.admit("acme", 7, 121 * S), Verdict::Limited { .. }));
    }

    #[test]
    fn zero_is_no_limit() {
        let mut t = Throttle::new(RateLimit { alerts: 0, window: Duration::from_secs(1) });
        assert!((0..10_000).all(|i| t.admit("a", 0, i) == Verdict::Raise));
    }
}
