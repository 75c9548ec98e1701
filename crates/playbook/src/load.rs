//! A playbook from its YAML text, every mistake named by line and column.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use model::Level;
use soc::EntityKind;
use soc::assets::Criticality;
use yamltree::{Node, Pos};

use super::{EnrichSource, Playbook, Step, StepKind, Trigger};

/// A mistake in a playbook file, with where it is (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for LoadError {}

fn at(node: &Node, message: impl Into<String>) -> LoadError {
    let Pos { line, col } = node.pos();
    LoadError { line, col, message: message.into() }
}

/// The longest wait a step may ask for.
const MAX_WAIT: SignedDuration = SignedDuration::from_hours(7 * 24);

/// Steps a playbook may have.
const MAX_STEPS: usize = 64;

/// Reads one playbook (one YAML document).
pub fn load(text: &str) -> Result<Playbook, LoadError> {
    let docs = yamltree::parse_documents(text).map_err(|e| LoadError {
        line: e.pos.line,
        col: e.pos.col,
        message: format!("invalid YAML: {}", e.message),
    })?;
    let doc = match docs.as_slice() {
        [doc] => doc,
        [] => return Err(LoadError { line: 1, col: 1, message: "the file holds no playbook".into() }),
        [_, second, ..] => return Err(at(second, "one playbook per file")),
    };
    let Node::Map { entries, .. } = doc else {
        return Err(at(doc, format!("a playbook is a map, not {}", doc.kind())));
    };
    known_keys(entries, &["id", "title", "tenant", "version", "trigger", "inputs", "steps", "description"])?;
    let id = name(required(doc, "id")?, "id")?;
    let title = text_of(required(doc, "title")?)?.to_string();
    let tenant_node = required(doc, "tenant")?;
    let tenant = text_of(tenant_node)?.to_string();
    if !valid_tenant(&tenant) {
        return Err(at(tenant_node, format!("{tenant:?} is not a tenant name")));
    }
    let version_node = required(doc, "version")?;
    let version = text_of(version_node)?
        .parse::<u32>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| at(version_node, "version must be a whole number from 1"))?;
    let trigger = match doc.get("trigger") {
        Some(t) => trigger(t)?,
        None => Trigger { manual: true, ..Trigger::default() },
    };
    let inputs = match doc.get("inputs") {
        Some(i) => inputs(i)?,
        None => BTreeMap::new(),
    };
    let steps = steps(required(doc, "steps")?, &inputs)?;
    Ok(Playbook { id, title, tenant, version, trigger, inputs, steps })
}

fn required<'a>(map: &'a Node, key: &str) -> Result<&'a Node, LoadError> {
    map.get(key).filter(|n| !n.is_null()).ok_or_else(|| at(map, format!("`{key}` is missing")))
}

fn known_keys(entries: &[(Node, Node)], known: &[&str]) -> Result<(), LoadError> {
    for (k, _) in entries {
        let key = k.as_str().unwrap_or("");
        if !known.contains(&key) {
            return Err(at(k, format!("unknown key `{key}` (known: {})", known.join(", "))));
        }
    }
    Ok(())
}

fn text_of(node: &Node) -> Result<&str, LoadError> {
    node.as_str().ok_or_else(|| at(node, format!("expected text, found {}", node.kind())))
}

/// An identifier: lowercase letters, digits, `-` and `_`.
fn name(node: &Node, what: &str) -> Result<String, LoadError> {
    let text = text_of(node)?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(at(node, format!("{what} {text:?}: lowercase letters, digits, `-` and `_`, at most 64")));
    }
    Ok(text.to_string())
}

fn valid_tenant(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn list(node: &Node) -> Result<Vec<String>, LoadError> {
    match node {
        Node::Seq { items, .. } => items.iter().map(|i| text_of(i).map(str::to_string)).collect(),
        Node::Scalar { .. } => Ok(vec![text_of(node)?.to_string()]),
        Node::Map { .. } => Err(at(node, "expected a list")),
    }
}

fn trigger(node: &Node) -> Result<Trigger, LoadError> {
    let Node::Map { entries, .. } = node else { return Err(at(node, "`trigger` is a map")) };
    known_keys(entries, &["manual", "rules", "tags", "tactics", "severity", "asset_criticality"])?;
    let mut t = Trigger { manual: true, ..Trigger::default() };
    for (k, v) in entries {
        match k.as_str().unwrap_or("") {
            "manual" => {
                t.manual = match text_of(v)? {
                    "true" => true,
                    "false" => false,
                    other => return Err(at(v, format!("manual is true or false, not {other:?}"))),
                }
            }
            "rules" => t.rules = list(v)?,
            "tags" => t.tags = list(v)?.into_iter().map(|s| s.to_ascii_lowercase()).collect(),
            "tactics" => t.tactics = list(v)?.into_iter().map(|s| s.to_ascii_lowercase().replace('-', "_")).collect(),
            "severity" => {
                let s = text_of(v)?;
                t.min_severity = Some(Level::parse(s).ok_or_else(|| at(v, format!("severity {s:?} is not a level")))?);
            }
            _ => {
                let s = text_of(v)?;
                t.asset_criticality = Some(
                    Criticality::ALL
                        .into_iter()
                        .find(|c| c.as_str() == s)
                        .ok_or_else(|| at(v, format!("asset_criticality {s:?}: low, medium, high or critical")))?,
                );
            }
        }
    }
    if !t.manual && !t.automatic() {
        return Err(at(node, "a trigger that is not manual needs rules, tags, tactics or a severity"));
    }
    Ok(t)
}

fn inputs(node: &Node) -> Result<BTreeMap<String, EntityKind>, LoadError> {
    let Node::Map { entries, .. } = node else { return Err(at(node, "`inputs` maps names to entity kinds")) };
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        let input = name(k, "input")?;
        if matches!(input.as_str(), "steps" | "incident" | "tenant") {
            return Err(at(k, format!("`{input}` is a reserved name")));
        }
        let kind = text_of(v)?;
        let kind = EntityKind::ALL.into_iter().find(|e| e.as_str() == kind).ok_or_else(|| {
            at(v, format!("{kind:?} is not an entity kind (host, user, ip, process, file, hash, domain)"))
        })?;
        out.insert(input, kind);
    }
    Ok(out)
}

fn steps(node: &Node, inputs: &BTreeMap<String, EntityKind>) -> Result<Vec<Step>, LoadError> {
    let Node::Seq { items, .. } = node else { return Err(at(node, "`steps` is a list")) };
    if items.is_empty() {
        return Err(at(node, "a playbook needs at least one step"));
    }
    if items.len() > MAX_STEPS {
        return Err(at(node, format!("more than {MAX_STEPS} steps")));
    }
    // Ids first: branches name later steps.
    let mut ids: Vec<String> = Vec::new();
    for item in items {
        let id = name(required(item, "id")?, "step id")?;
        if ids.contains(&id) || id == "end" {
            return Err(at(item, format!("step id {id:?} is taken")));
        }
        ids.push(id);
    }
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Node::Map { entries, .. } = item else { return Err(at(item, "a step is a map")) };
        let kinds: Vec<&Node> =
            ["enrich", "notify", "action", "wait", "if"].iter().filter_map(|k| item.get(k)).collect();
        if kinds.len() != 1 {
            return Err(at(item, "a step has exactly one of enrich, notify, action, wait, if"));
        }
        let known = |names: &[&str]| known_keys(entries, &[&["id"], names].concat());
        // Placeholders may name inputs, the incident, and earlier steps.
        let template = |n: &Node| -> Result<String, LoadError> {
            let text = text_of(n)?;
            check_template(text, inputs, &ids[..index]).map_err(|why| at(n, why))?;
            Ok(text.to_string())
        };
        let with = |required_keys: &[&str]| -> Result<BTreeMap<String, String>, LoadError> {
            let mut map = BTreeMap::new();
            if let Some(w) = item.get("with") {
                let Node::Map { entries, .. } = w else { return Err(at(w, "`with` is a map")) };
                for (k, v) in entries {
                    map.insert(name(k, "value name")?, template(v)?);
                }
            }
            if let Some(missing) = required_keys.iter().find(|k| !map.contains_key(**k)) {
                return Err(at(item, format!("needs `with: {{ {missing}: ... }}`")));
            }
            Ok(map)
        };
        let kind = if let Some(source) = item.get("enrich") {
            known(&["enrich", "with"])?;
            let (source, needs) = match text_of(source)? {
                "asset" => (EnrichSource::Asset, "host"),
                "geoip" => (EnrichSource::Geoip, "ip"),
                "search" => (EnrichSource::Search, "query"),
                other => return Err(at(source, format!("enrich {other:?}: asset, geoip or search"))),
            };
            StepKind::Enrich { source, with: with(&[needs])? }
        } else if let Some(channel) = item.get("notify") {
            known(&["notify", "text"])?;
            let text = item.get("text").map(&template).transpose()?.unwrap_or_default();
            StepKind::Notify { channel: name(channel, "channel")?, text }
        } else if let Some(action) = item.get("action") {
            known(&["action", "with"])?;
            StepKind::Action { action: name(action, "action")?, with: with(&[])? }
        } else if let Some(wait) = item.get("wait") {
            known(&["wait"])?;
            let text = text_of(wait)?;
            let duration =
                super::duration(text).ok_or_else(|| at(wait, format!("wait {text:?} is not a duration (e.g. 5m)")))?;
            if duration <= SignedDuration::ZERO || duration > MAX_WAIT {
                return Err(at(wait, "a wait is longer than nothing and at most 7 days"));
            }
            StepKind::Wait { duration }
        } else {
            known(&["if", "is", "then", "else"])?;
            let value = template(required(item, "if")?)?;
            let is = list(required(item, "is")?)?;
            // Forward only, so every run ends.
            let target = |key: &str| -> Result<Option<usize>, LoadError> {
                let Some(n) = item.get(key) else { return Ok(Some(index + 1).filter(|i| *i < items.len())) };
                let target = text_of(n)?;
                if target == "end" {
                    return Ok(None);
                }
                match ids.iter().position(|i| i == target) {
                    Some(t) if t > index => Ok(Some(t)),
                    Some(_) => Err(at(n, format!("{key}: {target:?} is not after this step (branches go forward)"))),
                    None => Err(at(n, format!("{key}: no step {target:?}"))),
                }
            };
            if item.get("then").is_none() && item.get("else").is_none() {
                return Err(at(item, "a branch needs `then` or `else` (a step id, or `end`)"));
            }
            StepKind::Branch { value, is, then: target("then")?, otherwise: target("else")? }
        };
        out.push(Step { id: ids[index].clone(), kind, line: item.pos().line });
    }
    Ok(out)
}

/// Checks a template's `{{name}}` placeholders: an input, `tenant`,
/// `incident.id|title|severity`, or `steps.<earlier step>.<field>`.
fn check_template(text: &str, inputs: &BTreeMap<String, EntityKind>, earlier: &[String]) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            return Err("a `{{` without its `}}`".into());
        };
        let placeholder = rest[start + 2..start + 2 + len].trim();
        let ok = inputs.contains_key(placeholder)
            || matches!(placeholder, "tenant" | "incident.id" | "incident.title" | "incident.severity")
            || placeholder
                .strip_prefix("steps.")
                .and_then(|p| p.split_once('.'))
                .is_some_and(|(step, field)| earlier.iter().any(|e| e == step) && !field.is_empty());
        if !ok {
            return Err(format!(
                "`{{{{{placeholder}}}}}` names no input, incident field or earlier step (inputs: {})",
                inputs.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        rest = &rest[start + 2 + len + 2..];
    }
    Ok(())
}
