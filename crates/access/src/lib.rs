//! Who may do what: the roles people hold and the scopes tokens carry
//! ([`Scope`]), what a request does ([`Action`]), and the one table that
//! says which scope allows which action ([`Scope::allows`]). Also the rule
//! for tenant, source and user names, which end up in paths and URLs.
//!
//! Pure: no IO, no storage. The state store keeps who holds which role;
//! the server asks this crate whether that role allows a request.

use serde::{Deserialize, Serialize};

/// What a token is: a sender of events or a person's role. The serialized
/// names are what `tokens.jsonl` holds (`read` is the viewer role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events for its tenant (and source); nothing else.
    Ingest,
    /// Viewer: read the tenant's alerts, incidents and events.
    Read,
    /// Works incidents: status, assignment, notes, tasks, evidence, merges.
    Analyst,
    /// An analyst who also hands incidents to the CSIRT and runs retro-hunts.
    Responder,
    /// SOC lead: also suppressions, asset inventories and SLA policies.
    Lead,
    /// Everything within its tenant, and the server's status.
    Admin,
}

/// What a request does. Which scope may do what is [`Scope::allows`]: the
/// one place permissions are defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send events.
    Ingest,
    /// Read alerts, incidents, detections, sources, dead letters; search.
    Read,
    /// Change incidents: status, assignment, title, waiting, notes, tasks,
    /// evidence, merges and splits.
    Triage,
    /// Hand an incident to the CSIRT.
    Escalate,
    /// Start a response playbook by hand, approve or deny its actions (as
    /// far as the policy's role allows), roll an action back.
    Respond,
    /// Run a retro-hunt over stored events.
    Hunt,
    /// Add suppressions.
    Suppress,
    /// Replace the asset inventory, set SLA policies.
    Configure,
    /// Read the tenant's audit trail.
    Audit,
    /// Read the server's status (counters across tenants).
    Operate,
    /// Manage the tenant's people and tokens: users, roles, API tokens.
    Administer,
}

impl Action {
    pub const ALL: [Action; 11] = [
        Action::Ingest,
        Action::Read,
        Action::Triage,
        Action::Escalate,
        Action::Respond,
        Action::Hunt,
        Action::Suppress,
        Action::Configure,
        Action::Audit,
        Action::Operate,
        Action::Administer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Ingest => "ingest",
            Action::Read => "read",
            Action::Triage => "triage",
            Action::Escalate => "escalate",
            Action::Respond => "respond",
            Action::Hunt => "hunt",
            Action::Suppress => "suppress",
            Action::Configure => "configure",
            Action::Audit => "audit",
            Action::Operate => "operate",
            Action::Administer => "administer",
        }
    }
}

impl Scope {
    pub const ALL: [Scope; 6] =
        [Scope::Ingest, Scope::Read, Scope::Analyst, Scope::Responder, Scope::Lead, Scope::Admin];

    pub fn parse(s: &str) -> Result<Scope, String> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" | "viewer" => Ok(Scope::Read),
            "analyst" => Ok(Scope::Analyst),
            "responder" => Ok(Scope::Responder),
            "lead" | "soc-lead" => Ok(Scope::Lead),
            "admin" => Ok(Scope::Admin),
            other => {
                Err(format!("unknown scope `{other}` (expected ingest, viewer, analyst, responder, lead or admin)"))
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Analyst => "analyst",
            Scope::Responder => "responder",
            Scope::Lead => "lead",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token of this scope may do `action` (within its tenant).
    pub fn allows(self, action: Action) -> bool {
        use Action as A;
        use Scope as S;
        match action {
            A::Ingest => matches!(self, S::Ingest | S::Admin),
            A::Read => self >= S::Read,
            A::Triage => self >= S::Analyst,
            A::Escalate | A::Hunt | A::Respond => self >= S::Responder,
            A::Suppress | A::Configure | A::Audit => self >= S::Lead,
            A::Operate | A::Administer => self == S::Admin,
        }
    }

    /// Whether a token of this scope may read.
    pub fn can_read(self) -> bool {
        self.allows(Action::Read)
    }

    /// Whether a token of this scope may send events.
    pub fn can_ingest(self) -> bool {
        self.allows(Action::Ingest)
    }
}

/// Tenant names: what fits in paths and URLs without escaping.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(format!("{kind} name `{name}` must be 1-64 of a-z, 0-9, `-` and `_`")) }
}

#[cfg(test)]
mod tests;
