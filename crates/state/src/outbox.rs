//! The notification outbox: notices made from what happened to incidents,
//! and their deliveries to channels, kept before anything is sent.
//!
//! Notices come from the incident log, read from a cursor in one
//! transaction with the notices they make ([`State::make_notices`]), so
//! each happening makes its notice exactly once, whichever code path
//! logged it: a new incident, a higher severity (one notice per incident
//! and severity: a storm of alerts on one incident is one notice), an
//! SLA near-breach or breach, a hand-off to the CSIRT. Other notices (a
//! silent source) are added directly ([`State::add_notice`]). A notice's
//! key is unique: adding it again changes nothing.
//!
//! Deliveries are a notice for one channel. The delivery worker claims
//! due ones with a lease (a worker that dies mid-send leaves them to be
//! claimed again when the lease ends: delivery is at least once, with the
//! notice's key as the receiver's idempotency key), then records each as
//! sent, failed with a time to retry, or dead. Sent and dead deliveries
//! are on the incident's timeline.
//!
//! Pages are deliveries to one person of an on-call rota's escalation
//! chain, each due when its step comes. They stop when the notice is
//! acknowledged (its signed link, see `pages.rs`) or when somebody moves
//! the incident's status after the notice was made.

use jiff::{SignedDuration, Timestamp};
use model::Level;
use notify::{Notice, Rota, Route, Trigger};
use serde_json::json;
use soc::sla::CalendarSpec;

use super::db::{Db, Val};
use super::row::Row;
use super::triage::log;
use super::{Result, State, StateError, level_val, micros};

/// The cursor over the incident log.
const CURSOR: &str = "notify.log";

/// Log entries one sweep reads at most.
const SWEEP: usize = 2000;

/// One delivery as the worker sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    /// Tries so far, this one included.
    pub attempts: i64,
    pub notice: Notice,
    pub key: String,
    /// Set when this is a page to one person of a rota.
    pub page: Option<Page>,
}

/// Whom a page is for, and the link that acknowledges it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rota: String,
    pub person: String,
    pub address: String,
    /// 1 for the person on call.
    pub step: i64,
    pub steps: i64,
    /// How long until the next step is paged, if there is one.
    pub next_after: Option<SignedDuration>,
    /// The acknowledge link's token, and until when it is good.
    pub token: String,
    pub until: Timestamp,
}

/// One delivery as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub channel: String,
    pub status: String,
    pub attempts: i64,
    pub due: Timestamp,
    pub sent: Option<Timestamp>,
    pub last_error: Option<String>,
    pub notice: Notice,
}

/// Adds a notice; `since_log` is the incident log's position it was made
/// at: a status change past it stops its pages.
pub(crate) fn add(db: &mut dyn Db, n: &Notice, now: Timestamp, since_log: Option<i64>) -> Result<bool> {
    let text = serde_json::to_string(n).map_err(|e| StateError::Internal(format!("a notice as JSON: {e}")))?;
    let added = db.exec(
        "INSERT INTO notices (tenant, key, notice, created, routed, since_log) VALUES ($1, $2, $3, $4, 0, $5) \
         ON CONFLICT (key) DO NOTHING",
        &[n.tenant.as_str().into(), n.key().into(), Val::Text(text), micros(now), since_log.into()],
    )?;
    Ok(added > 0)
}

/// When a notice that waits for business hours may go: the next opening
/// of the tenant's SLA calendar for its severity; at once without one.
fn quiet_until(db: &mut dyn Db, n: &Notice, now: Timestamp) -> Result<Timestamp> {
    let rows = db.rows(
        "SELECT calendar FROM sla_policies WHERE tenant = $1 AND severity = $2",
        &[n.tenant.as_str().into(), level_val(n.severity)],
    )?;
    let Some(r) = rows.first() else { return Ok(now) };
    let spec: CalendarSpec = r.get::<super::row::Json<CalendarSpec>>("calendar")?.0;
    Ok(spec.calendar().map_or(now, |c| c.next_open(now)))
}

/// The ids of up to `limit` due rows of `table` (`deliveries` or
/// `pages`), claimed until `until`; each claim counts as a try.
fn claim_ids(db: &mut dyn Db, table: &str, now: Timestamp, until: Timestamp, limit: usize) -> Result<Vec<i64>> {
    // One statement: a concurrent claimer waits on each row and then
    // finds it no longer due.
    let claimed = db.rows(
        &format!(
            "UPDATE {table} SET due = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM {table} WHERE status = 'pending' AND due <= $2 ORDER BY due, id LIMIT {limit}) \
             AND status = 'pending' AND due <= $2 RETURNING id"
        ),
        &[micros(until), micros(now)],
    )?;
    let mut ids = claimed.iter().map(|r| r.get("id")).collect::<Result<Vec<i64>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// The table a delivery is kept in.
fn table(d: &Delivery) -> &'static str {
    if d.page.is_some() { "pages" } else { "deliveries" }
}

fn notice_of(r: &Row) -> Result<Notice> {
    let text: String = r.get("notice")?;
    serde_json::from_str(&text).map_err(|e| super::row::corrupt("notices", e))
}

/// What an incident's notice says beside its title.
fn incident_facts(db: &mut dyn Db, id: i64) -> Result<Vec<(String, String)>> {
    let rows = db.rows(
        "SELECT kind, value FROM incident_entities WHERE incident_id = $1 ORDER BY first_seen, kind, value LIMIT 8",
        &[Val::Int(id)],
    )?;
    let mut facts = Vec::new();
    for r in rows {
        facts.push((r.get::<String>("kind")?, r.get::<String>("value")?));
    }
    Ok(facts)
}

impl State {
    /// Adds a notice made elsewhere (a silent source); `false` if its key
    /// was there already.
    pub fn add_notice(&self, n: &Notice, now: Timestamp) -> Result<bool> {
        self.tx(|db| add(db, n, now, None))
    }

    /// Adds a notice for one channel only, whatever the routes say (a
    /// playbook's notify step); `false` if its key was there already.
    pub fn add_notice_for(&self, n: &Notice, channel: &str, now: Timestamp) -> Result<bool> {
        self.tx(|db| {
            if !add(db, n, now, None)? {
                return Ok(false);
            }
            db.exec("UPDATE notices SET routed = 1 WHERE key = $1", &[n.key().into()])?;
            db.exec(
                "INSERT INTO deliveries (notice_id, tenant, channel, status, attempts, due) \
                 SELECT id, tenant, $2, 'pending', 0, $3 FROM notices WHERE key = $1",
                &[n.key().into(), channel.into(), micros(now)],
            )?;
            Ok(true)
        })
    }

    /// The notification routes tenants set themselves: `(id, route)`,
    /// each route's `tenants` its own tenant; one tenant's or all.
    pub fn tenant_routes(&self, tenant: Option<&str>) -> Result<Vec<(i64, Route)>> {
        let rows = self.reader()?.rows(
            "SELECT id, tenant, route FROM tenant_routes WHERE ($1 = '' OR tenant = $1) ORDER BY id",
            &[tenant.unwrap_or("").into()],
        )?;
        rows.iter()
            .map(|r| {
                let mut route: Route = r.get::<super::row::Json<Route>>("route")?.0;
                route.tenants = vec![r.get("tenant")?];
                Ok((r.get("id")?, route))
            })
            .collect()
    }

    /// Adds a route for `by.tenant` (its `tenants` are ignored); audited.
    pub fn add_tenant_route(&self, by: &super::By<'_>, route: &Route) -> Result<i64> {
        if route.channels.is_empty() {
            return Err(StateError::Invalid("a route needs at least one channel".into()));
        }
        let mut route = route.clone();
        route.tenants = Vec::new();
        let text = serde_json::to_string(&route).map_err(|e| StateError::Internal(e.to_string()))?;
        self.tx(|db| {
            let rows = db.rows(
                "INSERT INTO tenant_routes (tenant, route, created, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
                &[by.tenant.into(), text.as_str().into(), micros(by.now), by.actor.into()],
            )?;
            let id: i64 = rows.first().map_or(Ok(0), |r| r.get("id"))?;
            super::audit::append(
                db,
                by,
                "notify.route_add",
                &format!("route:{id}"),
                &serde_json::to_value(&route).unwrap_or_default(),
            )?;
            Ok(id)
        })
    }

    /// Removes one of `by.tenant`'s routes; audited.
    pub fn remove_tenant_route(&self, by: &super::By<'_>, id: i64) -> Result<()> {
        self.tx(|db| {
            let n =
                db.exec("DELETE FROM tenant_routes WHERE id = $1 AND tenant = $2", &[Val::Int(id), by.tenant.into()])?;
            if n == 0 {
                return Err(StateError::NotFound(format!("route {id}")));
            }
            super::audit::append(db, by, "notify.route_remove", &format!("route:{id}"), &json!({}))
        })
    }

    /// Reads the incident log past the cursor and makes the notices it
    /// calls for, moving the cursor in the same transaction. Returns how
    /// many notices were made.
    pub fn make_notices(&self, now: Timestamp) -> Result<usize> {
        self.tx(|db| {
            let cursor: i64 = db
                .rows("SELECT position FROM positions WHERE name = $1", &[CURSOR.into()])?
                .first()
                .map_or(Ok(0), |r| r.get("position"))?;
            let entries = db.rows(
                &format!(
                    "SELECT id, incident_id, action, data FROM incident_log WHERE id > $1 ORDER BY id LIMIT {SWEEP}"
                ),
                &[Val::Int(cursor)],
            )?;
            let Some(last) = entries.last() else { return Ok(0) };
            let last: i64 = last.get("id")?;
            // Per incident, in log order: whether it was escalated and
            // which SLA notes it got.
            let mut touched: Vec<(i64, bool, Vec<String>)> = Vec::new();
            for e in &entries {
                let (incident, action): (i64, String) = (e.get("incident_id")?, e.get("action")?);
                let at = match touched.iter().position(|(i, ..)| *i == incident) {
                    Some(at) => at,
                    None => {
                        touched.push((incident, false, Vec::new()));
                        touched.len() - 1
                    }
                };
                match action.as_str() {
                    "escalate" => touched[at].1 = true,
                    "sla" => {
                        let data: serde_json::Value =
                            serde_json::from_str(&e.get::<String>("data")?).unwrap_or_default();
                        if let Some(kind) = data["kind"].as_str() {
                            touched[at].2.push(kind.to_string());
                        }
                    }
                    _ => {}
                }
            }
            let mut made = 0;
            for (id, escalated, sla) in touched {
                let rows = db.rows(
                    "SELECT tenant, title, severity, status, notified_severity, escalated_to FROM incidents WHERE id = $1",
                    &[Val::Int(id)],
                )?;
                let Some(r) = rows.first() else { continue };
                let severity: Level = r.get("severity")?;
                let notified: Option<Level> = r.get("notified_severity")?;
                let status: String = r.get("status")?;
                let closed = status == "resolved" || status == "closed";
                let base = Notice {
                    tenant: r.get("tenant")?,
                    trigger: Trigger::IncidentOpened,
                    incident: Some(id),
                    severity,
                    title: r.get("title")?,
                    at: now,
                    facts: incident_facts(db, id)?,
                    subject: None,
                };
                let mut notices = Vec::new();
                let trigger = match notified {
                    _ if closed => None,
                    None => Some(Trigger::IncidentOpened),
                    Some(n) if severity > n => Some(Trigger::IncidentRaised),
                    Some(_) => None,
                };
                if let Some(trigger) = trigger {
                    notices.push(Notice { trigger, ..base.clone() });
                    db.exec(
                        "UPDATE incidents SET notified_severity = $2 WHERE id = $1",
                        &[Val::Int(id), super::level_val(severity)],
                    )?;
                }
                if escalated {
                    let to: Option<String> = r.get("escalated_to")?;
                    let mut n = Notice { trigger: Trigger::IncidentEscalated, ..base.clone() };
                    n.facts.insert(0, ("escalated to".into(), to.unwrap_or_default()));
                    notices.push(n);
                }
                for kind in sla {
                    let trigger = if kind.ends_with("near_breach") { Trigger::SlaNearBreach } else { Trigger::SlaBreached };
                    let mut n = Notice { trigger, ..base.clone() };
                    n.facts.insert(0, ("SLA".into(), kind.replace('_', " ")));
                    notices.push(n);
                }
                for n in &notices {
                    if add(db, n, now, Some(cursor))? {
                        made += 1;
                    }
                }
            }
            db.exec(
                "INSERT INTO positions (name, position) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET position = $2",
                &[CURSOR.into(), Val::Int(last)],
            )?;
            Ok(made)
        })
    }

    /// Makes each unrouted notice's deliveries (one per channel its routes
    /// name) and pages (one per person of each rota's chain it applies
    /// to, each due at its step). Returns how many were made.
    pub fn route_notices(&self, now: Timestamp, routes: &[Route], rotas: &[Rota]) -> Result<usize> {
        self.tx(|db| {
            let rows = db.rows("SELECT id, notice FROM notices WHERE routed = 0 ORDER BY id LIMIT 1000", &[])?;
            let mut made = 0;
            for r in &rows {
                let id: i64 = r.get("id")?;
                let notice = notice_of(r)?;
                let tenant: Val = notice.tenant.as_str().into();
                for (channel, quiet) in notify::channels_for(routes, &notice) {
                    let due = if quiet { quiet_until(db, &notice, now)? } else { now };
                    made += db.exec(
                        "INSERT INTO deliveries (notice_id, tenant, channel, status, attempts, due) \
                         VALUES ($1, $2, $3, 'pending', 0, $4) ON CONFLICT (notice_id, channel) DO NOTHING",
                        &[Val::Int(id), tenant.clone(), channel.into(), micros(due)],
                    )?;
                }
                for rota in rotas.iter().filter(|r| r.applies(&notice)) {
                    let start = if rota.quiet(&notice) { quiet_until(db, &notice, now)? } else { now };
                    // Who is on call when paging starts.
                    let chain = rota.chain(start);
                    for (k, step) in chain.iter().enumerate() {
                        let due = start.checked_add(step.after).unwrap_or(start);
                        let next = chain.get(k + 1).map(|n| (n.after - step.after).as_secs());
                        made += db.exec(
                            "INSERT INTO pages (notice_id, tenant, incident, rota, step, steps, person, address, channel, \
                             next_after, status, attempts, due) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11) \
                             ON CONFLICT (notice_id, rota, step) DO NOTHING",
                            &[
                                Val::Int(id),
                                tenant.clone(),
                                notice.incident.into(),
                                rota.name.as_str().into(),
                                Val::Int(k as i64 + 1),
                                Val::Int(chain.len() as i64),
                                step.person.name.as_str().into(),
                                step.person.email.as_str().into(),
                                rota.channel.as_str().into(),
                                next.into(),
                                micros(due),
                            ],
                        )?;
                    }
                }
                db.exec("UPDATE notices SET routed = 1 WHERE id = $1", &[Val::Int(id)])?;
            }
            Ok(made as usize)
        })
    }

    /// Claims up to `limit` due deliveries and pages for `lease`: nobody
    /// else claims them until it ends; each claim counts as a try. Pages
    /// whose incident somebody moved since their notice stop first; a
    /// claimed page's acknowledge link is good for `ack_valid`.
    pub fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
        ack_valid: SignedDuration,
    ) -> Result<Vec<Delivery>> {
        let until = now.checked_add(lease).unwrap_or(now);
        self.tx(|db| {
            db.exec(
                "UPDATE pages SET status = 'stopped', last_error = 'the incident was taken up' \
                 WHERE status = 'pending' AND due <= $1 AND incident IS NOT NULL AND EXISTS ( \
                 SELECT 1 FROM incident_log l JOIN notices n ON n.id = pages.notice_id \
                 WHERE l.incident_id = pages.incident AND l.id > n.since_log AND l.action = 'status')",
                &[micros(now)],
            )?;
            let mut out = Vec::new();
            for id in claim_ids(db, "deliveries", now, until, limit)? {
                let rows = db.rows(
                    "SELECT d.channel AS channel, d.attempts AS attempts, n.notice AS notice, n.key AS key \
                     FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE d.id = $1",
                    &[Val::Int(id)],
                )?;
                if let Some(r) = rows.first() {
                    out.push(Delivery {
                        id,
                        channel: r.get("channel")?,
                        attempts: r.get("attempts")?,
                        notice: notice_of(r)?,
                        key: r.get("key")?,
                        page: None,
                    });
                }
            }
            let left = limit.saturating_sub(out.len());
            if left == 0 {
                return Ok(out);
            }
            let ids = claim_ids(db, "pages", now, until, left)?;
            if ids.is_empty() {
                return Ok(out);
            }
            let key = super::pages::ack_key(db)?;
            let token_until = now.checked_add(ack_valid).unwrap_or(now);
            for id in ids {
                let rows = db.rows(
                    "SELECT p.channel AS channel, p.attempts AS attempts, p.rota AS rota, p.person AS person, \
                     p.address AS address, p.step AS step, p.steps AS steps, p.next_after AS next_after, \
                     n.notice AS notice, n.key AS key FROM pages p JOIN notices n ON n.id = p.notice_id WHERE p.id = $1",
                    &[Val::Int(id)],
                )?;
                let Some(r) = rows.first() else { continue };
                let (rota, step): (String, i64) = (r.get("rota")?, r.get("step")?);
                let notice_key: String = r.get("key")?;
                out.push(Delivery {
                    id,
                    channel: r.get("channel")?,
                    attempts: r.get("attempts")?,
                    notice: notice_of(r)?,
                    key: format!("{notice_key}:page:{rota}:{step}"),
                    page: Some(Page {
                        person: r.get("person")?,
                        address: r.get("address")?,
                        step,
                        steps: r.get("steps")?,
                        next_after: r.get::<Option<i64>>("next_after")?.map(SignedDuration::from_secs),
                        token: super::pages::sign(&key, id, token_until),
                        until: token_until,
                        rota,
                    }),
                });
            }
            Ok(out)
        })
    }

    /// Records a delivery or page as sent; an incident's timeline says so.
    pub fn delivered(&self, d: &Delivery, now: Timestamp) -> Result<()> {
        self.tx(|db| {
            db.exec(
                &format!("UPDATE {} SET status = 'sent', sent = $2, last_error = NULL WHERE id = $1", table(d)),
                &[Val::Int(d.id), micros(now)],
            )?;
            if let Some(i) = d.notice.incident {
                let (action, data) = match &d.page {
                    Some(p) => ("paged", json!({"person": p.person, "rota": p.rota, "step": p.step, "steps": p.steps})),
                    None => ("notified", json!({"channel": d.channel, "trigger": d.notice.trigger.as_str()})),
                };
                log(db, i, now, "hinomi", action, &data)?;
            }
            Ok(())
        })
    }

    /// Records a failed try: tried again after `retry`, or dead (`None`),
    /// which the incident's timeline says.
    pub fn delivery_failed(
        &self,
        d: &Delivery,
        now: Timestamp,
        error: &str,
        retry: Option<SignedDuration>,
    ) -> Result<()> {
        let error: String = error.chars().take(1000).collect();
        let table = table(d);
        self.tx(|db| {
            match retry {
                Some(wait) => db.exec(
                    &format!("UPDATE {table} SET due = $2, last_error = $3 WHERE id = $1"),
                    &[Val::Int(d.id), micros(now.checked_add(wait).unwrap_or(now)), error.as_str().into()],
                )?,
                None => db.exec(
                    &format!("UPDATE {table} SET status = 'dead', last_error = $2 WHERE id = $1"),
                    &[Val::Int(d.id), error.as_str().into()],
                )?,
            };
            if retry.is_none()
                && let Some(i) = d.notice.incident
            {
                let data = match &d.page {
                    Some(p) => json!({"person": p.person, "rota": p.rota, "error": error}),
                    None => json!({"channel": d.channel, "trigger": d.notice.trigger.as_str(), "error": error}),
                };
                log(db, i, now, "hinomi", if d.page.is_some() { "page_failed" } else { "notify_failed" }, &data)?;
            }
            Ok(())
        })
    }

    /// Gives a claimed delivery back untried: it goes at `until` (its
    /// channel had no room), and the claim does not count as a try.
    pub fn delivery_deferred(&self, d: &Delivery, until: Timestamp) -> Result<()> {
        self.tx(|db| {
            db.exec(
                &format!("UPDATE {} SET due = $2, attempts = attempts - 1 WHERE id = $1 AND attempts > 0", table(d)),
                &[Val::Int(d.id), micros(until)],
            )?;
            Ok(())
        })
    }

    /// A tenant's deliveries, newest first; `status` narrows (`pending`,
    /// `sent`, `dead`).
    pub fn deliveries(&self, tenant: &str, status: Option<&str>, limit: usize) -> Result<Vec<DeliveryRow>> {
        let limit = limit.min(1000);
        let sql = format!(
            "SELECT d.id AS id, d.channel AS channel, d.status AS status, d.attempts AS attempts, d.due AS due, \
             d.sent AS sent, d.last_error AS last_error, n.notice AS notice \
             FROM deliveries d JOIN notices n ON n.id = d.notice_id \
             WHERE d.tenant = $1 AND ($2 = '' OR d.status = $2) ORDER BY d.id DESC LIMIT {limit}"
        );
        let rows = self.reader()?.rows(&sql, &[tenant.into(), status.unwrap_or("").into()])?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    id: r.get("id")?,
                    channel: r.get("channel")?,
                    status: r.get("status")?,
                    attempts: r.get("attempts")?,
                    due: r.get("due")?,
                    sent: r.get("sent")?,
                    last_error: r.get("last_error")?,
                    notice: notice_of(r)?,
                })
            })
            .collect()
    }
}
