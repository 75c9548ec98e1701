//! What a tenant's work adds up to: per-rule statistics, SLA
//! notifications, the audit trail.

use axum::Json;
use axum::extract::Query;
use serde_json::{Value, json};

use super::Soc;
use super::model::{AuditEntry, AuditParams, RuleStats};
use crate::error::{ApiError, blocking};

pub(crate) async fn rule_stats(Soc { state: soc, caller }: Soc) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let rules = soc.rule_stats(&caller.tenant)?;
        let rules: Vec<RuleStats> = rules.iter().map(RuleStats).collect();
        Ok(Json(json!({"tenant": caller.tenant, "rules": rules})))
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
