//! SLA clocks: how much of an agreed time has run, on a calendar.
//!
//! A policy gives, per severity, the time to acknowledge and the time to
//! resolve. Time counts on the policy's calendar: around the clock, or
//! business hours in a time zone with working days and holidays. While an
//! incident waits on the customer the clock is paused. Everything here is
//! a function of the instants it is given: the caller passes `now`.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// When the SLA clock runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Calendar {
    /// Every hour of every day.
    Always,
    Business(BusinessHours),
}

/// Working hours in a time zone: `open..close` local time on working days
/// that are not holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    pub tz: TimeZone,
    /// Monday first.
    pub days: [bool; 7],
    pub open: Time,
    pub close: Time,
    pub holidays: BTreeSet<Date>,
}

/// Days looked ahead for the end of a budget before giving up; a calendar
/// with working hours never gets near it.
const MAX_DAYS: i64 = 3 * 366;

impl BusinessHours {
    /// Checks that the hours describe some working time.
    pub fn new(
        tz: TimeZone,
        days: [bool; 7],
        open: Time,
        close: Time,
        holidays: BTreeSet<Date>,
    ) -> Result<BusinessHours, String> {
        if open >= close {
            return Err(format!("business hours open at {open} but close at {close}: close must be later"));
        }
        if !days.contains(&true) {
            return Err("business hours have no working day".into());
        }
        Ok(BusinessHours { tz, days, open, close, holidays })
    }

    /// The working window of a local date, if it is a working day.
    fn window(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        let day = date.weekday().to_monday_zero_offset() as usize;
        if !self.days[day] || self.holidays.contains(&date) {
            return None;
        }
        let at = |t: Time| date.to_datetime(t).to_zoned(self.tz.clone()).ok().map(|z| z.timestamp());
        let (open, close) = (at(self.open)?, at(self.close)?);
        (open < close).then_some((open, close))
    }

    fn local_date(&self, t: Timestamp) -> Date {
        t.to_zoned(self.tz.clone()).date()
    }
}

/// Intervals of paused time, `(start, end)`; `end` is `None` while paused.
pub type Pauses = [(Timestamp, Option<Timestamp>)];

impl Calendar {
    /// Working intervals that overlap `from..to`, clipped to it, in order.
    fn working(&self, from: Timestamp, to: Timestamp, each: &mut dyn FnMut(Timestamp, Timestamp) -> bool) {
        if from >= to {
            return;
        }
        match self {
            Calendar::Always => {
                each(from, to);
            }
            Calendar::Business(hours) => {
                // A local day starts at most a day before its UTC date.
                let mut date = hours.local_date(from).yesterday().unwrap_or(Date::MIN);
                let last = hours.local_date(to);
                while date <= last {
                    if let Some((open, close)) = hours.window(date) {
                        let (a, b) = (open.max(from), close.min(to));
                        if a < b && each(a, b) {
                            return;
                        }
                    }
                    match date.tomorrow() {
                        Ok(d) => date = d,
                        Err(_) => return,
                    }
                }
            }
        }
    }

    /// The first working instant at or after `from`: `from` itself in
    /// working time (or around the clock), else the next opening.
    pub fn next_open(&self, from: Timestamp) -> Timestamp {
        let far = from.checked_add(SignedDuration::from_hours(24 * MAX_DAYS)).unwrap_or(Timestamp::MAX);
        let mut found = from;
        self.working(from, far, &mut |a, _| {
            found = a;
            true
        });
        found
    }

    /// Working time between `from` and `to`, less the paused time.
    pub fn elapsed(&self, from: Timestamp, to: Timestamp, pauses: &Pauses) -> SignedDuration {
        let pauses = merged(pauses, to);
        let mut total = SignedDuration::ZERO;
        self.working(from, to, &mut |a, b| {
            total += active(a, b, &pauses);
            false
        });
        total
    }

    /// When `budget` of working time, less paused time, has run since
    /// `from`; `None` while paused (the clock stands still) or when the
    /// calendar has no working time ahead.
    pub fn deadline(&self, from: Timestamp, budget: SignedDuration, pauses: &Pauses) -> Option<Timestamp> {
        if pauses.iter().any(|(_, end)| end.is_none()) {
            return None;
        }
        let far = from.checked_add(SignedDuration::from_hours(24 * MAX_DAYS)).unwrap_or(Timestamp::MAX);
        let pauses = merged(pauses, far);
        let mut left = budget;
        let mut found = None;
        if left <= SignedDuration::ZERO {
            return Some(from);
        }
        self.working(from, far, &mut |a, b| {
            // Split the window around pauses and spend the budget.
            let mut start = a;
            for &(pa, pb) in pauses.iter().filter(|(pa, pb)| *pb > a && *pa < b) {
                if pa > start && spend(start, pa.min(b), &mut left, &mut found) {
                    return true;
                }
                start = start.max(pb);
            }
            start < b && spend(start, b, &mut left, &mut found)
        });
        found
    }
}

/// Spends working time `a..b` from `left`; records the instant the budget
/// runs out.
fn spend(a: Timestamp, b: Timestamp, left: &mut SignedDuration, found: &mut Option<Timestamp>) -> bool {
    let span = b.duration_since(a);
    if span >= *left {
        *found = a.checked_add(*left).ok();
        return true;
    }
    *left -= span;
    false
}

/// Pauses sorted and merged, open ones ending at `until`.
fn merged(pauses: &Pauses, until: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    let mut list: Vec<(Timestamp, Timestamp)> =
        pauses.iter().map(|&(a, b)| (a, b.unwrap_or(until))).filter(|(a, b)| a < b).collect();
    list.sort();
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(list.len());
    for (a, b) in list {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `a..b` less the merged pauses.
fn active(a: Timestamp, b: Timestamp, pauses: &[(Timestamp, Timestamp)]) -> SignedDuration {
    let mut total = b.duration_since(a);
    for &(pa, pb) in pauses {
        let (x, y) = (pa.max(a), pb.min(b));
        if x < y {
            total -= y.duration_since(x);
        }
    }
    total
}

/// Where one SLA target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Running, below the near-breach share.
    Running,
    /// Running, past the near-breach share of the budget.
    NearBreach,
    /// Past the budget (running or stopped late).
    Breached,
    /// Stopped within the budget.
    Met,
    /// Stopped while waiting on the customer.
    Paused,
}

/// One target's clock, measured at `now`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Clock {
    pub state: SlaState,
    /// Working time used so far (or until stopped).
    #[serde(with = "secs")]
    pub elapsed: SignedDuration,
    #[serde(with = "secs")]
    pub budget: SignedDuration,
    /// When the budget runs out, if the clock runs.
    pub due: Option<Timestamp>,
}

mod secs {
    pub(super) fn serialize<S: serde::Serializer>(d: &jiff::SignedDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.as_secs())
    }
}

/// Share of the budget after which a running clock is near breach.
pub const NEAR_BREACH: f64 = 0.8;

/// Measures one target: started at `start`, stopped at `stop` if it was
/// met (acknowledged, resolved).
pub fn clock(
    calendar: &Calendar,
    budget: SignedDuration,
    start: Timestamp,
    stop: Option<Timestamp>,
    pauses: &Pauses,
    now: Timestamp,
) -> Clock {
    let end = stop.unwrap_or(now).max(start);
    let elapsed = calendar.elapsed(start, end, pauses);
    let paused = stop.is_none() && pauses.iter().any(|(_, e)| e.is_none());
    let state = if elapsed > budget {
        SlaState::Breached
    } else if stop.is_some() {
        SlaState::Met
    } else if paused {
        SlaState::Paused
    } else if elapsed.as_secs_f64() >= budget.as_secs_f64() * NEAR_BREACH {
        SlaState::NearBreach
    } else {
        SlaState::Running
    };
    let due = if stop.is_none() { calendar.deadline(start, budget, pauses) } else { None };
    Clock { state, elapsed, budget, due }
}

/// Parses `mon,tue,...` (or `mon-fri`) into working days.
pub fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let day = |s: &str| -> Result<usize, String> {
        let d = match s.trim().to_ascii_lowercase().get(..3) {
            Some("mon") => Weekday::Monday,
            Some("tue") => Weekday::Tuesday,
            Some("wed") => Weekday::Wednesday,
            Some("thu") => Weekday::Thursday,
            Some("fri") => Weekday::Friday,
            Some("sat") => Weekday::Saturday,
            Some("sun") => Weekday::Sunday,
            _ => return Err(format!("unknown weekday {s:?} (expected mon, tue, ... sun)")),
        };
        Ok(d.to_monday_zero_offset() as usize)
    };
    let mut days = [false; 7];
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    days[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(part)?] = true,
        }
    }
    Ok(days)
}

/// A calendar as configured and stored: `{"always": true}` or
/// `{"tz": "Asia/Tokyo", "days": "mon-fri", "open": "09:00", "close":
/// "18:00", "holidays": ["2026-11-23"]}`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<String>,
}

impl CalendarSpec {
    /// The calendar; errors name the bad part.
    pub fn calendar(&self) -> Result<Calendar, String> {
        if self.always || self.tz.is_none() && self.open.is_none() && self.close.is_none() {
            return Ok(Calendar::Always);
        }
        let tz_name = self.tz.as_deref().unwrap_or("UTC");
        let tz = TimeZone::get(tz_name).map_err(|e| format!("time zone {tz_name:?}: {e}"))?;
        let days = parse_days(self.days.as_deref().unwrap_or("mon-fri"))?;
        let time = |what: &str, v: Option<&str>, default: &str| -> Result<Time, String> {
            let v = v.unwrap_or(default);
            v.parse::<Time>().map_err(|e| format!("{what} time {v:?}: {e}"))
        };
        let open = time("open", self.open.as_deref(), "09:00")?;
        let close = time("close", self.close.as_deref(), "18:00")?;
        let mut holidays = BTreeSet::new();
        for h in &self.holidays {
            holidays.insert(h.parse::<Date>().map_err(|e| format!("holiday {h:?}: {e}"))?);
        }
        Ok(Calendar::Business(BusinessHours::new(tz, days, open, close, holidays)?))
    }
}
