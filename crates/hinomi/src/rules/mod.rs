//! Loading rule directories, and rules as code: `hinomi rules check`
//! (load errors and lint), `hinomi rules test` (each rule file's test
//! cases) and `hinomi rules coverage` (ATT&CK techniques).

mod coverage;
mod lint;
mod test;
mod update;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sigma::{CompileOptions, LoadError, RuleSet, RuleSetBuilder};

/// Options shared by every command that loads rules.
#[derive(Args, Clone, Debug)]
pub(crate) struct RuleArgs {
    /// A rule file or a directory searched recursively for `.yml`/`.yaml`; repeatable.
    #[arg(long = "rules", short = 'r', required = true, value_name = "DIR")]
    pub(crate) rules: Vec<PathBuf>,
    /// A value for a `%placeholder%` under the Sigma `expand` modifier, as
    /// NAME=VALUE; repeat for several values.
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    pub(crate) placeholders: Vec<String>,
    /// Which rules events of unknown log source (JSON that names no Windows
    /// channel or known product) meet: `generic`, the rules that name no
    /// product; `every`, all of them, as tools that ignore log sources do.
    #[arg(long, value_enum, value_name = "RULES", default_value = "generic")]
    pub(crate) unknown_source: UnknownSourceArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum UnknownSourceArg {
    Generic,
    Every,
}

/// Rule directories given as arguments or with `--rules`.
#[derive(Args, Clone, Debug)]
pub(crate) struct RuleDirs {
    /// Rule files or directories (searched recursively for `.yml`/`.yaml`).
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// More rule files or directories; repeatable.
    #[arg(long = "rules", short = 'r', value_name = "DIR")]
    rules: Vec<PathBuf>,
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    placeholders: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: crate::output::Format,
}

impl RuleDirs {
    fn args(&self) -> Result<RuleArgs> {
        let rules: Vec<PathBuf> = self.dirs.iter().chain(&self.rules).cloned().collect();
        if rules.is_empty() {
            bail!("name a rule file or directory");
        }
        Ok(RuleArgs { rules, placeholders: self.placeholders.clone(), unknown_source: UnknownSourceArg::Generic })
    }
}

#[derive(Subcommand)]
pub(crate) enum RulesCommand {
    /// Load rules: every rule that does not load (file, line, column), then
    /// lint findings (missing id, level, ATT&CK tags, description, author;
    /// fields a log source never has). Fails on load errors.
    Check {
        #[command(flatten)]
        rules: RuleDirs,
        /// Also fail on lint warnings.
        #[arg(long)]
        strict: bool,
    },
    /// Run each rule file's test cases (`NAME.test.yml` beside `NAME.yml`).
    Test {
        #[command(flatten)]
        rules: RuleDirs,
    },
    /// ATT&CK techniques the alerting rules cover; `--navigator FILE` also
    /// writes an ATT&CK Navigator layer.
    Coverage {
        #[command(flatten)]
        rules: RuleDirs,
        #[arg(long, value_name = "FILE")]
        navigator: Option<PathBuf>,
    },
    /// Fetch a rule set (`.tar.gz`, a SigmaHQ release or a mirror), check
    /// its SHA-256, unpack it beside the set in use, load it, and switch
    /// `--dir` (a link this command keeps) to it in one rename.
    Update {
        /// The link to the set in use; versions go to `DIR.versions/`.
        #[arg(long, value_name = "DIR", default_value = "./sigma")]
        dir: PathBuf,
        #[arg(long, default_value = update::DEFAULT_URL)]
        url: String,
        /// The archive's SHA-256 (hex). Without it, `URL.sha256` is fetched
        /// and must be there.
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
    },
}

pub(crate) fn print(format: crate::output::Format, rows: Vec<serde_json::Value>) -> Result<()> {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        rows.into_iter().filter_map(|r| if let serde_json::Value::Object(m) = r { Some(m) } else { None }).collect();
    let mut out = std::io::stdout().lock();
    crate::search::print_rows(&mut out, format, &rows, false)?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

pub(crate) fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Check { rules, strict } => {
            let args = rules.args()?;
            let (set, errors) = load(&args)?;
            let mut rows: Vec<serde_json::Value> = errors
                .iter()
                .map(|e| serde_json::json!({"file": e.path, "line": e.line, "col": e.col, "rule": e.rule_id, "severity": "error", "message": e.message}))
                .collect();
            let mut warnings = 0;
            for root in &args.rules {
                for path in walk(root, &|p| has_ext(p, &["yml", "yaml"]) && !is_test_file(p))? {
                    let Ok(text) = std::fs::read_to_string(&path) else { continue };
                    for f in lint::lint_file(&path.display().to_string(), &text) {
                        warnings += usize::from(f.severity == "warning");
                        rows.push(serde_json::json!({"file": f.file, "rule": f.rule, "severity": f.severity, "message": f.message}));
                    }
                }
            }
            print(rules.format, rows)?;
            eprintln!(
                "{} rules and {} correlations loaded, {} rejected, {warnings} warnings",
                set.len(),
                set.correlations().len(),
                errors.len()
            );
            Ok(if errors.is_empty() && !(strict && warnings > 0) { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        RulesCommand::Test { rules } => {
            let args = rules.args()?;
            let (set, errors) = load(&args)?;
            if let Some(e) = errors.first() {
                bail!("{} rules did not load; the first: {e} (`hinomi rules check` lists them)", errors.len());
            }
            let mut outcomes = Vec::new();
            let mut files = 0;
            for root in &args.rules {
                for path in walk(root, &|p| has_ext(p, &["yml", "yaml"]) && !is_test_file(p))? {
                    let Some(tests) = test::test_file_of(&path) else { continue };
                    files += 1;
                    outcomes.extend(test::run_file(&set, &path.display().to_string(), &tests)?);
                }
            }
            let failed = outcomes.iter().filter(|o| !o.passed).count();
            let rows = outcomes.iter().map(|o| serde_json::to_value(o).unwrap_or_default()).collect();
            print(rules.format, rows)?;
            eprintln!(
                "{} cases in {files} test files: {} passed, {failed} failed",
                outcomes.len(),
                outcomes.len() - failed
            );
            Ok(if failed == 0 && files > 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        RulesCommand::Update { dir, url, sha256 } => {
            update::run(&update::Update { dir, url, sha256 })?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Coverage { rules, navigator } => {
            let (set, errors) = load(&rules.args()?)?;
            if !errors.is_empty() {
                eprintln!("{} rules did not load (`hinomi rules check` lists them)", errors.len());
            }
            let techniques = coverage::techniques(&set);
            if let Some(path) = navigator {
                let layer = coverage::navigator_layer("Hinomi rules", &techniques);
                std::fs::write(&path, serde_json::to_vec_pretty(&layer)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let rows = techniques
                .iter()
                .map(|t| serde_json::json!({"technique": t.id, "tactics": t.tactics.join(","), "rules": t.rules.len(), "titles": t.rules.join("; ")}))
                .collect();
            print(rules.format, rows)?;
            eprintln!("{} techniques covered", techniques.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Rule test files sit beside rules and are not rules.
fn is_test_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".test.yml") || n.ends_with(".test.yaml"))
}

/// Reads every rule file under the given paths into a rule set.
pub(crate) fn load(args: &RuleArgs) -> Result<(RuleSet, Vec<LoadError>)> {
    let mut placeholders: HashMap<String, Vec<String>> = HashMap::new();
    for p in &args.placeholders {
        let Some((name, value)) = p.split_once('=') else {
            bail!("--placeholder `{p}` is not NAME=VALUE");
        };
        placeholders.entry(name.trim_matches('%').to_owned()).or_default().push(value.to_owned());
    }
    let unknown_source = match args.unknown_source {
        UnknownSourceArg::Generic => sigma::UnknownSource::Generic,
        UnknownSourceArg::Every => sigma::UnknownSource::Every,
    };
    let mut builder = RuleSetBuilder::new(CompileOptions { placeholders, unknown_source });
    let mut files = 0;
    let mut errors = Vec::new();
    for root in &args.rules {
        let paths = walk(root, &|p| has_ext(p, &["yml", "yaml"]) && !is_test_file(p))
            .with_context(|| format!("reading rules from {}", root.display()))?;
        for path in paths {
            files += 1;
            match std::fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => builder.add_file(&path.display().to_string(), &text),
                    Err(_) => errors.push(file_error(&path, "file is not UTF-8")),
                },
                Err(e) => errors.push(file_error(&path, &format!("cannot read: {e}"))),
            }
        }
    }
    if files == 0 {
        bail!("no rule files (.yml, .yaml) found under {}", display_list(&args.rules));
    }
    let (set, mut rule_errors) = builder.build();
    errors.append(&mut rule_errors);
    Ok((set, errors))
}

fn file_error(path: &Path, message: &str) -> LoadError {
    LoadError { path: path.display().to_string(), line: 0, col: 0, rule_id: None, message: message.to_owned() }
}

pub(crate) fn display_list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

pub(crate) fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// A file itself, or the files under a directory (recursively, sorted) that `keep` accepts.
pub(crate) fn walk(root: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(root).with_context(|| format!("cannot open {}", root.display()))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let path = entry.path();
            let ty = entry.file_type()?;
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() && keep(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
