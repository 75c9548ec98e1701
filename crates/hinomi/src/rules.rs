//! Loading rule directories, and `hinomi rules check`.

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
}

#[derive(Subcommand)]
pub(crate) enum RulesCommand {
    /// Load rules and report every rule that does not load, with file, line and column.
    Check {
        #[command(flatten)]
        rules: RuleArgs,
    },
}

pub(crate) fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Check { rules } => {
            let (set, errors) = load(&rules)?;
            for e in &errors {
                println!("{e}");
            }
            eprintln!("{} rules loaded, {} rejected", set.len(), errors.len());
            Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
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
    let mut builder = RuleSetBuilder::new(CompileOptions { placeholders });
    let mut files = 0;
    let mut errors = Vec::new();
    for root in &args.rules {
        let paths = walk(root, &|p| has_ext(p, &["yml", "yaml"]))
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
