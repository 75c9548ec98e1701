//! Logs: `tracing` events with levels and fields, written to stderr as
//! text or JSON lines (`--log-format`), and a span per HTTP request that
//! carries its id, so an error logged anywhere while answering it names
//! the request the client saw (the `x-request-id` header).
//!
//! `HINOMI_LOG` (or `RUST_LOG`) filters, as `info` by default:
//! `HINOMI_LOG=server=debug,info`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event, for a log shipper.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format `{other}`: expected text or json")),
        }
    }
}

/// Installs the process's logger; call once, first thing.
pub fn init(format: LogFormat) {
    let filter = std::env::var("HINOMI_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    // A second call (tests) finds a logger installed: fine.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Request ids: unique within the process, in order.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Runs a request in a span with its id, method and path; logs what it
/// came to at debug level, and a server error at warn. A 503 with
/// `Retry-After` is back-pressure (HEC's "busy", a paused pipeline), not a
/// failure: senders are told it many times a second under load, and the
/// status page says why; warning each would grow the log without bound.
pub(crate) async fn request_span(req: Request, next: Next) -> Response {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let took_ms = started.elapsed().as_millis() as u64;
    span.in_scope(|| {
        if status >= 500 && !resp.headers().contains_key(header::RETRY_AFTER) {
            tracing::warn!(status, took_ms, "answered with a server error");
        } else {
            tracing::debug!(status, took_ms, "answered");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
