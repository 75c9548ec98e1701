//! Splunk's HTTP Event Collector: `/services/collector/event` (JSON
//! events) and `/services/collector/raw` (lines), answered with HEC's codes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{Dialect, parse_body, retry_later, submit};
use crate::app::App;
use crate::auth::Caller;

pub(crate) fn answer(status: &wire::hec::Status) -> Response {
    let code = StatusCode::from_u16(status.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let resp = (code, axum::Json(status.body())).into_response();
    if status.code == wire::hec::SERVER_BUSY.code { retry_later(resp) } else { resp }
}

pub(crate) async fn health() -> Response {
    answer(&wire::hec::HEALTHY)
}

pub(crate) async fn event(State(app): State<Arc<App>>, caller: Caller, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = parse_body(&app, &headers, body, |body| {
        let (records, status) = wire::hec::parse_events(body);
        // Records come as log lines (`auto`) or JSON; one batch per kind.
        let (json, lines): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| r.format == "json");
        let texts = |group: Vec<wire::hec::Record>| group.into_iter().map(|r| r.text).collect::<Vec<_>>();
        Ok(([("json", texts(json)), ("auto", texts(lines))], status))
    })
    .await;
    let (groups, status) = match parsed {
        Ok(p) => p,
        Err(r) => return Dialect::Hec.rejected(r),
    };
    for (format, texts) in groups {
        if texts.is_empty() {
            continue;
        }
        if let Err(r) = submit(&app, &caller, "hec", format, texts).await {
            return Dialect::Hec.rejected(r);
        }
    }
    answer(&status)
}

pub(crate) async fn raw(State(app): State<Arc<App>>, caller: Caller, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = parse_body(&app, &headers, body, |body| {
        Ok(wire::hec::parse_raw(body).into_iter().map(|r| r.text).collect::<Vec<String>>())
    })
    .await;
    let records = match parsed {
        Ok(r) if r.is_empty() => return answer(&wire::hec::NO_DATA),
        Ok(r) => r,
        Err(r) => return Dialect::Hec.rejected(r),
    };
    match submit(&app, &caller, "hec", "auto", records).await {
        Ok(_) => answer(&wire::hec::SUCCESS),
        Err(r) => Dialect::Hec.rejected(r),
    }
}
