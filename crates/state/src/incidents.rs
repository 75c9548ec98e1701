//! What analysts do with incidents and alerts: read the queues, move an
//! incident through its life cycle, assign, note, task, attach evidence,
//! pause for the customer, merge and split, escalate to the CSIRT; and
//! what they read back: the timeline, SLA clocks and per-rule statistics.

use jiff::{SignedDuration, Timestamp};
use model::Level;
use serde_json::json;
use soc::lifecycle::check_move;
use soc::sla::{CalendarSpec, Clock, clock};
use soc::{Disposition, Entity, EntityKind, Status};

use super::db::{Db, Val};
use super::row::{Json, Row, corrupt, returned_id};
use super::triage::{add_entity, log, open_incident};
use super::{Alert, AlertQuery, By, Incident, IncidentQuery, Result, State, StateError, json, level_val, micros};

pub(crate) const INCIDENT_COLUMNS: &str = "id, tenant, kind, title, severity, status, disposition, assignee, created, updated, \
     last_activity, first_seen, acknowledged, resolved, pauses, escalated_to, escalated, alert_count, version";

/// Entities an incident shows in a list.
const LIST_ENTITIES: usize = 20;

pub(crate) const ALERT_COLUMNS: &str = "id, tenant, rule_id, title, level, severity, tags, author, entities, evidence, \
     first_seen, last_seen, count, status, suppression_id, incident_id, origin, version";

impl Incident {
    /// An incident row (without its entities, which have their own table).
    pub(crate) fn from_row(r: &Row) -> Result<Incident> {
        let pauses: Vec<(Timestamp, Option<Timestamp>)> = r
            .get::<Json<Vec<(i64, Option<i64>)>>>("pauses")?
            .0
            .into_iter()
            .map(|(from, until)| {
                let t = |m: i64| {
                    Timestamp::from_microsecond(m).map_err(|e| corrupt("incidents", format!("pause at {m}: {e}")))
                };
                Ok((t(from)?, until.map(t).transpose()?))
            })
            .collect::<Result<_>>()?;
        Ok(Incident {
            id: r.get("id")?,
            tenant: r.get("tenant")?,
            kind: r.get("kind")?,
            title: r.get("title")?,
            severity: r.get("severity")?,
            status: r.get("status")?,
            disposition: r.get("disposition")?,
            assignee: r.get("assignee")?,
            created: r.get("created")?,
            updated: r.get("updated")?,
            last_activity: r.get("last_activity")?,
            first_seen: r.get("first_seen")?,
            acknowledged: r.get("acknowledged")?,
            resolved: r.get("resolved")?,
            pauses,
            escalated_to: r.get("escalated_to")?,
            escalated: r.get("escalated")?,
            alert_count: r.get("alert_count")?,
            entities: Vec::new(),
            version: r.get("version")?,
        })
    }
}

impl Alert {
    pub(crate) fn from_row(r: &Row) -> Result<Alert> {
        Ok(Alert {
            id: r.get("id")?,
            tenant: r.get("tenant")?,
            rule_id: r.get("rule_id")?,
            title: r.get("title")?,
            level: r.get("level")?,
            severity: r.get("severity")?,
            tags: r.get::<Json<_>>("tags")?.0,
            author: r.get("author")?,
            entities: r.get::<Json<_>>("entities")?.0,
            evidence: r.get::<Json<_>>("evidence")?.0,
            first_seen: r.get("first_seen")?,
            last_seen: r.get("last_seen")?,
            count: r.get("count")?,
            status: r.get("status")?,
            suppression_id: r.get("suppression_id")?,
            incident_id: r.get("incident_id")?,
            origin: r.get("origin")?,
            version: r.get("version")?,
        })
    }
}

/// An entity row (`kind`, `value`).
fn entity(r: &Row) -> Result<Entity> {
    Ok(Entity { kind: r.get("kind")?, value: r.get("value")? })
}

fn pauses_val(p: &[(Timestamp, Option<Timestamp>)]) -> Val {
    let list: Vec<(i64, Option<i64>)> =
        p.iter().map(|(a, b)| (a.as_microsecond(), b.map(|b| b.as_microsecond()))).collect();
    json(&list)
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// `alert` (first seen), `action` (a log entry), `note`.
    pub kind: &'static str,
    pub actor: String,
    pub what: String,
    pub data: serde_json::Value,
}

/// Per-rule statistics from alerts and the dispositions of their incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleStats {
    pub rule_id: String,
    pub title: String,
    pub alerts: i64,
    pub detections: i64,
    pub true_positive: i64,
    pub benign_true_positive: i64,
    pub false_positive: i64,
    pub duplicate: i64,
    /// Share of decided alerts that were false positives.
    pub false_positive_rate: Option<f64>,
    /// Mean time from an incident's creation to its acknowledgement.
    pub mean_time_to_triage_secs: Option<f64>,
}

/// An incident's SLA clocks.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaReport {
    pub acknowledge: Clock,
    pub resolve: Clock,
}

/// The hand-off package for the CSIRT.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub incident: Incident,
    pub summary: String,
    pub alerts: Vec<Alert>,
    pub timeline: Vec<TimelineEntry>,
    pub entities: Vec<Entity>,
    pub scope: Scope,
    pub evidence: Vec<serde_json::Value>,
    pub actions_taken: Vec<TimelineEntry>,
    pub open_tasks: Vec<serde_json::Value>,
    pub open_questions: Vec<String>,
}

/// Impact scope: who and what is involved, since when, and whether it spread.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub hosts: Vec<String>,
    pub users: Vec<String>,
    pub addresses: Vec<String>,
    pub first_sign: Timestamp,
    /// Users or addresses seen on more than one host: lateral movement indicators.
    pub spread: Vec<String>,
}

impl State {
    pub fn incident(&self, tenant: &str, id: i64) -> Result<Incident> {
        let mut db = self.reader()?;
        load_incident(&mut **db, tenant, id)
    }

    pub fn incidents(&self, tenant: &str, q: &IncidentQuery) -> Result<Vec<Incident>> {
        let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE tenant = $1");
        let mut params: Vec<Val> = vec![tenant.into()];
        if !q.statuses.is_empty() {
            let list: Vec<String> = q.statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
            sql.push_str(&format!(" AND status IN ({})", list.join(", ")));
        }
        if let Some(a) = &q.assignee {
            params.push(a.as_str().into());
            sql.push_str(&format!(" AND assignee = ${}", params.len()));
        }
        keyset(&mut sql, &mut params, q.before, "last_activity");
        sql.push_str(&format!(" ORDER BY last_activity DESC, id DESC LIMIT {}", q.limit.clamp(1, 1000)));
        let mut db = self.reader()?;
        let mut list: Vec<Incident> = db.rows(&sql, &params)?.iter().map(Incident::from_row).collect::<Result<_>>()?;
        // The first entities of each (kind, then value order): a queue shows
        // what an incident is about, its page shows all of them.
        for i in &mut list {
            let rows = db.rows(
                &format!("SELECT kind, value FROM incident_entities WHERE incident_id = $1 ORDER BY kind, value LIMIT {LIST_ENTITIES}"),
                &[Val::Int(i.id)],
            )?;
            i.entities = rows.iter().map(entity).collect::<Result<_>>()?;
            i.entities.sort();
        }
        Ok(list)
    }

    pub fn alert(&self, tenant: &str, id: i64) -> Result<Alert> {
        let rows = self.reader()?.rows(
            &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant = $1 AND id = $2"),
            &[tenant.into(), Val::Int(id)],
        )?;
        rows.first().map(Alert::from_row).unwrap_or_else(|| Err(StateError::NotFound(format!("alert {id}"))))
    }

    /// The alert queue: newest activity first (or most severe first),
    /// keyset-paged.
    pub fn alerts(&self, tenant: &str, q: &AlertQuery) -> Result<Vec<Alert>> {
        let mut db = self.reader()?;
        // One incident's alerts are found by its index. SQLite, without
        // statistics, would rather walk the tenant's alerts newest first
        // for the order and stop at the limit: all of them, for an
        // incident of one alert among a million.
        let from = match (q.incident_id, db.dialect()) {
            (Some(_), super::db::Dialect::Sqlite) => "alerts INDEXED BY alerts_incident",
            _ => "alerts",
        };
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM {from} WHERE tenant = $1");
        let mut params: Vec<Val> = vec![tenant.into()];
        if let Some(s) = &q.status {
            params.push(s.as_str().into());
            sql.push_str(&format!(" AND status = ${}", params.len()));
        }
        if let Some(l) = q.min_severity {
            params.push(level_val(l));
            // Newest first, the queue's index (by last seen) reads in order
            // and skips the less severe; `+` keeps the planner from ranging
            // over the by-severity index and sorting what it finds.
            let column = if q.by_severity { "severity" } else { "+severity" };
            sql.push_str(&format!(" AND {column} >= ${}", params.len()));
        }
        if let Some(r) = &q.rule_id {
            params.push(r.as_str().into());
            sql.push_str(&format!(" AND rule_id = ${}", params.len()));
        }
        if let Some(title) = q.rule_title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // The rules of that title, from the per-rule counts (one row
            // per rule): the queue's index then does the rest.
            let pattern =
                format!("%{}%", title.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            let ids: Vec<String> = db
                .rows(
                    "SELECT rule_id FROM rule_counts WHERE tenant = $1 AND (LOWER(title) LIKE $2 ESCAPE '\\' OR rule_id = $3) \
                     ORDER BY rule_id LIMIT 500",
                    &[tenant.into(), pattern.as_str().into(), title.into()],
                )?
                .iter()
                .map(|r| r.get::<String>("rule_id"))
                .collect::<Result<_>>()?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let first = params.len() + 1;
            params.extend(ids.iter().map(|id| Val::from(id.as_str())));
            let list: Vec<String> = (first..params.len() + 1).map(|n| format!("${n}")).collect();
            sql.push_str(&format!(" AND rule_id IN ({})", list.join(", ")));
        }
        if let Some(i) = q.incident_id {
            params.push(Val::Int(i));
            sql.push_str(&format!(" AND incident_id = ${}", params.len()));
        }
        if q.by_severity {
            if let (Some(sev), Some((t, id))) = (q.before_severity, q.before) {
                params.extend([level_val(sev), micros(t), Val::Int(id)]);
                let (s, t, i) = (params.len() - 2, params.len() - 1, params.len());
                sql.push_str(&format!(
                    " AND (severity < ${s} OR (severity = ${s} AND (last_seen < ${t} OR (last_seen = ${t} AND id < ${i}))))"
                ));
            }
            sql.push_str(&format!(" ORDER BY severity DESC, last_seen DESC, id DESC LIMIT {}", q.limit.clamp(1, 1000)));
        } else {
            keyset(&mut sql, &mut params, q.before, "last_seen");
            sql.push_str(&format!(" ORDER BY last_seen DESC, id DESC LIMIT {}", q.limit.clamp(1, 1000)));
        }
        let rows = db.rows(&sql, &params)?;
        rows.iter().map(Alert::from_row).collect()
    }

    /// Open alerts triage raised after `since` (processing time, not
    /// event time: a late event's alert is news too): what a queue left
    /// open counts to say that there is news.
    pub fn alerts_since(&self, tenant: &str, since: Timestamp) -> Result<i64> {
        let rows = self.reader()?.rows(
            "SELECT COUNT(*) AS n FROM alerts WHERE tenant = $1 AND created > $2 AND status = 'open'",
            &[tenant.into(), micros(since)],
        )?;
        rows.first().map_or(Ok(0), |r| r.get("n"))
    }

    /// Counts of a tenant's alerts by status.
    pub fn alert_counts(&self, tenant: &str) -> Result<Vec<(String, i64)>> {
        let rows = self.reader()?.rows(
            "SELECT status, COUNT(*) AS n FROM alerts WHERE tenant = $1 GROUP BY status ORDER BY status",
            &[tenant.into()],
        )?;
        rows.iter().map(|r| Ok((r.get("status")?, r.get("n")?))).collect()
    }

    /// The rules with the most alerts active since `from`, most first:
    /// `(rule id, title, alerts)`. Reads only recent alerts (by index), so
    /// it stays fast at millions of alerts.
    pub fn top_rules(&self, tenant: &str, from: Timestamp, limit: usize) -> Result<Vec<(String, String, i64)>> {
        let rows = self.reader()?.rows(
            &format!(
                "SELECT rule_id, MIN(title) AS title, COUNT(*) AS n FROM alerts WHERE tenant = $1 AND last_seen >= $2 \
                 GROUP BY rule_id ORDER BY 3 DESC, 1 LIMIT {}",
                limit.clamp(1, 1000)
            ),
            &[tenant.into(), micros(from)],
        )?;
        rows.iter().map(|r| Ok((r.get("rule_id")?, r.get("title")?, r.get("n")?))).collect()
    }

    /// Counts of a tenant's incidents by status.
    pub fn incident_counts(&self, tenant: &str) -> Result<Vec<(Status, i64)>> {
        let rows = self
            .reader()?
            .rows("SELECT status, COUNT(*) AS n FROM incidents WHERE tenant = $1 GROUP BY status", &[tenant.into()])?;
        let mut out: Vec<(Status, i64)> =
            rows.iter().map(|r| Ok((r.get("status")?, r.get("n")?))).collect::<Result<_>>()?;
        out.sort_by_key(|(s, _)| Status::ALL.iter().position(|x| x == s));
        Ok(out)
    }

    /// Open incidents the SLA sweep found near breach (and not breached),
    /// and breached: `(near, breached)`.
    pub fn sla_counts(&self, tenant: &str) -> Result<(i64, i64)> {
        let rows = self.reader()?.rows(
            "SELECT n.incident_id AS incident_id, MAX(CASE WHEN n.kind LIKE '%near_breach' THEN 0 ELSE 1 END) AS breached \
             FROM notifications n JOIN incidents i ON i.id = n.incident_id \
             WHERE n.tenant = $1 AND i.status NOT IN ('resolved', 'closed') GROUP BY n.incident_id",
            &[tenant.into()],
        )?;
        let mut breached = 0;
        for r in &rows {
            breached += i64::from(r.get::<bool>("breached")?);
        }
        Ok((rows.len() as i64 - breached, breached))
    }

    /// Alerts seen since `from`, counted per `bucket` of their last
    /// sighting and per severity: the dashboard's chart.
    pub fn alert_histogram(
        &self,
        tenant: &str,
        from: Timestamp,
        bucket: SignedDuration,
    ) -> Result<Vec<(Timestamp, Level, i64)>> {
        let width = bucket.as_micros().max(1) as i64;
        let rows = self.reader()?.rows(
            "SELECT (last_seen - $2) / $3 AS bucket, severity, COUNT(*) AS n FROM alerts \
             WHERE tenant = $1 AND last_seen >= $2 GROUP BY 1, 2 ORDER BY 1, 2",
            &[tenant.into(), micros(from), Val::Int(width)],
        )?;
        rows.iter()
            .map(|r| {
                let bucket: i64 = r.get("bucket")?;
                let at = bucket
                    .checked_mul(width)
                    .and_then(|d| from.as_microsecond().checked_add(d))
                    .and_then(|m| Timestamp::from_microsecond(m).ok())
                    .ok_or_else(|| corrupt("alerts", format!("a last sighting {bucket} buckets past {from}")))?;
                Ok((at, r.get("severity")?, r.get("n")?))
            })
            .collect()
    }

    /// Moves an incident; `version` is the one the analyst saw.
    pub(crate) fn transition(
        &self,
        by: &By<'_>,
        id: i64,
        version: i64,
        to: Status,
        disposition: Option<Disposition>,
    ) -> Result<Incident> {
        let By { now, .. } = *by;
        self.change(by, id, version, |i| {
            let disposition = disposition.or(if to == Status::Closed { i.disposition } else { None });
            check_move(i.status, to, disposition).map_err(|e| StateError::Invalid(e.to_string()))?;
            let from = i.status;
            i.status = to;
            if to.is_acknowledged() && i.acknowledged.is_none() {
                i.acknowledged = Some(now);
            }
            if to.is_done() {
                i.resolved = i.resolved.or(Some(now));
                i.disposition = disposition;
                close_pause(&mut i.pauses, now);
            } else {
                // Reopened: the resolve clock runs again.
                i.resolved = None;
                i.disposition = None;
            }
            Ok(("status", json!({"from": from, "to": to, "disposition": disposition})))
        })
    }

    pub(crate) fn assign(&self, by: &By<'_>, id: i64, version: i64, assignee: Option<&str>) -> Result<Incident> {
        self.change(by, id, version, |i| {
            let from = i.assignee.take();
            i.assignee = assignee.map(str::to_string);
            Ok(("assign", json!({"from": from, "to": assignee})))
        })
    }

    /// Changes the title or severity an analyst sees.
    pub(crate) fn edit(
        &self,
        by: &By<'_>,
        id: i64,
        version: i64,
        title: Option<&str>,
        severity: Option<Level>,
    ) -> Result<Incident> {
        self.change(by, id, version, |i| {
            if let Some(t) = title {
                if t.trim().is_empty() {
                    return Err(StateError::Invalid("an incident title cannot be empty".into()));
                }
                i.title = t.to_string();
            }
            if let Some(s) = severity {
                i.severity = s;
            }
            Ok(("edit", json!({"title": title, "severity": severity.map(Level::as_str)})))
        })
    }

    /// Starts or ends waiting on the customer (the SLA clocks pause).
    pub(crate) fn wait_on_customer(&self, by: &By<'_>, id: i64, version: i64, waiting: bool) -> Result<Incident> {
        let By { now, .. } = *by;
        self.change(by, id, version, |i| {
            let open = i.pauses.iter().any(|(_, end)| end.is_none());
            match (waiting, open) {
                (true, true) => {
                    return Err(StateError::Invalid("the incident is already waiting on the customer".into()));
                }
                (false, false) => {
                    return Err(StateError::Invalid("the incident is not waiting on the customer".into()));
                }
                (true, false) => i.pauses.push((now, None)),
                (false, true) => close_pause(&mut i.pauses, now),
            }
            Ok(("waiting", json!({"waiting": waiting})))
        })
    }

    /// Records the hand-off to the CSIRT and returns the package.
    pub(crate) fn escalate(&self, by: &By<'_>, id: i64, version: i64, to: &str) -> Result<Escalation> {
        let By { tenant, now, .. } = *by;
        if to.trim().is_empty() {
            return Err(StateError::Invalid("say who receives the escalation".into()));
        }
        self.change(by, id, version, |i| {
            if i.status.is_done() {
                return Err(StateError::Invalid(format!(
                    "incident {id} is {}: reopen it to investigating before escalating it",
                    i.status.as_str()
                )));
            }
            i.escalated_to = Some(to.to_string());
            i.escalated = Some(now);
            Ok(("escalate", json!({"to": to})))
        })?;
        self.escalation(tenant, id)
    }

    /// Reads, changes and writes an incident in one transaction, if its
    /// version is still `version`; logs the change.
    fn change(
        &self,
        by: &By<'_>,
        id: i64,
        version: i64,
        f: impl FnOnce(&mut Incident) -> Result<(&'static str, serde_json::Value)>,
    ) -> Result<Incident> {
        let By { tenant, now, .. } = *by;
        self.tx(|db| {
            let mut i = load_incident(db, tenant, id)?;
            if i.version != version {
                return Err(StateError::Conflict { current: i.version });
            }
            let was_done = i.status.is_done();
            let (action, data) = f(&mut i)?;
            let n = db.exec(
                "UPDATE incidents SET title = $3, severity = $4, status = $5, disposition = $6, assignee = $7, updated = $8, \
                 acknowledged = $9, resolved = $10, pauses = $11, escalated_to = $12, escalated = $13, version = version + 1 \
                 WHERE id = $1 AND version = $2",
                &[
                    Val::Int(id),
                    Val::Int(version),
                    i.title.as_str().into(),
                    level_val(i.severity),
                    i.status.as_str().into(),
                    i.disposition.map(Disposition::as_str).into(),
                    i.assignee.clone().into(),
                    micros(now),
                    i.acknowledged.map(|t| t.as_microsecond()).into(),
                    i.resolved.map(|t| t.as_microsecond()).into(),
                    pauses_val(&i.pauses),
                    i.escalated_to.clone().into(),
                    i.escalated.map(|t| t.as_microsecond()).into(),
                ],
            )?;
            if n == 0 {
                // Changed by another connection between our read and write.
                let current = load_incident(db, tenant, id)?.version;
                return Err(StateError::Conflict { current });
            }
            // An incident's alerts are done when it is, and open again
            // when it reopens: a repeat of a closed alert is news.
            if i.status.is_done() != was_done {
                let (from, to) = if was_done { ("closed", "open") } else { ("open", "closed") };
                db.exec(
                    "UPDATE alerts SET status = $3, version = version + 1 WHERE incident_id = $1 AND status = $2",
                    &[Val::Int(id), from.into(), to.into()],
                )?;
            }
            record(db, by, id, action, &data)?;
            load_incident(db, tenant, id)
        })
    }

    pub(crate) fn add_note(&self, by: &By<'_>, id: i64, body: &str) -> Result<i64> {
        let By { tenant, actor, now } = *by;
        if body.trim().is_empty() {
            return Err(StateError::Invalid("a note cannot be empty".into()));
        }
        self.tx(|db| {
            load_incident(db, tenant, id)?;
            let rows = db.rows(
                "INSERT INTO notes (incident_id, at, author, body) VALUES ($1, $2, $3, $4) RETURNING id",
                &[Val::Int(id), micros(now), actor.into(), body.into()],
            )?;
            touch(db, id, now)?;
            let note = returned_id(&rows)?;
            super::audit::append(db, by, "note", &format!("incident:{id}"), &json!({"note": note}))?;
            Ok(note)
        })
    }

    pub(crate) fn add_task(&self, by: &By<'_>, id: i64, title: &str, owner: Option<&str>) -> Result<i64> {
        let By { tenant, now, .. } = *by;
        if title.trim().is_empty() {
            return Err(StateError::Invalid("a task needs a title".into()));
        }
        self.tx(|db| {
            load_incident(db, tenant, id)?;
            let rows = db.rows(
                "INSERT INTO tasks (incident_id, title, owner, created) VALUES ($1, $2, $3, $4) RETURNING id",
                &[Val::Int(id), title.into(), owner.into(), micros(now)],
            )?;
            let task = returned_id(&rows)?;
            record(db, by, id, "task", &json!({"task": task, "title": title, "owner": owner}))?;
            touch(db, id, now)?;
            Ok(task)
        })
    }

    pub(crate) fn complete_task(&self, by: &By<'_>, id: i64, task: i64) -> Result<()> {
        let By { tenant, now, .. } = *by;
        self.tx(|db| {
            load_incident(db, tenant, id)?;
            let n = db.exec(
                "UPDATE tasks SET done = $3 WHERE id = $1 AND incident_id = $2 AND done IS NULL",
                &[Val::Int(task), Val::Int(id), micros(now)],
            )?;
            if n == 0 {
                return Err(StateError::NotFound(format!("open task {task} of incident {id}")));
            }
            record(db, by, id, "task_done", &json!({"task": task}))?;
            touch(db, id, now)
        })
    }

    /// Links evidence: `event` (an event store id) or `file` (a path or URL).
    pub(crate) fn add_evidence(
        &self,
        by: &By<'_>,
        id: i64,
        kind: &str,
        reference: &str,
        note: Option<&str>,
    ) -> Result<i64> {
        let By { tenant, actor, now } = *by;
        if !matches!(kind, "event" | "file") {
            return Err(StateError::Invalid(format!("unknown evidence kind {kind:?} (expected event or file)")));
        }
        self.tx(|db| {
            load_incident(db, tenant, id)?;
            let rows = db.rows(
                "INSERT INTO evidence (incident_id, kind, ref, note, added_by, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[Val::Int(id), kind.into(), reference.into(), note.into(), actor.into(), micros(now)],
            )?;
            record(db, by, id, "evidence", &json!({"kind": kind, "ref": reference}))?;
            touch(db, id, now)?;
            returned_id(&rows)
        })
    }

    /// Moves every alert and entity of `from` into `into` and closes
    /// `from` as a duplicate; both incidents log it.
    pub(crate) fn merge(&self, by: &By<'_>, into: i64, from: i64) -> Result<Incident> {
        let By { tenant, now, .. } = *by;
        if into == from {
            return Err(StateError::Invalid("cannot merge an incident into itself".into()));
        }
        self.tx(|db| {
            load_incident(db, tenant, into)?;
            let source = load_incident(db, tenant, from)?;
            db.exec("UPDATE alerts SET incident_id = $1 WHERE incident_id = $2", &[Val::Int(into), Val::Int(from)])?;
            for e in &source.entities {
                add_entity(db, into, tenant, e, source.first_seen)?;
            }
            db.exec(
                "UPDATE incidents SET alert_count = alert_count + $2, severity = CASE WHEN severity < $3 THEN $3 ELSE severity END, \
                 first_seen = CASE WHEN first_seen > $4 THEN $4 ELSE first_seen END, \
                 last_activity = CASE WHEN last_activity < $5 THEN $5 ELSE last_activity END, updated = $6, version = version + 1 WHERE id = $1",
                &[Val::Int(into), Val::Int(source.alert_count), level_val(source.severity), micros(source.first_seen), micros(source.last_activity), micros(now)],
            )?;
            db.exec(
                "UPDATE incidents SET status = 'closed', disposition = 'duplicate', alert_count = 0, resolved = $2, updated = $2, version = version + 1 WHERE id = $1",
                &[Val::Int(from), micros(now)],
            )?;
            record(db, by, into, "merge", &json!({"from": from, "alerts": source.alert_count}))?;
            record(db, by, from, "merged_into", &json!({"into": into}))?;
            load_incident(db, tenant, into)
        })
    }

    /// Moves `alerts` of incident `id` into a new incident; both log it.
    pub(crate) fn split(&self, by: &By<'_>, id: i64, alerts: &[i64]) -> Result<Incident> {
        let By { tenant, now, .. } = *by;
        if alerts.is_empty() {
            return Err(StateError::Invalid("name the alerts to split off".into()));
        }
        self.tx(|db| {
            let source = load_incident(db, tenant, id)?;
            let mut moved = Vec::new();
            for &a in alerts {
                let rows = db.rows(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1 AND incident_id = $2"), &[Val::Int(a), Val::Int(id)])?;
                let alert = rows.first().map(Alert::from_row).unwrap_or_else(|| Err(StateError::NotFound(format!("alert {a} in incident {id}"))))?;
                moved.push(alert);
            }
            if moved.len() as i64 >= source.alert_count {
                return Err(StateError::Invalid("a split must leave at least one alert in the incident".into()));
            }
            let first = moved.iter().map(|a| a.first_seen).min().unwrap_or(now);
            let sev = moved.iter().map(|a| a.severity).max().unwrap_or(Level::Medium);
            let title = moved.first().map(|a| format!("{} (split from incident {id})", a.title)).unwrap_or_default();
            let new = open_incident(db, tenant, "alerts", &title, 0, sev, first, now)?;
            for a in &moved {
                db.exec("UPDATE alerts SET incident_id = $1 WHERE id = $2", &[Val::Int(new), Val::Int(a.id)])?;
                for e in &a.entities {
                    add_entity(db, new, tenant, e, a.first_seen)?;
                }
            }
            let last = moved.iter().map(|a| a.last_seen).max().unwrap_or(now);
            db.exec("UPDATE incidents SET alert_count = $2, last_activity = $3 WHERE id = $1", &[Val::Int(new), Val::Int(moved.len() as i64), micros(last)])?;
            db.exec(
                "UPDATE incidents SET alert_count = alert_count - $2, updated = $3, version = version + 1 WHERE id = $1",
                &[Val::Int(id), Val::Int(moved.len() as i64), micros(now)],
            )?;
            let ids: Vec<i64> = moved.iter().map(|a| a.id).collect();
            record(db, by, id, "split", &json!({"alerts": ids, "into": new}))?;
            record(db, by, new, "split_from", &json!({"alerts": ids, "from": id}))?;
            load_incident(db, tenant, new)
        })
    }

    /// Alerts (when first seen), log entries and notes, in time order.
    pub fn timeline(&self, tenant: &str, id: i64) -> Result<Vec<TimelineEntry>> {
        let mut db = self.reader()?;
        load_incident(&mut **db, tenant, id)?;
        timeline(&mut **db, id)
    }

    /// SLA clocks of an incident under its tenant's policy for its
    /// severity; `None` without a policy.
    pub fn sla(&self, tenant: &str, id: i64, now: Timestamp) -> Result<Option<SlaReport>> {
        let i = self.incident(tenant, id)?;
        let Some((ack, resolve, calendar)) = self.sla_policy(tenant, i.severity)? else { return Ok(None) };
        let calendar = calendar.calendar().map_err(StateError::Invalid)?;
        // Time waiting on the customer counts against neither target.
        Ok(Some(SlaReport {
            acknowledge: clock(&calendar, ack, i.created, i.acknowledged, &i.pauses, now),
            resolve: clock(&calendar, resolve, i.created, i.resolved, &i.pauses, now),
        }))
    }

    /// Sets a tenant's targets for one severity.
    pub fn set_sla_policy(
        &self,
        by: &By<'_>,
        severity: Level,
        ack: SignedDuration,
        resolve: SignedDuration,
        calendar: &CalendarSpec,
    ) -> Result<()> {
        calendar.calendar().map_err(StateError::Invalid)?;
        if ack <= SignedDuration::ZERO || resolve <= SignedDuration::ZERO {
            return Err(StateError::Invalid("SLA targets must be positive durations".into()));
        }
        let tenant = by.tenant;
        self.tx(|db| {
            db.exec(
            "INSERT INTO sla_policies (tenant, severity, ack_secs, resolve_secs, calendar) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant, severity) DO UPDATE SET ack_secs = $3, resolve_secs = $4, calendar = $5",
            &[tenant.into(), level_val(severity), Val::Int(ack.as_secs()), Val::Int(resolve.as_secs()), json(calendar)],
            )?;
            let data = json!({"ack_secs": ack.as_secs(), "resolve_secs": resolve.as_secs(), "calendar": calendar});
            super::audit::append(db, by, "sla_policy", &format!("severity:{severity}"), &data)
        })
    }

    /// A tenant's SLA targets: severity, acknowledge and resolve budgets.
    pub fn sla_policies(&self, tenant: &str) -> Result<Vec<(Level, SignedDuration, SignedDuration)>> {
        let rows = self.reader()?.rows(
            "SELECT severity, ack_secs, resolve_secs FROM sla_policies WHERE tenant = $1 ORDER BY severity DESC",
            &[tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                let secs = |c: &str| r.get::<i64>(c).map(SignedDuration::from_secs);
                Ok((r.get("severity")?, secs("ack_secs")?, secs("resolve_secs")?))
            })
            .collect()
    }

    fn sla_policy(
        &self,
        tenant: &str,
        severity: Level,
    ) -> Result<Option<(SignedDuration, SignedDuration, CalendarSpec)>> {
        let rows = self.reader()?.rows(
            "SELECT ack_secs, resolve_secs, calendar FROM sla_policies WHERE tenant = $1 AND severity = $2",
            &[tenant.into(), level_val(severity)],
        )?;
        rows.first()
            .map(|r| {
                let secs = |c: &str| r.get::<i64>(c).map(SignedDuration::from_secs);
                Ok((secs("ack_secs")?, secs("resolve_secs")?, r.get::<Json<CalendarSpec>>("calendar")?.0))
            })
            .transpose()
    }

    /// Checks every open incident's clocks; a near-breach or breach not
    /// yet notified is recorded once in `notifications` and logged on the
    /// incident, and a breach raises the incident one severity step (the
    /// escalation). Returns the new notifications as `(tenant, incident,
    /// kind, message)`.
    pub fn sla_sweep(&self, now: Timestamp) -> Result<Vec<(String, i64, String, String)>> {
        let open: Vec<(String, i64)> = {
            let rows = self
                .reader()?
                .rows("SELECT tenant, id FROM incidents WHERE status NOT IN ('resolved', 'closed') ORDER BY id", &[])?;
            rows.iter().map(|r| Ok((r.get("tenant")?, r.get("id")?))).collect::<Result<_>>()?
        };
        let mut out = Vec::new();
        for (tenant, id) in open {
            let Some(report) = self.sla(&tenant, id, now)? else { continue };
            for (target, c) in [("acknowledge", &report.acknowledge), ("resolve", &report.resolve)] {
                let kind = match c.state {
                    soc::sla::SlaState::NearBreach => format!("{target}_near_breach"),
                    soc::sla::SlaState::Breached => format!("{target}_breach"),
                    _ => continue,
                };
                let message = format!(
                    "incident {id}: {target} target {} {} ({}s of {}s used)",
                    if c.state == soc::sla::SlaState::Breached { "breached" } else { "near breach" },
                    c.due.map(|d| format!("due {d}")).unwrap_or_default(),
                    c.elapsed.as_secs(),
                    c.budget.as_secs()
                );
                let new = self.tx(|db| {
                    let n = db.exec(
                        "INSERT INTO notifications (tenant, incident_id, at, kind, message) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident_id, kind) DO NOTHING",
                        &[tenant.as_str().into(), Val::Int(id), micros(now), kind.as_str().into(), message.as_str().into()],
                    )?;
                    if n == 0 {
                        return Ok(false);
                    }
                    log(db, id, now, "hinomi", "sla", &json!({"kind": kind}))?;
                    if c.state == soc::sla::SlaState::Breached {
                        db.exec(
                            "UPDATE incidents SET severity = CASE WHEN severity < 4 THEN severity + 1 ELSE severity END, updated = $2, version = version + 1 WHERE id = $1",
                            &[Val::Int(id), micros(now)],
                        )?;
                    }
                    Ok(true)
                })?;
                if new {
                    out.push((tenant.clone(), id, kind, message));
                }
            }
        }
        Ok(out)
    }

    /// A tenant's SLA notifications, newest first.
    pub fn notifications(&self, tenant: &str, limit: usize) -> Result<Vec<serde_json::Value>> {
        let rows = self.reader()?.rows(
            &format!(
                "SELECT id, incident_id, at, kind, message FROM notifications WHERE tenant = $1 ORDER BY at DESC, id DESC LIMIT {}",
                limit.clamp(1, 1000)
            ),
            &[tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                let (id, incident, at): (i64, i64, Timestamp) = (r.get("id")?, r.get("incident_id")?, r.get("at")?);
                let (kind, message): (String, String) = (r.get("kind")?, r.get("message")?);
                Ok(json!({"id": id, "incident": incident, "at": at, "kind": kind, "message": message}))
            })
            .collect()
    }

    /// Per-rule statistics for rule pages and reports. Alerts and
    /// detections come from the counts triage keeps; dispositions and the
    /// time to triage from the incidents analysts have worked, so neither
    /// reads every alert.
    /// The titles of the rules that raised alerts in `tenant`, sorted: what
    /// the queue's rule filter suggests (one row per rule, no alert read).
    pub fn rule_titles(&self, tenant: &str, limit: usize) -> Result<Vec<String>> {
        let rows = self.reader()?.rows(
            &format!(
                "SELECT DISTINCT title FROM rule_counts WHERE tenant = $1 ORDER BY title LIMIT {}",
                limit.clamp(1, 10_000)
            ),
            &[tenant.into()],
        )?;
        rows.iter().map(|r| r.get("title")).collect()
    }

    pub fn rule_stats(&self, tenant: &str) -> Result<Vec<RuleStats>> {
        let mut guard = self.reader()?;
        let db: &mut dyn Db = &mut **guard;
        let counts = db.rows(
            "SELECT rule_id, title, alerts, detections FROM rule_counts WHERE tenant = $1 ORDER BY rule_id",
            &[tenant.into()],
        )?;
        let worked = db.rows(
            "SELECT a.rule_id AS rule_id, \
             SUM(CASE WHEN i.disposition = 'true_positive' THEN 1 ELSE 0 END) AS tp, \
             SUM(CASE WHEN i.disposition = 'benign_true_positive' THEN 1 ELSE 0 END) AS btp, \
             SUM(CASE WHEN i.disposition = 'false_positive' THEN 1 ELSE 0 END) AS fp, \
             SUM(CASE WHEN i.disposition = 'duplicate' THEN 1 ELSE 0 END) AS dup, \
             CAST(AVG(CASE WHEN i.acknowledged IS NOT NULL THEN (i.acknowledged - i.created) / 1000000.0 END) AS DOUBLE PRECISION) AS to_triage \
             FROM incidents i JOIN alerts a ON a.incident_id = i.id \
             WHERE i.tenant = $1 AND (i.disposition IS NOT NULL OR i.acknowledged IS NOT NULL) \
             AND a.status <> 'suppressed' GROUP BY a.rule_id",
            &[tenant.into()],
        )?;
        let worked: std::collections::HashMap<String, &Row> =
            worked.iter().map(|r| Ok((r.get("rule_id")?, r))).collect::<Result<_>>()?;
        counts
            .iter()
            .map(|r| {
                let rule_id: String = r.get("rule_id")?;
                let w = worked.get(&rule_id);
                let n = |c: &str| w.map_or(Ok(0), |w| w.get::<Option<i64>>(c).map(Option::unwrap_or_default));
                let (tp, btp, fp, dup) = (n("tp")?, n("btp")?, n("fp")?, n("dup")?);
                let decided = tp + btp + fp;
                Ok(RuleStats {
                    rule_id,
                    title: r.get("title")?,
                    alerts: r.get("alerts")?,
                    detections: r.get("detections")?,
                    true_positive: tp,
                    benign_true_positive: btp,
                    false_positive: fp,
                    duplicate: dup,
                    false_positive_rate: (decided > 0).then(|| fp as f64 / decided as f64),
                    mean_time_to_triage_secs: w.map_or(Ok(None), |w| w.get("to_triage"))?,
                })
            })
            .collect()
    }

    /// The hand-off package for the CSIRT, as data.
    pub fn escalation(&self, tenant: &str, id: i64) -> Result<Escalation> {
        let mut db = self.reader()?;
        let db: &mut dyn Db = &mut **db;
        let incident = load_incident(db, tenant, id)?;
        let alerts: Vec<Alert> = db
            .rows(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE incident_id = $1 ORDER BY first_seen, id"),
                &[Val::Int(id)],
            )?
            .iter()
            .map(Alert::from_row)
            .collect::<Result<_>>()?;
        let timeline = timeline(db, id)?;
        let mut evidence = db
            .rows(
                "SELECT kind, ref, note, added_by, at FROM evidence WHERE incident_id = $1 ORDER BY at, id",
                &[Val::Int(id)],
            )?
            .iter()
            .map(|r| {
                let (kind, reference, note): (String, String, Option<String>) =
                    (r.get("kind")?, r.get("ref")?, r.get("note")?);
                let (added_by, at): (String, Timestamp) = (r.get("added_by")?, r.get("at")?);
                Ok(json!({"kind": kind, "ref": reference, "note": note, "added_by": added_by, "at": at}))
            })
            .collect::<Result<Vec<_>>>()?;
        evidence.extend(
            alerts
                .iter()
                .flat_map(|a| a.evidence.iter().map(move |e| json!({"kind": "event", "ref": e, "alert": a.id}))),
        );
        let open_tasks: Vec<serde_json::Value> = db
            .rows(
                "SELECT id, title, owner FROM tasks WHERE incident_id = $1 AND done IS NULL ORDER BY id",
                &[Val::Int(id)],
            )?
            .iter()
            .map(|r| {
                let (task, title, owner): (i64, String, Option<String>) =
                    (r.get("id")?, r.get("title")?, r.get("owner")?);
                Ok(json!({"task": task, "title": title, "owner": owner}))
            })
            .collect::<Result<_>>()?;
        let actions_taken: Vec<TimelineEntry> =
            timeline.iter().filter(|t| t.kind == "action" && t.actor != "hinomi").cloned().collect();
        let scope = scope(&incident, &alerts);
        let mut open_questions: Vec<String> =
            open_tasks.iter().filter_map(|t| t["title"].as_str().map(|s| format!("open task: {s}"))).collect();
        if !scope.spread.is_empty() {
            open_questions.push(format!(
                "activity of {} reached more than one host: how far did it spread?",
                scope.spread.join(", ")
            ));
        }
        if incident.disposition.is_none() {
            open_questions.push("no disposition yet: is this a true positive?".into());
        }
        let summary = format!(
            "{} severity incident \"{}\": {} alert(s) from {} rule(s), first sign {}, {} host(s), {} user(s); status {}.",
            incident.severity,
            incident.title,
            incident.alert_count,
            alerts.iter().map(|a| a.rule_id.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
            scope.first_sign,
            scope.hosts.len(),
            scope.users.len(),
            incident.status
        );
        let entities = incident.entities.clone();
        Ok(Escalation {
            incident,
            summary,
            alerts,
            timeline,
            entities,
            scope,
            evidence,
            actions_taken,
            open_tasks,
            open_questions,
        })
    }
}

fn scope(incident: &Incident, alerts: &[Alert]) -> Scope {
    let of = |k: EntityKind| -> Vec<String> {
        incident.entities.iter().filter(|e| e.kind == k).map(|e| e.value.clone()).collect()
    };
    // A user or address seen in alerts on two or more hosts.
    let mut spread = Vec::new();
    for e in incident.entities.iter().filter(|e| matches!(e.kind, EntityKind::User | EntityKind::Ip)) {
        let hosts: std::collections::BTreeSet<&str> = alerts
            .iter()
            .filter(|a| a.entities.contains(e))
            .flat_map(|a| a.entities.iter().filter(|x| x.kind == EntityKind::Host).map(|x| x.value.as_str()))
            .collect();
        if hosts.len() > 1 {
            spread.push(e.to_string());
        }
    }
    Scope {
        hosts: of(EntityKind::Host),
        users: of(EntityKind::User),
        addresses: of(EntityKind::Ip),
        first_sign: incident.first_seen,
        spread,
    }
}

fn keyset(sql: &mut String, params: &mut Vec<Val>, before: Option<(Timestamp, i64)>, column: &str) {
    if let Some((t, id)) = before {
        params.push(micros(t));
        let a = params.len();
        params.push(Val::Int(id));
        let b = params.len();
        sql.push_str(&format!(" AND ({column} < ${a} OR ({column} = ${a} AND id < ${b}))"));
    }
}

fn close_pause(pauses: &mut [(Timestamp, Option<Timestamp>)], now: Timestamp) {
    for p in pauses.iter_mut().filter(|p| p.1.is_none()) {
        p.1 = Some(now.max(p.0));
    }
}

/// Logs a person's change on the incident and appends it to the audit trail.
pub(super) fn record(
    db: &mut dyn Db,
    by: &By<'_>,
    incident: i64,
    action: &str,
    data: &serde_json::Value,
) -> Result<()> {
    log(db, incident, by.now, by.actor, action, data)?;
    super::audit::append(db, by, action, &format!("incident:{incident}"), data)
}

pub(super) fn touch(db: &mut dyn Db, id: i64, now: Timestamp) -> Result<()> {
    db.exec("UPDATE incidents SET updated = $2 WHERE id = $1", &[Val::Int(id), micros(now)])?;
    Ok(())
}

pub(super) fn load_incident(db: &mut dyn Db, tenant: &str, id: i64) -> Result<Incident> {
    let rows = db.rows(
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE tenant = $1 AND id = $2"),
        &[tenant.into(), Val::Int(id)],
    )?;
    let mut i =
        rows.first().map(Incident::from_row).unwrap_or_else(|| Err(StateError::NotFound(format!("incident {id}"))))?;
    let ents = db.rows(
        "SELECT kind, value FROM incident_entities WHERE incident_id = $1 ORDER BY kind, value",
        &[Val::Int(id)],
    )?;
    i.entities = ents.iter().map(entity).collect::<Result<_>>()?;
    i.entities.sort();
    Ok(i)
}

fn timeline(db: &mut dyn Db, id: i64) -> Result<Vec<TimelineEntry>> {
    let mut out = Vec::new();
    for r in db.rows(
        "SELECT id, rule_id, title, first_seen, count, severity FROM alerts WHERE incident_id = $1",
        &[Val::Int(id)],
    )? {
        let (alert, count, severity): (i64, i64, Level) = (r.get("id")?, r.get("count")?, r.get("severity")?);
        out.push(TimelineEntry {
            at: r.get("first_seen")?,
            kind: "alert",
            actor: r.get("rule_id")?,
            what: r.get("title")?,
            data: json!({"alert": alert, "count": count, "severity": severity.as_str()}),
        });
    }
    for r in
        db.rows("SELECT at, actor, action, data FROM incident_log WHERE incident_id = $1 ORDER BY id", &[Val::Int(id)])?
    {
        out.push(TimelineEntry {
            at: r.get("at")?,
            kind: "action",
            actor: r.get("actor")?,
            what: r.get("action")?,
            data: r.get::<Json<serde_json::Value>>("data")?.0,
        });
    }
    for r in db.rows("SELECT at, author, body FROM notes WHERE incident_id = $1 ORDER BY id", &[Val::Int(id)])? {
        out.push(TimelineEntry {
            at: r.get("at")?,
            kind: "note",
            actor: r.get("author")?,
            what: "note".into(),
            data: serde_json::Value::String(r.get("body")?),
        });
    }
    // Stable: entries at one instant keep alert, action, note order.
    out.sort_by_key(|e| e.at);
    Ok(out)
}
