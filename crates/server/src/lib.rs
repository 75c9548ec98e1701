//! The server side of `hinomi serve`: the HTTP router (ingest routes, the
//! REST API, the web console), the syslog listeners, authentication and
//! the typed configuration, as a library the binary starts and tests call
//! in process.
//!
//! It is not the pipeline (`engine`), the stores (`wal`, `state`,
//! `eventstore`) or the command line (`hinomi`): it receives, checks who
//! asks, and answers from what those hold. Start reading at [`serve`].

pub mod api;
mod app;
mod auth;
mod bell;
mod budget;
pub mod config;
mod console;
mod enc;
mod error;
pub mod handoff;
mod ingest;
pub mod intel;
mod lanes;
mod listen;
pub mod logging;
pub mod respond;
mod routes;
mod search;
pub mod tls;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use engine::Engine;
use serde_json::json;

use crate::config::{Config, Protocol};

pub use crate::app::App;
pub use crate::console::first_user;

/// The HTTP service of a server: every route of the table behind its
/// guard, each request in a span of its own with an id.
pub fn router(app: Arc<App>) -> axum::Router {
    routes::router(app).layer(axum::middleware::from_fn(logging::request_span))
}

/// Binds every configured listener, serves until SIGINT or SIGTERM, and
/// checks source silence meanwhile.
pub async fn serve(
    config: &Config,
    data: &std::path::Path,
    engine: &Engine,
    rules: Arc<sigma::RuleSet>,
    soc: Option<Arc<state::State>>,
) -> Result<()> {
    let handle = engine.ingest();
    let now = jiff::Timestamp::now();
    for s in &config.sources {
        if let Some(after) = s.silent_after {
            handle.health().watch(&s.tenant, &s.name, after.0, now);
        }
    }
    let mut bound = Vec::new();
    let app = Arc::new(App::new(config, data, handle.clone(), engine.store().cloned(), rules, soc));
    // Before any listener: a disabled tenant's tokens are never accepted.
    // (The state store's clients block: off the async threads.)
    let loading = app.clone();
    tokio::task::spawn_blocking(move || loading.reload_tenants())
        .await?
        .map_err(|e| anyhow::anyhow!("reading the tenants' settings: {}", e.message()))?;
    let acceptor = match (config.http.tls, &config.tls.cert, &config.tls.key) {
        (false, _, _) => None,
        (true, Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        (true, _, _) => anyhow::bail!("[http] tls = true needs [tls] cert and key"),
    };
    let (limits, budget) = (&config.connections, app.budget.clone());
    for addr in &config.http.listen {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding HTTP on {addr}"))?;
        let protocol = if acceptor.is_some() { "https" } else { "http" };
        bound.push(json!({"protocol": protocol, "address": listener.local_addr()?.to_string()}));
        let (router, acceptor, budget) = (router(app.clone()), acceptor.clone(), budget.clone());
        tokio::spawn(listen::serve(listener, acceptor, router, budget, limits.header_timeout.0));
    }
    for s in &config.syslog {
        let origin = ingest::syslog::Origin::of(s);
        let handle = handle.clone();
        if s.protocol == Protocol::Udp {
            let socket = tokio::net::UdpSocket::bind(&s.listen)
                .await
                .with_context(|| format!("binding syslog UDP on {}", s.listen))?;
            bound.push(json!({"protocol": "syslog-udp", "address": socket.local_addr()?.to_string()}));
            tokio::spawn(ingest::syslog::serve_udp(socket, handle, origin));
            continue;
        }
        let tls = match (s.protocol, &config.tls.cert, &config.tls.key) {
            (Protocol::Tls, Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
            (Protocol::Tls, _, _) => anyhow::bail!("syslog over TLS on {} needs [tls] cert and key", s.listen),
            _ => None,
        };
        let kind = if tls.is_some() { "tls" } else { "tcp" };
        let listener = tokio::net::TcpListener::bind(&s.listen)
            .await
            .with_context(|| format!("binding syslog {kind} on {}", s.listen))?;
        bound.push(json!({"protocol": format!("syslog-{kind}"), "address": listener.local_addr()?.to_string()}));
        let stream = ingest::syslog::Stream { tls, budget: budget.clone(), idle: limits.syslog_idle.0 };
        tokio::spawn(ingest::syslog::serve_stream(listener, stream, handle, origin));
    }
    for b in &bound {
        let (protocol, address) = (b["protocol"].as_str().unwrap_or(""), b["address"].as_str().unwrap_or(""));
        tracing::info!(protocol, address, "listening");
    }
    // Scripts and tests find ephemeral ports here.
    let run = data.join("run");
    std::fs::create_dir_all(&run)?;
    std::fs::write(run.join("listeners.json"), serde_json::to_vec_pretty(&bound)?)?;
    // The bell: notifications from the state store's outbox, when any
    // channel is configured.
    let stop_bell = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bell = match (&app.soc, config.notify.channels.is_empty()) {
        (Some(soc), false) => Some(bell::start(soc.clone(), config.notify.clone(), stop_bell.clone())?),
        _ => None,
    };
    // The responder: playbook runs from the state store.
    let responder = match &app.soc {
        Some(soc) => {
            let geo = config.enrich.geo()?;
            let r =
                Arc::new(respond::Responder::new(soc.clone(), &config.respond, data, engine.store().cloned(), geo)?);
            let _ = app.responder.set(r.clone());
            Some(respond::start(r, stop_bell.clone())?)
        }
        None => None,
    };
    let every = config.engine.health_check.0.max(Duration::from_secs(1));
    let mut ticker = tokio::time::interval(every);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let tenants = app.clone();
                match tokio::task::spawn_blocking(move || tenants.reload_tenants()).await {
                    Ok(Err(e)) => tracing::warn!(error = %e.message(), "reading the tenants' settings"),
                    Err(e) => tracing::warn!(error = %e, "reading the tenants' settings"),
                    Ok(Ok(())) => {}
                }
                let now = jiff::Timestamp::now();
                for s in engine.check_silence(now) {
                    tracing::warn!(tenant = %s.tenant, source = %s.source, limit_secs = s.limit.as_secs(), "source is silent");
                    if let Some(soc) = app.soc.clone() {
                        let notice = notify::Notice {
                            tenant: s.tenant.clone(),
                            trigger: notify::Trigger::SourceSilent,
                            incident: None,
                            severity: model::Level::High,
                            title: s.source.clone(),
                            at: now,
                            facts: vec![("silent for more than".into(), format!("{} s", s.limit.as_secs()))],
                            subject: None,
                        };
                        match tokio::task::spawn_blocking(move || soc.add_notice(&notice, now)).await {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => tracing::error!(error = %e, "recording a silent source's notice"),
                            Err(e) => tracing::error!(error = %e, "recording a silent source's notice"),
                        }
                    }
                }
            }
            () = &mut stop => {
                stop_bell.store(true, std::sync::atomic::Ordering::Release);
                for t in bell.into_iter().chain(responder) {
                    let _ = tokio::task::spawn_blocking(move || t.join()).await;
                }
                return Ok(());
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
