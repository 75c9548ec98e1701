//! What the pipeline wrote and counts: raw detections, dead letters,
//! sources, and the server's status.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::model::{ListParams, Listing};
use crate::app::{App, Listed, MAX_LISTED, MAX_LISTED_BYTES};
use crate::auth::Caller;
use crate::error::{ApiError, blocking};

/// The caller's newest lines of a journal, answered under `key`: at most
/// [`MAX_LISTED_BYTES`] of them (`truncated` says when older ones were left
/// out), passed through as they are written rather than parsed into a
/// tree, and at most a few listings at once.
async fn journal(
    app: Arc<App>,
    caller: Caller,
    p: ListParams,
    which: Listed,
    key: &'static str,
) -> Result<Json<Listing>, ApiError> {
    let limit = p.limit.unwrap_or(1000).clamp(1, MAX_LISTED);
    let permit = app.listing_permit()?;
    let tenant = caller.tenant.clone();
    let (lines, truncated) = blocking(move || {
        let _permit = permit;
        app.newest(which, &tenant, limit, MAX_LISTED_BYTES)
    })
    .await?;
    let items = lines
        .into_iter()
        .map(|l| RawValue::from_string(l).map_err(|e| ApiError::Internal(format!("a {which:?} line is not JSON: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Listing { tenant: caller.tenant, truncated, key, items }))
}

/// The raw detections of the alert journal (triage reads the same lines).
pub(crate) async fn detections(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Listing>, ApiError> {
    journal(app, caller, p, Listed::Detections, "detections").await
}

pub(crate) async fn deadletter(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Listing>, ApiError> {
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
