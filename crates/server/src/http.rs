//! The HTTP listener: every ingest route (Elasticsearch `_bulk`, Splunk
//! HEC, OTLP logs, NDJSON) and the read API, on one port by default.
//!
//! Every ingest route answers only after the records are in the
//! write-ahead log, and refuses them (429, or 503 for HEC, both with
//! `Retry-After`) while the pipeline is behind.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use access::Action;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::{Ingest, Refused};
use serde::Deserialize;
use serde_json::{Value, json};
use state::tokens::TokenRecord;
use wal::Batch;

use super::auth::{Denied, Tokens};

pub(crate) struct AppState {
    pub(crate) ingest: Ingest,
    pub(crate) tokens: Tokens,
    pub(crate) data: PathBuf,
    pub(crate) max_body: usize,
    /// Ingest requests whose bodies may be in memory at once.
    pub(crate) bodies: Arc<tokio::sync::Semaphore>,
    pub(crate) store: Option<Arc<eventstore::EventStore>>,
    /// The rules the stream runs (a retro-hunt's default).
    pub(crate) rules: Arc<sigma::RuleSet>,
    pub(crate) search_timeout: Duration,
    /// Searches running at once; more get 429.
    pub(crate) searches: Arc<tokio::sync::Semaphore>,
    /// The SOC state store (alerts, incidents); `None` with triage off.
    pub(crate) soc: Option<Arc<state::State>>,
    pub(crate) console: super::console::Console,
}

/// Searches that may run at once: each may use a core for its timeout.
pub(crate) const MAX_SEARCHES: usize = 4;

/// Ingest requests buffered at once; more get "busy". With the body limit
/// this bounds the memory request bodies can take.
pub(crate) const MAX_BODIES: usize = 32;

type AppRef = State<Arc<AppState>>;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let max_body = state.max_body;
    let ingest = Router::new()
        .route("/_bulk", post(bulk_all).put(bulk_all))
        .route("/{index}/_bulk", post(bulk_index).put(bulk_index))
        .route("/services/collector", post(hec_event))
        .route("/services/collector/event", post(hec_event))
        .route("/services/collector/event/1.0", post(hec_event))
        .route("/services/collector/raw", post(hec_raw))
        .route("/services/collector/raw/1.0", post(hec_raw))
        .route("/v1/logs", post(otlp_logs))
        .route("/api/v1/ingest", post(ndjson))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), gate))
        .layer(DefaultBodyLimit::max(max_body));
    Router::new()
        .route("/", get(root).head(es_root))
        .route("/services/collector/health", get(hec_health))
        .route("/services/collector/health/1.0", get(hec_health))
        .route("/api/v1/detections", get(detections))
        .route("/api/v1/alerts", get(super::cases::alerts))
        .route("/api/v1/alerts/{id}", get(super::cases::alert))
        .route("/api/v1/incidents", get(super::cases::incidents))
        .route("/api/v1/incidents/{id}", get(super::cases::incident))
        .route("/api/v1/incidents/{id}/timeline", get(super::cases::timeline))
        .route("/api/v1/incidents/{id}/escalation", get(super::cases::escalation))
        .route("/api/v1/incidents/{id}/tasks/{task}/done", post(super::cases::task_done))
        .route("/api/v1/incidents/{id}/{action}", post(super::cases::act))
        .route("/api/v1/suppressions", get(super::cases::suppressions).post(super::cases::add_suppression))
        .route("/api/v1/assets", get(super::cases::assets).put(super::cases::put_assets))
        .route("/api/v1/sla-policies", axum::routing::put(super::cases::put_sla))
        .route("/api/v1/rules/stats", get(super::cases::rule_stats))
        .route("/api/v1/notifications", get(super::cases::notifications))
        .route("/api/v1/audit", get(super::cases::audit))
        .route("/api/v1/deadletter", get(deadletter))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/status", get(status))
        .route("/api/v1/search", post(super::search::search))
        .route("/api/v1/hunt", post(super::hunt::hunt))
        .merge(ingest)
        .merge(super::console::routes())
        .with_state(state)
}

/// The protocol family of an ingest route, for answering in its dialect.
#[derive(Clone, Copy)]
enum Dialect {
    Elasticsearch,
    Hec,
    Plain,
}

impl Dialect {
    fn of(path: &str) -> Dialect {
        if path.ends_with("/_bulk") {
            Dialect::Elasticsearch
        } else if path.starts_with("/services/collector") {
            Dialect::Hec
        } else {
            Dialect::Plain
        }
    }

    fn denied(self, d: Denied) -> Response {
        match self {
            Dialect::Elasticsearch => es_denied(d),
            Dialect::Hec => hec(match d {
                Denied::Missing => &wire::hec::TOKEN_REQUIRED,
                Denied::Invalid => &wire::hec::INVALID_TOKEN,
                Denied::Forbidden => &wire::hec::INVALID_AUTHORIZATION,
            }),
            Dialect::Plain => plain_denied(d),
        }
    }

    fn busy(self) -> Response {
        match self {
            Dialect::Elasticsearch => {
                es_error(StatusCode::TOO_MANY_REQUESTS, "es_rejected_execution_exception", "ingest is behind; retry")
            }
            Dialect::Hec => hec(&wire::hec::SERVER_BUSY),
            Dialect::Plain => busy(),
        }
    }
}

/// Runs before an ingest body is read: the token must allow sending (it is
/// handed to the route), and only so many bodies may be in memory at once
/// (later requests wait for their turn, their bodies still unread). A
/// sender without a valid token never gets more than [`DRAIN_LIMIT`] of its
/// body read, and that only so that its client sees the refusal.
async fn gate(State(state): AppRef, mut req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let dialect = Dialect::of(req.uri().path());
    let token = match state.tokens.check(req.headers(), Action::Ingest) {
        Ok(t) => t,
        Err(d) => return drained(req, dialect.denied(d)).await,
    };
    let permit = tokio::time::timeout(Duration::from_secs(30), state.bodies.clone().acquire_owned()).await;
    let Ok(Ok(_permit)) = permit else {
        return drained(req, dialect.busy()).await;
    };
    req.extensions_mut().insert(token);
    next.run(req).await
}

/// How much of a refused request's body is read and thrown away (for at
/// most a second): clients send the whole body before they read the answer,
/// so an unread small body would turn a clear 401 into a broken connection.
/// Larger ones are cut off.
const DRAIN_LIMIT: usize = 1 << 20;

async fn drained(req: axum::extract::Request, resp: Response) -> Response {
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

/// The request body, gunzipped when the client compressed it; bounded so a
/// small compressed body cannot expand without limit.
fn body_bytes(headers: &HeaderMap, body: Bytes, max: usize) -> Result<Bytes, (StatusCode, String)> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(body);
    }
    let mut out = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(&body[..]).take(max as u64 + 1);
    reader.read_to_end(&mut out).map_err(|e| (StatusCode::BAD_REQUEST, format!("cannot gunzip the body: {e}")))?;
    if out.len() > max {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("body is over {max} bytes once decompressed")));
    }
    Ok(Bytes::from(out))
}

/// Writes records to the log, in batches of a few MiB, and returns once
/// all are durable. The batches are accepted or refused together, so a
/// retried request is never half stored.
async fn submit(
    state: &AppState,
    token: &TokenRecord,
    source: &str,
    format: &str,
    records: Vec<String>,
) -> Result<u64, Refused> {
    let received = jiff::Timestamp::now().as_nanosecond() as i64;
    let source = token.source.as_deref().unwrap_or(source);
    let mut batch = Vec::new();
    let mut size = 0;
    let mut pending = Vec::new();
    let total = records.len();
    for (i, r) in records.into_iter().enumerate() {
        size += r.len();
        batch.push(r);
        if size >= 4 << 20 || i + 1 == total {
            pending.push(Batch {
                received,
                tenant: token.tenant.clone(),
                source: source.to_string(),
                format: format.to_string(),
                records: std::mem::take(&mut batch),
            });
            size = 0;
        }
    }
    state.ingest.submit_all(pending).await
}

// ---------------------------------------------------------------------------
// Elasticsearch

/// Answers like a cluster, for clients and shippers that probe `GET /`.
/// The version is one that current Beats, Logstash and clients accept.
/// `GET /`: a browser goes to the console; anything else (the
/// Elasticsearch clients' probe) gets the cluster answer.
async fn root(headers: HeaderMap) -> Response {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').next().is_some_and(|first| first.trim().starts_with("text/html")));
    if browser {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/ui/")]).into_response();
    }
    es_root().await
}

async fn es_root() -> Response {
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

fn es_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let resp = es(status, json!({"error": {"type": kind, "reason": reason}, "status": status.as_u16()}));
    if status == StatusCode::TOO_MANY_REQUESTS { retry_later(resp) } else { resp }
}

fn es_denied(d: Denied) -> Response {
    match d {
        Denied::Missing => es_error(StatusCode::UNAUTHORIZED, "security_exception", "missing authentication token"),
        Denied::Invalid => {
            es_error(StatusCode::UNAUTHORIZED, "security_exception", "unable to authenticate with the provided token")
        }
        Denied::Forbidden => es_error(StatusCode::FORBIDDEN, "security_exception", "the token may not send events"),
    }
}

type Token = Extension<TokenRecord>;

async fn bulk_all(state: AppRef, token: Token, headers: HeaderMap, body: Bytes) -> Response {
    bulk(state, token, None, headers, body).await
}

async fn bulk_index(
    state: AppRef,
    token: Token,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(state, token, Some(index), headers, body).await
}

async fn bulk(
    State(state): AppRef,
    Extension(token): Token,
    index: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let body = match body_bytes(&headers, body, state.max_body) {
        Ok(b) => b,
        Err((status, reason)) => return es_error(status, "parse_exception", &reason),
    };
    let items = match wire::bulk::parse(&body, index.as_deref()) {
        Ok(items) => items,
        Err(e) => return es_error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &e.0),
    };
    let records: Vec<String> = items.iter().filter_map(|i| i.document.clone()).collect();
    match submit(&state, &token, "bulk", "json", records).await {
        Ok(pos) => {
            let took = started.elapsed().as_millis() as u64;
            let body = wire::bulk::response(&items, took, &pos.to_string());
            with_product((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Err(Refused::Busy) => {
            es_error(StatusCode::TOO_MANY_REQUESTS, "es_rejected_execution_exception", "ingest is behind; retry")
        }
        Err(Refused::Failed(e)) => es_error(StatusCode::INTERNAL_SERVER_ERROR, "exception", &e),
    }
}

// ---------------------------------------------------------------------------
// Splunk HEC

fn hec(status: &wire::hec::Status) -> Response {
    let code = StatusCode::from_u16(status.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let resp = (code, axum::Json(status.body())).into_response();
    if status.code == wire::hec::SERVER_BUSY.code { retry_later(resp) } else { resp }
}

async fn hec_event(State(state): AppRef, Extension(token): Token, headers: HeaderMap, body: Bytes) -> Response {
    let body = match body_bytes(&headers, body, state.max_body) {
        Ok(b) => b,
        Err((status, reason)) => return (status, reason).into_response(),
    };
    let (records, status) = wire::hec::parse_events(&body);
    // Records come as log lines (`auto`) or JSON; one batch per kind.
    let (json, lines): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| r.format == "json");
    for (format, group) in [("json", json), ("auto", lines)] {
        if group.is_empty() {
            continue;
        }
        let texts = group.into_iter().map(|r| r.text).collect();
        match submit(&state, &token, "hec", format, texts).await {
            Ok(_) => {}
            Err(Refused::Busy) => return hec(&wire::hec::SERVER_BUSY),
            Err(Refused::Failed(e)) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        }
    }
    hec(&status)
}

async fn hec_raw(State(state): AppRef, Extension(token): Token, headers: HeaderMap, body: Bytes) -> Response {
    let body = match body_bytes(&headers, body, state.max_body) {
        Ok(b) => b,
        Err((status, reason)) => return (status, reason).into_response(),
    };
    let records: Vec<String> = wire::hec::parse_raw(&body).into_iter().map(|r| r.text).collect();
    if records.is_empty() {
        return hec(&wire::hec::NO_DATA);
    }
    match submit(&state, &token, "hec", "auto", records).await {
        Ok(_) => hec(&wire::hec::SUCCESS),
        Err(Refused::Busy) => hec(&wire::hec::SERVER_BUSY),
        Err(Refused::Failed(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn hec_health() -> Response {
    hec(&wire::hec::HEALTHY)
}

// ---------------------------------------------------------------------------
// OTLP and NDJSON

pub(crate) fn plain_denied(d: Denied) -> Response {
    match d {
        Denied::Missing => (StatusCode::UNAUTHORIZED, "missing token\n").into_response(),
        Denied::Invalid => (StatusCode::FORBIDDEN, "invalid token\n").into_response(),
        Denied::Forbidden => (StatusCode::FORBIDDEN, "the token does not allow this\n").into_response(),
    }
}

fn busy() -> Response {
    retry_later((StatusCode::TOO_MANY_REQUESTS, "ingest is behind; retry\n").into_response())
}

/// Every "busy" answer tells the sender when to try again.
pub(crate) fn retry_later(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

async fn otlp_logs(State(state): AppRef, Extension(token): Token, headers: HeaderMap, body: Bytes) -> Response {
    let body = match body_bytes(&headers, body, state.max_body) {
        Ok(b) => b,
        Err((status, reason)) => return (status, reason).into_response(),
    };
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let records = if json_body { wire::otlp::decode_json(&body) } else { wire::otlp::decode_protobuf(&body) };
    let records = match records {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{}\n", e.0)).into_response(),
    };
    match submit(&state, &token, "otlp", "json", records).await {
        // An empty ExportLogsServiceResponse: no bytes in protobuf, `{}` in JSON.
        Ok(_) if json_body => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{}").into_response(),
        Ok(_) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new()).into_response(),
        Err(Refused::Busy) => busy(),
        Err(Refused::Failed(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

#[derive(Deserialize)]
struct IngestQuery {
    format: Option<String>,
}

async fn ndjson(
    State(state): AppRef,
    Extension(token): Token,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let format = q.format.unwrap_or_else(|| "auto".into());
    if let Err(e) = format.parse::<normalize::Format>() {
        return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response();
    }
    let body = match body_bytes(&headers, body, state.max_body) {
        Ok(b) => b,
        Err((status, reason)) => return (status, reason).into_response(),
    };
    // One record per line; a line holding a CloudTrail envelope (or a JSON
    // array) gives one record per element.
    let mut records = Vec::new();
    for line in String::from_utf8_lossy(&body).lines().map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            continue;
        }
        match wire::envelope::unwrap_line(line) {
            Some(inner) => records.extend(inner),
            None => records.push(line.to_string()),
        }
    }
    let n = records.len();
    match submit(&state, &token, "ndjson", &format, records).await {
        Ok(_) => axum::Json(json!({ "accepted": n })).into_response(),
        Err(Refused::Busy) => busy(),
        Err(Refused::Failed(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

// ---------------------------------------------------------------------------
// Read API

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

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
async fn read_journal(
    state: Arc<AppState>,
    headers: HeaderMap,
    q: ListQuery,
    name: &'static str,
    key: &'static str,
) -> Response {
    let token = match state.tokens.check(&headers, Action::Read) {
        Ok(t) => t,
        Err(d) => return plain_denied(d),
    };
    let limit = q.limit.unwrap_or(1000).clamp(1, 100_000);
    let dir = state.data.join(name);
    let tenant = token.tenant.clone();
    match tokio::task::spawn_blocking(move || tail(&dir, &tenant, limit)).await {
        Ok(Ok(items)) => {
            axum::Json(json!({ "tenant": token.tenant, "count": items.len(), key: items })).into_response()
        }
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("reading {name}: {e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("reading {name}: {e}\n")).into_response(),
    }
}

/// The raw detections of the alert journal (triage reads the same lines).
async fn detections(State(state): AppRef, Query(q): Query<ListQuery>, headers: HeaderMap) -> Response {
    read_journal(state, headers, q, "alerts", "detections").await
}

async fn deadletter(State(state): AppRef, Query(q): Query<ListQuery>, headers: HeaderMap) -> Response {
    read_journal(state, headers, q, "deadletter", "deadletter").await
}

async fn sources(State(state): AppRef, headers: HeaderMap) -> Response {
    let token = match state.tokens.check(&headers, Action::Read) {
        Ok(t) => t,
        Err(d) => return plain_denied(d),
    };
    let mine: Vec<_> = state.ingest.health().snapshot().into_iter().filter(|s| s.tenant == token.tenant).collect();
    axum::Json(json!({ "tenant": token.tenant, "sources": mine })).into_response()
}

async fn status(State(state): AppRef, headers: HeaderMap) -> Response {
    // Log positions and counters span tenants: admin tokens only.
    if let Err(d) = state.tokens.check(&headers, Action::Operate) {
        return plain_denied(d);
    }
    axum::Json(state.ingest.status()).into_response()
}
