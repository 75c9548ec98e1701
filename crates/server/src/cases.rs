//! The triage API: the alert and incident queues, the analyst's actions on
//! an incident, suppressions, the asset inventory, SLA policies and rule
//! statistics, all within the token's tenant.
//!
//! What each token scope may do is `access::Scope::allows`: viewers
//! read, analysts work incidents, responders also escalate, leads also
//! suppress and configure. Every change names the token as its actor and
//! lands in the incident's log. Changes to an incident carry the
//! `version` the analyst saw: a stale one gets 409 with the current one.

use std::sync::Arc;

use access::Action;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use model::Level;
use serde::Deserialize;
use serde_json::json;
use state::tokens::TokenRecord;
use state::{AlertQuery, By, IncidentQuery, State as SocState, StateError};

use super::http::{AppState, plain_denied};

type AppRef = State<Arc<AppState>>;

/// Who calls, with the state store: what every handler works with.
struct Caller {
    token: TokenRecord,
    soc: Arc<SocState>,
}

impl Caller {
    fn tenant(&self) -> &str {
        &self.token.tenant
    }

    /// The token acting now: the actor every change records.
    fn by(&self) -> By<'_> {
        By { tenant: &self.token.tenant, actor: &self.token.id, now: Timestamp::now() }
    }
}

/// Checks the token for `need`, then runs `f` off the async threads.
/// Errors are the answers: 401/403 for the token, then `failed`.
async fn call<T: Send + 'static>(
    app: &AppState,
    headers: &HeaderMap,
    need: Action,
    f: impl FnOnce(Caller) -> Result<T, StateError> + Send + 'static,
) -> Result<T, Box<Response>> {
    let token = app.tokens.check(headers, need).map_err(|d| Box::new(plain_denied(d)))?;
    let soc = app.soc.clone().ok_or_else(|| {
        Box::new((StatusCode::SERVICE_UNAVAILABLE, "triage is off ([triage] enabled = false)\n").into_response())
    })?;
    match tokio::task::spawn_blocking(move || f(Caller { token, soc })).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Box::new(failed(e))),
        Err(e) => {
            Err(Box::new((StatusCode::INTERNAL_SERVER_ERROR, format!("triage task failed: {e}\n")).into_response()))
        }
    }
}

/// [`call`], answered as JSON.
async fn answer<T: serde::Serialize + Send + 'static>(
    app: &AppState,
    headers: &HeaderMap,
    need: Action,
    f: impl FnOnce(Caller) -> Result<T, StateError> + Send + 'static,
) -> Response {
    match call(app, headers, need, f).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

fn failed(e: StateError) -> Response {
    let (code, body) = match &e {
        StateError::NotFound(_) => (StatusCode::NOT_FOUND, json!({"error": e.to_string()})),
        StateError::Conflict { current } => (StatusCode::CONFLICT, json!({"error": e.to_string(), "version": current})),
        StateError::Invalid(_) => (StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
        StateError::Db(_) => (StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e.to_string()})),
    };
    (code, Json(body)).into_response()
}

fn invalid(message: impl Into<String>) -> StateError {
    StateError::Invalid(message.into())
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|e| invalid(format!("the request body is not valid here: {e}")))
}

/// `TIME,ID` of the last row of a page.
fn cursor(text: Option<&str>) -> Result<Option<(Timestamp, i64)>, StateError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else { return Ok(None) };
    let parsed = text.split_once(',').and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)));
    parsed.map(Some).ok_or_else(|| invalid(format!("before={text:?}: expected TIME,ID as given in `next`")))
}

/// The `next` of a full page: where the following page starts.
fn next(len: usize, limit: usize, last: Option<(Timestamp, i64)>) -> Option<String> {
    (len == limit.clamp(1, 1000)).then(|| last.map(|(t, id)| format!("{t},{id}"))).flatten()
}

fn level(text: Option<&str>) -> Result<Option<Level>, StateError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Level::parse(t).map(Some).ok_or_else(|| invalid(format!("unknown severity {t:?}"))),
    }
}

#[derive(Deserialize)]
pub(crate) struct AlertParams {
    status: Option<String>,
    min_severity: Option<String>,
    rule: Option<String>,
    incident: Option<i64>,
    before: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn alerts(State(app): AppRef, headers: HeaderMap, Query(p): Query<AlertParams>) -> Response {
    answer(&app, &headers, Action::Read, move |c| {
        let q = AlertQuery {
            status: p.status.filter(|s| !s.is_empty()).or(Some("open".into())).filter(|s| s != "all"),
            min_severity: level(p.min_severity.as_deref())?,
            rule_id: p.rule,
            incident_id: p.incident,
            before: cursor(p.before.as_deref())?,
            limit: p.limit.unwrap_or(50),
        };
        let alerts = c.soc.alerts(c.tenant(), &q)?;
        let next = next(alerts.len(), q.limit, alerts.last().map(|a| (a.last_seen, a.id)));
        Ok(json!({"tenant": c.tenant(), "alerts": alerts, "next": next}))
    })
    .await
}

pub(crate) async fn alert(State(app): AppRef, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    answer(&app, &headers, Action::Read, move |c| c.soc.alert(c.tenant(), id)).await
}

#[derive(Deserialize)]
pub(crate) struct IncidentParams {
    /// Comma-separated statuses, or `open` (everything not resolved or closed).
    status: Option<String>,
    assignee: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn incidents(State(app): AppRef, headers: HeaderMap, Query(p): Query<IncidentParams>) -> Response {
    answer(&app, &headers, Action::Read, move |c| {
        let statuses = soc::Status::filter(p.status.as_deref().unwrap_or("open")).map_err(invalid)?;
        let q = IncidentQuery {
            statuses,
            assignee: p.assignee,
            before: cursor(p.before.as_deref())?,
            limit: p.limit.unwrap_or(50),
        };
        let list = c.soc.incidents(c.tenant(), &q)?;
        let next = next(list.len(), q.limit, list.last().map(|i| (i.last_activity, i.id)));
        Ok(json!({"tenant": c.tenant(), "incidents": list, "next": next}))
    })
    .await
}

/// An incident's alerts (the first thousand).
fn incident_alerts(c: &Caller, id: i64) -> Result<Vec<state::Alert>, StateError> {
    c.soc.alerts(c.tenant(), &AlertQuery { incident_id: Some(id), limit: 1000, ..Default::default() })
}

pub(crate) async fn incident(State(app): AppRef, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    answer(&app, &headers, Action::Read, move |c| {
        let incident = c.soc.incident(c.tenant(), id)?;
        let sla = c.soc.sla(c.tenant(), id, Timestamp::now())?;
        Ok(json!({"incident": incident, "sla": sla, "alerts": incident_alerts(&c, id)?}))
    })
    .await
}

/// The incident's timeline: its alerts, actions and notes, and the
/// evidence events of its alerts read back from the event store.
pub(crate) async fn timeline(State(app): AppRef, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let (store, timeout) = (app.store.clone(), app.search_timeout);
    answer(&app, &headers, Action::Read, move |c| {
        let mut entries = c.soc.timeline(c.tenant(), id)?;
        if let Some(store) = store {
            let alerts = incident_alerts(&c, id)?;
            let ids: Vec<&str> =
                alerts.iter().flat_map(|a| a.evidence.iter().map(String::as_str)).take(MAX_TIMELINE_EVENTS).collect();
            entries.extend(evidence_events(&store, c.tenant(), &ids, timeout));
            entries.sort_by_key(|e| e.at);
        }
        Ok(entries)
    })
    .await
}

/// Evidence events a timeline shows at most.
const MAX_TIMELINE_EVENTS: usize = 200;

/// The stored events with these ids, as timeline entries. The store may
/// not hold them (retention, or indexing behind): those are left out.
fn evidence_events(
    store: &eventstore::EventStore,
    tenant: &str,
    ids: &[&str],
    timeout: std::time::Duration,
) -> Vec<state::TimelineEntry> {
    let valid: Vec<&str> = ids.iter().copied().filter(|i| i.bytes().all(|b| b.is_ascii_digit() || b == b'.')).collect();
    if valid.is_empty() {
        return Vec::new();
    }
    let Ok(query) = query::parse(&format!("_id:({})", valid.join(" OR "))) else { return Vec::new() };
    let tenants = vec![tenant.to_string()];
    let request = eventstore::SearchRequest {
        tenants: &tenants,
        query: &query,
        from: None,
        to: None,
        now: Timestamp::now(),
        limit: valid.len(),
        limits: query::Limits::default(),
        timeout,
    };
    let mut out = Vec::new();
    let _ = store.search_each(&request, &engine::Renormalize, &mut |row| {
        let at = row
            .get("@timestamp")
            .and_then(|v| v.as_str())
            .and_then(|t| t.parse().ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let source = row.get("_source").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let what = ["event.action", "event.code", "EventID", "message"]
            .iter()
            .find_map(|f| {
                row.get(*f).filter(|v| !v.is_null()).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            })
            .unwrap_or_else(|| "event".into());
        out.push(state::TimelineEntry { at, kind: "event", actor: source, what, data: serde_json::Value::Object(row) });
        true
    });
    out
}

#[derive(Deserialize)]
pub(crate) struct FormatParam {
    format: Option<String>,
}

/// The CSIRT hand-off package: JSON, or a readable page with `?format=html`.
pub(crate) async fn escalation(
    State(app): AppRef,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(f): Query<FormatParam>,
) -> Response {
    let package = match call(&app, &headers, Action::Read, move |c| c.soc.escalation(c.tenant(), id)).await {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if f.format.as_deref() == Some("html") {
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], crate::handoff::html(&package)).into_response();
    }
    Json(package).into_response()
}

/// One change an analyst makes to an incident.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Change {
    version: Option<i64>,
    status: Option<String>,
    disposition: Option<String>,
    assignee: Option<String>,
    title: Option<String>,
    severity: Option<String>,
    waiting: Option<bool>,
    to: Option<String>,
    body: Option<String>,
    owner: Option<String>,
    kind: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    note: Option<String>,
    from: Option<i64>,
    alerts: Option<Vec<i64>>,
}

/// `POST /api/v1/incidents/{id}/{action}`: status, assign, edit, waiting,
/// notes, tasks, evidence, merge, split, escalate.
pub(crate) async fn act(
    State(app): AppRef,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    bytes: Bytes,
) -> Response {
    let need = if action == "escalate" { Action::Escalate } else { Action::Triage };
    answer(&app, &headers, need, move |c| {
        let ch: Change = body(&bytes)?;
        let versioned = matches!(action.as_str(), "status" | "assign" | "edit" | "waiting" | "escalate");
        let version = match (versioned, ch.version) {
            (true, None) => {
                return Err(invalid(format!("{action} needs the incident's `version` as you last read it")));
            }
            (_, v) => v.unwrap_or(0),
        };
        let disposition = ch.disposition.as_deref().map(str::parse::<soc::Disposition>).transpose().map_err(invalid)?;
        let severity = level(ch.severity.as_deref())?;
        let (by, soc) = (c.by(), &c.soc);
        let need = |v: Option<String>, what: &str| v.ok_or_else(|| invalid(format!("{action} needs `{what}`")));
        Ok(match action.as_str() {
            "status" => {
                let to = need(ch.status, "status")?.parse::<soc::Status>().map_err(invalid)?;
                json!(soc.transition(&by, id, version, to, disposition)?)
            }
            "assign" => json!(soc.assign(&by, id, version, ch.assignee.as_deref().filter(|a| !a.is_empty()))?),
            "edit" => json!(soc.edit(&by, id, version, ch.title.as_deref(), severity)?),
            "waiting" => json!(soc.wait_on_customer(&by, id, version, ch.waiting.unwrap_or(true))?),
            "escalate" => json!(soc.escalate(&by, id, version, &need(ch.to, "to")?)?),
            "notes" => json!({"note": soc.add_note(&by, id, &need(ch.body, "body")?)?}),
            "tasks" => json!({"task": soc.add_task(&by, id, &need(ch.title, "title")?, ch.owner.as_deref())?}),
            "evidence" => {
                let kind = ch.kind.unwrap_or_else(|| "event".into());
                json!({"evidence": soc.add_evidence(&by, id, &kind, &need(ch.reference, "ref")?, ch.note.as_deref())?})
            }
            "merge" => json!(soc.merge(&by, id, ch.from.ok_or_else(|| invalid("merge needs `from`"))?)?),
            "split" => json!(soc.split(&by, id, &ch.alerts.unwrap_or_default())?),
            other => return Err(StateError::NotFound(format!("incident action {other:?}"))),
        })
    })
    .await
}

pub(crate) async fn task_done(State(app): AppRef, headers: HeaderMap, Path((id, task)): Path<(i64, i64)>) -> Response {
    answer(&app, &headers, Action::Triage, move |c| {
        c.soc.complete_task(&c.by(), id, task)?;
        Ok(json!({"task": task, "done": true}))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSuppression {
    /// A rule id, or `*` with conditions.
    rule: String,
    #[serde(default)]
    conditions: std::collections::BTreeMap<String, String>,
    reason: String,
    /// RFC 3339, or an offset from now such as `+7d`.
    expires: String,
    /// Defaults to the token's name.
    owner: Option<String>,
}

pub(crate) async fn suppressions(State(app): AppRef, headers: HeaderMap) -> Response {
    answer(&app, &headers, Action::Read, move |c| {
        let list: Vec<serde_json::Value> = c
            .soc
            .suppressions(c.tenant())?
            .into_iter()
            .map(|(s, hits)| json!({"suppression": s, "hits": hits}))
            .collect();
        Ok(json!({"tenant": c.tenant(), "suppressions": list}))
    })
    .await
}

pub(crate) async fn add_suppression(State(app): AppRef, headers: HeaderMap, bytes: Bytes) -> Response {
    answer(&app, &headers, Action::Suppress, move |c| {
        let req: NewSuppression = body(&bytes)?;
        let by = c.by();
        // An offset (`+7d`) from now, or a time.
        let expires = match req.expires.strip_prefix('+') {
            Some(offset) => query::time_arg(&format!("-{offset}"), by.now)
                .and_then(|past| by.now.checked_add(by.now.duration_since(past)).ok()),
            None => query::time_arg(&req.expires, by.now),
        };
        let expires = expires.ok_or_else(|| {
            invalid(format!("expires={:?}: expected a time (RFC 3339) or an offset such as +7d", req.expires))
        })?;
        let s = soc::suppress::Suppression {
            id: 0,
            tenant: c.tenant().to_string(),
            rule: req.rule,
            conditions: req.conditions.into_iter().collect(),
            owner: req.owner.unwrap_or_else(|| c.token.id.clone()),
            reason: req.reason,
            expires,
            created: by.now,
        };
        Ok(json!({"suppression": c.soc.add_suppression(&by, &s)?}))
    })
    .await
}

/// Replaces the tenant's inventory: CSV (`text/csv`) or a JSON array.
pub(crate) async fn put_assets(State(app): AppRef, headers: HeaderMap, bytes: Bytes) -> Response {
    let csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/csv"));
    answer(&app, &headers, Action::Configure, move |c| {
        let text = String::from_utf8_lossy(&bytes);
        let inventory =
            if csv { soc::assets::Inventory::from_csv(&text) } else { soc::assets::Inventory::from_json(&text) }
                .map_err(|e| invalid(format!("asset inventory: {e}")))?;
        Ok(json!({"assets": c.soc.replace_assets(&c.by(), &inventory)?}))
    })
    .await
}

pub(crate) async fn assets(State(app): AppRef, headers: HeaderMap) -> Response {
    answer(&app, &headers, Action::Read, move |c| c.soc.assets(c.tenant())).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlaPolicy {
    severity: String,
    acknowledge_minutes: i64,
    resolve_minutes: i64,
    #[serde(default)]
    calendar: soc::sla::CalendarSpec,
}

pub(crate) async fn put_sla(State(app): AppRef, headers: HeaderMap, bytes: Bytes) -> Response {
    answer(&app, &headers, Action::Configure, move |c| {
        let p: SlaPolicy = body(&bytes)?;
        let severity = level(Some(&p.severity))?.ok_or_else(|| invalid("severity is required"))?;
        let minutes = jiff::SignedDuration::from_mins;
        c.soc.set_sla_policy(
            &c.by(),
            severity,
            minutes(p.acknowledge_minutes),
            minutes(p.resolve_minutes),
            &p.calendar,
        )?;
        Ok(json!({"severity": severity, "saved": true}))
    })
    .await
}

pub(crate) async fn notifications(State(app): AppRef, headers: HeaderMap) -> Response {
    answer(&app, &headers, Action::Read, move |c| {
        Ok(json!({"tenant": c.tenant(), "notifications": c.soc.notifications(c.tenant(), 200)?}))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct AuditParams {
    after: Option<i64>,
    limit: Option<usize>,
}

/// The tenant's audit trail, oldest first from `after` (lead or admin).
pub(crate) async fn audit(State(app): AppRef, headers: HeaderMap, Query(p): Query<AuditParams>) -> Response {
    answer(&app, &headers, Action::Audit, move |c| {
        let entries = c.soc.audit_entries(Some(c.tenant()), p.after.unwrap_or(0), p.limit.unwrap_or(1000))?;
        Ok(json!({"tenant": c.tenant(), "entries": entries}))
    })
    .await
}

pub(crate) async fn rule_stats(State(app): AppRef, headers: HeaderMap) -> Response {
    answer(&app, &headers, Action::Read, move |c| {
        Ok(json!({"tenant": c.tenant(), "rules": c.soc.rule_stats(c.tenant())?}))
    })
    .await
}
