//! What the pipeline wrote and counts: raw detections, dead letters,
//! sources, and the server's status.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::model::ListParams;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, blocking};

/// The newest `limit` lines of a journal that belong to `tenant`, oldest first.
pub(crate) fn tail(dir: &std::path::Path, tenant: &str, limit: usize) -> std::io::Result<Vec<Value>> {
    let mut out = std::collections::VecDeque::with_capacity(limit.min(4096));
    wal::read_lines(dir, |line| {
        if let Ok(v) = serde_json::from_str::<Value>(line)
            && v["tenant"] == tenant
        {
            if out.len() == limit {
                out.pop_front();
            }
            out.push_back(v);
        }
        true
    })?;
    Ok(out.into())
}

/// The lines of journal `name`, answered under `key`.
async fn journal(
    app: &App,
    caller: Caller,
    p: ListParams,
    name: &'static str,
    key: &'static str,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(1000).clamp(1, 100_000);
    let dir = app.data.join(name);
    let tenant = caller.tenant.clone();
    let items =
        blocking(move || tail(&dir, &tenant, limit).map_err(|e| ApiError::Internal(format!("reading {name}: {e}"))))
            .await?;
    Ok(Json(json!({ "tenant": caller.tenant, "count": items.len(), key: items })))
}

/// The raw detections of the alert journal (triage reads the same lines).
pub(crate) async fn detections(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    journal(&app, caller, p, "alerts", "detections").await
}

pub(crate) async fn deadletter(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    journal(&app, caller, p, "deadletter", "deadletter").await
}

pub(crate) async fn sources(State(app): State<Arc<App>>, caller: Caller) -> Json<Value> {
    let mine: Vec<_> = app.ingest.health().snapshot().into_iter().filter(|s| s.tenant == caller.tenant).collect();
    Json(json!({ "tenant": caller.tenant, "sources": mine }))
}

/// Log positions and counters across tenants (admin tokens only).
pub(crate) async fn status(State(app): State<Arc<App>>) -> Json<engine::Status> {
    Json(app.ingest.status())
}
