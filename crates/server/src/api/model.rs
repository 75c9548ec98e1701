//! The API's contract: what requests carry and what answers hold.
//!
//! Answers are their own types, converted from the state store's: a
//! change of a storage type does not silently change a response, and a
//! field the store keeps is shown only once it is written here. The
//! command line prints the same types.

use jiff::Timestamp;
use model::Level;
use serde::{Deserialize, Serialize};
use soc::{Disposition, Entity, Status};

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
    /// `html` for the readable page; JSON otherwise.
    pub(crate) format: Option<String>,
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

/// One alert.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub tenant: String,
    pub rule_id: String,
    pub title: String,
    pub level: Level,
    pub severity: Level,
    pub tags: Vec<String>,
    /// Rule author (Detection Rule License attribution).
    pub author: Option<String>,
    pub entities: Vec<Entity>,
    /// Ids of evidence events in the event store (the first ones).
    pub evidence: Vec<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: i64,
    pub status: String,
    pub suppression_id: Option<i64>,
    pub incident_id: Option<i64>,
    pub origin: Option<String>,
    pub version: i64,
}

impl From<state::Alert> for Alert {
    fn from(a: state::Alert) -> Alert {
        Alert {
            id: a.id,
            tenant: a.tenant,
            rule_id: a.rule_id,
            title: a.title,
            level: a.level,
            severity: a.severity,
            tags: a.tags,
            author: a.author,
            entities: a.entities,
            evidence: a.evidence,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            count: a.count,
            status: a.status,
            suppression_id: a.suppression_id,
            incident_id: a.incident_id,
            origin: a.origin,
            version: a.version,
        }
    }
}

/// One incident.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: i64,
    pub tenant: String,
    pub kind: String,
    pub title: String,
    pub severity: Level,
    pub status: Status,
    pub disposition: Option<Disposition>,
    pub assignee: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub last_activity: Timestamp,
    pub first_seen: Timestamp,
    pub acknowledged: Option<Timestamp>,
    pub resolved: Option<Timestamp>,
    /// Waiting on the customer: `[from, until]`, `until` null while waiting.
    pub pauses: Vec<(Timestamp, Option<Timestamp>)>,
    pub escalated_to: Option<String>,
    pub escalated: Option<Timestamp>,
    pub alert_count: i64,
    pub entities: Vec<Entity>,
    /// What a change must name to be applied.
    pub version: i64,
}

impl From<state::Incident> for Incident {
    fn from(i: state::Incident) -> Incident {
        Incident {
            id: i.id,
            tenant: i.tenant,
            kind: i.kind,
            title: i.title,
            severity: i.severity,
            status: i.status,
            disposition: i.disposition,
            assignee: i.assignee,
            created: i.created,
            updated: i.updated,
            last_activity: i.last_activity,
            first_seen: i.first_seen,
            acknowledged: i.acknowledged,
            resolved: i.resolved,
            pauses: i.pauses,
            escalated_to: i.escalated_to,
            escalated: i.escalated,
            alert_count: i.alert_count,
            entities: i.entities,
            version: i.version,
        }
    }
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// `alert`, `action`, `note` or `event`.
    pub kind: &'static str,
    pub actor: String,
    pub what: String,
    pub data: serde_json::Value,
}

impl From<state::TimelineEntry> for TimelineEntry {
    fn from(t: state::TimelineEntry) -> TimelineEntry {
        TimelineEntry { at: t.at, kind: t.kind, actor: t.actor, what: t.what, data: t.data }
    }
}

/// An incident's SLA clocks.
#[derive(Debug, Clone, Serialize)]
pub struct Sla {
    pub acknowledge: soc::sla::Clock,
    pub resolve: soc::sla::Clock,
}

impl From<state::SlaReport> for Sla {
    fn from(s: state::SlaReport) -> Sla {
        Sla { acknowledge: s.acknowledge, resolve: s.resolve }
    }
}

/// Who and what an incident involves, since when, and whether it spread.
#[derive(Debug, Clone, Serialize)]
pub struct ImpactScope {
    pub hosts: Vec<String>,
    pub users: Vec<String>,
    pub addresses: Vec<String>,
    pub first_sign: Timestamp,
    /// Users or addresses seen on more than one host.
    pub spread: Vec<String>,
}

/// The hand-off package for the CSIRT.
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    pub incident: Incident,
    pub summary: String,
    pub alerts: Vec<Alert>,
    pub timeline: Vec<TimelineEntry>,
    pub entities: Vec<Entity>,
    pub scope: ImpactScope,
    pub evidence: Vec<serde_json::Value>,
    pub actions_taken: Vec<TimelineEntry>,
    pub open_tasks: Vec<serde_json::Value>,
    pub open_questions: Vec<String>,
}

impl From<state::Escalation> for Escalation {
    fn from(e: state::Escalation) -> Escalation {
        let s = e.scope;
        Escalation {
            incident: e.incident.into(),
            summary: e.summary,
            alerts: e.alerts.into_iter().map(Alert::from).collect(),
            timeline: e.timeline.into_iter().map(TimelineEntry::from).collect(),
            entities: e.entities,
            scope: ImpactScope {
                hosts: s.hosts,
                users: s.users,
                addresses: s.addresses,
                first_sign: s.first_sign,
                spread: s.spread,
            },
            evidence: e.evidence,
            actions_taken: e.actions_taken.into_iter().map(TimelineEntry::from).collect(),
            open_tasks: e.open_tasks,
            open_questions: e.open_questions,
        }
    }
}

/// Per-rule statistics.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStats {
    pub rule_id: String,
    pub title: String,
    pub alerts: i64,
    pub detections: i64,
    pub true_positive: i64,
    pub benign_true_positive: i64,
    pub false_positive: i64,
    pub duplicate: i64,
    pub false_positive_rate: Option<f64>,
    pub mean_time_to_triage_secs: Option<f64>,
}

impl From<state::RuleStats> for RuleStats {
    fn from(r: state::RuleStats) -> RuleStats {
        RuleStats {
            rule_id: r.rule_id,
            title: r.title,
            alerts: r.alerts,
            detections: r.detections,
            true_positive: r.true_positive,
            benign_true_positive: r.benign_true_positive,
            false_positive: r.false_positive,
            duplicate: r.duplicate,
            false_positive_rate: r.false_positive_rate,
            mean_time_to_triage_secs: r.mean_time_to_triage_secs,
        }
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub tenant: String,
    pub action: String,
    pub target: String,
    pub data: String,
    pub prev: String,
    pub hash: String,
}

impl From<state::AuditEntry> for AuditEntry {
    fn from(e: state::AuditEntry) -> AuditEntry {
        AuditEntry {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            tenant: e.tenant,
            action: e.action,
            target: e.target,
            data: e.data,
            prev: e.prev,
            hash: e.hash,
        }
    }
}

/// A page of alerts.
#[derive(Debug, Serialize)]
pub(crate) struct AlertPage {
    pub(crate) tenant: String,
    pub(crate) alerts: Vec<Alert>,
    /// Where the next page starts (`before=`), when this one is full.
    pub(crate) next: Option<String>,
}

/// A page of incidents.
#[derive(Debug, Serialize)]
pub(crate) struct IncidentPage {
    pub(crate) tenant: String,
    pub(crate) incidents: Vec<Incident>,
    pub(crate) next: Option<String>,
}

/// One incident with its clocks and alerts.
#[derive(Debug, Serialize)]
pub(crate) struct IncidentDetail {
    pub(crate) incident: Incident,
    pub(crate) sla: Option<Sla>,
    pub(crate) alerts: Vec<Alert>,
}
