//! Integration tests of the `hinomi` binary and of the engine on real data.
//!
//! Rules and regression samples come from `../shared/sigma` (the SigmaHQ
//! rule set, under the Detection Rule License; read in place, never copied).

mod hunt_cli;
mod null_and_empty;
mod playbooks;
mod readme;
mod regression;
mod retro_hunt;
mod rule_pack;
mod rules_update;
mod triage;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn sigma_dir() -> PathBuf {
    let dir = match std::env::var_os("HINOMI_SIGMA_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma"),
    };
    assert!(dir.join("rules").is_dir(), "SigmaHQ rules not found at {} (set HINOMI_SIGMA_DIR)", dir.display());
    dir
}

/// Every rule folder of the SigmaHQ snapshot, as `--rules` arguments.
pub(crate) fn all_rule_args() -> Vec<String> {
    let root = sigma_dir();
    let mut args = Vec::new();
    for folder in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"] {
        args.push("--rules".to_owned());
        args.push(root.join(folder).display().to_string());
    }
    args
}

pub(crate) fn hinomi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hinomi")).args(args).output().expect("cannot run hinomi")
}

pub(crate) fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Files under `dir` (recursively, sorted) whose name `keep` accepts.
pub(crate) fn files_under(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display())).flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if keep(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
