//! `POST /api/v1/ingest`: one record per line, in a format the caller names.

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Dialect, Rejected, Upload};

#[derive(Deserialize)]
pub(crate) struct IngestQuery {
    format: Option<String>,
}

pub(crate) async fn ingest(Query(q): Query<IngestQuery>, mut upload: Upload) -> Response {
    let format = q.format.unwrap_or_else(|| "auto".into());
    if let Err(e) = format.parse::<normalize::Format>() {
        return Dialect::Plain.rejected(Rejected::Invalid(e.to_string()));
    }
    let parsed = upload
        .parse(|body| {
            // One record per line; a line holding a CloudTrail envelope (or a
            // JSON array) gives one record per element.
            let mut records = Vec::new();
            body.lines(|_, line| {
                let line = String::from_utf8_lossy(line);
                let line = line.trim_end_matches('\r');
                if !line.trim().is_empty() {
                    match wire::envelope::unwrap_line(line) {
                        Some(inner) => records.extend(inner),
                        None => records.push(line.to_string()),
                    }
                }
                Ok(())
            })?;
            Ok(records)
        })
        .await;
    let records = match parsed {
        Ok(r) => r,
        Err(r) => return Dialect::Plain.rejected(r),
    };
    let n = records.len();
    match upload.submit("ndjson", &format, records).await {
        Ok(_) => axum::Json(json!({ "accepted": n })).into_response(),
        Err(r) => Dialect::Plain.rejected(r),
    }
}
