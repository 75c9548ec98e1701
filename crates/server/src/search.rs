//! `POST /api/v1/search`: a query over the token's tenant, answered as
//! JSON lines while the search runs.
//!
//! Request: `{"query": "...", "from": "-24h", "to": "now", "limit": 100}`
//! (`from`/`to` as RFC 3339, a date, or an offset from now). A query that
//! does not parse gets 400 with the column. The answer is 200 with one
//! JSON object per line (events newest first, or the pipes' rows) and a
//! last line `{"summary": {...}}`, or `{"error": "..."}` when the search
//! failed after it started (a timeout, a limit).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use access::Action;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::http::{AppState, plain_denied};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    query: String,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

/// Events a search without pipes returns at most.
const MAX_LIMIT: usize = 10_000;

pub(crate) fn bad(message: String, column: Option<usize>) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": message, "column": column }))).into_response()
}

pub(crate) async fn search(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match state.tokens.check(&headers, Action::Read) {
        Ok(t) => t,
        Err(d) => return plain_denied(d),
    };
    let Some(store) = state.store.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the event store is off ([store] enabled = false)\n").into_response();
    };
    let req: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("the request body is not a search: {e}"), None),
    };
    let parsed = match query::parse(&req.query) {
        Ok(q) => q,
        Err(e) => return bad(e.message, Some(e.column)),
    };
    let now = jiff::Timestamp::now();
    let bounds = match time_bounds(&req.from, &req.to, now) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let permit = match search_permit(&state) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let timeout = state.search_timeout;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let tenants = vec![token.tenant.clone()];
        let request = eventstore::SearchRequest {
            tenants: &tenants,
            query: &parsed,
            from: bounds[0],
            to: bounds[1],
            now,
            limit: req.limit.unwrap_or(100).clamp(1, MAX_LIMIT),
            limits: query::Limits::default(),
            timeout,
        };
        let started = std::time::Instant::now();
        let mut rows = 0u64;
        let outcome = at_search_priority(|| {
            store.search_each(&request, &engine::Renormalize, &mut |row| {
                rows += 1;
                let mut line = serde_json::to_vec(&row).unwrap_or_default();
                line.push(b'\n');
                tx.blocking_send(Bytes::from(line)).is_ok()
            })
        });
        let last = match outcome {
            Ok(r) => json!({"summary": {
                "rows": rows,
                "partitions": r.partitions,
                "candidates": r.candidates,
                "checked": r.checked,
                "columns": r.columns,
                "took_ms": started.elapsed().as_millis() as u64,
            }}),
            Err(e) => json!({"error": e.to_string()}),
        };
        let _ = tx.blocking_send(json_line(&last));
    });
    lines_response(rx)
}

/// `from`/`to` of a request as instants, or the 400 answer naming the bad one.
pub(crate) fn time_bounds(
    from: &Option<String>,
    to: &Option<String>,
    now: jiff::Timestamp,
) -> Result<[Option<jiff::Timestamp>; 2], Box<Response>> {
    let mut bounds = [None, None];
    for (slot, (name, text)) in bounds.iter_mut().zip([("from", from), ("to", to)]) {
        if let Some(text) = text {
            match query::time_arg(text, now) {
                Some(t) => *slot = Some(t),
                None => {
                    let why = format!("`{name}` is not a time: {text:?} (RFC 3339, a date, now, or -24h)");
                    return Err(Box::new(bad(why, None)));
                }
            }
        }
    }
    Ok(bounds)
}

/// Searches' nice value: below detection (0), above indexing (19). Under a
/// burst a search takes longer and ingest keeps its pace; on idle cores a
/// search runs at full speed.
const SEARCH_NICE: i32 = 10;

/// Runs store work for analysts (searches, retro-hunts, the console's
/// search page) on the search threads, whose priority is below detection's;
/// the parallel parts of a search stay on them too.
pub(crate) fn at_search_priority<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("search-{i}"))
            .start_handler(|_| engine::lower_thread_priority(SEARCH_NICE))
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        // No threads to be had: search on the caller's, at its priority.
        None => work(),
    }
}

/// A slot among the searches that may run at once, or 429.
pub(crate) fn search_permit(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, Box<Response>> {
    state.searches.clone().try_acquire_owned().map_err(|_| {
        let resp = (StatusCode::TOO_MANY_REQUESTS, "too many searches at once; retry shortly\n").into_response();
        Box::new(super::http::retry_later(resp))
    })
}

pub(crate) fn json_line(v: &serde_json::Value) -> Bytes {
    let mut line = serde_json::to_vec(v).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// A JSON-lines answer fed from a search thread.
pub(crate) fn lines_response(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::new(Lines(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A response body fed line by line from the search thread.
struct Lines(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for Lines {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|line| line.map(|l| Ok(http_body::Frame::data(l))))
    }
}
