//! The alert queue.

use axum::Json;
use axum::extract::{Path, Query};
use serde_json::{Value, json};
use state::AlertQuery;

use super::Soc;
use super::model::{Alert, AlertParams};
use super::{level, page, paging};
use crate::error::{ApiError, blocking};

pub(crate) async fn list(
    Soc { state: soc, caller }: Soc,
    Query(p): Query<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    let (before, limit) = paging(p.before.as_deref(), p.limit)?;
    let status = p.status.filter(|s| !s.is_empty()).or(Some("open".into())).filter(|s| s != "all");
    let min_severity = level(p.min_severity.as_deref())?;
    let q = AlertQuery {
        status,
        min_severity,
        rule_id: p.rule,
        incident_id: p.incident,
        before,
        limit,
        ..Default::default()
    };
    blocking(move || {
        let alerts = soc.alerts(&caller.tenant, &q)?;
        Ok(Json(page(&caller.tenant, "alerts", &alerts, q.limit, Alert, |a| (a.last_seen, a.id))))
    })
    .await
}

pub(crate) async fn one(Soc { state: soc, caller }: Soc, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(json!(Alert(&soc.alert(&caller.tenant, id)?))))).await
}
