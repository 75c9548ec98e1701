//! What the operator allows playbooks to do ([`ActionDef`]), and who must
//! agree before it is done ([`Authority`], [`decide`]).

use std::collections::BTreeMap;

use access::Scope;
use jiff::SignedDuration;
use model::Level;
use serde::Deserialize;

use super::{Playbook, StepKind};

/// What an action does, for the authority policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Isolate a host (EDR).
    Contain,
    /// Disable an account (identity provider).
    DisableAccount,
    /// Block an address or domain (firewall, proxy).
    Block,
    /// Open or update a ticket.
    Ticket,
    /// Send a message (a notify step).
    Notify,
    /// Look something up (an enrich step).
    Enrich,
    Other,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Contain => "contain",
            ActionKind::DisableAccount => "disable_account",
            ActionKind::Block => "block",
            ActionKind::Ticket => "ticket",
            ActionKind::Notify => "notify",
            ActionKind::Enrich => "enrich",
            ActionKind::Other => "other",
        }
    }
}

/// A templated HTTP call: `{{name}}` in the URL (percent-encoded), in
/// header values and in the body's strings (as data) take the step's
/// values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    #[serde(default = "post")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Sent as `Authorization: Bearer`; the variable is read at each call.
    #[serde(default)]
    pub token_env: Option<String>,
}

fn post() -> String {
    "POST".into()
}

/// An action the operator allows (`[[respond.actions]]`): an HTTP call or
/// a command, and what undoes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDef {
    pub name: String,
    pub kind: ActionKind,
    /// Undoing it hurts (isolating a server, disabling an account): an
    /// approval needs two different people.
    #[serde(default)]
    pub destructive: bool,
    #[serde(default)]
    pub http: Option<HttpCall>,
    /// Program (an absolute path) and arguments; no shell.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub rollback_http: Option<HttpCall>,
    #[serde(default)]
    pub rollback_command: Option<Vec<String>>,
}

/// A call ready to make, every placeholder filled.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Http {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Option<serde_json::Value>,
        token_env: Option<String>,
    },
    Command {
        argv: Vec<String>,
    },
}

impl ActionDef {
    /// The call it makes, or its rollback's; `None` when it has none.
    pub fn call(&self, rollback: bool) -> Option<(Option<&HttpCall>, Option<&[String]>)> {
        let (http, command) = if rollback {
            (self.rollback_http.as_ref(), self.rollback_command.as_deref())
        } else {
            (self.http.as_ref(), self.command.as_deref())
        };
        (http.is_some() || command.is_some()).then_some((http, command))
    }
}

/// Checks the operator's actions and that every playbook names only
/// those (and only configured channels); errors name the playbook and
/// the step's line.
pub fn check_actions(actions: &[ActionDef], channels: &[&str], playbooks: &[(String, Playbook)]) -> Result<(), String> {
    for (i, a) in actions.iter().enumerate() {
        let bad = |why: &str| Err(format!("action {:?}: {why}", a.name));
        if a.name.is_empty() || actions[..i].iter().any(|o| o.name == a.name) {
            return bad("names must be unique and not empty");
        }
        if a.http.is_some() == a.command.is_some() {
            return bad("needs exactly one of `http` and `command`");
        }
        if a.rollback_http.is_some() && a.rollback_command.is_some() {
            return bad("has both `rollback_http` and `rollback_command`");
        }
        for h in [&a.http, &a.rollback_http].into_iter().flatten() {
            if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
                return bad(&format!("url {:?} is not http(s)", h.url));
            }
            if !matches!(h.method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                return bad(&format!("method {:?}", h.method));
            }
        }
        for c in [&a.command, &a.rollback_command].into_iter().flatten() {
            match c.first() {
                Some(program) if program.starts_with('/') && !program.contains("{{") => {}
                _ => return bad("a command starts with the program's absolute path (no placeholder)"),
            }
        }
    }
    for (file, p) in playbooks {
        for s in &p.steps {
            let missing = match &s.kind {
                StepKind::Action { action, .. } if !actions.iter().any(|a| a.name == *action) => {
                    Some(("action", action))
                }
                StepKind::Notify { channel, .. } if !channels.contains(&channel.as_str()) => Some(("channel", channel)),
                _ => None,
            };
            if let Some((what, name)) = missing {
                return Err(format!("{file}:{}: step {:?}: no {what} {name:?} is configured", s.line, s.id));
            }
        }
    }
    Ok(())
}

/// What Hinomi may do on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decide {
    /// Execute at once.
    Auto,
    /// Ask, and execute once approved.
    Approve,
    /// Only propose it to the CSIRT: never executed by Hinomi.
    Propose,
}

/// One line of a tenant's authority policy (`[[respond.authority]]`). The
/// first line that fits a step (tenant, action kind, incident severity)
/// decides.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// Empty or `*`: every tenant.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Empty: every kind.
    #[serde(default)]
    pub kinds: Vec<ActionKind>,
    /// The lowest incident severity it applies to.
    #[serde(default)]
    pub min_severity: Level,
    pub decide: Decide,
    /// The lowest role that may approve.
    #[serde(default = "responder")]
    pub role: Scope,
    /// Different people who must approve.
    #[serde(default = "one")]
    pub approvers: u32,
    /// How long a request waits before it expires (and escalates).
    #[serde(default = "half_hour")]
    pub expires: String,
}

fn responder() -> Scope {
    Scope::Responder
}
fn one() -> u32 {
    1
}
fn half_hour() -> String {
    "30m".into()
}

/// What the policy says of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Auto,
    Approve { role: Scope, approvers: u32, expires: SignedDuration },
    Propose,
}

/// Checks the policy's lines.
pub fn check_authority(lines: &[Authority]) -> Result<(), String> {
    for (i, a) in lines.iter().enumerate() {
        let n = i + 1;
        if a.decide == Decide::Approve {
            if a.role < Scope::Analyst {
                return Err(format!("authority line {n}: approvers need at least the analyst role"));
            }
            if a.approvers == 0 || a.approvers > 5 {
                return Err(format!("authority line {n}: approvers is 1 to 5"));
            }
        }
        if super::duration(&a.expires).is_none_or(|e| e <= SignedDuration::ZERO) {
            return Err(format!("authority line {n}: expires {:?} is not a duration", a.expires));
        }
    }
    Ok(())
}

/// What the policy decides for a step of `kind` on an incident of
/// `severity` in `tenant`. Without a fitting line: enrich and notify run,
/// every other action is only proposed. A destructive action's approval
/// needs two different people at least.
pub fn decide(lines: &[Authority], tenant: &str, kind: ActionKind, severity: Level, destructive: bool) -> Decision {
    let fits = |a: &&Authority| {
        (a.tenants.is_empty() || a.tenants.iter().any(|t| t == "*" || t == tenant))
            && (a.kinds.is_empty() || a.kinds.contains(&kind))
            && severity >= a.min_severity
    };
    match lines.iter().find(fits) {
        Some(a) => match a.decide {
            Decide::Auto => Decision::Auto,
            Decide::Propose => Decision::Propose,
            Decide::Approve => Decision::Approve {
                role: a.role,
                approvers: if destructive { a.approvers.max(2) } else { a.approvers },
                expires: super::duration(&a.expires).unwrap_or(SignedDuration::from_mins(30)),
            },
        },
        None if matches!(kind, ActionKind::Enrich | ActionKind::Notify) => Decision::Auto,
        None => Decision::Propose,
    }
}
