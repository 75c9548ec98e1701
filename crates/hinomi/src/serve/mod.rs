//! `hinomi serve`: the engine, the listeners and the API in one process on
//! one data directory.

mod auth;
mod cases;
mod console;
mod http;
mod https;
mod hunt;
mod search;
mod syslog;

pub(crate) use search::time_arg;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use engine::{Engine, EngineConfig};
use serde_json::json;

use crate::config::{Config, Protocol};

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// The data directory: write-ahead log, journals, tokens.
    #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
    data: PathBuf,
    /// The TOML configuration file (see docs/configuration.md).
    #[arg(long, env = "HINOMI_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// A rule file or directory (searched for .yml/.yaml); repeatable.
    #[arg(long = "rules", short = 'r', env = "HINOMI_RULES", value_delimiter = ',', value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// A value for a `%placeholder%` under the Sigma `expand` modifier, as NAME=VALUE.
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    placeholders: Vec<String>,
    /// Fill a `demo` tenant with a day of traffic and an attack (once per
    /// data directory), with Hinomi's demo rules: a first look at the console.
    #[arg(long)]
    demo: bool,
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode> {
    let config = Config::load(args.config.as_deref())?;
    std::fs::create_dir_all(&args.data).with_context(|| format!("creating {}", args.data.display()))?;
    first_start(&args.data)?;
    let mut rule_paths = args.rules.clone();
    if args.demo {
        anyhow::ensure!(config.triage.enabled, "--demo needs triage ([triage] enabled = true)");
        let dir = args.data.join("demo");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("rules.yml"), crate::demo::RULES).context("writing the demo rules")?;
        rule_paths.push(dir);
    }
    let rules = if rule_paths.is_empty() {
        eprintln!("hinomi: no --rules given; events are stored but detection is off");
        sigma::RuleSetBuilder::new(sigma::CompileOptions::default()).build().0
    } else {
        let rule_args = crate::rules::RuleArgs { rules: rule_paths, placeholders: args.placeholders.clone() };
        let (set, errors) = crate::rules::load(&rule_args)?;
        eprintln!("hinomi: {} rules loaded, {} rejected (`hinomi rules check` lists them)", set.len(), errors.len());
        set
    };
    let mut engine_config = EngineConfig::new(&args.data);
    engine_config.wal_sync = config.engine.wal_sync;
    engine_config.max_lag_bytes = config.engine.max_lag_bytes;
    engine_config.checkpoint_interval = Duration::from_millis(config.engine.checkpoint_interval_ms.max(10));
    engine_config.slow_down = Duration::from_millis(config.engine.slow_down_ms);
    engine_config.events_journal = config.engine.events_journal.unwrap_or(!config.store.enabled);
    engine_config.correlation.lateness_micros =
        i64::try_from(config.engine.correlation_lateness_seconds).unwrap_or(i64::MAX / 2_000_000) * 1_000_000;
    engine_config.correlation.max_groups = config.engine.correlation_max_groups.max(1);
    engine_config.geo = config.enrich.geo()?;
    for s in &config.sources {
        if s.product.is_some() || s.category.is_some() || s.service.is_some() {
            let view = normalize::view(s.product.as_deref(), s.category.as_deref(), s.service.as_deref());
            engine_config.log_sources.insert((s.tenant.clone(), s.name.clone()), view);
        }
    }
    if args.demo {
        let proxy = normalize::view(None, Some("proxy"), None);
        engine_config.log_sources.insert((crate::demo::TENANT.into(), "proxy".into()), proxy);
    }
    if config.store.enabled {
        engine_config.store = Some(store_settings(&config.store, &args.data));
    }
    let rules = Arc::new(rules);
    let engine = Engine::start(engine_config, rules.clone()).context("starting the pipeline")?;
    if engine.recovery.truncated > 0 {
        eprintln!(
            "hinomi: cut {} bytes of a torn write-ahead-log tail (never acknowledged)",
            engine.recovery.truncated
        );
    }
    eprintln!("hinomi: resuming at log position {} of {}", engine.resumed_from, engine.recovery.end);
    let (soc, triage) = if config.triage.enabled {
        let soc_state = Arc::new(config.triage.open(&args.data)?);
        console::first_user(&soc_state)?;
        if args.demo {
            demo(&args.data, &soc_state, &engine.ingest())?;
        }
        let every = Duration::from_secs(config.triage.sla_check_seconds.max(1));
        let triage = state::reader::Triage::start(&args.data, soc_state.clone(), every).context("starting triage")?;
        (Some(soc_state), Some(triage))
    } else {
        (None, None)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let result = runtime.block_on(serve(&config, &args.data, &engine, rules, soc));
    drop(triage);
    eprintln!("hinomi: stopping; writing the last checkpoint");
    runtime.shutdown_timeout(Duration::from_secs(2));
    engine.shutdown();
    result.map(|()| ExitCode::SUCCESS)
}

pub(crate) fn store_settings(c: &crate::config::Store, data: &std::path::Path) -> engine::StoreSettings {
    let mut s = engine::StoreSettings::new(data.join("store"));
    s.commit_interval = Duration::from_millis(c.commit_interval_ms.max(10));
    s.config.zstd_level = c.zstd_level.clamp(1, 19);
    if let Some(columns) = &c.columns {
        s.config.columns = columns.clone();
    }
    s.default_retention = (c.retention_days, c.max_bytes);
    for (tenant, r) in &c.tenants {
        s.retention.insert(tenant.clone(), (r.retention_days, r.max_bytes));
    }
    s
}

/// The demo tenant: its assets, the first admin's role in it, and its
/// events, submitted once per data directory.
fn demo(data: &std::path::Path, soc: &state::State, ingest: &engine::Ingest) -> Result<()> {
    let marker = data.join("demo").join("replayed");
    if marker.exists() {
        eprintln!("hinomi: demo tenant `{}` is already filled", crate::demo::TENANT);
        return Ok(());
    }
    let now = jiff::Timestamp::now();
    let by = state::By { tenant: crate::demo::TENANT, actor: "hinomi", now };
    if soc.user("admin")?.is_some() {
        soc.grant(&by, "admin", Some(access::Scope::Admin))?;
    }
    let assets = soc::assets::Inventory::from_csv(crate::demo::ASSETS).map_err(anyhow::Error::msg)?;
    soc.replace_assets(&by, &assets)?;
    let records = crate::demo::records(now);
    let n = records.len();
    for source in ["winlog", "proxy"] {
        let lines: Vec<String> = records.iter().filter(|(s, _)| *s == source).map(|(_, l)| l.clone()).collect();
        for chunk in lines.chunks(500) {
            let batch = wal::Batch {
                received: now.as_nanosecond() as i64,
                tenant: crate::demo::TENANT.into(),
                source: source.into(),
                format: "auto".into(),
                records: chunk.to_vec(),
            };
            ingest.submit_blocking(batch).map_err(|e| anyhow::anyhow!("submitting the demo events: {e:?}"))?;
        }
    }
    std::fs::write(&marker, now.to_string()).context("marking the demo as filled")?;
    eprintln!(
        "hinomi: demo tenant `{}` filled with {n} events; open the console at /ui/{}/ and sign in as admin",
        crate::demo::TENANT,
        crate::demo::TENANT
    );
    Ok(())
}

/// On a new data directory, an admin token for the `default` tenant, shown
/// once.
fn first_start(data: &std::path::Path) -> Result<()> {
    if data.join("tokens.jsonl").exists() {
        return Ok(());
    }
    let now = jiff::Timestamp::now().to_string();
    let (token, _) = state::tokens::create(data, "default", access::Scope::Admin, None, &now)?;
    eprintln!("hinomi: new data directory; admin token for tenant `default` (shown only now):\n{token}");
    Ok(())
}

async fn serve(
    config: &Config,
    data: &std::path::Path,
    engine: &Engine,
    rules: Arc<sigma::RuleSet>,
    soc: Option<Arc<state::State>>,
) -> Result<()> {
    let ingest = engine.ingest();
    let now = jiff::Timestamp::now();
    for s in &config.sources {
        if let Some(secs) = s.silent_after_seconds {
            ingest.health().watch(&s.tenant, &s.name, Duration::from_secs(secs), now);
        }
    }
    let mut bound = Vec::new();
    let state = Arc::new(http::AppState {
        ingest: ingest.clone(),
        tokens: auth::Tokens::new(data.to_path_buf()),
        data: data.to_path_buf(),
        max_body: config.http.max_body_bytes,
        bodies: Arc::new(tokio::sync::Semaphore::new(http::MAX_BODIES)),
        store: engine.store().cloned(),
        rules,
        search_timeout: Duration::from_secs(config.store.search_timeout_seconds.max(1)),
        searches: Arc::new(tokio::sync::Semaphore::new(http::MAX_SEARCHES)),
        soc,
        console: console::Console::new(&config.console, config.http.tls),
    });
    let acceptor = match (config.http.tls, &config.tls.cert, &config.tls.key) {
        (false, _, _) => None,
        (true, Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        (true, _, _) => anyhow::bail!("[http] tls = true needs [tls] cert and key"),
    };
    for addr in &config.http.listen {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding HTTP on {addr}"))?;
        let local = listener.local_addr()?;
        let protocol = if acceptor.is_some() { "https" } else { "http" };
        bound.push(json!({"protocol": protocol, "address": local.to_string()}));
        let app = http::router(state.clone()).into_make_service_with_connect_info::<https::Peer>();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let served = match acceptor {
                Some(acceptor) => match https::TlsListener::new(listener, acceptor) {
                    Ok(tls) => axum::serve(tls, app).await,
                    Err(e) => Err(e),
                },
                None => axum::serve(listener, app).await,
            };
            if let Err(e) = served {
                eprintln!("hinomi: {protocol} on {local}: {e}");
            }
        });
    }
    for s in &config.syslog {
        let origin = syslog::Origin::of(s);
        let ingest = ingest.clone();
        match s.protocol {
            Protocol::Udp => {
                let socket = tokio::net::UdpSocket::bind(&s.listen)
                    .await
                    .with_context(|| format!("binding syslog UDP on {}", s.listen))?;
                bound.push(json!({"protocol": "syslog-udp", "address": socket.local_addr()?.to_string()}));
                tokio::spawn(syslog::serve_udp(socket, ingest, origin));
            }
            Protocol::Tcp => {
                let listener = tokio::net::TcpListener::bind(&s.listen)
                    .await
                    .with_context(|| format!("binding syslog TCP on {}", s.listen))?;
                bound.push(json!({"protocol": "syslog-tcp", "address": listener.local_addr()?.to_string()}));
                tokio::spawn(syslog::serve_tcp(listener, ingest, origin));
            }
            Protocol::Tls => {
                let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) else {
                    anyhow::bail!("syslog over TLS on {} needs [tls] cert and key", s.listen);
                };
                let acceptor = crate::tls::acceptor(cert, key)?;
                let listener = tokio::net::TcpListener::bind(&s.listen)
                    .await
                    .with_context(|| format!("binding syslog TLS on {}", s.listen))?;
                bound.push(json!({"protocol": "syslog-tls", "address": listener.local_addr()?.to_string()}));
                tokio::spawn(syslog::serve_tls(listener, acceptor, ingest, origin));
            }
        }
    }
    for b in &bound {
        eprintln!(
            "hinomi: listening: {} {}",
            b["protocol"].as_str().unwrap_or(""),
            b["address"].as_str().unwrap_or("")
        );
    }
    // Scripts and tests find ephemeral ports here.
    let run = data.join("run");
    std::fs::create_dir_all(&run)?;
    std::fs::write(run.join("listeners.json"), serde_json::to_vec_pretty(&bound)?)?;
    let every = Duration::from_secs(config.engine.health_check_seconds.max(1));
    let mut ticker = tokio::time::interval(every);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                for s in engine.check_silence(jiff::Timestamp::now()) {
                    eprintln!("hinomi: source {}/{} is silent (limit {}s)", s.tenant, s.source, s.limit.as_secs());
                }
            }
            () = &mut stop => return Ok(()),
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
