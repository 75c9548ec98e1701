//! Hinomi's vocabulary: the types every other crate speaks.
//!
//! An [`Event`] is one log record after parsing: a flat list of named fields
//! (nested objects are flattened into dotted names), the raw text it came
//! from, its timestamp, and the log-source views ([`SourceView`]) under which
//! detection rules may look at it. [`Level`] is the Sigma severity scale.
//!
//! This crate does no IO, never reads the clock and knows nothing about any
//! particular log format, rule language, storage or transport. Start reading
//! at [`Event`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use jiff::Timestamp;

/// A field value as it came from the source, with its JSON-like type kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
    Array(Vec<Value>),
}

impl Value {
    /// The text a string matcher compares against; `None` for null and arrays.
    ///
    /// Numbers and booleans are matched by their canonical text (`4688`,
    /// `true`), because Sigma compares values as strings and sources disagree
    /// about whether `EventID` is a number or a string.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Float(f) => Some(Cow::Owned(format_float(*f))),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Value::Null | Value::Array(_) => None,
        }
    }

    /// The value as a number, when it is one or is a string that parses as one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => parse_number(s),
            _ => None,
        }
    }

    /// Converts a JSON value; nested objects are kept as their JSON text
    /// (callers that want them as fields flatten them first, see
    /// [`Event::from_json_flat`]).
    pub fn from_json(value: &serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(f) = n.as_f64() {
                    Value::Float(f)
                } else {
                    Value::Str(n.to_string().into())
                }
            }
            serde_json::Value::String(s) => Value::Str(s.as_str().into()),
            serde_json::Value::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(_) => Value::Str(value.to_string().into()),
        }
    }

    /// The value as JSON, for output.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
            }
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
        }
    }
}

/// Parses a decimal or `0x` hexadecimal number, the forms log sources use.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { format!("{f}") }
}

/// A Sigma log source: which product, category and service produced an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogSource {
    pub product: Option<Box<str>>,
    pub category: Option<Box<str>>,
    pub service: Option<Box<str>>,
}

impl LogSource {
    pub fn new(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> LogSource {
        let own = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(Box::from);
        LogSource { product: own(product), category: own(category), service: own(service) }
    }

    /// Whether a rule written for `self` applies to events of `other`: every
    /// attribute that `self` sets must be set to the same value in `other`.
    pub fn contains(&self, other: &LogSource) -> bool {
        fn ok(mine: &Option<Box<str>>, theirs: &Option<Box<str>>) -> bool {
            match mine {
                None => true,
                Some(m) => theirs.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(m)),
            }
        }
        ok(&self.product, &other.product) && ok(&self.category, &other.category) && ok(&self.service, &other.service)
    }

    pub fn is_empty(&self) -> bool {
        self.product.is_none() && self.category.is_none() && self.service.is_none()
    }
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |p: &Option<Box<str>>| p.as_deref().unwrap_or("*").to_owned();
        write!(f, "{}/{}/{}", part(&self.product), part(&self.category), part(&self.service))
    }
}

/// One log source an event belongs to, with the field names that source
/// implies. A Windows Security 4688 event is both `windows/-/security` and,
/// with `Image` read from `NewProcessName`, `windows/process_creation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SourceView {
    pub logsource: LogSource,
    /// `(rule field, event field)`: rules of this source that ask for the
    /// first name read the second.
    pub aliases: Vec<(Box<str>, Box<str>)>,
}

/// Up to this many fields, a name is found by a scan: cheaper than hashing
/// for the narrow records most sources send.
const SCAN_FIELDS: usize = 16;

/// A parsed log record.
#[derive(Debug, Clone, Default)]
pub struct Event {
    fields: Vec<(Box<str>, Value)>,
    /// Each name's first position, once the event has more than
    /// [`SCAN_FIELDS`] fields. Lookups and the first-wins rule cost the
    /// same per field however wide the record: a sender controls the width,
    /// and a scan per field would make one wide record quadratic. The hasher
    /// is the standard keyed one because the names are the sender's.
    index: Option<HashMap<Box<str>, u32>>,
    /// Positions of fields whose name came before, in order: what output
    /// skips, known when the field is pushed.
    repeats: Vec<u32>,
    /// When the event happened, if the source said so.
    pub timestamp: Option<Timestamp>,
    /// The log sources this event belongs to. Empty means unknown: rules of
    /// every log source are tried.
    pub views: Vec<Arc<SourceView>>,
}

impl Event {
    pub fn new() -> Event {
        Event::default()
    }

    /// Adds a field; a later field with the same name does not replace the
    /// earlier one (lookups return the first).
    pub fn push(&mut self, name: impl Into<Box<str>>, value: Value) {
        let name = name.into();
        let at = self.fields.len();
        let repeated = match &mut self.index {
            Some(index) => index_name(index, &name, at),
            None if at >= SCAN_FIELDS => {
                let mut index = HashMap::with_capacity(at * 2);
                for (i, (n, _)) in self.fields.iter().enumerate() {
                    index_name(&mut index, n, i);
                }
                let repeated = index_name(&mut index, &name, at);
                self.index = Some(index);
                repeated
            }
            None => self.fields.iter().any(|(n, _)| *n == name),
        };
        if repeated {
            self.repeats.push(at as u32);
        }
        self.fields.push((name, value));
    }

    /// Changes values in place (names stay, so lookups stay right).
    pub fn map_values(&mut self, mut f: impl FnMut(&str, &mut Value)) {
        for (name, value) in &mut self.fields {
            f(name, value);
        }
    }

    /// The position in [`Event::fields`] of `name`'s first field.
    pub fn position(&self, name: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(name).map(|&i| i as usize),
            None => self.fields.iter().position(|(n, _)| &**n == name),
        }
    }

    pub fn fields(&self) -> &[(Box<str>, Value)] {
        &self.fields
    }

    /// The fields whose name came first (what [`Event::get`] finds), in
    /// order: known since each was pushed, so no lookup per field.
    pub fn first_fields(&self) -> impl Iterator<Item = &(Box<str>, Value)> {
        let mut repeats = self.repeats.iter().peekable();
        self.fields
            .iter()
            .enumerate()
            .filter(move |(i, _)| repeats.next_if(|&&r| r as usize == *i).is_none())
            .map(|(_, f)| f)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).map(|i| &self.fields[i].1)
    }

    /// A field's text, or `None` when absent or not a scalar.
    pub fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).and_then(Value::as_text)
    }

    /// Builds an event from a JSON object, flattening nested objects into
    /// dotted names (`{"a":{"b":1}}` gives the field `a.b`).
    pub fn from_json_flat(object: &serde_json::Map<String, serde_json::Value>) -> Event {
        let mut event = Event::new();
        flatten_into(&mut event, "", object);
        event
    }

    /// The event as a flat JSON object, for output.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::with_capacity(self.fields.len());
        for (name, value) in &self.fields {
            map.entry(name.to_string()).or_insert_with(|| value.to_json());
        }
        serde_json::Value::Object(map)
    }
}

/// Notes `name`'s first position; whether it had one already.
fn index_name(index: &mut HashMap<Box<str>, u32>, name: &str, at: usize) -> bool {
    if index.contains_key(name) {
        return true;
    }
    index.insert(name.into(), at as u32);
    false
}

/// Flattens `object` into `event`, prefixing names with `prefix`.
pub fn flatten_into(event: &mut Event, prefix: &str, object: &serde_json::Map<String, serde_json::Value>) {
    for (key, value) in object {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            serde_json::Value::Object(inner) => flatten_into(event, &name, inner),
            other => event.push(name, Value::from_json(other)),
        }
    }
}

/// Sigma's severity scale, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Informational, Level::Low, Level::Medium, Level::High, Level::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(text))
            .or_else(|| text.eq_ignore_ascii_case("info").then_some(Level::Informational))
    }
}

impl serde::Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        let text = String::deserialize(d)?;
        Level::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown level {text:?}")))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;

/// Serializes like [`Value::to_json`], without building a JSON tree first.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) => s.serialize_unit(),
            Value::Str(v) => s.serialize_str(v),
            Value::Array(items) => s.collect_seq(items),
        }
    }
}

/// Serializes like [`Event::to_json`] (first value of a repeated name wins).
impl serde::Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.fields.len() - self.repeats.len()))?;
        for (name, value) in self.first_fields() {
            map.serialize_entry(&**name, value)?;
        }
        map.end()
    }
}
