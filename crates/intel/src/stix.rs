//! STIX 2.1 bundles (and TAXII 2.1 envelopes, which carry `objects` the
//! same way) into indicators.
//!
//! Read: `indicator` objects whose `pattern_type` is `stix`, with
//! `valid_from`/`valid_until`, `confidence`, `labels` and `indicator_types`
//! (as tags), `revoked`, `modified`, TLP from `object_marking_refs` (the
//! standard TLP 1.0 and 2.0 marking definitions, or `marking-definition`
//! objects of the bundle that say `tlp`), and ATT&CK techniques from
//! `external_references`, `kill_chain_phases`, and `indicates`
//! relationships to `attack-pattern` objects of the same bundle. Every
//! object is read on its own: one that cannot be read is a [`Problem`]
//! naming its place and id, and the rest are kept.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{Indicator, Problem, Read, Tlp, pattern, techniques_in};

/// The standard TLP marking definitions (TLP 1.0 in the STIX 2.1
/// specification, TLP 2.0 as OASIS published them).
const TLP_MARKINGS: [(&str, Tlp); 9] = [
    ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", Tlp::Clear),
    ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Tlp::Green),
    ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", Tlp::Amber),
    ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", Tlp::Red),
    ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", Tlp::Clear),
    ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", Tlp::Green),
    ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", Tlp::Amber),
    ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", Tlp::AmberStrict),
    ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", Tlp::Red),
];

/// The standard marking definition id of a TLP level: TLP 1.0's, which
/// the STIX 2.1 specification defines and every reader knows without the
/// definition in the bundle; AMBER+STRICT, which only TLP 2.0 has, as
/// OASIS published it.
pub fn tlp_marking(tlp: Tlp) -> &'static str {
    let known = if tlp == Tlp::AmberStrict { &TLP_MARKINGS[4..] } else { &TLP_MARKINGS[..4] };
    known.iter().find(|(_, t)| *t == tlp).map_or(TLP_MARKINGS[0].0, |(id, _)| id)
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    objects: Vec<&'a RawValue>,
}

/// The fields of any object this reader looks at.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Object {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    name: Option<String>,
    pattern: Option<String>,
    pattern_type: Option<String>,
    valid_from: Option<String>,
    valid_until: Option<String>,
    confidence: Option<serde_json::Value>,
    labels: Vec<String>,
    indicator_types: Vec<String>,
    revoked: bool,
    modified: Option<String>,
    object_marking_refs: Vec<String>,
    external_references: Vec<ExternalReference>,
    kill_chain_phases: Vec<KillChainPhase>,
    // Marking definitions.
    definition_type: Option<String>,
    definition: Option<serde_json::Value>,
    // Relationships.
    relationship_type: Option<String>,
    source_ref: Option<String>,
    target_ref: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExternalReference {
    source_name: String,
    external_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KillChainPhase {
    kill_chain_name: String,
    phase_name: String,
}

/// Reads a bundle, a TAXII envelope, or a JSON array of objects.
pub fn read_bundle(text: &str) -> Result<Read, String> {
    let trimmed = text.trim_start();
    let objects: Vec<&RawValue> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| format!("not a JSON array of STIX objects: {e}"))?
    } else {
        let envelope: Envelope<'_> =
            serde_json::from_str(trimmed).map_err(|e| format!("not a STIX bundle or TAXII envelope: {e}"))?;
        envelope.objects
    };
    let mut read = Read::default();
    let mut parsed: Vec<(usize, Object)> = Vec::with_capacity(objects.len());
    for (i, raw) in objects.iter().enumerate() {
        match serde_json::from_str::<Object>(raw.get()) {
            Ok(o) => parsed.push((i, o)),
            Err(e) => {
                read.problems.push(Problem { at: format!("objects[{i}]"), reason: format!("not a STIX object: {e}") })
            }
        }
    }
    // Markings, techniques and relationships of the bundle, for the
    // indicators that refer to them.
    let mut markings: HashMap<&str, Tlp> = TLP_MARKINGS.iter().copied().collect();
    let mut techniques: HashMap<&str, Vec<String>> = HashMap::new();
    for (_, o) in &parsed {
        match o.kind.as_str() {
            "marking-definition" => {
                if let Some(tlp) = marking_tlp(o) {
                    markings.insert(&o.id, tlp);
                }
            }
            "attack-pattern" => {
                techniques.insert(&o.id, attack_ids(o));
            }
            _ => {}
        }
    }
    let mut indicates: HashMap<&str, Vec<String>> = HashMap::new();
    for (_, o) in &parsed {
        if o.kind == "relationship"
            && o.relationship_type.as_deref() == Some("indicates")
            && let (Some(from), Some(to)) = (o.source_ref.as_deref(), o.target_ref.as_deref())
            && let Some(ids) = techniques.get(to)
        {
            indicates.entry(from).or_default().extend(ids.iter().cloned());
        }
    }
    for (i, o) in &parsed {
        if o.kind != "indicator" {
            continue;
        }
        let at = format!("objects[{i}] ({})", if o.id.is_empty() { "no id" } else { &o.id });
        if o.revoked {
            if !o.id.is_empty() {
                read.revoked.push(o.id.clone());
            }
            continue;
        }
        match indicator(o, &markings, indicates.get(o.id.as_str())) {
            Ok(indicator) => read.indicators.push(indicator),
            Err(reason) => read.problems.push(Problem { at, reason }),
        }
    }
    Ok(read)
}

fn indicator(o: &Object, markings: &HashMap<&str, Tlp>, indicated: Option<&Vec<String>>) -> Result<Indicator, String> {
    if o.id.is_empty() {
        return Err("indicator without an id".into());
    }
    let pattern_type = o.pattern_type.as_deref().unwrap_or("stix");
    if pattern_type != "stix" {
        return Err(format!("pattern_type {pattern_type:?} is not matched (only STIX patterns are)"));
    }
    let text = o.pattern.as_deref().ok_or("indicator without a pattern")?;
    let pattern = pattern::parse(text).map_err(|e| format!("pattern {text:?}: {e}"))?;
    let time = |name: &str, value: &Option<String>| -> Result<Option<Timestamp>, String> {
        value.as_deref().map(|t| t.parse::<Timestamp>().map_err(|e| format!("{name} {t:?}: {e}"))).transpose()
    };
    let valid_from = time("valid_from", &o.valid_from)?;
    let valid_until = time("valid_until", &o.valid_until)?;
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until <= from
    {
        return Err(format!("valid_until {until} is not after valid_from {from}"));
    }
    let confidence = match &o.confidence {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(c) if c <= 100 => Some(c as u8),
            _ => return Err(format!("confidence {v} is not an integer from 0 to 100")),
        },
    };
    // The most restrictive TLP among its markings.
    let tlp = o.object_marking_refs.iter().filter_map(|m| markings.get(m.as_str()).copied()).max();
    let mut tags: Vec<String> = o.indicator_types.iter().chain(&o.labels).cloned().collect();
    tags.dedup();
    let mut attack = attack_ids(o);
    for id in indicated.into_iter().flatten() {
        if !attack.contains(id) {
            attack.push(id.clone());
        }
    }
    Ok(Indicator {
        id: o.id.clone(),
        name: o.name.clone().unwrap_or_else(|| text.to_string()),
        pattern,
        confidence,
        tlp,
        valid_from,
        valid_until,
        revoked: false,
        modified: time("modified", &o.modified)?,
        tags,
        attack,
        decay: None,
    })
}

/// A marking definition's TLP level: `definition_type: tlp` (TLP 1.0), or
/// a name `TLP:…` (TLP 2.0 and custom ones).
fn marking_tlp(o: &Object) -> Option<Tlp> {
    if o.definition_type.as_deref() == Some("tlp")
        && let Some(level) = o.definition.as_ref().and_then(|d| d.get("tlp")).and_then(|t| t.as_str())
    {
        return Tlp::parse(level);
    }
    o.name.as_deref().filter(|n| n.to_ascii_uppercase().starts_with("TLP:")).and_then(Tlp::parse)
}

/// ATT&CK technique ids an object names: `mitre-attack` external ids, and
/// technique ids in its kill chain phases.
fn attack_ids(o: &Object) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for r in &o.external_references {
        if r.source_name.starts_with("mitre-") {
            ids.extend(r.external_id.as_deref().map(techniques_in).unwrap_or_default());
        }
    }
    for phase in &o.kill_chain_phases {
        if phase.kill_chain_name.starts_with("mitre-") {
            ids.extend(techniques_in(&phase.phase_name));
        }
    }
    ids.dedup();
    ids
}
