//! The Elasticsearch `_bulk` API, as Beats, Logstash, Fluent Bit and the
//! official clients send it, and the cluster probe they make first.

use std::time::Instant;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Rejected, Upload, retry_later};
use crate::auth::Denied;

/// `GET /`: a browser goes to the console; anything else (the
/// Elasticsearch clients' probe) gets the cluster answer.
pub(crate) async fn root(headers: HeaderMap) -> Response {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').next().is_some_and(|first| first.trim().starts_with("text/html")));
    if browser {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/ui/")]).into_response();
    }
    cluster().await
}

/// Answers like a cluster, for clients and shippers that probe `GET /`.
/// The version is one that current Beats, Logstash and clients accept.
pub(crate) async fn cluster() -> Response {
    es(
        StatusCode::OK,
        json!({
            "name": "hinomi",
            "cluster_name": "hinomi",
            "cluster_uuid": "hinomi",
            "version": {
                "number": "8.17.0",
                "build_flavor": "default",
                "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0"
            },
            "tagline": "Hinomi speaks the _bulk API"
        }),
    )
}

fn es(status: StatusCode, body: Value) -> Response {
    with_product((status, axum::Json(body)).into_response())
}

/// The header the official Elasticsearch clients insist on.
fn with_product(mut resp: Response) -> Response {
    resp.headers_mut().insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    resp
}

fn error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let resp = es(status, json!({"error": {"type": kind, "reason": reason}, "status": status.as_u16()}));
    if status == StatusCode::TOO_MANY_REQUESTS { retry_later(resp) } else { resp }
}

pub(super) fn denied(d: Denied) -> Response {
    match d {
        Denied::Missing => error(StatusCode::UNAUTHORIZED, "security_exception", "missing authentication token"),
        Denied::Invalid => {
            error(StatusCode::UNAUTHORIZED, "security_exception", "unable to authenticate with the provided token")
        }
        Denied::Forbidden => error(StatusCode::FORBIDDEN, "security_exception", "the token may not send events"),
        Denied::TenantDisabled => error(StatusCode::FORBIDDEN, "security_exception", "the token's tenant is disabled"),
    }
}

pub(super) fn rejected(r: Rejected) -> Response {
    match r {
        Rejected::Body(status, why) => error(status, "parse_exception", &why),
        Rejected::Invalid(why) => error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &why),
        Rejected::Busy => {
            error(StatusCode::TOO_MANY_REQUESTS, "es_rejected_execution_exception", "ingest is behind; retry")
        }
        Rejected::Unavailable(why) => super::retry_after(
            error(StatusCode::SERVICE_UNAVAILABLE, "cluster_block_exception", &format!("ingest is paused: {why}")),
            super::PAUSED_RETRY,
        ),
        Rejected::Failed(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "internal error"),
    }
}

pub(crate) async fn bulk(upload: Upload) -> Response {
    take(upload, None).await
}

pub(crate) async fn bulk_index(Path(index): Path<String>, upload: Upload) -> Response {
    take(upload, Some(index)).await
}

async fn take(mut upload: Upload, index: Option<String>) -> Response {
    let started = Instant::now();
    let parsed = upload
        .parse(move |body| {
            let mut bulk = wire::bulk::Parser::new(index.as_deref());
            body.lines(|n, line| bulk.line(n, line).map_err(|e| Rejected::Invalid(e.0)))?;
            let mut items = bulk.finish().map_err(|e| Rejected::Invalid(e.0))?;
            // The documents move to the records: the answer needs only
            // each item's action, id and error.
            let (mut records, mut refused) = (Vec::new(), Vec::new());
            for item in &mut items {
                match (item.document.take(), &item.error) {
                    (Some(doc), None) => records.push(doc),
                    (Some(doc), Some(why)) => refused.push((format!("bulk {why}"), doc)),
                    (None, _) => {}
                }
            }
            Ok((items, records, refused))
        })
        .await;
    let (items, records, refused) = match parsed {
        Ok(p) => p,
        Err(r) => return rejected(r),
    };
    match upload.submit_rejecting("bulk", "json", records, refused).await {
        Ok(pos) => {
            let took = started.elapsed().as_millis() as u64;
            let body = wire::bulk::response(&items, took, &pos.to_string());
            with_product((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Err(r) => super::Dialect::Elasticsearch.rejected(r),
    }
}
