//! The triage API: the alert and incident queues, the analyst's actions on
//! an incident, suppressions, the asset inventory, SLA policies and rule
//! statistics, all within the token's tenant.
//!
//! What each token scope may do is `store::tokens::Scope::allows`: viewers
//! read, analysts work incidents, responders also escalate, leads also
//! suppress and configure. Every change names the token as its actor and
//! lands in the incident's log. Changes to an incident carry the
//! `version` the analyst saw: a stale one gets 409 with the current one.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use model::Level;
use serde::Deserialize;
use serde_json::json;
use store::state::{AlertQuery, By, IncidentQuery, State as SocState, StateError};
use store::tokens::{Action, TokenRecord};

use super::http::{AppState, plain_denied};

type AppRef = State<Arc<AppState>>;

/// The token and the state store, or the answer that says why not.
fn open(state: &AppState, headers: &HeaderMap, need: Action) -> Result<(TokenRecord, Arc<SocState>), Box<Response>> {
    let token = state.tokens.check(headers, need).map_err(|d| Box::new(plain_denied(d)))?;
    let soc = state.soc.clone().ok_or_else(|| {
        Box::new((StatusCode::SERVICE_UNAVAILABLE, "triage is off ([triage] enabled = false)\n").into_response())
    })?;
    Ok((token, soc))
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

fn bad(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message.into()}))).into_response()
}

/// Runs a state store call off the async threads; answers its value as JSON.
async fn blocking<T: serde::Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("triage task failed: {e}\n")).into_response(),
    }
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| Box::new(bad(format!("the request body is not valid here: {e}"))))
}

/// `TIME,ID` of the last row of a page.
fn cursor(text: Option<&str>) -> Result<Option<(Timestamp, i64)>, Box<Response>> {
    let Some(text) = text.filter(|t| !t.is_empty()) else { return Ok(None) };
    let parsed = text.split_once(',').and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)));
    parsed.map(Some).ok_or_else(|| Box::new(bad(format!("before={text:?}: expected TIME,ID as given in `next`"))))
}

fn level(text: Option<&str>) -> Result<Option<Level>, Box<Response>> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Level::parse(t).map(Some).ok_or_else(|| Box::new(bad(format!("unknown severity {t:?}")))),
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
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let q = AlertQuery {
        status: p.status.filter(|s| !s.is_empty()).or(Some("open".into())).filter(|s| s != "all"),
        min_severity: match level(p.min_severity.as_deref()) {
            Ok(l) => l,
            Err(r) => return *r,
        },
        rule_id: p.rule,
        incident_id: p.incident,
        before: match cursor(p.before.as_deref()) {
            Ok(c) => c,
            Err(r) => return *r,
        },
        limit: p.limit.unwrap_or(50),
    };
    blocking(move || {
        let alerts = soc.alerts(&token.tenant, &q)?;
        let next = (alerts.len() == q.limit.clamp(1, 1000))
            .then(|| alerts.last().map(|a| format!("{},{}", a.last_seen, a.id)))
            .flatten();
        Ok(json!({"tenant": token.tenant, "alerts": alerts, "next": next}))
    })
    .await
}

pub(crate) async fn alert(State(app): AppRef, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || soc.alert(&token.tenant, id)).await
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
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let statuses = match p.status.as_deref().unwrap_or("open") {
        "open" => soc::Status::ALL.into_iter().filter(|s| !s.is_done()).collect(),
        "all" | "" => Vec::new(),
        list => match list.split(',').map(str::parse).collect::<Result<Vec<soc::Status>, String>>() {
            Ok(v) => v,
            Err(e) => return bad(e),
        },
    };
    let before = match cursor(p.before.as_deref()) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let q = IncidentQuery { statuses, assignee: p.assignee, before, limit: p.limit.unwrap_or(50) };
    blocking(move || {
        let list = soc.incidents(&token.tenant, &q)?;
        let next = (list.len() == q.limit.clamp(1, 1000))
            .then(|| list.last().map(|i| format!("{},{}", i.last_activity, i.id)))
            .flatten();
        Ok(json!({"tenant": token.tenant, "incidents": list, "next": next}))
    })
    .await
}

pub(crate) async fn incident(State(app): AppRef, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || {
        let incident = soc.incident(&token.tenant, id)?;
        let sla = soc.sla(&token.tenant, id, Timestamp::now())?;
        let alerts =
            soc.alerts(&token.tenant, &AlertQuery { incident_id: Some(id), limit: 1000, ..Default::default() })?;
        Ok(json!({"incident": incident, "sla": sla, "alerts": alerts}))
    })
    .await
}

/// The incident's timeline: its alerts, actions and notes, and the
/// evidence events of its alerts read back from the event store.
pub(crate) async fn timeline(State(app): AppRef, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let (store, timeout) = (app.store.clone(), app.search_timeout);
    blocking(move || {
        let mut entries = soc.timeline(&token.tenant, id)?;
        if let Some(store) = store {
            let alerts =
                soc.alerts(&token.tenant, &AlertQuery { incident_id: Some(id), limit: 1000, ..Default::default() })?;
            let ids: Vec<&str> =
                alerts.iter().flat_map(|a| a.evidence.iter().map(String::as_str)).take(MAX_TIMELINE_EVENTS).collect();
            entries.extend(evidence_events(&store, &token.tenant, &ids, timeout));
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
) -> Vec<store::state::TimelineEntry> {
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
        out.push(store::state::TimelineEntry {
            at,
            kind: "event",
            actor: source,
            what,
            data: serde_json::Value::Object(row),
        });
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
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let package = match tokio::task::spawn_blocking(move || soc.escalation(&token.tenant, id)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return failed(e),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
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
    let (token, soc) = match open(&app, &headers, need) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let c: Change = match body(&bytes) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let versioned = matches!(action.as_str(), "status" | "assign" | "edit" | "waiting" | "escalate");
    let version = match (versioned, c.version) {
        (true, None) => return bad(format!("{action} needs the incident's `version` as you last read it")),
        (_, v) => v.unwrap_or(0),
    };
    let disposition = match c.disposition.as_deref().map(str::parse::<soc::Disposition>).transpose() {
        Ok(d) => d,
        Err(e) => return bad(e),
    };
    let severity = match level(c.severity.as_deref()) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    blocking(move || {
        let by = By { tenant: &token.tenant, actor: &token.id, now: Timestamp::now() };
        let need =
            |v: Option<String>, what: &str| v.ok_or_else(|| StateError::Invalid(format!("{action} needs `{what}`")));
        let out = match action.as_str() {
            "status" => {
                let to = need(c.status, "status")?.parse::<soc::Status>().map_err(StateError::Invalid)?;
                json!(soc.transition(&by, id, version, to, disposition)?)
            }
            "assign" => json!(soc.assign(&by, id, version, c.assignee.as_deref().filter(|a| !a.is_empty()))?),
            "edit" => json!(soc.edit(&by, id, version, c.title.as_deref(), severity)?),
            "waiting" => json!(soc.wait_on_customer(&by, id, version, c.waiting.unwrap_or(true))?),
            "escalate" => json!(soc.escalate(&by, id, version, &need(c.to, "to")?)?),
            "notes" => json!({"note": soc.add_note(&by, id, &need(c.body, "body")?)?}),
            "tasks" => json!({"task": soc.add_task(&by, id, &need(c.title, "title")?, c.owner.as_deref())?}),
            "evidence" => {
                let kind = c.kind.unwrap_or_else(|| "event".into());
                json!({"evidence": soc.add_evidence(&by, id, &kind, &need(c.reference, "ref")?, c.note.as_deref())?})
            }
            "merge" => {
                let from = c.from.ok_or_else(|| StateError::Invalid("merge needs `from`".into()))?;
                json!(soc.merge(&by, id, from)?)
            }
            "split" => json!(soc.split(&by, id, &c.alerts.unwrap_or_default())?),
            other => return Err(StateError::NotFound(format!("incident action {other:?}"))),
        };
        Ok(out)
    })
    .await
}

pub(crate) async fn task_done(State(app): AppRef, headers: HeaderMap, Path((id, task)): Path<(i64, i64)>) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Triage) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || {
        let by = By { tenant: &token.tenant, actor: &token.id, now: Timestamp::now() };
        soc.complete_task(&by, id, task)?;
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
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || {
        let list: Vec<serde_json::Value> = soc
            .suppressions(&token.tenant)?
            .into_iter()
            .map(|(s, hits)| json!({"suppression": s, "hits": hits}))
            .collect();
        Ok(json!({"tenant": token.tenant, "suppressions": list}))
    })
    .await
}

pub(crate) async fn add_suppression(State(app): AppRef, headers: HeaderMap, bytes: Bytes) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Suppress) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let req: NewSuppression = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let now = Timestamp::now();
    // An offset (`+7d`) from now, or a time.
    let expires = match req.expires.strip_prefix('+') {
        Some(offset) => {
            super::time_arg(&format!("-{offset}"), now).and_then(|past| now.checked_add(now.duration_since(past)).ok())
        }
        None => super::time_arg(&req.expires, now),
    };
    let Some(expires) = expires else {
        return bad(format!("expires={:?}: expected a time (RFC 3339) or an offset such as +7d", req.expires));
    };
    let s = soc::suppress::Suppression {
        id: 0,
        tenant: token.tenant.clone(),
        rule: req.rule,
        conditions: req.conditions.into_iter().collect(),
        owner: req.owner.unwrap_or_else(|| token.id.clone()),
        reason: req.reason,
        expires,
        created: now,
    };
    blocking(move || {
        let by = By { tenant: &token.tenant, actor: &token.id, now };
        Ok(json!({"suppression": soc.add_suppression(&by, &s)?}))
    })
    .await
}

/// Replaces the tenant's inventory: CSV (`text/csv`) or a JSON array.
pub(crate) async fn put_assets(State(app): AppRef, headers: HeaderMap, bytes: Bytes) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Configure) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let text = String::from_utf8_lossy(&bytes);
    let csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/csv"));
    let inventory =
        if csv { soc::assets::Inventory::from_csv(&text) } else { soc::assets::Inventory::from_json(&text) };
    let inventory = match inventory {
        Ok(i) => i,
        Err(e) => return bad(format!("asset inventory: {e}")),
    };
    blocking(move || {
        let by = By { tenant: &token.tenant, actor: &token.id, now: Timestamp::now() };
        Ok(json!({"assets": soc.replace_assets(&by, &inventory)?}))
    })
    .await
}

pub(crate) async fn assets(State(app): AppRef, headers: HeaderMap) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || soc.assets(&token.tenant)).await
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
    let (token, soc) = match open(&app, &headers, Action::Configure) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let p: SlaPolicy = match body(&bytes) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let severity = match level(Some(&p.severity)) {
        Ok(Some(l)) => l,
        Ok(None) => return bad("severity is required"),
        Err(r) => return *r,
    };
    blocking(move || {
        let minutes = jiff::SignedDuration::from_mins;
        let by = By { tenant: &token.tenant, actor: &token.id, now: Timestamp::now() };
        soc.set_sla_policy(&by, severity, minutes(p.acknowledge_minutes), minutes(p.resolve_minutes), &p.calendar)?;
        Ok(json!({"severity": severity, "saved": true}))
    })
    .await
}

pub(crate) async fn notifications(State(app): AppRef, headers: HeaderMap) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || Ok(json!({"tenant": token.tenant, "notifications": soc.notifications(&token.tenant, 200)?}))).await
}

#[derive(Deserialize)]
pub(crate) struct AuditParams {
    after: Option<i64>,
    limit: Option<usize>,
}

/// The tenant's audit trail, oldest first from `after` (lead or admin).
pub(crate) async fn audit(State(app): AppRef, headers: HeaderMap, Query(p): Query<AuditParams>) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Audit) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || {
        let entries = soc.audit_entries(Some(&token.tenant), p.after.unwrap_or(0), p.limit.unwrap_or(1000))?;
        Ok(json!({"tenant": token.tenant, "entries": entries}))
    })
    .await
}

pub(crate) async fn rule_stats(State(app): AppRef, headers: HeaderMap) -> Response {
    let (token, soc) = match open(&app, &headers, Action::Read) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    blocking(move || Ok(json!({"tenant": token.tenant, "rules": soc.rule_stats(&token.tenant)?}))).await
}
