//! An incident's indicators and their sightings as a STIX 2.1 bundle, for
//! a CSIRT, an ISAC or a MISP instance to import.
//!
//! The bundle holds the producer's `identity`, one `indicator` per
//! indicator (its pattern, validity, confidence, TLP marking, labels and
//! ATT&CK techniques as `mitre-attack` external references), a `sighting`
//! of each one that was seen (how often, first and last), and a
//! `grouping` (context `suspicious-activity`) that names the incident and
//! refers to all of them, marked with the strictest TLP among them.
//!
//! Ids are derived from the export's seed (tenant and incident) and each
//! indicator's own id, so exporting the same incident again gives the
//! same ids and a receiver updates what it has instead of adding copies.

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Indicator, Tlp, stix::tlp_marking};

/// What to export.
#[derive(Debug)]
pub struct Export<'a> {
    /// What every object's id derives from: the same seed, the same ids.
    pub seed: &'a str,
    /// Who made it (the organisation or tenant).
    pub producer: &'a str,
    /// The incident's title, and a sentence on what it is.
    pub name: &'a str,
    pub description: &'a str,
    /// When the incident was opened, and this export's time.
    pub created: Timestamp,
    pub modified: Timestamp,
    pub indicators: Vec<Exported>,
}

/// One indicator and how it was seen.
#[derive(Debug)]
pub struct Exported {
    pub indicator: Indicator,
    pub sighting: Option<Seen>,
}

/// How often an indicator was seen, and when first and last.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub count: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// A UUID (in version 4's layout) from a hash of `parts`.
fn uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// STIX's timestamp form: UTC, milliseconds.
fn time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The ATT&CK page of a technique id (`T1566.001` → `.../T1566/001/`).
fn attack_url(technique: &str) -> String {
    format!("https://attack.mitre.org/techniques/{}/", technique.replace('.', "/"))
}

/// Writes the bundle. The caller gives indicators whose patterns this
/// crate wrote or read, so every pattern is one STIX accepts.
pub fn bundle(e: &Export<'_>) -> Value {
    let created = time(e.created);
    let modified = time(e.modified.max(e.created));
    let identity = format!("identity--{}", uuid(&[e.seed, "identity"]));
    let mut objects = vec![json!({
        "type": "identity", "spec_version": "2.1", "id": identity,
        "created": created, "modified": modified,
        "name": e.producer, "identity_class": "organization",
    })];
    let mut refs = Vec::new();
    let mut strictest: Option<Tlp> = None;
    for x in &e.indicators {
        let i = &x.indicator;
        let id = format!("indicator--{}", uuid(&[e.seed, "indicator", &i.id]));
        let valid_from = i.valid_from.unwrap_or(e.created);
        let mut o = json!({
            "type": "indicator", "spec_version": "2.1", "id": id,
            "created": created, "modified": modified, "created_by_ref": identity,
            "name": i.name, "pattern": i.pattern.to_stix(), "pattern_type": "stix",
            "indicator_types": ["malicious-activity"], "valid_from": time(valid_from),
        });
        if let Some(until) = i.valid_until.filter(|u| *u > valid_from) {
            o["valid_until"] = json!(time(until));
        }
        if let Some(c) = i.confidence {
            o["confidence"] = json!(c.min(100));
        }
        let labels: Vec<&str> = i.tags.iter().map(String::as_str).filter(|t| !t.is_empty()).collect();
        if !labels.is_empty() {
            o["labels"] = json!(labels);
        }
        if !i.attack.is_empty() {
            let refs: Vec<Value> = i
                .attack
                .iter()
                .map(|t| json!({"source_name": "mitre-attack", "external_id": t, "url": attack_url(t)}))
                .collect();
            o["external_references"] = Value::Array(refs);
        }
        if let Some(tlp) = i.tlp {
            o["object_marking_refs"] = json!([tlp_marking(tlp)]);
            strictest = strictest.max(Some(tlp));
        }
        objects.push(o);
        refs.push(id.clone());
        if let Some(seen) = x.sighting.filter(|s| s.count > 0) {
            let sid = format!("sighting--{}", uuid(&[e.seed, "sighting", &i.id]));
            let mut s = json!({
                "type": "sighting", "spec_version": "2.1", "id": sid,
                "created": created, "modified": modified, "created_by_ref": identity,
                "sighting_of_ref": id, "count": seen.count.min(999_999_999),
                "first_seen": time(seen.first), "last_seen": time(seen.last.max(seen.first)),
                "where_sighted_refs": [identity],
            });
            if let Some(tlp) = i.tlp {
                s["object_marking_refs"] = json!([tlp_marking(tlp)]);
            }
            objects.push(s);
            refs.push(sid);
        }
    }
    let mut group = json!({
        "type": "grouping", "spec_version": "2.1", "id": format!("grouping--{}", uuid(&[e.seed, "grouping"])),
        "created": created, "modified": modified, "created_by_ref": identity,
        "name": e.name, "description": e.description, "context": "suspicious-activity",
        "object_refs": if refs.is_empty() { vec![identity.clone()] } else { refs },
    });
    if let Some(tlp) = strictest {
        group["object_marking_refs"] = json!([tlp_marking(tlp)]);
    }
    objects.push(group);
    json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid(&[e.seed, "bundle", &modified])),
        "objects": objects,
    })
}
