//! What a tenant's work adds up to: per-rule statistics, SLA
//! notifications, the audit trail.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::model::{AuditEntry, AuditParams, RuleStats};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, blocking};

pub(crate) async fn rule_stats(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let soc = app.soc()?;
    blocking(move || {
        let rules: Vec<RuleStats> = soc.rule_stats(&caller.tenant)?.into_iter().map(RuleStats::from).collect();
        Ok(Json(json!({"tenant": caller.tenant, "rules": rules})))
    })
    .await
}

pub(crate) async fn notifications(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let soc = app.soc()?;
    blocking(move || {
        let notifications = soc.notifications(&caller.tenant, 200)?;
        Ok(Json(json!({"tenant": caller.tenant, "notifications": notifications})))
    })
    .await
}

/// The tenant's audit trail, oldest first from `after`.
pub(crate) async fn audit(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let soc = app.soc()?;
    blocking(move || {
        let entries: Vec<AuditEntry> = soc
            .audit_entries(Some(&caller.tenant), p.after.unwrap_or(0), p.limit.unwrap_or(1000))?
            .into_iter()
            .map(AuditEntry::from)
            .collect();
        Ok(Json(json!({"tenant": caller.tenant, "entries": entries})))
    })
    .await
}
