//! `hinomi rules coverage`: which ATT&CK techniques the alerting rules of a
//! rule set cover, as rows and as an ATT&CK Navigator layer.

use std::collections::BTreeMap;

use serde_json::json;
use sigma::RuleSet;

/// One technique and the rules that cover it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Technique {
    /// `T1110` or `T1110.001`.
    pub(crate) id: String,
    pub(crate) tactics: Vec<String>,
    pub(crate) rules: Vec<String>,
}

/// ATT&CK tactics as Sigma tags name them.
const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource_development",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
];

/// Techniques covered by alerting rules and correlations, by id.
pub(crate) fn techniques(set: &RuleSet) -> Vec<Technique> {
    let mut out: BTreeMap<String, Technique> = BTreeMap::new();
    let alerting = set
        .rules()
        .iter()
        .filter(|r| r.alerts)
        .map(|r| (&r.title, &r.tags))
        .chain(set.correlations().iter().filter(|c| c.alerts).map(|c| (&c.def.title, &c.def.tags)));
    for (title, tags) in alerting {
        let tactics: Vec<String> = tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack."))
            .filter(|t| TACTICS.contains(t))
            .map(|t| t.replace('_', "-"))
            .collect();
        for tag in tags {
            let Some(t) = tag.strip_prefix("attack.t").filter(|t| t.starts_with(|c: char| c.is_ascii_digit())) else {
                continue;
            };
            let id = format!("T{}", t.to_uppercase());
            let entry =
                out.entry(id.clone()).or_insert_with(|| Technique { id, tactics: Vec::new(), rules: Vec::new() });
            for tactic in &tactics {
                if !entry.tactics.contains(tactic) {
                    entry.tactics.push(tactic.clone());
                }
            }
            if !entry.rules.contains(title) {
                entry.rules.push(title.clone());
            }
        }
    }
    out.into_values().collect()
}

/// An ATT&CK Navigator layer: each covered technique scored by how many
/// rules cover it, the rule titles as its comment.
pub(crate) fn navigator_layer(name: &str, techniques: &[Technique]) -> serde_json::Value {
    let max = techniques.iter().map(|t| t.rules.len()).max().unwrap_or(1);
    json!({
        "name": name,
        "versions": {"layer": "4.5", "navigator": "5.1.0"},
        "domain": "enterprise-attack",
        "description": "Techniques covered by Hinomi rules (hinomi rules coverage)",
        "gradient": {"colors": ["#ffe766", "#ff6666"], "minValue": 1, "maxValue": max},
        "techniques": techniques.iter().map(|t| json!({
            "techniqueID": t.id,
            "score": t.rules.len(),
            "comment": t.rules.join("; "),
            "enabled": true,
        })).collect::<Vec<_>>(),
    })
}
