//! What a SOC does with detections, as pure functions: the entities an
//! alert is about and the key that deduplicates it ([`Detection`]),
//! severity from the rule's level and the asset inventory ([`assets`]),
//! entity risk that fades ([`risk`]), suppressions ([`suppress`]), the
//! rank of an incident's steps by ATT&CK tactic ([`attack`]), the
//! incident life cycle ([`lifecycle`]) and SLA clocks on business
//! calendars ([`sla`]).
//!
//! It keeps no state and reads no clock: the state store (`store::state`)
//! holds alerts and incidents and passes `now` in. It does not parse
//! records or run rules; detections arrive as alert journal lines.

pub mod assets;
pub mod attack;
pub mod details;
mod detection;
pub mod entity;
pub mod lifecycle;
pub mod risk;
pub mod sla;
pub mod suppress;

pub use crate::detection::Detection;
pub use crate::entity::{Entity, EntityKind};
pub use crate::lifecycle::{Disposition, Status};

use jiff::{SignedDuration, Timestamp};

/// How detections become alerts and incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct TriagePolicy {
    /// A detection joins an open alert with its dedup key last seen
    /// within this long.
    pub dedup_window: SignedDuration,
    /// An alert joins an open incident sharing a grouping entity with
    /// activity within this long.
    pub group_window: SignedDuration,
    pub risk: risk::RiskPolicy,
    /// Most evidence event ids kept per alert (the count goes on).
    pub max_evidence: usize,
    /// An incident with this many alerts takes no more by grouping.
    pub max_incident_alerts: usize,
}

impl Default for TriagePolicy {
    fn default() -> TriagePolicy {
        TriagePolicy {
            dedup_window: SignedDuration::from_hours(1),
            group_window: SignedDuration::from_hours(4),
            risk: risk::RiskPolicy::default(),
            max_evidence: 100,
            max_incident_alerts: 500,
        }
    }
}

/// An open incident as grouping sees it.
#[derive(Debug, Clone)]
pub struct OpenIncident {
    pub id: i64,
    pub last_activity: Timestamp,
    pub entities: Vec<Entity>,
}

/// The incident an alert on `entities` at `at` joins: the most recently
/// active open incident sharing a grouping entity within the window.
pub fn pick_incident<'a>(
    policy: &TriagePolicy,
    entities: &[Entity],
    at: Timestamp,
    open: &'a [OpenIncident],
) -> Option<&'a OpenIncident> {
    open.iter()
        .filter(|i| at.duration_since(i.last_activity).abs() <= policy.group_window)
        .filter(|i| i.entities.iter().any(|e| e.kind.groups() && entities.contains(e)))
        .max_by_key(|i| (i.last_activity, i.id))
}

#[cfg(test)]
mod tests;
