//! `POST /api/v1/hunt`: a retro-hunt over the token's tenant, with the
//! server's rules or with Sigma rules sent in the request (the new rule an
//! engineer wants to try on history).
//!
//! Request: `{"rules": "<Sigma YAML, optional>", "from": "-30d", "to": "now"}`.
//! Admin tokens only: findings become alerts (`"origin": "retro-hunt"`)
//! in the alert journal. The answer is JSON lines: `{"progress": ...}`
//! now and then, each finding, and a last `{"summary": ...}` or
//! `{"error": ...}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::retro::RetroHunt;
use serde::Deserialize;
use serde_json::json;
use store::tokens::Scope;

use super::http::{AppState, plain_denied};
use super::search::{Lines, bad, time_arg};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    rules: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub(crate) async fn hunt(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match state.tokens.check(&headers, Scope::Admin) {
        Ok(t) => t,
        Err(d) => return plain_denied(d),
    };
    let Some(store) = state.store.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the event store is off ([store] enabled = false)\n").into_response();
    };
    let req: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("the request body is not a hunt: {e}"), None),
    };
    let rules = match &req.rules {
        None => state.rules.clone(),
        Some(text) => {
            let mut b = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
            b.add_file("request", text);
            let (set, errors) = b.build();
            if let Some(e) = errors.first() {
                return bad(format!("rule at line {}, column {}: {}", e.line, e.col, e.message), None);
            }
            if set.is_empty() {
                return bad("`rules` holds no rule".into(), None);
            }
            Arc::new(set)
        }
    };
    let now = jiff::Timestamp::now();
    let mut bounds = [None, None];
    for (slot, (name, text)) in bounds.iter_mut().zip([("from", &req.from), ("to", &req.to)]) {
        if let Some(text) = text {
            match time_arg(text, now) {
                Some(t) => *slot = Some(t),
                None => return bad(format!("`{name}` is not a time: {text:?}"), None),
            }
        }
    }
    let Ok(permit) = state.searches.clone().try_acquire_owned() else {
        let resp = (StatusCode::TOO_MANY_REQUESTS, "too many searches at once; retry shortly\n").into_response();
        return super::http::retry_later(resp);
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let ingest = state.ingest.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let tenants = vec![token.tenant.clone()];
        let hunt = RetroHunt { store: &store, rules: &rules, tenants: &tenants, from: bounds[0], to: bounds[1] };
        let send = |v: serde_json::Value| {
            let mut line = serde_json::to_vec(&v).unwrap_or_default();
            line.push(b'\n');
            let _ = tx.blocking_send(Bytes::from(line));
        };
        let total = match hunt.count() {
            Ok(n) => n,
            Err(e) => return send(json!({"error": e.to_string()})),
        };
        send(json!({"progress": {"done": 0, "total": total}}));
        let reported = AtomicU64::new(0);
        let started = std::time::Instant::now();
        let outcome = hunt.run(
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
        );
        send(match outcome {
            Ok(s) => json!({"summary": {
                "events": s.events, "unparsable": s.unparsable, "alerts": s.alerts, "rules": rules.len(),
                "took_ms": started.elapsed().as_millis() as u64,
            }}),
            Err(e) => json!({"error": e.to_string()}),
        });
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::new(Lines(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
