//! Observables an analyst marks as indicators of compromise on an
//! incident, and where else they were seen: the incidents of each tenant
//! that marked the same observable or had it among their entities.
//!
//! An IOC is kept in the canonical form threat intel matches by
//! ([`intel::Observable::new`]), so `EVIL.example.` and `evil.example` are
//! one IOC, and the entity tables (addresses, domains, hashes) are looked
//! up by the same text triage stores.

use jiff::Timestamp;
use serde_json::json;

use super::db::{Db, Val};
use super::incidents::{load_incident, record, touch};
use super::row::Row;
use super::{By, Result, State, StateError, micros};

/// Longest note on an IOC.
const MAX_NOTE: usize = 2_000;

/// One observable marked on an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Ioc {
    pub incident: i64,
    pub observable: intel::Observable,
    pub note: Option<String>,
    pub added_by: String,
    pub at: Timestamp,
}

/// Where an observable was seen in one tenant: how many incidents, and
/// the first and last activity among them.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub tenant: String,
    pub incidents: i64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// The kind triage's entity tables store an observable of this kind under,
/// if it keeps such entities.
fn entity_kind(kind: intel::Kind) -> Option<&'static str> {
    use intel::Kind as K;
    match kind {
        K::Ip => Some("ip"),
        K::Domain => Some("domain"),
        K::Md5 | K::Sha1 | K::Sha256 => Some("hash"),
        K::Url | K::Email | K::Ja3 | K::Ja4 => None,
    }
}

fn ioc_row(r: &Row) -> Result<Ioc> {
    let kind: String = r.get("kind")?;
    let value: String = r.get("value")?;
    let corrupt = || StateError::Internal(format!("corrupt row in incident_iocs: {kind:?} {value:?}"));
    let observable =
        intel::Kind::parse(&kind).and_then(|k| intel::Observable::new(k, &value).ok()).ok_or_else(corrupt)?;
    Ok(Ioc {
        incident: r.get("incident_id")?,
        observable,
        note: r.get("note")?,
        added_by: r.get("added_by")?,
        at: r.get("at")?,
    })
}

impl State {
    /// Marks `value` as an IOC of incident `id`, in the incident's log and
    /// on the audit trail.
    pub(crate) fn mark_ioc(
        &self,
        by: &By<'_>,
        id: i64,
        kind: &str,
        value: &str,
        note: Option<&str>,
    ) -> Result<intel::Observable> {
        let kind = intel::Kind::parse(kind).ok_or_else(|| {
            StateError::Invalid(format!(
                "unknown IOC kind {kind:?} (expected ip, domain, url, md5, sha1, sha256, email, ja3 or ja4)"
            ))
        })?;
        let observable = intel::Observable::new(kind, value).map_err(StateError::Invalid)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.len() > MAX_NOTE) {
            return Err(StateError::Invalid(format!("an IOC's note is at most {MAX_NOTE} bytes")));
        }
        let By { tenant, actor, now } = *by;
        self.tx(|db| {
            load_incident(db, tenant, id)?;
            let key = [Val::Int(id), kind.as_str().into(), (&*observable.value).into()];
            db.exec("DELETE FROM incident_iocs WHERE incident_id = $1 AND kind = $2 AND value = $3", &key)?;
            db.exec(
                "INSERT INTO incident_iocs (incident_id, tenant, kind, value, note, added_by, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    Val::Int(id),
                    tenant.into(),
                    kind.as_str().into(),
                    (&*observable.value).into(),
                    note.into(),
                    actor.into(),
                    micros(now),
                ],
            )?;
            record(db, by, id, "ioc", &json!({"kind": kind.as_str(), "value": &*observable.value, "note": note}))?;
            touch(db, id, now)
        })?;
        Ok(observable)
    }

    /// The IOCs marked on incident `id`, in the order they were marked.
    pub fn incident_iocs(&self, tenant: &str, id: i64) -> Result<Vec<Ioc>> {
        let mut db = self.reader()?;
        let db: &mut dyn Db = &mut **db;
        load_incident(db, tenant, id)?;
        db.rows(
            "SELECT incident_id, kind, value, note, added_by, at FROM incident_iocs \
             WHERE incident_id = $1 ORDER BY at, kind, value",
            &[Val::Int(id)],
        )?
        .iter()
        .map(ioc_row)
        .collect()
    }

    /// Where `observable` was seen in each of `tenants` (those the asker
    /// may see): incidents that marked it as an IOC or had it as an
    /// entity. Tenants where it was not seen are left out.
    pub fn sightings(&self, tenants: &[&str], observable: &intel::Observable) -> Result<Vec<Sighting>> {
        let mut db = self.reader()?;
        let db: &mut dyn Db = &mut **db;
        let kind = observable.kind.as_str();
        // An entity kind no observable has, so the entity half finds nothing.
        let entity = entity_kind(observable.kind).unwrap_or("-");
        let mut out = Vec::new();
        for tenant in tenants {
            let rows = db.rows(
                "SELECT COUNT(*) AS n, MIN(first_seen) AS first_seen, MAX(last_activity) AS last_seen \
                 FROM incidents WHERE tenant = $1 AND id IN ( \
                   SELECT incident_id FROM incident_entities WHERE tenant = $1 AND kind = $2 AND value = $4 \
                   UNION SELECT incident_id FROM incident_iocs WHERE tenant = $1 AND kind = $3 AND value = $4)",
                &[(*tenant).into(), entity.into(), kind.into(), (&*observable.value).into()],
            )?;
            let Some(r) = rows.first() else { continue };
            let n: i64 = r.get("n")?;
            if n == 0 {
                continue;
            }
            out.push(Sighting {
                tenant: (*tenant).to_string(),
                incidents: n,
                first_seen: r.get("first_seen")?,
                last_seen: r.get("last_seen")?,
            });
        }
        Ok(out)
    }
}
