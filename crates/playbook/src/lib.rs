//! Response playbooks: what Hinomi does about an incident, step by step,
//! and who must agree first.
//!
//! A playbook is a YAML file ([`load`]): an id, a tenant, a version, a
//! trigger (rules, tags, ATT&CK tactics, incident severity, asset
//! criticality, or by hand), inputs taken from the incident's entities,
//! and steps: enrich, notify, an action, wait, or branch on a condition.
//! Actions are not in the playbook: they are configured by the operator
//! ([`ActionDef`]: a templated HTTP call or an allow-listed command, each
//! with its rollback), so a playbook can only name what the operator
//! allowed. The authority policy ([`Authority`]) says per tenant, action
//! kind and severity whether Hinomi may act at once, must ask (whom, how
//! many different people, for how long), or may only propose.
//!
//! Every value that reaches an action comes from log data an attacker
//! may have written: inputs are typed by entity kind and checked
//! ([`Value`]: an address must parse as one, a host name may not start
//! with `-`), commands get them as whole arguments (no shell), and HTTP
//! bodies are built as JSON data.
//!
//! Pure: no IO, no clock. The state store keeps runs; the server's
//! responder executes them.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use model::Level;
use soc::EntityKind;
use soc::assets::Criticality;

mod action;
mod load;
mod run;
#[cfg(test)]
mod tests;

pub use action::{
    ActionDef, ActionKind, Authority, Call, Decide, Decision, HttpCall, check_actions, check_authority, decide,
};
pub use load::{LoadError, load};
pub use run::{Facts, Next, Planned, Value, context, describe, dry_run, inputs, next, render_call, render_text};

/// A checked playbook.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub id: String,
    pub title: String,
    pub tenant: String,
    pub version: u32,
    pub trigger: Trigger,
    /// Input name → the entity kind it is taken from.
    pub inputs: BTreeMap<String, EntityKind>,
    pub steps: Vec<Step>,
}

/// When a playbook runs by itself. Every condition given must hold; a
/// list holds when any of its items does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trigger {
    /// May be started by hand on an incident (the default).
    pub manual: bool,
    pub rules: Vec<String>,
    pub tags: Vec<String>,
    /// ATT&CK tactic names as in tags (`lateral_movement`).
    pub tactics: Vec<String>,
    pub min_severity: Option<Level>,
    pub asset_criticality: Option<Criticality>,
}

impl Trigger {
    /// Whether it starts by itself at all (not only by hand).
    pub fn automatic(&self) -> bool {
        !self.rules.is_empty() || !self.tags.is_empty() || !self.tactics.is_empty() || self.min_severity.is_some()
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
    /// Where the step is in its file, for messages.
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Looks something up; its findings are the step's output.
    Enrich { source: EnrichSource, with: BTreeMap<String, String> },
    /// Sends a message on a notification channel.
    Notify { channel: String, text: String },
    /// Runs a configured action with these template values.
    Action { action: String, with: BTreeMap<String, String> },
    /// Waits before the next step.
    Wait { duration: SignedDuration },
    /// Goes on at `then` when `value` (a template) is one of `is`, else at
    /// `otherwise`; `None` is the end. Only forward: a run always ends.
    Branch { value: String, is: Vec<String>, then: Option<usize>, otherwise: Option<usize> },
}

/// What an enrich step looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrichSource {
    /// The tenant's asset inventory, by `host`.
    Asset,
    /// Country and network of `ip`.
    Geoip,
    /// Events matching `query` over `from` (default `-24h`).
    Search,
}

impl EnrichSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrichSource::Asset => "asset",
            EnrichSource::Geoip => "geoip",
            EnrichSource::Search => "search",
        }
    }
}

/// A duration as people write it (`90s`, `15m`, `2h`, `1d`; a day is 24
/// hours here).
pub fn duration(text: &str) -> Option<SignedDuration> {
    let span: jiff::Span = text.trim().parse().ok()?;
    span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok()
}

impl Step {
    /// The action it runs, if it runs one.
    pub fn action(&self) -> Option<&str> {
        match &self.kind {
            StepKind::Action { action, .. } => Some(action),
            _ => None,
        }
    }
}
