//! What the pipeline wrote and counts: raw detections, dead letters,
//! sources, and the server's status.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::model::ListParams;
use crate::app::{App, Listed, MAX_LISTED};
use crate::auth::Caller;
use crate::error::{ApiError, blocking};

/// The caller's newest lines of a journal, answered under `key`.
async fn journal(
    app: Arc<App>,
    caller: Caller,
    p: ListParams,
    which: Listed,
    key: &'static str,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(1000).clamp(1, MAX_LISTED);
    let tenant = caller.tenant.clone();
    let items = blocking(move || app.newest(which, &tenant, limit)).await?;
    Ok(Json(json!({ "tenant": caller.tenant, "count": items.len(), key: items })))
}

/// The raw detections of the alert journal (triage reads the same lines).
pub(crate) async fn detections(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    journal(app, caller, p, Listed::Detections, "detections").await
}

pub(crate) async fn deadletter(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    journal(app, caller, p, Listed::DeadLetters, "deadletter").await
}

pub(crate) async fn sources(State(app): State<Arc<App>>, caller: Caller) -> Json<Value> {
    let mine: Vec<_> = app.ingest.health().snapshot().into_iter().filter(|s| s.tenant == caller.tenant).collect();
    Json(json!({ "tenant": caller.tenant, "sources": mine }))
}

/// Log positions and counters across tenants (admin tokens only).
pub(crate) async fn status(State(app): State<Arc<App>>) -> Json<Value> {
    let mut status = serde_json::to_value(app.ingest.status()).unwrap_or_else(|_| json!({}));
    status["connections"] = json!({
        "open": app.budget.open(),
        "limit": app.budget.limit(),
        "refused": app.budget.refused.load(std::sync::atomic::Ordering::Relaxed),
    });
    Json(status)
}
