//! What a tenant's work adds up to: per-rule statistics, SLA
//! notifications, the audit trail.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::Soc;
use super::model::{AuditEntry, AuditParams, RuleStats};
use crate::app::App;
use crate::error::{ApiError, blocking};

/// Triage's counts per rule, and the rules that reached their rate limit
/// with the matches counted and not raised since the server started.
pub(crate) async fn rule_stats(
    State(app): State<Arc<App>>,
    Soc { state: soc, caller }: Soc,
) -> Result<Json<Value>, ApiError> {
    let rate_limited = app.ingest.rate_limited(&caller.tenant);
    blocking(move || {
        let rules = soc.rule_stats(&caller.tenant)?;
        let rules: Vec<RuleStats> = rules.iter().map(RuleStats).collect();
        Ok(Json(json!({"tenant": caller.tenant, "rules": rules, "rate_limited": rate_limited})))
    })
    .await
}

pub(crate) async fn notifications(Soc { state: soc, caller }: Soc) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let notifications = soc.notifications(&caller.tenant, 200)?;
        Ok(Json(json!({"tenant": caller.tenant, "notifications": notifications})))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(crate) struct DeliveryParams {
    status: Option<String>,
    limit: Option<usize>,
}

/// The tenant's notification deliveries, newest first: `?status=dead` is
/// the dead letter.
pub(crate) async fn deliveries(
    Soc { state: soc, caller }: Soc,
    Query(p): Query<DeliveryParams>,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = p.status.as_deref()
        && !matches!(s, "pending" | "sent" | "dead")
    {
        return Err(ApiError::Invalid(format!("status {s:?}: pending, sent or dead")));
    }
    blocking(move || {
        let rows = soc.deliveries(&caller.tenant, p.status.as_deref(), p.limit.unwrap_or(200))?;
        let list: Vec<Value> = rows
            .iter()
            .map(|d| {
                json!({
                    "id": d.id,
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "due": d.due.to_string(),
                    "sent": d.sent.map(|t| t.to_string()),
                    "last_error": d.last_error,
                    "trigger": d.notice.trigger.as_str(),
                    "incident": d.notice.incident,
                    "severity": d.notice.severity.as_str(),
                    "title": d.notice.title,
                })
            })
            .collect();
        Ok(Json(json!({"tenant": caller.tenant, "deliveries": list})))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(crate) struct PageParams {
    incident: Option<i64>,
    limit: Option<usize>,
}

/// The tenant's on-call pages, newest first; `?incident=` narrows.
pub(crate) async fn pages(
    Soc { state: soc, caller }: Soc,
    Query(p): Query<PageParams>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let rows = soc.pages(&caller.tenant, p.incident, p.limit.unwrap_or(200))?;
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "incident": r.incident,
                    "rota": r.rota,
                    "step": r.step,
                    "steps": r.steps,
                    "person": r.person,
                    "status": r.status,
                    "due": r.due.to_string(),
                    "sent": r.sent.map(|t| t.to_string()),
                    "last_error": r.last_error,
                })
            })
            .collect();
        Ok(Json(json!({"tenant": caller.tenant, "pages": list})))
    })
    .await
}

/// The tenant's audit trail, oldest first from `after`.
pub(crate) async fn audit(
    Soc { state: soc, caller }: Soc,
    Query(p): Query<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let entries = soc.audit_entries(Some(&caller.tenant), p.after.unwrap_or(0), p.limit.unwrap_or(1000))?;
        let entries: Vec<AuditEntry> = entries.iter().map(AuditEntry).collect();
        Ok(Json(json!({"tenant": caller.tenant, "entries": entries})))
    })
    .await
}
