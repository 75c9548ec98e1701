//! OpenTelemetry logs over HTTP: `POST /v1/logs`, protobuf or JSON.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Dialect, Rejected, Upload};

pub(crate) async fn logs(mut upload: Upload) -> Response {
    let json_body = upload
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed = upload
        .parse(move |body| {
            // One message: read whole.
            let body = body.whole()?;
            let records = if json_body { wire::otlp::decode_json(&body) } else { wire::otlp::decode_protobuf(&body) };
            records.map_err(|e| Rejected::Invalid(e.0))
        })
        .await;
    let records = match parsed {
        Ok(r) => r,
        Err(r) => return Dialect::Plain.rejected(r),
    };
    match upload.submit("otlp", "json", records).await {
        // An empty ExportLogsServiceResponse: no bytes in protobuf, `{}` in JSON.
        Ok(_) if json_body => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{}").into_response(),
        Ok(_) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new()).into_response(),
        Err(r) => Dialect::Plain.rejected(r),
    }
}
