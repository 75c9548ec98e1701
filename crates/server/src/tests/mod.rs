//! The server in process: a real engine, state store and token file on a
//! temporary data directory, and the router called with `tower`'s
//! `oneshot`, one request at a time, as a client would call it.

mod authz;
mod errors;
mod listings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use access::Scope;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use state::By;
use tower::ServiceExt;

use crate::app::App;
use crate::config::Config;

/// What only tenant `a`'s data holds: an answer to anyone else that
/// contains it is a leak.
pub(super) const MARKER: &str = "marker-of-tenant-a";

/// A server on a fresh data directory, with one incident in tenant `a`.
pub(super) struct Fixture {
    pub(super) dir: PathBuf,
    pub(super) engine: Option<engine::Engine>,
    pub(super) app: Arc<App>,
    pub(super) soc: Arc<state::State>,
    pub(super) runtime: tokio::runtime::Runtime,
    /// Tenant `a`'s incident and one of its alerts.
    pub(super) incident: i64,
    pub(super) alert: i64,
}

/// What a request is answered with.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) location: String,
    pub(super) body: String,
    pub(super) request_id: Option<String>,
}

impl Fixture {
    pub(super) fn new(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("hinomi-server-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rules = Arc::new(sigma::RuleSetBuilder::new(sigma::CompileOptions::default()).build().0);
        let engine = engine::Engine::start(engine::EngineConfig::new(&dir), rules.clone()).unwrap();
        let soc = Arc::new(state::State::sqlite(&dir.join("state.db"), soc::TriagePolicy::default()).unwrap());
        let line = serde_json::json!({
            "id": "1.0.r1", "kind": "sigma", "event_id": "1.0", "@timestamp": "2026-11-20T01:00:00Z",
            "tenant": "a", "source": "winlog", "level": "high", "title": format!("Logon on {MARKER}"),
            "rule": {"id": "r1", "title": format!("Logon on {MARKER}"), "level": "high", "author": "tests"},
            "event": {"host.name": MARKER, "user.name": "alice"},
        });
        let detection = soc::Detection::from_alert_line(&serde_json::to_vec(&line).unwrap()).unwrap();
        soc.triage(&[detection], None, jiff::Timestamp::now()).unwrap();
        let incidents = soc.incidents("a", &state::IncidentQuery { limit: 10, ..Default::default() }).unwrap();
        let alerts = soc.alerts("a", &state::AlertQuery { limit: 10, ..Default::default() }).unwrap();
        let config = Config::default();
        let app = Arc::new(App::new(&config, &dir, engine.ingest(), None, rules, Some(soc.clone())));
        app.reload_tenants().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        Fixture { dir, engine: Some(engine), app, soc, runtime, incident: incidents[0].id, alert: alerts[0].id }
    }

    /// A token of `scope` for `tenant`.
    pub(super) fn token(&self, tenant: &str, scope: Scope) -> String {
        state::tokens::create(&self.dir, tenant, scope, None, "2026-11-20T00:00:00Z").unwrap().0
    }

    /// A console user holding these roles, signed in: its cookie and CSRF token.
    pub(super) fn session(&self, name: &str, grants: &[(&str, Scope)]) -> (String, String) {
        let now = jiff::Timestamp::now();
        self.soc.add_user(&By { tenant: "", actor: "tests", now }, name, "$argon2id$none", "en", "UTC").unwrap();
        for (tenant, role) in grants {
            self.soc.grant(&By { tenant, actor: "tests", now }, name, Some(*role)).unwrap();
        }
        let (cookie, csrf) = (format!("cookie-of-{name}"), format!("csrf-of-{name}"));
        self.soc.start_session(&By { tenant: "", actor: name, now }, &cookie, &csrf).unwrap();
        (cookie, csrf)
    }

    /// Sends one request through the route table (without the request
    /// span layer: the matrix makes thousands of calls).
    pub(super) fn call(&self, req: Request<Body>) -> Answer {
        self.send(crate::routes::router(self.app.clone()), req)
    }

    /// Sends one request through the whole service, as `serve` runs it.
    pub(super) fn call_full(&self, req: Request<Body>) -> Answer {
        self.send(crate::router(self.app.clone()), req)
    }

    fn send(&self, router: axum::Router, req: Request<Body>) -> Answer {
        let mut req = req;
        req.extensions_mut().insert(ConnectInfo(crate::listen::Peer(SocketAddr::from(([127, 0, 0, 1], 40000)))));
        self.runtime.block_on(async {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let (location, request_id) = (header("location").unwrap_or_default(), header("x-request-id"));
            let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
            Answer { status, location, body: String::from_utf8_lossy(&bytes).into_owned(), request_id }
        })
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
