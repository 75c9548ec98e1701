//! A run's pure parts: whether a playbook fits an incident, its inputs as
//! checked values, templates filled, the call an action makes, and which
//! step comes next.

use std::collections::BTreeMap;
use std::net::IpAddr;

use model::Level;
use serde_json::json;
use soc::EntityKind;
use soc::assets::Criticality;

use super::{ActionDef, ActionKind, Authority, Call, Decision, Playbook, StepKind, Trigger, decide};

/// What a playbook knows of its incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub tenant: String,
    pub incident: i64,
    pub title: String,
    pub severity: Level,
    /// The rules of its alerts.
    pub rules: Vec<String>,
    /// Its alerts' tags, lowercase (`attack.lateral_movement`).
    pub tags: Vec<String>,
    /// Its entities, first seen first.
    pub entities: Vec<(EntityKind, String)>,
    /// The highest criticality among its hosts' assets.
    pub asset_criticality: Option<Criticality>,
}

impl Trigger {
    /// Whether the playbook starts by itself on an incident with `facts`.
    pub fn fits(&self, facts: &Facts) -> bool {
        let any = |wanted: &[String], have: &[String]| wanted.is_empty() || wanted.iter().any(|w| have.contains(w));
        let tactics: Vec<String> = self.tactics.iter().map(|t| format!("attack.{t}")).collect();
        self.automatic()
            && any(&self.rules, &facts.rules)
            && any(&self.tags, &facts.tags)
            && any(&tactics, &facts.tags)
            && self.min_severity.is_none_or(|m| facts.severity >= m)
            && self.asset_criticality.is_none_or(|c| facts.asset_criticality.is_some_and(|a| a >= c))
    }
}

/// An input's value, checked for its kind: every entity comes from log
/// data, so none may look like an option (`-…`), hold control
/// characters, or be other than its kind says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value(String);

impl Value {
    pub fn new(kind: EntityKind, text: &str) -> Result<Value, String> {
        let bad = |why: &str| Err(format!("{} {text:?} {why}", kind.as_str()));
        if text.is_empty() || text.starts_with('-') || text.chars().any(char::is_control) {
            return bad("is empty, starts with `-` or holds control characters");
        }
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        match kind {
            EntityKind::Ip => match text.parse::<IpAddr>() {
                Ok(ip) => Ok(Value(ip.to_string())),
                Err(_) => bad("is not an IP address"),
            },
            EntityKind::Host | EntityKind::Domain => {
                if text.len() > 253 || text.starts_with('.') || !text.chars().all(name_char) {
                    return bad("is not a host name");
                }
                Ok(Value(text.to_string()))
            }
            EntityKind::User => {
                let ok = |c: char| name_char(c) || matches!(c, '@' | '\\' | '$' | ' ');
                if text.len() > 256 || !text.chars().all(ok) {
                    return bad("is not an account name");
                }
                Ok(Value(text.to_string()))
            }
            EntityKind::Hash => {
                if !(32..=128).contains(&text.len()) || !text.chars().all(|c| c.is_ascii_hexdigit()) {
                    return bad("is not a hash");
                }
                Ok(Value(text.to_ascii_lowercase()))
            }
            EntityKind::Process | EntityKind::File => {
                if text.len() > 4096 {
                    return bad("is too long");
                }
                Ok(Value(text.to_string()))
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The playbook's inputs for an incident: each the first entity of its
/// kind, unless `given` (by the person starting it by hand) says
/// otherwise. Every value is checked.
pub fn inputs(
    p: &Playbook,
    facts: &Facts,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Value>, String> {
    if let Some(unknown) = given.keys().find(|k| !p.inputs.contains_key(*k)) {
        return Err(format!("playbook {:?} has no input {unknown:?}", p.id));
    }
    let mut out = BTreeMap::new();
    for (name, kind) in &p.inputs {
        let text = match given.get(name) {
            Some(v) => v.as_str(),
            None => match facts.entities.iter().find(|(k, _)| k == kind) {
                Some((_, v)) => v.as_str(),
                None => return Err(format!("input {name:?}: the incident has no {} entity", kind.as_str())),
            },
        };
        out.insert(name.clone(), Value::new(*kind, text).map_err(|e| format!("input {name:?}: {e}"))?);
    }
    Ok(out)
}

/// The values templates can name: inputs, `tenant`, `incident.*`, and
/// `steps.<id>.<field>` from earlier steps' outputs.
pub fn context(
    facts: &Facts,
    inputs: &BTreeMap<String, Value>,
    outputs: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = inputs.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    out.insert("tenant".into(), facts.tenant.clone());
    out.insert("incident.id".into(), facts.incident.to_string());
    out.insert("incident.title".into(), facts.title.clone());
    out.insert("incident.severity".into(), facts.severity.as_str().into());
    for (step, value) in outputs {
        if let serde_json::Value::Object(map) = value {
            for (field, v) in map {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                out.insert(format!("steps.{step}.{field}"), text);
            }
        }
    }
    out
}

/// Fills `{{name}}` placeholders from `values` (a missing one is empty);
/// `encode` is applied to each value put in.
fn fill(template: &str, values: &BTreeMap<String, String>, encode: &mut dyn FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + 2 + len].trim();
        out.push_str(&encode(values.get(name).map_or("", String::as_str)));
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A template filled as text.
pub fn render_text(template: &str, values: &BTreeMap<String, String>) -> String {
    fill(template, values, &mut |v| v.to_string())
}

/// Percent-encodes all but the unreserved characters (RFC 3986).
fn url_component(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn fill_json(template: &serde_json::Value, values: &BTreeMap<String, String>) -> serde_json::Value {
    use serde_json::Value as J;
    match template {
        J::String(s) => J::String(render_text(s, values)),
        J::Array(items) => J::Array(items.iter().map(|i| fill_json(i, values)).collect()),
        J::Object(map) => J::Object(map.iter().map(|(k, v)| (k.clone(), fill_json(v, values))).collect()),
        other => other.clone(),
    }
}

/// The call an action step makes (or its rollback), with the step's
/// `with` values already filled. Command arguments get each value whole
/// and refuse one that is empty, looks like an option or holds control
/// characters; URLs get them percent-encoded; bodies as JSON strings.
pub fn render_call(def: &ActionDef, with: &BTreeMap<String, String>, rollback: bool) -> Result<Option<Call>, String> {
    let Some((http, command)) = def.call(rollback) else { return Ok(None) };
    if let Some(h) = http {
        let header_safe = |v: &str| v.chars().filter(|c| !c.is_control()).collect::<String>();
        return Ok(Some(Call::Http {
            method: h.method.clone(),
            url: fill(&h.url, with, &mut |v| url_component(v)),
            headers: h.headers.iter().map(|(k, v)| (k.clone(), fill(v, with, &mut |x| header_safe(x)))).collect(),
            body: h.body.as_ref().map(|b| fill_json(b, with)),
            token_env: h.token_env.clone(),
        }));
    }
    let Some(command) = command else { return Ok(None) };
    let mut argv = Vec::with_capacity(command.len());
    for arg in command {
        let mut refused = None;
        let filled = fill(arg, with, &mut |v| {
            if v.is_empty() || v.starts_with('-') || v.chars().any(char::is_control) {
                refused = Some(v.to_string());
            }
            v.to_string()
        });
        if let Some(v) = refused {
            return Err(format!("action {:?}: value {v:?} may not be a command argument", def.name));
        }
        argv.push(filled);
    }
    Ok(Some(Call::Command { argv }))
}

/// Where a run goes after step `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Step(usize),
    End,
}

/// The step after `index` (a branch decides by its value).
pub fn next(p: &Playbook, index: usize, values: &BTreeMap<String, String>) -> Next {
    let to = |i: Option<usize>| i.map_or(Next::End, Next::Step);
    match p.steps.get(index).map(|s| &s.kind) {
        Some(StepKind::Branch { value, is, then, otherwise }) => {
            let v = render_text(value, values);
            if is.contains(&v) { to(*then) } else { to(*otherwise) }
        }
        Some(_) if index + 1 < p.steps.len() => Next::Step(index + 1),
        _ => Next::End,
    }
}

/// A dry run's description of a call, as JSON (what the console and
/// `playbook test` show).
pub fn describe(call: &Call) -> serde_json::Value {
    match call {
        Call::Http { method, url, headers, body, .. } => {
            json!({"http": {"method": method, "url": url, "headers": headers, "body": body}})
        }
        Call::Command { argv } => json!({"command": argv}),
    }
}

/// One step of a dry run: what the policy says of it, and the call it
/// would make.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub step: String,
    pub decision: Decision,
    pub call: Option<Call>,
}

/// Walks a playbook without doing anything: the steps it takes for an
/// incident with `facts`, given what enrich and action steps would
/// answer (`outputs`, by step id), each with the policy's decision and
/// the exact call an action would make.
pub fn dry_run(
    p: &Playbook,
    facts: &Facts,
    given: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, serde_json::Value>,
    actions: &[ActionDef],
    authority: &[Authority],
) -> Result<Vec<Planned>, String> {
    let inputs = inputs(p, facts, given)?;
    let values = context(facts, &inputs, outputs);
    let mut out = Vec::new();
    let mut at = Next::Step(0);
    while let Next::Step(index) = at {
        let step = &p.steps[index];
        let (kind, destructive, call) = match &step.kind {
            StepKind::Action { action, with } => {
                let def = actions.iter().find(|a| a.name == *action).ok_or_else(|| format!("no action {action:?}"))?;
                let with: BTreeMap<String, String> =
                    with.iter().map(|(k, v)| (k.clone(), render_text(v, &values))).collect();
                (def.kind, def.destructive, render_call(def, &with, false)?)
            }
            StepKind::Enrich { .. } => (ActionKind::Enrich, false, None),
            StepKind::Notify { .. } => (ActionKind::Notify, false, None),
            StepKind::Wait { .. } | StepKind::Branch { .. } => (ActionKind::Enrich, false, None),
        };
        let decision = decide(authority, &facts.tenant, kind, facts.severity, destructive);
        out.push(Planned { step: step.id.clone(), decision, call });
        at = next(p, index, &values);
    }
    Ok(out)
}
