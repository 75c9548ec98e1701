//! On-call rotas and their escalation chains.
//!
//! A rota is a tenant's list of people who take turns, one shift each,
//! with the shift changing at a local hand-over time in the rota's time
//! zone. A notice the rota applies to pages the person on call; if nobody
//! acknowledges it within `escalate_after`, the next person in the rota
//! is paged, and after as long again the lead. Which person is on call is
//! a function of the instant (no state), so every process agrees.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use model::Level;
use serde::Deserialize;

use super::{Notice, Trigger, plausible_address};

/// Someone who can be paged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// A rota as configured (`[[notify.rotas]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotaSpec {
    pub name: String,
    pub tenant: String,
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Local time a shift ends and the next begins, `HH:MM`.
    #[serde(default = "nine")]
    pub handover: String,
    #[serde(default = "week")]
    pub shift_days: u32,
    /// The date (`YYYY-MM-DD`) the first person's first shift begins, at
    /// the hand-over time.
    pub start: String,
    pub people: Vec<Person>,
    /// Paged last, when nobody in the rota acknowledged.
    pub lead: Person,
    /// How long a page waits for its acknowledgement before the next
    /// person is paged, e.g. `15m`.
    pub escalate_after: String,
    /// The email channel pages go out on (its server and sender; the
    /// recipient is the person).
    pub channel: String,
    /// Triggers that page; empty: new and raised incidents, SLA breaches,
    /// requests for approval that expired.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    #[serde(default = "high")]
    pub min_severity: Level,
    /// Pages below this severity wait for the tenant's business hours
    /// (its SLA calendar) instead of waking anybody.
    #[serde(default)]
    pub quiet_below: Option<Level>,
}

fn utc() -> String {
    "UTC".into()
}
fn nine() -> String {
    "09:00".into()
}
fn week() -> u32 {
    7
}
fn high() -> Level {
    Level::High
}

/// A checked rota.
#[derive(Debug, Clone, PartialEq)]
pub struct Rota {
    pub name: String,
    pub tenant: String,
    pub tz: TimeZone,
    pub handover: Time,
    pub shift_days: i64,
    pub start: Date,
    pub people: Vec<Person>,
    pub lead: Person,
    pub escalate_after: SignedDuration,
    pub channel: String,
    pub triggers: Vec<Trigger>,
    pub min_severity: Level,
    pub quiet_below: Option<Level>,
}

/// One page of a chain: who, and how long after the notice.
#[derive(Debug, Clone, PartialEq)]
pub struct Step<'a> {
    pub person: &'a Person,
    pub after: SignedDuration,
}

/// One shift: who is on call from when.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift<'a> {
    pub person: &'a Person,
    pub from: Timestamp,
}

impl Rota {
    /// Checks a rota; errors name the rota and the bad field.
    pub fn new(spec: &RotaSpec) -> Result<Rota, String> {
        let bad = |why: String| format!("on-call rota {:?}: {why}", spec.name);
        if spec.name.trim().is_empty() {
            return Err(bad("needs a name".into()));
        }
        let tz = TimeZone::get(&spec.time_zone).map_err(|e| bad(format!("time zone {:?}: {e}", spec.time_zone)))?;
        let handover: Time =
            spec.handover.parse().map_err(|e| bad(format!("handover {:?} is not HH:MM: {e}", spec.handover)))?;
        let start: Date =
            spec.start.parse().map_err(|e| bad(format!("start {:?} is not YYYY-MM-DD: {e}", spec.start)))?;
        if spec.shift_days == 0 {
            return Err(bad("shift_days must be at least 1".into()));
        }
        if spec.people.is_empty() {
            return Err(bad("needs at least one person in `people`".into()));
        }
        for p in spec.people.iter().chain([&spec.lead]) {
            if p.name.trim().is_empty() {
                return Err(bad("every person needs a name".into()));
            }
            if !plausible_address(&p.email) {
                return Err(bad(format!("{:?} is not an email address", p.email)));
            }
        }
        let escalate_after: SignedDuration = spec
            .escalate_after
            .parse()
            .map_err(|e| bad(format!("escalate_after {:?} is not a duration: {e}", spec.escalate_after)))?;
        if escalate_after < SignedDuration::from_secs(1) {
            return Err(bad("escalate_after must be at least a second".into()));
        }
        let triggers = if spec.triggers.is_empty() {
            vec![Trigger::IncidentOpened, Trigger::IncidentRaised, Trigger::SlaBreached, Trigger::ApprovalExpired]
        } else {
            spec.triggers.clone()
        };
        Ok(Rota {
            name: spec.name.clone(),
            tenant: spec.tenant.clone(),
            tz,
            handover,
            shift_days: i64::from(spec.shift_days),
            start,
            people: spec.people.clone(),
            lead: spec.lead.clone(),
            escalate_after,
            channel: spec.channel.clone(),
            triggers,
            min_severity: spec.min_severity,
            quiet_below: spec.quiet_below,
        })
    }

    /// Whether `n` pages this rota.
    pub fn applies(&self, n: &Notice) -> bool {
        n.tenant == self.tenant && self.triggers.contains(&n.trigger) && n.severity >= self.min_severity
    }

    /// Whether pages for `n` wait for business hours.
    pub fn quiet(&self, n: &Notice) -> bool {
        self.quiet_below.is_some_and(|q| n.severity < q)
    }

    /// Index of the shift `at` falls in, counted from the first (negative
    /// before it).
    fn shift_index(&self, at: Timestamp) -> i64 {
        let local = at.to_zoned(self.tz.clone());
        let mut date = local.date();
        // Before the hand-over, the previous day's shift still runs.
        if local.time() < self.handover {
            date = date.yesterday().unwrap_or(date);
        }
        // Whole days between two dates (the default largest unit of
        // `Date::until`); no two dates are too far apart for it.
        let days = self.start.until(date).map_or(0, |s| i64::from(s.get_days()));
        days.div_euclid(self.shift_days)
    }

    fn person_at(&self, index: i64) -> &Person {
        let n = self.people.len() as i64;
        &self.people[index.rem_euclid(n) as usize]
    }

    /// Who is on call at `at`.
    pub fn on_call(&self, at: Timestamp) -> &Person {
        self.person_at(self.shift_index(at))
    }

    /// The instant shift `index` begins.
    fn shift_start(&self, index: i64) -> Timestamp {
        let days = index.saturating_mul(self.shift_days);
        let date = self.start.checked_add(jiff::Span::new().days(days)).unwrap_or(self.start);
        date.to_datetime(self.handover)
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The shift running at `at` and the `count - 1` after it.
    pub fn shifts(&self, at: Timestamp, count: usize) -> Vec<Shift<'_>> {
        let first = self.shift_index(at);
        (0..count as i64)
            .map(|k| Shift { person: self.person_at(first + k), from: self.shift_start(first + k) })
            .collect()
    }

    /// Who is paged for a notice at `at`, and when: the person on call at
    /// once, the next in the rota after `escalate_after`, the lead after
    /// as long again. Nobody is paged twice in one chain.
    pub fn chain(&self, at: Timestamp) -> Vec<Step<'_>> {
        let index = self.shift_index(at);
        let mut steps: Vec<Step<'_>> = Vec::new();
        for person in [self.person_at(index), self.person_at(index + 1), &self.lead] {
            if steps.iter().any(|s| s.person.email == person.email) {
                continue;
            }
            let after = self.escalate_after.checked_mul(steps.len() as i32).unwrap_or(SignedDuration::MAX);
            steps.push(Step { person, after });
        }
        steps
    }
}
