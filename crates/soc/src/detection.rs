//! A detection as triage receives it: one line of the alert journal.

use jiff::Timestamp;
use model::Level;
use serde_json::{Map, Value};

use crate::entity::{self, Entity, EntityKind};

/// One detection: which rule fired, on what, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The alert line's id (`<event id>.<rule id>`): unique, stable on replay.
    pub id: String,
    pub tenant: String,
    pub rule_id: String,
    pub title: String,
    pub level: Level,
    /// ATT&CK and other rule tags.
    pub tags: Vec<String>,
    /// Rule author, kept for the Detection Rule License's attribution.
    pub author: Option<String>,
    /// The evidence: ids of events in the event store, one for a rule
    /// match, every contributing event for a correlation.
    pub events: Vec<String>,
    /// Event time.
    pub at: Timestamp,
    /// `retro-hunt` for findings of a hunt.
    pub origin: Option<String>,
    pub entities: Vec<Entity>,
    /// The event's fields (flat, dotted names).
    pub fields: Map<String, Value>,
}

impl Detection {
    /// Reads one alert line; errors say what is missing.
    pub fn from_alert_line(line: &[u8]) -> Result<Detection, String> {
        let v: Value = serde_json::from_slice(line).map_err(|e| format!("alert line is not JSON: {e}"))?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let id = text(&v, "id").ok_or("alert line has no id")?;
        let tenant = text(&v, "tenant").ok_or("alert line has no tenant")?;
        let at = text(&v, "@timestamp")
            .and_then(|t| t.parse::<Timestamp>().ok())
            .ok_or("alert line has no valid @timestamp")?;
        let rule = v.get("rule");
        let kind = text(&v, "kind").unwrap_or_else(|| "sigma".into());
        let rule_id = rule.and_then(|r| text(r, "id")).unwrap_or_else(|| format!("hinomi.{kind}"));
        let title =
            text(&v, "title").or_else(|| rule.and_then(|r| text(r, "title"))).unwrap_or_else(|| rule_id.clone());
        let level = text(&v, "level").and_then(|l| Level::parse(&l)).unwrap_or(Level::Medium);
        let tags = rule
            .and_then(|r| r.get("tags"))
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let author = rule.and_then(|r| text(r, "author"));
        let fields = match v.get("event") {
            // Events from the stream are flat already; nested ones are flattened.
            Some(Value::Object(m)) => match model::Event::from_json_flat(m).to_json() {
                Value::Object(flat) => flat,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        let mut entities = entity::extract(&fields);
        // A silent source is about the source itself.
        if let (Some(source), true) = (text(&v, "source"), fields.is_empty()) {
            entities.extend(Entity::new(EntityKind::Host, &source));
        }
        Ok(Detection {
            id,
            tenant,
            rule_id,
            title,
            level,
            tags,
            author,
            events: match v.get("events").and_then(Value::as_array) {
                Some(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                None => text(&v, "event_id").into_iter().collect(),
            },
            at,
            origin: text(&v, "origin"),
            entities,
            fields,
        })
    }

    /// Whether the event has `field` equal to `want` (ignoring case), or,
    /// for an entity kind (`host`, `user`, ...), that entity.
    pub fn has_value(&self, field: &str, want: &str) -> bool {
        if let Ok(kind) = field.parse::<EntityKind>()
            && let Some(e) = Entity::new(kind, want)
            && self.entities.contains(&e)
        {
            return true;
        }
        let eq = |v: &Value| match v {
            Value::String(s) => s.eq_ignore_ascii_case(want),
            Value::Number(n) => n.to_string() == want,
            Value::Bool(b) => b.to_string() == want,
            _ => false,
        };
        match self.fields.get(field) {
            Some(Value::Array(items)) => items.iter().any(eq),
            Some(v) => eq(v),
            None => false,
        }
    }

    /// What makes two detections one alert: the same rule on the same
    /// entities (tenant included). The first 128 bits of a SHA-256 in hex,
    /// so it can be indexed: every alert has an entry in the dedup index,
    /// and the full 256 bits made its entries half again as large (one
    /// pair of runs at a million open alerts: triage 9.7k detections/s
    /// with them, 10.5k without). 128 bits keep a collision, which would fold one
    /// detection into another's alert, out of an attacker's reach (2^64
    /// hashes).
    pub fn dedup_key(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.tenant.as_bytes());
        h.update([0]);
        h.update(self.rule_id.as_bytes());
        for e in &self.entities {
            h.update([0]);
            h.update(e.to_string().as_bytes());
        }
        let mut key = String::with_capacity(32);
        for b in &h.finalize()[..16] {
            use std::fmt::Write;
            let _ = write!(key, "{b:02x}");
        }
        key
    }

    /// ATT&CK technique ids among the tags (`attack.t1110.001` →
    /// `T1110.001`).
    pub fn techniques(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack.t"))
            .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
            .map(|t| format!("T{}", t.to_uppercase()))
            .collect()
    }
}
