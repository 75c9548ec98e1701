//! Playbooks as code: `hinomi playbook check` (every file that does not
//! load, by file, line and column; with `--config`, actions and channels
//! the playbooks name but the server does not have) and `hinomi playbook
//! test` (each playbook's test cases, run dry):
//!
//! ```yaml
//! tests:
//!   - name: a critical server's address is blocked at once
//!     incident:
//!       severity: critical
//!       tags: [attack.lateral_movement]
//!       entities: { host: ws-042, ip: 192.0.2.7 }
//!       asset_criticality: high
//!     outputs: { asset: { criticality: high } }   # what enrich steps would find
//!     triggers: true                              # it starts by itself
//!     steps: [asset, tell, critical, block]       # the path it takes
//!     calls:                                      # the exact calls of action steps
//!       block: { command: ["/usr/sbin/nft", "add", "element", "inet", "hinomi", "blocked", "{ 192.0.2.7 }"] }
//!   - name: a host name that looks like an option
//!     incident: { severity: critical, entities: { host: "--all", ip: 192.0.2.7 } }
//!     refused: starts with `-`                    # refused before any step
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use playbook::{Facts, Playbook};
use serde::Deserialize;
use server::config::Config;
use server::respond;
use soc::EntityKind;
use soc::assets::Criticality;

#[derive(Args, Clone, Debug)]
pub(crate) struct PlaybookPaths {
    /// Playbook files, or directories searched for `.yml`/`.yaml`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The server's configuration: its actions, channels and authority
    /// policy (without it, a test has no actions and no policy).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: crate::output::Format,
}

#[derive(Subcommand)]
pub(crate) enum PlaybookCommand {
    /// Load playbooks: every file that does not (file, line, column), and
    /// with `--config` every action or channel they name that is not
    /// configured. Fails on any.
    Check(PlaybookPaths),
    /// Run each playbook's test cases (`NAME.test.yml` beside `NAME.yml`)
    /// dry: the path taken and the exact calls, nothing executed.
    Test(PlaybookPaths),
}

pub(crate) fn run(cmd: PlaybookCommand) -> Result<ExitCode> {
    match cmd {
        PlaybookCommand::Check(args) => {
            let (config, loaded, failed) = load(&args)?;
            let mut rows: Vec<serde_json::Value> = failed
                .iter()
                .map(|f| serde_json::json!({"file": f.file, "line": f.line, "col": f.col, "message": f.message}))
                .collect();
            let channels: Vec<&str> = config.notify.channels.iter().map(|c| c.name.as_str()).collect();
            if args.config.is_some()
                && let Err(e) = playbook::check_actions(&config.respond.actions, &channels, &loaded)
            {
                rows.push(serde_json::json!({"file": "", "line": 0, "col": 0, "message": e}));
            }
            crate::rules::print(args.format, rows.clone())?;
            eprintln!("{} playbooks loaded, {} problems", loaded.len(), rows.len());
            Ok(if rows.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        PlaybookCommand::Test(args) => {
            let (config, loaded, failed) = load(&args)?;
            if let Some(f) = failed.first() {
                bail!("{} playbooks did not load; the first: {f} (`hinomi playbook check` lists them)", failed.len());
            }
            let (mut rows, mut files, mut failures) = (Vec::new(), 0, 0);
            for (file, p) in &loaded {
                let Some(tests) = test_file_of(Path::new(file)) else { continue };
                files += 1;
                for outcome in run_file(&config, p, &tests)? {
                    failures += usize::from(outcome["passed"] == false);
                    rows.push(outcome);
                }
            }
            let cases = rows.len();
            crate::rules::print(args.format, rows)?;
            eprintln!("{cases} cases in {files} test files: {} passed, {failures} failed", cases - failures);
            Ok(if failures == 0 && files > 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

type Loaded = (Config, Vec<(String, Playbook)>, Vec<respond::LoadFailure>);

fn load(args: &PlaybookPaths) -> Result<Loaded> {
    let config = Config::load(args.config.as_deref())?;
    let (loaded, failed) = respond::load_playbooks(&args.paths).context("reading the playbooks")?;
    Ok((config, loaded, failed))
}

fn test_file_of(file: &Path) -> Option<PathBuf> {
    let stem = file.file_stem()?.to_str()?;
    let candidate = file.with_file_name(format!("{stem}.test.yml"));
    candidate.exists().then_some(candidate)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    incident: Incident,
    #[serde(default)]
    inputs: BTreeMap<String, String>,
    #[serde(default)]
    outputs: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    triggers: Option<bool>,
    #[serde(default)]
    steps: Option<Vec<String>>,
    #[serde(default)]
    calls: BTreeMap<String, serde_json::Value>,
    /// The run is refused before any step, with these words in the reason.
    #[serde(default)]
    refused: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Incident {
    severity: model::Level,
    #[serde(default)]
    title: String,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    entities: BTreeMap<String, String>,
    #[serde(default)]
    asset_criticality: Option<String>,
}

fn run_file(config: &Config, p: &Playbook, test_file: &Path) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(test_file).with_context(|| format!("reading {}", test_file.display()))?;
    let docs = sigma::yaml_to_json(&text).map_err(|e| anyhow::anyhow!("{}:{e}", test_file.display()))?;
    let doc = docs.into_iter().next().unwrap_or_default();
    let parsed: TestFile =
        serde_json::from_value(doc).with_context(|| format!("{}: not a playbook test file", test_file.display()))?;
    let mut out = Vec::new();
    for case in parsed.tests {
        let problem = check_case(config, p, &case).err();
        out.push(serde_json::json!({
            "file": test_file.display().to_string(),
            "case": case.name,
            "passed": problem.is_none(),
            "problem": problem,
        }));
    }
    Ok(out)
}

/// Runs one case dry; `Err` says what differed.
fn check_case(config: &Config, p: &Playbook, case: &Case) -> Result<(), String> {
    let mut entities = Vec::new();
    for (kind, value) in &case.incident.entities {
        let kind = EntityKind::ALL.into_iter().find(|k| k.as_str() == kind).ok_or(format!("entity kind {kind:?}"))?;
        entities.push((kind, value.clone()));
    }
    let asset_criticality = match &case.incident.asset_criticality {
        Some(c) => Some(Criticality::ALL.into_iter().find(|k| k.as_str() == c).ok_or(format!("criticality {c:?}"))?),
        None => None,
    };
    let facts = Facts {
        tenant: p.tenant.clone(),
        incident: 1,
        title: case.incident.title.clone(),
        severity: case.incident.severity,
        rules: case.incident.rules.clone(),
        tags: case.incident.tags.iter().map(|t| t.to_ascii_lowercase()).collect(),
        entities,
        asset_criticality,
    };
    if let Some(want) = case.triggers
        && p.trigger.fits(&facts) != want
    {
        return Err(format!("expected it {}to start by itself", if want { "" } else { "not " }));
    }
    let plan =
        playbook::dry_run(p, &facts, &case.inputs, &case.outputs, &config.respond.actions, &config.respond.authority);
    let plan = match (plan, &case.refused) {
        (Err(why), Some(want)) if why.contains(want.as_str()) => return Ok(()),
        (Err(why), _) => return Err(why),
        (Ok(_), Some(want)) => return Err(format!("expected it refused ({want}), it ran")),
        (Ok(plan), None) => plan,
    };
    let path: Vec<String> = plan.iter().map(|s| s.step.clone()).collect();
    if let Some(want) = &case.steps
        && *want != path
    {
        return Err(format!("expected steps {want:?}, took {path:?}"));
    }
    for (step, want) in &case.calls {
        let got = plan.iter().find(|s| s.step == *step).and_then(|s| s.call.as_ref()).map(playbook::describe);
        if got.as_ref() != Some(want) {
            return Err(format!("step {step:?}: expected the call {want}, got {}", got.unwrap_or_default()));
        }
    }
    Ok(())
}
