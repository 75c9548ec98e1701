//! MISP feeds: the `manifest.json` that lists a feed's events, and each
//! event's JSON (`{"Event": {...}}`, the format the MISP REST API answers
//! with too).
//!
//! An attribute is an indicator when MISP marks it for detection (`to_ids`)
//! and its type names an observable Hinomi matches (`ip-src`, `ip-dst`,
//! `domain`, `hostname`, `url`, `md5`, `sha1`, `sha256`, `email-src`, ...,
//! and the composite `filename|sha256`, `ip-dst|port`, `domain|ip`). Other
//! attributes are counted as skipped, not reported: a MISP event carries
//! context (file names, comments, registry keys) that is no indicator. TLP
//! and ATT&CK techniques come from the attribute's tags, else the event's;
//! a `deleted` attribute is revoked.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{Indicator, Kind, Observable, Pattern, Problem, Read, Tlp, techniques_in};

#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(rename = "Event", borrow)]
    event: &'a RawValue,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Event<'a> {
    uuid: String,
    info: String,
    #[serde(rename = "Tag")]
    tags: Vec<Tag>,
    #[serde(rename = "Attribute", borrow)]
    attributes: Vec<&'a RawValue>,
    #[serde(rename = "Object", borrow)]
    objects: Vec<Object<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Object<'a> {
    name: String,
    #[serde(rename = "Attribute", borrow)]
    attributes: Vec<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tag {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Attribute {
    uuid: String,
    #[serde(rename = "type")]
    kind: String,
    value: String,
    to_ids: Flag,
    deleted: Flag,
    timestamp: Option<serde_json::Value>,
    #[serde(rename = "Tag")]
    tags: Vec<Tag>,
}

/// MISP writes booleans as `true` or as `"1"`/`"0"`.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(from = "serde_json::Value")]
struct Flag(bool);

impl From<serde_json::Value> for Flag {
    fn from(v: serde_json::Value) -> Flag {
        Flag(match v {
            serde_json::Value::Bool(b) => b,
            serde_json::Value::Number(n) => n.as_u64() == Some(1),
            serde_json::Value::String(s) => s == "1" || s.eq_ignore_ascii_case("true"),
            _ => false,
        })
    }
}

/// One event of a feed's manifest: its UUID (the feed's `<uuid>.json`)
/// and when it last changed (Unix seconds), newest first.
pub fn read_manifest(text: &str) -> Result<Vec<(String, i64)>, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("not a MISP feed manifest: {e}"))?;
    let mut events: Vec<(String, i64)> = map
        .into_iter()
        .filter(|(uuid, _)| is_uuid(uuid))
        .map(|(uuid, v)| {
            let at = v.get("timestamp").and_then(seconds).unwrap_or(0);
            (uuid, at)
        })
        .collect();
    events.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(events)
}

/// A UUID as MISP names event files: hex and dashes only, so it is safe to
/// put in a URL or a file name.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36 && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn seconds(v: &serde_json::Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Reads one event; `skipped` counts its attributes that are no indicator.
pub fn read_event(text: &str) -> Result<(Read, usize), String> {
    let wrapper: Wrapper<'_> = serde_json::from_str(text).map_err(|e| format!("not a MISP event: {e}"))?;
    let event: Event<'_> = serde_json::from_str(wrapper.event.get()).map_err(|e| format!("not a MISP event: {e}"))?;
    let event_tlp = tlp_of(&event.tags);
    let event_attack: Vec<String> = event.tags.iter().flat_map(|t| techniques_in(&t.name)).collect();
    let mut read = Read::default();
    let mut skipped = 0;
    let lists = std::iter::once(("Attribute".to_string(), &event.attributes)).chain(
        event.objects.iter().enumerate().map(|(i, o)| (format!("Object[{i}] ({}).Attribute", o.name), &o.attributes)),
    );
    for (place, attributes) in lists {
        for (i, raw) in attributes.iter().enumerate() {
            let at = format!("event {}: {place}[{i}]", event.uuid);
            let a: Attribute = match serde_json::from_str(raw.get()) {
                Ok(a) => a,
                Err(e) => {
                    read.problems.push(Problem { at, reason: format!("not a MISP attribute: {e}") });
                    continue;
                }
            };
            if a.deleted.0 {
                if !a.uuid.is_empty() {
                    read.revoked.push(a.uuid);
                }
                continue;
            }
            let Some(observables) = observables(&a.kind, &a.value) else {
                skipped += 1;
                continue;
            };
            if !a.to_ids.0 {
                skipped += 1;
                continue;
            }
            let observables = match observables {
                Ok(o) => o,
                Err(reason) => {
                    read.problems.push(Problem { at, reason });
                    continue;
                }
            };
            if a.uuid.is_empty() {
                read.problems.push(Problem { at, reason: "attribute without a uuid".into() });
                continue;
            }
            let mut attack: Vec<String> = a.tags.iter().flat_map(|t| techniques_in(&t.name)).collect();
            for id in &event_attack {
                if !attack.contains(id) {
                    attack.push(id.clone());
                }
            }
            let tags = a.tags.iter().chain(&event.tags).map(|t| t.name.clone()).filter(|n| !n.is_empty()).collect();
            let modified = a.timestamp.as_ref().and_then(seconds).and_then(|s| Timestamp::from_second(s).ok());
            let name = if event.info.is_empty() { format!("{} {}", a.kind, a.value) } else { event.info.clone() };
            read.indicators.push(Indicator {
                id: a.uuid,
                name,
                pattern: Pattern::any_of(observables),
                confidence: None,
                tlp: tlp_of(&a.tags).or(event_tlp),
                valid_from: None,
                valid_until: None,
                revoked: false,
                modified,
                tags,
                attack,
                decay: None,
            });
        }
    }
    Ok((read, skipped))
}

fn tlp_of(tags: &[Tag]) -> Option<Tlp> {
    tags.iter().filter(|t| t.name.to_ascii_lowercase().starts_with("tlp:")).filter_map(|t| Tlp::parse(&t.name)).max()
}

/// The observables of an attribute: `None` when its type is none Hinomi
/// matches, an error when the value does not read as its type says.
fn observables(kind: &str, value: &str) -> Option<Result<Vec<Observable>, String>> {
    let (first, second) = match kind.split_once('|') {
        Some((a, b)) => (a, Some(b)),
        None => (kind, None),
    };
    let one = |kind: &str| -> Option<Kind> {
        Some(match kind {
            "ip-src" | "ip-dst" | "ip" => Kind::Ip,
            "domain" | "hostname" => Kind::Domain,
            "url" => Kind::Url,
            "md5" => Kind::Md5,
            "sha1" => Kind::Sha1,
            "sha256" => Kind::Sha256,
            "email" | "email-src" | "email-dst" | "email-reply-to" | "whois-registrant-email" => Kind::Email,
            "ja3-fingerprint-md5" => Kind::Ja3,
            "ja4" | "ja4+" => Kind::Ja4,
            _ => return None,
        })
    };
    let kinds: Vec<(Kind, usize)> = match second {
        None => vec![(one(first)?, 0)],
        // `filename|sha256`: the second part; `ip-dst|port`: the first;
        // `domain|ip`: either.
        Some(second) => {
            let kinds: Vec<(Kind, usize)> =
                [one(first).map(|k| (k, 0)), one(second).map(|k| (k, 1))].into_iter().flatten().collect();
            if kinds.is_empty() {
                return None;
            }
            kinds
        }
    };
    let parts: Vec<&str> = if second.is_some() { value.splitn(2, '|').collect() } else { vec![value] };
    let mut out = Vec::new();
    for (kind, i) in kinds {
        let Some(part) = parts.get(i) else {
            return Some(Err(format!("{kind:?} value {value:?} has no part {}", i + 1)));
        };
        match Observable::new(kind, part) {
            Ok(o) => out.push(o),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(out))
}
