//! Splunk's HTTP Event Collector: `/services/collector/event` (JSON
//! events) and `/services/collector/raw` (lines), answered with HEC's codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Dialect, Upload, retry_later};

pub(crate) fn answer(status: &wire::hec::Status) -> Response {
    let code = StatusCode::from_u16(status.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let resp = (code, axum::Json(status.body())).into_response();
    if status.code == wire::hec::SERVER_BUSY.code { retry_later(resp) } else { resp }
}

pub(crate) async fn health() -> Response {
    answer(&wire::hec::HEALTHY)
}

pub(crate) async fn event(mut upload: Upload) -> Response {
    let parsed = upload
        .parse(|body| {
            let mut events = wire::hec::Events::default();
            body.parts(|part| events.feed(part))?;
            let (records, status) = events.finish();
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
        if let Err(r) = upload.submit("hec", format, texts).await {
            return Dialect::Hec.rejected(r);
        }
    }
    answer(&status)
}

pub(crate) async fn raw(mut upload: Upload) -> Response {
    let parsed = upload
        .parse(|body| {
            let mut records = Vec::new();
            body.lines(|_, line| {
                records.extend(wire::hec::raw_line(line).map(|r| r.text));
                Ok(())
            })?;
            Ok(records)
        })
        .await;
    let records = match parsed {
        Ok(r) if r.is_empty() => return answer(&wire::hec::NO_DATA),
        Ok(r) => r,
        Err(r) => return Dialect::Hec.rejected(r),
    };
    match upload.submit("hec", "auto", records).await {
        Ok(_) => answer(&wire::hec::SUCCESS),
        Err(r) => Dialect::Hec.rejected(r),
    }
}
