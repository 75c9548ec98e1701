//! What the pipeline writes: one JSON line per stored event, alert and dead
//! letter. Ids come from the log position, so a replayed record gets the
//! same ids it had before.

use jiff::Timestamp;
use serde::Serialize;
use sigma::Rule;

/// `<log position>.<index in batch>`: unique and stable across replays.
pub fn event_id(position: u64, index: usize) -> String {
    format!("{position}.{index}")
}

#[derive(Serialize)]
pub struct StoredEvent<'a> {
    pub id: &'a str,
    #[serde(rename = "@timestamp")]
    pub timestamp: Timestamp,
    pub received: Timestamp,
    pub tenant: &'a str,
    pub source: &'a str,
    pub log_source: Vec<String>,
    #[serde(rename = "event.original")]
    pub original: &'a str,
    // `fields` (the event) follows, spliced in by the pipeline so it is
    // serialized once for the event and all its alerts.
}

#[derive(Serialize)]
pub struct RuleRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub level: &'a str,
    pub tags: &'a [String],
    /// Required on every alert by the Detection Rule License.
    pub author: Option<&'a str>,
    pub path: &'a str,
}

impl<'a> RuleRef<'a> {
    pub fn of(rule: &'a Rule) -> RuleRef<'a> {
        RuleRef {
            id: &rule.id,
            title: &rule.title,
            level: rule.level.as_str(),
            tags: &rule.tags,
            author: rule.author.as_deref(),
            path: &rule.path,
        }
    }
}

/// One detection. `kind` is `sigma` for rule matches and `source_health`
/// for a silent source.
#[derive(Serialize)]
pub struct Alert<'a> {
    pub id: String,
    pub kind: &'a str,
    pub event_id: Option<&'a str>,
    #[serde(rename = "@timestamp")]
    pub timestamp: Timestamp,
    pub received: Option<Timestamp>,
    pub detected: Timestamp,
    pub tenant: &'a str,
    pub source: &'a str,
    pub level: &'a str,
    pub title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleRef<'a>>,
    /// `retro-hunt` for findings of a hunt over stored events; absent for
    /// the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'a str>,
    /// For a threat-intel match: the indicator and what matched it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator: Option<IndicatorRef<'a>>,
    // `event` follows for rule alerts, spliced in by the pipeline.
}

/// The indicator behind a threat-intel alert, with its context as the
/// feed gave it and the event's fields that matched.
#[derive(Serialize)]
pub struct IndicatorRef<'a> {
    pub id: &'a str,
    pub feed: &'a str,
    /// From the shared set, not the tenant's own.
    pub shared: bool,
    pub name: &'a str,
    pub pattern: String,
    /// After decay, at the event's receipt.
    pub confidence: Option<u8>,
    pub tlp: Option<&'static str>,
    pub valid_until: Option<Timestamp>,
    pub tags: &'a [String],
    pub attack: &'a [String],
    pub matched: Vec<Matched<'a>>,
}

#[derive(Serialize)]
pub struct Matched<'a> {
    pub field: &'a str,
    pub value: &'a str,
}

#[derive(Serialize)]
pub struct DeadLetter<'a> {
    pub id: &'a str,
    pub received: Timestamp,
    pub tenant: &'a str,
    pub source: &'a str,
    pub format: &'a str,
    pub reason: &'a str,
    /// The record, or its first [`DEAD_RAW`] bytes: a sender of huge bad
    /// records must not fill the disk with copies of them.
    pub raw: &'a str,
    /// The whole record's length, when `raw` is cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_bytes: Option<usize>,
}

/// Bytes of a record a dead letter keeps.
pub const DEAD_RAW: usize = 64 << 10;

/// The part of `raw` a dead letter keeps, and the whole length when cut.
pub fn dead_raw(raw: &str) -> (&str, Option<usize>) {
    if raw.len() <= DEAD_RAW {
        return (raw, None);
    }
    let mut end = DEAD_RAW;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    (&raw[..end], Some(raw.len()))
}
