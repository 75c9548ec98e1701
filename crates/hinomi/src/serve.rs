//! `hinomi serve`: the engine, the listeners and the API in one process on
//! one data directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use engine::Engine;

use server::config::Config;

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// The data directory: write-ahead log, journals, tokens.
    #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
    data: PathBuf,
    /// The TOML configuration file (see docs/configuration.md); default:
    /// `DIR/hinomi.toml` when the data directory holds one.
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

/// How often a server looks whether the stored indicators changed.
const INTEL_CHECK: Duration = Duration::from_secs(2);

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode> {
    let config = Config::for_data(&args.data, args.config.as_deref())?;
    std::fs::create_dir_all(&args.data).with_context(|| format!("creating {}", args.data.display()))?;
    first_start(&args.data)?;
    let mut rule_paths = args.rules.clone();
    if args.demo {
        anyhow::ensure!(config.triage.enabled, "--demo needs triage ([triage] enabled = true)");
        let dir = args.data.join("demo");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("rules.yml"), crate::demo::RULES).context("writing the demo rules")?;
        if args.rules.is_empty() {
            let pack = dir.join("pack");
            std::fs::create_dir_all(&pack).with_context(|| format!("creating {}", pack.display()))?;
            for (name, text) in crate::demo::PACK {
                std::fs::write(pack.join(name), text).with_context(|| format!("writing the rule pack's {name}"))?;
            }
        }
        rule_paths.push(dir);
    }
    let rules = if rule_paths.is_empty() {
        tracing::warn!("no --rules given; events are stored but detection is off");
        sigma::RuleSetBuilder::new(sigma::CompileOptions::default()).build().0
    } else {
        let rule_args = crate::rules::RuleArgs {
            rules: rule_paths,
            placeholders: args.placeholders.clone(),
            unknown_source: crate::rules::UnknownSourceArg::Generic,
        };
        let (set, errors) = crate::rules::load(&rule_args)?;
        tracing::info!(
            loaded = set.len(),
            rejected = errors.len(),
            "rules loaded (`hinomi rules check` lists the rejected)"
        );
        set
    };
    let mut engine_config = config.engine_config(&args.data)?;
    if args.demo {
        let proxy = normalize::view(None, Some("proxy"), None);
        engine_config.log_sources.insert((crate::demo::TENANT.into(), "proxy".into()), proxy);
    }
    let rules = Arc::new(rules);
    // The SOC state first: the rules tenants switched off hold from the
    // first record the pipeline processes (replayed ones too).
    let soc_state = match config.triage.enabled {
        true => Some(Arc::new(config.triage.open(&args.data)?)),
        false => None,
    };
    if let Some(soc) = &soc_state {
        for (tenant, rule) in soc.disabled_rules(None)? {
            engine_config.disabled_rules.entry(tenant).or_default().insert(rule);
        }
        let set = server::intel::load_set(soc).context("loading threat-intel indicators")?;
        if !set.is_empty() {
            tracing::info!(indicators = set.len(), "threat-intel indicators loaded");
        }
        engine_config.intel = Arc::new(set);
    }
    let engine = Engine::start(engine_config, rules.clone()).context("starting the pipeline")?;
    // Indicators another process (`hinomi intel import`, the API) changes
    // are picked up within seconds.
    let intel_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut intel_watch = None;
    if let Some(soc) = &soc_state {
        intel_watch = Some(
            server::intel::watch(soc.clone(), engine.ingest(), INTEL_CHECK, intel_stop.clone())
                .context("starting the threat-intel watcher")?,
        );
        let sources = config
            .intel
            .feeds
            .iter()
            .map(server::intel::Source::of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        // Not joined at the stop: a read under way may take its timeout,
        // and a stop must not wait for a feed's server.
        drop(
            server::intel::start_pollers(sources, soc.clone(), intel_stop.clone())
                .context("starting the threat-intel feed readers")?,
        );
    } else if !config.intel.feeds.is_empty() {
        tracing::warn!("[[intel.feeds]] need triage ([triage] enabled = true): they are not read");
    }
    if engine.recovery.truncated > 0 {
        tracing::warn!(bytes = engine.recovery.truncated, "cut a torn write-ahead-log tail (never acknowledged)");
    }
    tracing::info!(position = engine.resumed_from, end = engine.recovery.end, "resuming the log");
    let (soc, triage) = if let Some(soc_state) = soc_state {
        server::first_user(&soc_state)?;
        if args.demo {
            demo(&args.data, &soc_state, &engine.ingest())?;
        }
        let every = config.triage.sla_check.0.max(Duration::from_secs(1));
        let triage = state::reader::Triage::start(&args.data, soc_state.clone(), every).context("starting triage")?;
        // Triage is the third reader: its backlog of detections slows
        // senders as detection's does (the same bound, in alert lines).
        engine.ingest().watch("triage", triage.stats.behind.clone(), config.engine.max_lag.0);
        (Some(soc_state), Some(triage))
    } else {
        (None, None)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let result = runtime.block_on(server::serve(&config, &args.data, &engine, rules, soc));
    drop(triage);
    intel_stop.store(true, std::sync::atomic::Ordering::Release);
    if let Some(w) = intel_watch {
        let _ = w.join();
    }
    tracing::info!("stopping; writing the last checkpoint");
    runtime.shutdown_timeout(Duration::from_secs(2));
    engine.shutdown();
    result.map(|()| ExitCode::SUCCESS)
}

/// The demo tenant: its assets, the first admin's role in it, and its
/// events, submitted once per data directory.
fn demo(data: &std::path::Path, soc: &state::State, ingest: &engine::Ingest) -> Result<()> {
    let marker = data.join("demo").join("replayed");
    if marker.exists() {
        tracing::info!("demo tenant `{}` is already filled", crate::demo::TENANT);
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
    let tenant = crate::demo::TENANT;
    tracing::info!(
        "demo tenant `{tenant}` filled with {n} events; open the console at /ui/{tenant}/ and sign in as admin"
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
