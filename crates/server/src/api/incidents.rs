//! Incidents: the queue, one incident, its timeline and hand-off package,
//! and the analyst's actions on it.
//!
//! An action is `POST /api/v1/incidents/{id}/{name}` with the action's
//! fields as JSON; the name in the path is the action's tag, so the body
//! is read as one [`IncidentAction`] and applied by `State::act`, as the
//! console and the command line apply theirs.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};
use state::{Acted, AlertQuery, IncidentAction, IncidentQuery};

use super::Soc;
use super::model::{Alert, Escalation, FormatParam, Incident, IncidentParams, Sla, TimelineEntry};
use super::{page, paging};
use crate::app::App;
use crate::console::i18n::Lang;
use crate::error::{ApiError, blocking};
use crate::search::Search;

pub(crate) async fn list(
    Soc { state: soc, caller }: Soc,
    Query(p): Query<IncidentParams>,
) -> Result<Json<Value>, ApiError> {
    // `open` is every status but resolved and closed.
    let statuses = soc::Status::filter(p.status.as_deref().unwrap_or("open")).map_err(ApiError::Invalid)?;
    let (before, limit) = paging(p.before.as_deref(), p.limit)?;
    let q = IncidentQuery { statuses, assignee: p.assignee, before, limit };
    blocking(move || {
        let list = soc.incidents(&caller.tenant, &q)?;
        Ok(Json(page(&caller.tenant, "incidents", &list, q.limit, Incident, |i| (i.last_activity, i.id))))
    })
    .await
}

/// An incident's alerts (the first thousand).
fn incident_alerts(soc: &state::State, tenant: &str, id: i64) -> Result<Vec<state::Alert>, ApiError> {
    Ok(soc.alerts(tenant, &AlertQuery { incident_id: Some(id), limit: 1000, ..Default::default() })?)
}

pub(crate) async fn one(Soc { state: soc, caller }: Soc, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let incident = soc.incident(&caller.tenant, id)?;
        let sla = soc.sla(&caller.tenant, id, Timestamp::now())?;
        let alerts = incident_alerts(&soc, &caller.tenant, id)?;
        let alerts: Vec<Alert> = alerts.iter().map(Alert).collect();
        Ok(Json(json!({"incident": Incident(&incident), "sla": sla.as_ref().map(Sla), "alerts": alerts})))
    })
    .await
}

/// Evidence events a timeline shows at most.
const MAX_TIMELINE_EVENTS: usize = 200;

/// The incident's timeline: its alerts, actions and notes, and the
/// evidence events of its alerts read back from the event store (which
/// may no longer hold them: retention, or indexing behind).
pub(crate) async fn timeline(
    State(app): State<Arc<App>>,
    Soc { state: soc, caller }: Soc,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let (store, timeout) = (app.store.clone(), app.search_timeout);
    blocking(move || {
        let mut entries = soc.timeline(&caller.tenant, id)?;
        if let Some(store) = store {
            let alerts = incident_alerts(&soc, &caller.tenant, id)?;
            let ids: Vec<&str> =
                alerts.iter().flat_map(|a| a.evidence.iter().map(String::as_str)).take(MAX_TIMELINE_EVENTS).collect();
            let search = Search { tenant: caller.tenant.clone(), from: None, to: None, now: Timestamp::now(), timeout };
            entries.extend(evidence_events(&store, &search, &ids)?);
            entries.sort_by_key(|e| e.at);
        }
        let entries: Vec<TimelineEntry> = entries.iter().map(TimelineEntry).collect();
        Ok(Json(json!(entries)))
    })
    .await
}

/// The stored events with these ids, as timeline entries.
fn evidence_events(
    store: &eventstore::EventStore,
    search: &Search,
    ids: &[&str],
) -> Result<Vec<state::TimelineEntry>, ApiError> {
    let valid: Vec<&str> = ids.iter().copied().filter(|i| i.bytes().all(|b| b.is_ascii_digit() || b == b'.')).collect();
    if valid.is_empty() {
        return Ok(Vec::new());
    }
    let query = query::parse(&format!("_id:({})", valid.join(" OR ")))
        .map_err(|e| ApiError::Internal(format!("the evidence query does not parse: {}", e.message)))?;
    let mut out = Vec::new();
    search.run(store, &query, valid.len(), &mut |row| {
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
        out.push(state::TimelineEntry { at, kind: "event", actor: source, what, data: Value::Object(row) });
        true
    })?;
    Ok(out)
}

/// The CSIRT hand-off package: JSON, a readable page with `?format=html`
/// (in Japanese with `&lang=ja`), or the incident's indicators and
/// sightings as a STIX 2.1 bundle with `?format=stix`.
pub(crate) async fn escalation(
    Soc { state: soc, caller }: Soc,
    Path(id): Path<i64>,
    Query(f): Query<FormatParam>,
) -> Result<Response, ApiError> {
    if f.format.as_deref() == Some("stix") {
        let bundle =
            blocking(move || Ok(crate::intel::incident_bundle(&soc, &caller.tenant, id, Timestamp::now())?)).await?;
        return Ok(Json(bundle).into_response());
    }
    let package = blocking(move || Ok(soc.escalation(&caller.tenant, id)?)).await?;
    if f.format.as_deref() == Some("html") {
        let lang = if f.lang.as_deref() == Some("ja") { Lang::Ja } else { Lang::En };
        return Ok(crate::handoff::answer(&package, lang));
    }
    Ok(Json(Escalation(&package)).into_response())
}

/// The action a path names: the API's names are the tags, but for the
/// plural collections analysts add to.
fn tag_of(name: &str) -> &str {
    match name {
        "notes" => "note",
        "tasks" => "task",
        "ack" => "acknowledge_pages",
        "iocs" => "ioc",
        other => other,
    }
}

/// `POST /api/v1/incidents/{id}/{name}`: one action, its fields as JSON.
pub(crate) async fn act(
    Soc { state: soc, caller }: Soc,
    Path(id): Path<i64>,
    uri: Uri,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let name = uri.path().rsplit('/').next().unwrap_or("");
    let mut fields: serde_json::Map<String, Value> = super::body(&bytes)?;
    fields.insert("action".into(), Value::String(tag_of(name).to_string()));
    let action: IncidentAction =
        serde_json::from_value(Value::Object(fields)).map_err(|e| ApiError::Invalid(format!("{name}: {e}")))?;
    apply(Soc { state: soc, caller }, id, action).await
}

/// `POST /api/v1/incidents/{id}/tasks/{task}/done`.
pub(crate) async fn task_done(soc: Soc, Path((id, task)): Path<(i64, i64)>) -> Result<Json<Value>, ApiError> {
    apply(soc, id, IncidentAction::TaskDone { task }).await
}

async fn apply(soc: Soc, id: i64, action: IncidentAction) -> Result<Json<Value>, ApiError> {
    let acted = blocking(move || Ok(soc.state.act(&soc.caller.by(), id, &action)?)).await?;
    let answer = match acted {
        Acted::Incident(i) => json!(Incident(&i)),
        Acted::Escalation(e) => json!(Escalation(&e)),
        Acted::Note(n) => json!({"note": n}),
        Acted::Task(t) => json!({"task": t}),
        Acted::TaskDone(t) => json!({"task": t, "done": true}),
        Acted::Evidence(e) => json!({"evidence": e}),
        Acted::Pages(n) => json!({"acknowledged": n}),
        Acted::Ioc(o) => json!({"ioc": {"kind": o.kind.as_str(), "value": &*o.value}}),
    };
    Ok(Json(answer))
}
