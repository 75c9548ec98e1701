//! Ingest: every route and listener that receives records, and what they
//! share. Elasticsearch `_bulk` (`elastic.rs`), Splunk HEC (`hec.rs`),
//! OTLP logs (`otlp.rs`), NDJSON (`ndjson.rs`) over HTTP; syslog over UDP,
//! TCP and TLS (`syslog.rs`).
//!
//! Every HTTP route answers only after the records are in the write-ahead
//! log, and refuses them (429, or 503 for HEC, both with `Retry-After`)
//! while the pipeline is behind; a refused request stored nothing. Bodies
//! are gunzipped and parsed on blocking threads, not on the async workers
//! that accept connections. Each answer speaks its protocol's dialect.

pub(crate) mod body;
pub(crate) mod elastic;
pub(crate) mod hec;
pub(crate) mod ndjson;
pub(crate) mod otlp;
pub(crate) mod syslog;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::Refused;
use wal::Batch;

use crate::app::App;
use crate::auth::{Caller, Denied};
use crate::routes::Endpoint;

/// Why records were not taken.
#[derive(Debug)]
pub(crate) enum Rejected {
    /// The body cannot be read (broken gzip, too large once decompressed).
    Body(StatusCode, String),
    /// The body is read but is not what the route takes.
    Invalid(String),
    /// The pipeline is behind: retry later.
    Busy,
    /// A part of the pipeline is stopped (a full disk) and retries by
    /// itself: retry a little later.
    Unavailable(String),
    /// The log failed: our error.
    Failed(String),
}

/// The protocol family of a route, for answering in its dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Elasticsearch,
    Hec,
    Plain,
}

impl Dialect {
    pub(crate) fn of(e: Endpoint) -> Dialect {
        match e {
            Endpoint::Bulk | Endpoint::BulkIndex => Dialect::Elasticsearch,
            Endpoint::HecEvent | Endpoint::HecRaw => Dialect::Hec,
            _ => Dialect::Plain,
        }
    }

    pub(crate) fn denied(self, d: Denied) -> Response {
        match self {
            Dialect::Elasticsearch => elastic::denied(d),
            Dialect::Hec => hec::answer(match d {
                Denied::Missing => &wire::hec::TOKEN_REQUIRED,
                Denied::Invalid => &wire::hec::INVALID_TOKEN,
                Denied::Forbidden => &wire::hec::INVALID_AUTHORIZATION,
                Denied::TenantDisabled => &wire::hec::TOKEN_DISABLED,
            }),
            Dialect::Plain => match d {
                Denied::Missing => (StatusCode::UNAUTHORIZED, "missing token\n").into_response(),
                Denied::Invalid => (StatusCode::FORBIDDEN, "invalid token\n").into_response(),
                Denied::Forbidden => (StatusCode::FORBIDDEN, "the token does not allow this\n").into_response(),
                Denied::TenantDisabled => (StatusCode::FORBIDDEN, "the token's tenant is disabled\n").into_response(),
            },
        }
    }

    pub(crate) fn busy(self) -> Response {
        self.rejected(Rejected::Busy)
    }

    pub(crate) fn rejected(self, r: Rejected) -> Response {
        if let Rejected::Failed(e) = &r {
            tracing::error!(error = %e, "the write-ahead log refused records");
        }
        match self {
            Dialect::Elasticsearch => elastic::rejected(r),
            Dialect::Hec => match r {
                Rejected::Busy => hec::answer(&wire::hec::SERVER_BUSY),
                Rejected::Unavailable(_) => retry_after(hec::answer(&wire::hec::SERVER_BUSY), PAUSED_RETRY),
                Rejected::Body(status, why) => (status, why).into_response(),
                Rejected::Invalid(why) => (StatusCode::BAD_REQUEST, why).into_response(),
                Rejected::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response(),
            },
            Dialect::Plain => match r {
                Rejected::Busy => {
                    retry_later((StatusCode::TOO_MANY_REQUESTS, "ingest is behind; retry\n").into_response())
                }
                Rejected::Unavailable(why) => retry_after(
                    (StatusCode::SERVICE_UNAVAILABLE, format!("ingest is paused: {why}\n")).into_response(),
                    PAUSED_RETRY,
                ),
                Rejected::Body(status, why) => (status, format!("{why}\n")).into_response(),
                Rejected::Invalid(why) => (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
                Rejected::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response(),
            },
        }
    }
}

/// Every "busy" answer tells the sender when to try again.
pub(crate) fn retry_later(resp: Response) -> Response {
    retry_after(resp, "1")
}

/// Seconds a sender is told to wait while a part of the pipeline is
/// stopped: its retries come about as often as the pipeline's own.
pub(crate) const PAUSED_RETRY: &str = "5";

pub(crate) fn retry_after(mut resp: Response, seconds: &'static str) -> Response {
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
    resp
}

impl From<Refused> for Rejected {
    fn from(r: Refused) -> Rejected {
        match r {
            Refused::Busy => Rejected::Busy,
            Refused::Stopped(why) => Rejected::Unavailable(why),
            Refused::Failed(e) => Rejected::Failed(e),
        }
    }
}

/// How much of a refused request's body is read and thrown away (for at
/// most a second): clients send the whole body before they read the answer,
/// so an unread small body would turn a clear 401 into a broken connection.
/// Larger ones are cut off.
const DRAIN_LIMIT: usize = 1 << 20;

pub(crate) async fn drained(req: axum::extract::Request, resp: Response) -> Response {
    use http_body_util::BodyExt;
    let mut body = req.into_body();
    let drain = async {
        let mut seen = 0;
        while seen <= DRAIN_LIMIT {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    };
    // A client that announces a body and sends nothing gets its answer soon.
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    resp
}

/// Whether the client gzipped the body.
pub(crate) fn gzipped(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
}

/// What an ingest route receives: the sender the guard let in, the
/// request's headers, and its body (read up to the body limit).
pub(crate) struct Upload {
    app: Arc<App>,
    caller: Caller,
    pub(crate) headers: HeaderMap,
    body: body::Chunks,
}

impl FromRequest<Arc<App>> for Upload {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Upload, Response> {
        let (mut parts, body) = req.into_parts();
        let caller = Caller::from_request_parts(&mut parts, app).await?;
        let headers = parts.headers.clone();
        let announced =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        // A body trickled in holds a body slot: it has a deadline.
        let read = collect(body, announced, app.max_body);
        let body = match tokio::time::timeout(app.body_timeout, read).await {
            Ok(body) => body?,
            Err(_) => {
                let why = format!("the body did not arrive within {} s", app.body_timeout.as_secs());
                return Err((StatusCode::REQUEST_TIMEOUT, why).into_response());
            }
        };
        Ok(Upload { app: app.clone(), caller, headers, body })
    }
}

/// Receives a body as the chunks it arrives in (joining them would hold
/// it twice; see [`body`]), and refuses it past `max` bytes.
async fn collect(body: axum::body::Body, announced: Option<usize>, max: usize) -> Result<body::Chunks, Response> {
    use http_body_util::BodyExt;
    let too_large = || (StatusCode::PAYLOAD_TOO_LARGE, format!("body is over {max} bytes")).into_response();
    if announced.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut out = body::Chunks::default();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| (StatusCode::BAD_REQUEST, format!("reading the body: {e}")).into_response())?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(too_large());
            }
            out.push(data);
        }
    }
    Ok(out)
}

/// Records in the log batches are cut at.
const BATCH_BYTES: usize = 4 << 20;

impl Upload {
    /// Decodes and parses the body on a blocking thread: a 100 MiB gzip or
    /// a large `_bulk` must not hold an async worker that other
    /// connections need.
    pub(crate) async fn parse<T: Send + 'static>(
        &mut self,
        parse: impl FnOnce(&mut body::Body) -> Result<T, Rejected> + Send + 'static,
    ) -> Result<T, Rejected> {
        let (gzip, max, chunks) = (gzipped(&self.headers), self.app.max_body, std::mem::take(&mut self.body));
        tokio::task::spawn_blocking(move || parse(&mut body::Body::new(chunks, gzip, max)))
            .await
            .map_err(|e| Rejected::Failed(format!("a parsing task failed: {e}")))?
    }

    /// Writes records to the log, in batches of a few MiB, and returns
    /// once all are durable. The batches are accepted or refused together,
    /// so a retried request is never half stored.
    pub(crate) async fn submit(&self, source: &str, format: &str, records: Vec<String>) -> Result<u64, Rejected> {
        self.submit_rejecting(source, format, records, Vec::new()).await
    }

    /// [`Upload::submit`], with records refused on the way in (`(why,
    /// record)`): submitted with the others as dead letters, in the same
    /// log transaction, so all are stored or none.
    pub(crate) async fn submit_rejecting(
        &self,
        source: &str,
        format: &str,
        records: Vec<String>,
        refused: Vec<(String, String)>,
    ) -> Result<u64, Rejected> {
        let (app, caller) = (&self.app, &self.caller);
        let received = jiff::Timestamp::now().as_nanosecond() as i64;
        let source = caller.source.as_deref().unwrap_or(source);
        let mut pending = Vec::new();
        let mut batch = Vec::new();
        let mut size = 0;
        let total = records.len();
        for (i, r) in records.into_iter().enumerate() {
            size += r.len();
            batch.push(r);
            if size >= BATCH_BYTES || i + 1 == total {
                pending.push(Batch {
                    received,
                    tenant: caller.tenant.clone(),
                    source: source.to_string(),
                    format: format.to_string(),
                    records: std::mem::take(&mut batch),
                });
                size = 0;
            }
        }
        for (why, record) in refused {
            pending.push(Batch {
                received,
                tenant: caller.tenant.clone(),
                source: source.to_string(),
                format: format!("reject:{why}"),
                records: vec![record],
            });
        }
        app.ingest.submit_all(pending).await.map_err(Rejected::from)
    }
}
