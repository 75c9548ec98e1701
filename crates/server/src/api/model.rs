//! The API's contract: what requests carry and what answers hold.
//!
//! Answers are views of the state store's types that name, field by
//! field, what is shown and under which name: the storage types do not
//! serialize, so a change of one does not silently change a response, and
//! a field the store keeps is shown only once it is written here. The
//! command line prints the same views.

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize)]
pub(crate) struct AlertParams {
    /// `open` (default), `suppressed`, `closed` or `all`.
    pub(crate) status: Option<String>,
    pub(crate) min_severity: Option<String>,
    pub(crate) rule: Option<String>,
    pub(crate) incident: Option<i64>,
    /// `TIME,ID` from a page's `next`.
    pub(crate) before: Option<String>,
    pub(crate) limit: Option<usize>,
}

/// Query of `GET /api/v1/incidents`.
#[derive(Debug, Deserialize)]
pub(crate) struct IncidentParams {
    /// Comma-separated statuses, `open` (default: not resolved or closed) or `all`.
    pub(crate) status: Option<String>,
    pub(crate) assignee: Option<String>,
    pub(crate) before: Option<String>,
    pub(crate) limit: Option<usize>,
}

/// Query of the journal listings (`detections`, `deadletter`).
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    pub(crate) limit: Option<usize>,
}

/// Query of `GET /api/v1/incidents/{id}/escalation`.
#[derive(Debug, Deserialize)]
pub(crate) struct FormatParam {
    /// `html` for the readable page, `stix` for a STIX 2.1 bundle (the
    /// escalation package only); JSON otherwise.
    pub(crate) format: Option<String>,
    /// The page's language: `ja`, or English.
    pub(crate) lang: Option<String>,
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
pub(crate) struct AuditParams {
    pub(crate) after: Option<i64>,
    pub(crate) limit: Option<usize>,
}

/// Body of `POST /api/v1/suppressions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSuppression {
    /// A rule id, or `*` with conditions.
    pub(crate) rule: String,
    #[serde(default)]
    pub(crate) conditions: std::collections::BTreeMap<String, String>,
    pub(crate) reason: String,
    /// RFC 3339, or an offset from now such as `+7d`.
    pub(crate) expires: String,
    /// Defaults to the token's name.
    pub(crate) owner: Option<String>,
}

/// Body of `PUT /api/v1/sla-policies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlaPolicy {
    pub(crate) severity: String,
    pub(crate) acknowledge_minutes: i64,
    pub(crate) resolve_minutes: i64,
    #[serde(default)]
    pub(crate) calendar: soc::sla::CalendarSpec,
}

/// Body of `POST /api/v1/search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchBody {
    pub(crate) query: String,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) limit: Option<usize>,
}

/// Body of `POST /api/v1/hunt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HuntBody {
    /// Sigma YAML to hunt with instead of the server's rules.
    pub(crate) rules: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
}

/// Declares an answer: a view of a state type that serializes the listed
/// fields under their names; `field => View` shows a field through
/// another view, `field => [View]` each element of a list.
macro_rules! answer {
    ($(#[$doc:meta])* $name:ident($state:ty) { $($field:ident $(=> $view:tt)?),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a>(pub &'a $state);

        impl Serialize for $name<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let fields = [$(stringify!($field)),*].len();
                let mut out = s.serialize_struct(stringify!($name), fields)?;
                $(answer!(@field out, self.0, $field $(, $view)?);)*
                out.end()
            }
        }
    };
    (@field $out:ident, $v:expr, $field:ident) => {
        $out.serialize_field(stringify!($field), &$v.$field)?
    };
    (@field $out:ident, $v:expr, $field:ident, [$view:ident]) => {
        $out.serialize_field(stringify!($field), &Each(&$v.$field, $view))?
    };
    (@field $out:ident, $v:expr, $field:ident, $view:ident) => {
        $out.serialize_field(stringify!($field), &$view(&$v.$field))?
    };
}

/// A list shown through a view of its elements.
struct Each<'a, T, V: Serialize>(&'a [T], fn(&'a T) -> V);

impl<'a, T, V: Serialize> Serialize for Each<'a, T, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

answer! {
    /// One alert: a rule on a set of entities, counted while it repeats.
    Alert(state::Alert) {
        id, tenant, rule_id, title, level, severity, tags, author, entities, evidence,
        first_seen, last_seen, count, status, suppression_id, incident_id, origin, version,
    }
}

answer! {
    /// One incident; `version` is what a change must name to be applied,
    /// `pauses` the spans spent waiting on the customer.
    Incident(state::Incident) {
        id, tenant, kind, title, severity, status, disposition, assignee, created, updated,
        last_activity, first_seen, acknowledged, resolved, pauses, escalated_to, escalated,
        alert_count, entities, version,
    }
}

answer! {
    /// One line of an incident's timeline: `alert`, `action`, `note` or `event`.
    TimelineEntry(state::TimelineEntry) { at, kind, actor, what, data }
}

answer! {
    /// An incident's SLA clocks.
    Sla(state::SlaReport) { acknowledge, resolve }
}

answer! {
    /// Who and what an incident involves, since when, and whether it spread.
    ImpactScope(state::ImpactScope) { hosts, users, addresses, first_sign, spread }
}

answer! {
    /// The hand-off package for the CSIRT.
    Escalation(state::Escalation) {
        incident => Incident, summary, alerts => [Alert], timeline => [TimelineEntry], entities,
        scope => ImpactScope, evidence, actions_taken => [TimelineEntry], open_tasks, open_questions,
    }
}

answer! {
    /// Per-rule statistics.
    RuleStats(state::RuleStats) {
        rule_id, title, alerts, detections, true_positive, benign_true_positive, false_positive,
        duplicate, false_positive_rate, mean_time_to_triage_secs,
    }
}

answer! {
    /// One entry of the audit trail.
    AuditEntry(state::AuditEntry) { seq, at, actor, tenant, action, target, data, prev, hash }
}

/// A journal listing's answer: `{"tenant", "count", "truncated", <key>: [...]}`,
/// the lines written out as they are.
pub(crate) struct Listing {
    pub(crate) tenant: String,
    pub(crate) truncated: bool,
    pub(crate) key: &'static str,
    pub(crate) items: Vec<Box<RawValue>>,
}

impl Serialize for Listing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("tenant", &self.tenant)?;
        map.serialize_entry("count", &self.items.len())?;
        map.serialize_entry("truncated", &self.truncated)?;
        map.serialize_entry(self.key, &self.items)?;
        map.end()
    }
}
