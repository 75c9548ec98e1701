//! Searching stored events and hunting through them, answered as JSON
//! lines while the work runs.
//!
//! `POST /api/v1/search`: `{"query": "...", "from": "-24h", "to": "now",
//! "limit": 100}` (`from`/`to` as RFC 3339, a date, or an offset from
//! now). A query that does not parse gets 400 with the column. The answer
//! is 200 with one JSON object per line (events newest first, or the
//! pipes' rows) and a last line `{"summary": {...}}`, or `{"error": "..."}`
//! when the search failed after it started (a timeout, a limit).
//!
//! `POST /api/v1/hunt`: a retro-hunt with the server's rules or with Sigma
//! rules sent in the request (`{"rules": "<YAML>", "from": "-30d"}`).
//! Findings become alerts (`"origin": "retro-hunt"`) in the alert journal.
//! The answer is JSON lines: `{"progress": ...}` now and then, each
//! finding, and a last `{"summary": ...}` or `{"error": ...}`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::retro::RetroHunt;
use serde_json::{Value, json};

use super::body;
use super::model::{HuntBody, SearchBody};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::search::{Search, at_search_priority};

/// Events a search without pipes returns at most.
const MAX_LIMIT: usize = 10_000;

/// A query that does not parse: 400 with the column where it broke.
fn unparsable(e: query::ParseError) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.message, "column": e.column }))).into_response()
}

/// `from`/`to` of a request as instants, or 400 naming the bad one.
fn bounds(
    from: &Option<String>,
    to: &Option<String>,
    now: jiff::Timestamp,
) -> Result<[Option<jiff::Timestamp>; 2], ApiError> {
    let mut out = [None, None];
    for (slot, (name, text)) in out.iter_mut().zip([("from", from), ("to", to)]) {
        if let Some(text) = text {
            *slot = Some(query::time_arg(text, now).ok_or_else(|| {
                ApiError::Invalid(format!("`{name}` is not a time: {text:?} (RFC 3339, a date, now, or -24h)"))
            })?);
        }
    }
    Ok(out)
}

pub(crate) async fn search(State(app): State<Arc<App>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    let store = app.store()?;
    let req: SearchBody = body(&bytes)?;
    let parsed = match query::parse(&req.query) {
        Ok(q) => q,
        Err(e) => return Ok(unparsable(e)),
    };
    let now = jiff::Timestamp::now();
    let [from, to] = bounds(&req.from, &req.to, now)?;
    let permit = app.search_permit()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let search = Search { tenant: caller.tenant, from, to, now, timeout: app.search_timeout };
    let limit = req.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = std::time::Instant::now();
        let mut rows = 0u64;
        let outcome = at_search_priority(|| {
            search.run(&store, &parsed, limit, &mut |row| {
                rows += 1;
                tx.blocking_send(json_line(&Value::Object(row))).is_ok()
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
            Err(e) => {
                e.log();
                json!({"error": e.message()})
            }
        };
        let _ = tx.blocking_send(json_line(&last));
    });
    Ok(lines_response(rx))
}

/// The rules a hunt runs: those sent, or the server's.
fn hunt_rules(app: &App, text: Option<&str>) -> Result<Arc<sigma::RuleSet>, ApiError> {
    let Some(text) = text else { return Ok(app.rules.clone()) };
    let mut b = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
    b.add_file("request", text);
    let (set, errors) = b.build();
    if let Some(e) = errors.first() {
        return Err(ApiError::Invalid(format!("rule at line {}, column {}: {}", e.line, e.col, e.message)));
    }
    if set.is_empty() {
        return Err(ApiError::Invalid("`rules` holds no rule".into()));
    }
    Ok(Arc::new(set))
}

pub(crate) async fn hunt(State(app): State<Arc<App>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    let store = app.store()?;
    let req: HuntBody = body(&bytes)?;
    let rules = hunt_rules(&app, req.rules.as_deref())?;
    let [from, to] = bounds(&req.from, &req.to, jiff::Timestamp::now())?;
    let permit = app.search_permit()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let ingest = app.ingest.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let tenants = vec![caller.tenant];
        let hunt = RetroHunt { store: &store, rules: &rules, tenants: &tenants, from, to };
        let send = |v: Value| {
            let _ = tx.blocking_send(json_line(&v));
        };
        let total = match hunt.count() {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "a retro-hunt could not count its events");
                return send(json!({"error": e.to_string()}));
            }
        };
        send(json!({"progress": {"done": 0, "total": total}}));
        let reported = AtomicU64::new(0);
        let started = std::time::Instant::now();
        let outcome = at_search_priority(|| {
            hunt.run(
                &|line| {
                    ingest.raise_alert(line.clone());
                    let mut line = line;
                    line.push(b'\n');
                    let _ = tx.blocking_send(Bytes::from(line));
                },
                &|done| {
                    // About every tenth of the way.
                    let step = (total / 10).max(1);
                    let last = reported.load(Ordering::Relaxed);
                    if done >= last + step
                        && reported.compare_exchange(last, done, Ordering::Relaxed, Ordering::Relaxed).is_ok()
                    {
                        send(json!({"progress": {"done": done, "total": total}}));
                    }
                },
            )
        });
        send(match outcome {
            Ok(s) => json!({"summary": {
                "events": s.events, "unparsable": s.unparsable, "alerts": s.alerts, "rules": rules.len(),
                "took_ms": started.elapsed().as_millis() as u64,
            }}),
            Err(e) => {
                tracing::error!(error = %e, "a retro-hunt failed");
                json!({"error": e.to_string()})
            }
        });
    });
    Ok(lines_response(rx))
}

fn json_line(v: &Value) -> Bytes {
    let mut line = serde_json::to_vec(v).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// A JSON-lines answer fed from a search thread.
fn lines_response(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::new(Lines(rx))).into_response()
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
