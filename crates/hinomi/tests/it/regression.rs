//! SigmaHQ's regression samples: for every `info.yml`, hunting its EVTX with
//! the full rule set must fire its rule at least `match_count` times.

use std::collections::HashMap;
use std::path::Path;

use crate::{all_rule_args, files_under, hinomi, sigma_dir};

/// One positive test from an `info.yml`.
#[derive(Debug)]
struct Case {
    info: String,
    rule_id: String,
    evtx: String,
    match_count: usize,
}

/// Reads the `info.yml` convention (documented in the Sigma spec's
/// regression-test notes): `rule_metadata[].id` and
/// `regression_tests_info[].{match_count, path}`. Commented-out entries are
/// not tests.
fn cases(root: &Path) -> Vec<Case> {
    let infos = files_under(&root.join("regression_data"), |p| p.file_name().is_some_and(|n| n == "info.yml"));
    let mut out = Vec::new();
    for info in infos {
        let text = std::fs::read_to_string(&info).unwrap();
        let mut rule_id = None;
        let mut section = "";
        let mut count = None;
        for line in text.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if !line.starts_with(' ') {
                section = line.split(':').next().unwrap_or("");
                continue;
            }
            let l = line.trim().trim_start_matches("- ");
            if section == "rule_metadata"
                && rule_id.is_none()
                && let Some(id) = l.strip_prefix("id:")
            {
                rule_id = Some(id.trim().to_owned());
            }
            if section == "regression_tests_info" {
                if let Some(n) = l.strip_prefix("match_count:") {
                    count = Some(n.trim().parse::<usize>().unwrap());
                }
                if let Some(p) = l.strip_prefix("path:") {
                    out.push(Case {
                        info: info.strip_prefix(root).unwrap().display().to_string(),
                        rule_id: rule_id.clone().expect("rule id before test path"),
                        evtx: p.trim().to_owned(),
                        match_count: count.take().unwrap_or(1),
                    });
                }
            }
        }
    }
    out
}

#[test]
fn sigmahq_regression_samples_fire_their_rules() {
    let root = sigma_dir();
    let cases = cases(&root);
    assert!(cases.len() >= 200, "found only {} regression cases", cases.len());
    let data = root.join("regression_data");
    let mut args = vec!["hunt".to_owned(), data.display().to_string(), "--format".into(), "jsonl".into()];
    args.extend(all_rule_args());
    let out = hinomi(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "hunt failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        let source = d["source"].as_str().unwrap();
        let rel = Path::new(source).strip_prefix(&root).unwrap().display().to_string();
        *counts.entry((d["rule_id"].as_str().unwrap().to_owned(), rel)).or_default() += 1;
    }
    let mut failures = Vec::new();
    for case in &cases {
        let got = counts.get(&(case.rule_id.clone(), case.evtx.clone())).copied().unwrap_or(0);
        if got < case.match_count {
            failures.push(format!(
                "{}: rule {} fired {got} times on {}, want >= {}",
                case.info, case.rule_id, case.evtx, case.match_count
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} regression cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The literal prefilter may only skip rules that cannot match: over every
/// regression event and the whole rule set, results are identical with it
/// switched off.
#[test]
fn prefilter_never_changes_results_on_the_regression_events() {
    let root = sigma_dir();
    let mut builder = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
    for folder in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance"] {
        for p in files_under(&root.join(folder), |p| p.extension().is_some_and(|e| e == "yml")) {
            builder.add_file(&p.display().to_string(), &std::fs::read_to_string(&p).unwrap());
        }
    }
    let (set, _) = builder.build();
    let (mut fast, mut slow) = (set.matcher(), set.matcher().without_prefilter());
    let (mut events, mut hits) = (0, 0);
    for p in files_under(&root.join("regression_data"), |p| p.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(&p).unwrap();
        for event in normalize::read_json(&text).flatten() {
            let a = fast.matches(&event).to_vec();
            let b = slow.matches(&event).to_vec();
            assert_eq!(a, b, "prefilter changed results in {}", p.display());
            events += 1;
            hits += a.len();
        }
    }
    assert!(events >= 230 && hits >= 300, "{events} events, {hits} hits");
}
