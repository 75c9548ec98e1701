//! `POST /api/v1/ingest`: one record per line, in a format the caller names.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Dialect, Rejected, parse_body, submit};
use crate::app::App;
use crate::auth::Caller;

#[derive(Deserialize)]
pub(crate) struct IngestQuery {
    format: Option<String>,
}

pub(crate) async fn ingest(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let format = q.format.unwrap_or_else(|| "auto".into());
    if let Err(e) = format.parse::<normalize::Format>() {
        return Dialect::Plain.rejected(Rejected::Invalid(e.to_string()));
    }
    let parsed = parse_body(&app, &headers, body, |body| {
        // One record per line; a line holding a CloudTrail envelope (or a
        // JSON array) gives one record per element.
        let mut records = Vec::new();
        for line in String::from_utf8_lossy(body).lines().map(|l| l.trim_end_matches('\r')) {
            if line.trim().is_empty() {
                continue;
            }
            match wire::envelope::unwrap_line(line) {
                Some(inner) => records.extend(inner),
                None => records.push(line.to_string()),
            }
        }
        Ok(records)
    })
    .await;
    let records = match parsed {
        Ok(r) => r,
        Err(r) => return Dialect::Plain.rejected(r),
    };
    let n = records.len();
    match submit(&app, &caller, "ndjson", &format, records).await {
        Ok(_) => axum::Json(json!({ "accepted": n })).into_response(),
        Err(r) => Dialect::Plain.rejected(r),
    }
}
