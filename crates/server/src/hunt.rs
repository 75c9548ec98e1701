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

use access::Action;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::retro::RetroHunt;
use serde::Deserialize;
use serde_json::json;

use super::http::{AppState, plain_denied};
use super::search::{at_search_priority, bad, json_line, lines_response, search_permit, time_bounds};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    rules: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub(crate) async fn hunt(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match state.tokens.check(&headers, Action::Hunt) {
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
    let bounds = match time_bounds(&req.from, &req.to, jiff::Timestamp::now()) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let permit = match search_permit(&state) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let ingest = state.ingest.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let tenants = vec![token.tenant.clone()];
        let hunt = RetroHunt { store: &store, rules: &rules, tenants: &tenants, from: bounds[0], to: bounds[1] };
        let send = |v: serde_json::Value| {
            let _ = tx.blocking_send(json_line(&v));
        };
        let total = match hunt.count() {
            Ok(n) => n,
            Err(e) => return send(json!({"error": e.to_string()})),
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
            Err(e) => json!({"error": e.to_string()}),
        });
    });
    lines_response(rx)
}
