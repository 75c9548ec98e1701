//! What the state store knows of one entity (a host, a user, an address,
//! a hash, a domain): the incidents it is in, their alerts that name it,
//! when it was first and last seen in them, its risk now and over time, and the other
//! entities it appears with. The entity page reads this; the events come
//! from the event store.

use jiff::Timestamp;
use soc::Entity;

use super::db::Val;
use super::incidents::{ALERT_COLUMNS, INCIDENT_COLUMNS};
use super::{Alert, Incident, Result, State};

/// One entity as the alerts and incidents tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityReport {
    pub entity: Entity,
    /// Newest activity first.
    pub incidents: Vec<Incident>,
    /// Alerts that name the entity, newest first.
    pub alerts: Vec<Alert>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// The risk score now (decayed).
    pub risk: f64,
    /// When "now" was: the report's time.
    pub as_of: Timestamp,
    /// The peak risk of each hour the entity had alerts in, oldest first
    /// (`State::risk_history`).
    pub risk_history: Vec<(Timestamp, f64)>,
    /// Entities named by the same alerts, with how many alerts name both.
    pub related: Vec<(Entity, usize)>,
}

/// Incidents an entity page reads at most (the newest), alerts of each,
/// and alerts in all: an address shared by thousands of alerts costs the
/// same as a rare one.
const MAX_INCIDENTS: usize = 25;
const PER_INCIDENT: usize = 50;
const MAX_ALERTS: usize = 200;
const MAX_RELATED: usize = 30;

impl State {
    pub fn entity(&self, tenant: &str, entity: &Entity, now: Timestamp) -> Result<EntityReport> {
        let mut db = self.reader()?;
        let key = [tenant.into(), entity.kind.as_str().into(), entity.value.as_str().into()];
        let columns = INCIDENT_COLUMNS.split(", ").map(|c| format!("i.{c}")).collect::<Vec<_>>().join(", ");
        let incidents: Vec<Incident> = db
            .rows(
                &format!(
                    "SELECT {columns} FROM incidents i JOIN incident_entities e ON e.incident_id = i.id \
                     WHERE e.tenant = $1 AND e.kind = $2 AND e.value = $3 \
                     ORDER BY i.last_activity DESC, i.id DESC LIMIT {MAX_INCIDENTS}"
                ),
                &key,
            )?
            .iter()
            .map(Incident::from_row)
            .collect::<Result<_>>()?;
        let mut alerts = Vec::new();
        for i in &incidents {
            let rows = db.rows(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant = $1 AND incident_id = $2 \
                     ORDER BY last_seen DESC, id DESC LIMIT {PER_INCIDENT}"
                ),
                &[tenant.into(), Val::Int(i.id)],
            )?;
            for r in &rows {
                let a = Alert::from_row(r)?;
                if a.entities.contains(entity) {
                    alerts.push(a);
                }
            }
        }
        drop(db);
        alerts.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(b.id.cmp(&a.id)));
        alerts.dedup_by_key(|a| a.id);
        alerts.truncate(MAX_ALERTS);
        let mut related: Vec<(Entity, usize)> = Vec::new();
        for e in alerts.iter().flat_map(|a| &a.entities).filter(|e| *e != entity) {
            match related.iter_mut().find(|(r, _)| r == e) {
                Some((_, n)) => *n += 1,
                None => related.push((e.clone(), 1)),
            }
        }
        related.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        related.truncate(MAX_RELATED);
        Ok(EntityReport {
            entity: entity.clone(),
            first_seen: alerts.iter().map(|a| a.first_seen).min(),
            last_seen: alerts.iter().map(|a| a.last_seen).max(),
            risk: self.risk(tenant, entity, now)?,
            as_of: now,
            risk_history: self.risk_history(tenant, entity)?,
            incidents,
            alerts,
            related,
        })
    }
}
