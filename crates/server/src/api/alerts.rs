//! The alert queue.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use state::AlertQuery;

use super::model::{Alert, AlertPage, AlertParams};
use super::{cursor, level, next};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, blocking};

pub(crate) async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<AlertParams>,
) -> Result<Json<AlertPage>, ApiError> {
    let soc = app.soc()?;
    let q = AlertQuery {
        status: p.status.filter(|s| !s.is_empty()).or(Some("open".into())).filter(|s| s != "all"),
        min_severity: level(p.min_severity.as_deref())?,
        rule_id: p.rule,
        incident_id: p.incident,
        before: cursor(p.before.as_deref())?,
        limit: p.limit.unwrap_or(50),
    };
    blocking(move || {
        let alerts = soc.alerts(&caller.tenant, &q)?;
        let next = next(alerts.len(), q.limit, alerts.last().map(|a| (a.last_seen, a.id)));
        Ok(Json(AlertPage { tenant: caller.tenant, alerts: alerts.into_iter().map(Alert::from).collect(), next }))
    })
    .await
}

pub(crate) async fn one(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Alert>, ApiError> {
    let soc = app.soc()?;
    blocking(move || Ok(Json(soc.alert(&caller.tenant, id)?.into()))).await
}
