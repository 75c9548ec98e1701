//! The exact meaning of a filter, evaluated against one event. The store
//! narrows candidates with its index and then asks this module, so what a
//! query finds never depends on which index answered it.

use std::cmp::Ordering;
use std::net::IpAddr;

use jiff::Timestamp;
use model::{Event, Value};

use crate::ast::{Bound, Filter, Pattern, Scalar, Test};
use crate::parse::parse_time;
use crate::tokens::{lowercase, phrase_in, tokens};

/// What a filter can ask of an event.
pub trait Document {
    /// Calls `f` with each value of `field` (each element of an array)
    /// until it returns `true`; returns whether it did.
    fn any_value(&self, field: &str, f: &mut dyn FnMut(&Value) -> bool) -> bool;
    /// Calls `f` with each piece of the event's text (the raw record as
    /// [`crate::tokens::search_text`] reads it, then each field value)
    /// until it returns `true`.
    fn any_text(&self, f: &mut dyn FnMut(&str) -> bool) -> bool;
}

/// A stored event: its normalized fields, its raw text, and the fields
/// Hinomi adds (`@timestamp`, `_id`, `_tenant`, `_source`, ...).
pub struct Record<'a> {
    pub event: &'a Event,
    pub raw: &'a str,
    pub meta: &'a [(&'static str, Value)],
    /// `raw` as searched, decoded on first use and once: a query with
    /// several words reads it for each.
    text: std::cell::OnceCell<std::borrow::Cow<'a, str>>,
}

impl<'a> Record<'a> {
    pub fn new(event: &'a Event, raw: &'a str, meta: &'a [(&'static str, Value)]) -> Record<'a> {
        Record { event, raw, meta, text: std::cell::OnceCell::new() }
    }
}

impl Document for Record<'_> {
    fn any_value(&self, field: &str, f: &mut dyn FnMut(&Value) -> bool) -> bool {
        let value = match self.meta.iter().find(|(n, _)| *n == field) {
            Some((_, v)) => Some(v),
            None => self.event.get(field),
        };
        match value {
            Some(Value::Array(items)) => items.iter().any(&mut *f),
            Some(v) => f(v),
            None => false,
        }
    }

    fn any_text(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        if f(self.text.get_or_init(|| crate::tokens::search_text(self.raw))) {
            return true;
        }
        let mut each = |v: &Value| v.as_text().is_some_and(|t| f(&t));
        self.event.fields().iter().any(|(_, v)| match v {
            Value::Array(items) => items.iter().any(&mut each),
            v => each(v),
        })
    }
}

impl Filter {
    /// Whether `doc` matches; `now` resolves relative times such as `-24h`.
    pub fn matches(&self, doc: &dyn Document, now: Timestamp) -> bool {
        match self {
            Filter::All => true,
            Filter::And(items) => items.iter().all(|f| f.matches(doc, now)),
            Filter::Or(items) => items.iter().any(|f| f.matches(doc, now)),
            Filter::Not(inner) => !inner.matches(doc, now),
            Filter::Word(p) => doc.any_text(&mut |piece| tokens(piece, |t| p.matches_lower(t))),
            Filter::Phrase(phrase) => doc.any_text(&mut |piece| phrase_in(&lowercase(piece), phrase)),
            Filter::Field { field, test } => doc.any_value(field, &mut |v| test.matches(v, now)),
        }
    }
}

impl Pattern {
    /// Whether `text` (already lowercased) matches.
    pub fn matches_lower(&self, text: &str) -> bool {
        match &self.glob {
            Some(re) => re.is_match(text),
            None => self.text == text,
        }
    }

    pub fn matches(&self, value: &Value) -> bool {
        value.as_text().is_some_and(|t| self.matches_lower(&lowercase(&t)))
    }
}

impl Test {
    pub fn matches(&self, value: &Value, now: Timestamp) -> bool {
        match self {
            Test::Is(p) => p.matches(value),
            Test::Exists => !matches!(value, Value::Null),
            Test::Range { lo, hi } => {
                let above = match lo {
                    Bound::Open => true,
                    Bound::Inclusive(s) => compare(value, s, now).is_some_and(Ordering::is_ge),
                    Bound::Exclusive(s) => compare(value, s, now).is_some_and(Ordering::is_gt),
                };
                above
                    && match hi {
                        Bound::Open => true,
                        Bound::Inclusive(s) => compare(value, s, now).is_some_and(Ordering::is_le),
                        Bound::Exclusive(s) => compare(value, s, now).is_some_and(Ordering::is_lt),
                    }
            }
            Test::Cidr(net) => {
                value.as_text().and_then(|t| t.parse::<IpAddr>().ok()).is_some_and(|ip| net.contains(&ip))
            }
        }
    }
}

/// How `value` compares with `scalar`, or `None` when they cannot be
/// compared (text against a number, a value that is not a time against a
/// time). Numbers compare as numbers, times as instants, text as
/// lowercase text.
pub fn compare(value: &Value, scalar: &Scalar, now: Timestamp) -> Option<Ordering> {
    match scalar {
        Scalar::Number(n) => value.as_f64().and_then(|v| v.partial_cmp(n)),
        Scalar::Time(t) => value_time(value).map(|v| v.cmp(t)),
        Scalar::Relative(secs) => {
            let t = now.checked_add(jiff::SignedDuration::from_secs(*secs)).ok()?;
            value_time(value).map(|v| v.cmp(&t))
        }
        Scalar::Text(s) => value.as_text().map(|t| lowercase(&t).as_str().cmp(s.as_str())),
    }
}

/// A value read as a time: RFC 3339 text, or a number of seconds since
/// the epoch (milliseconds when it is too large to be seconds).
pub fn value_time(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Str(s) => parse_time(s),
        Value::Int(_) | Value::Float(_) => {
            let n = value.as_f64()?;
            let secs = if n.abs() > 1e11 { n / 1000.0 } else { n };
            Timestamp::from_nanosecond((secs * 1e9) as i128).ok()
        }
        _ => None,
    }
}

impl Record<'_> {
    /// The record as a row for the pipes: Hinomi's fields first, then the
    /// event's (the first of a repeated name wins).
    pub fn to_row(&self) -> crate::Row {
        let mut row = crate::Row::new();
        for (name, value) in self.meta {
            row.insert((*name).to_string(), value.to_json());
        }
        for (name, value) in self.event.fields() {
            if !row.contains_key(&**name) {
                row.insert(name.to_string(), value.to_json());
            }
        }
        row
    }
}
