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

const FOLDERS: [&str; 6] =
    ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder", "rules-dfir"];

fn load_corpus(options: CompileOptions) -> (usize, crate::RuleSet, Vec<crate::LoadError>) {
    let root = sigma_dir();
    assert!(root.join("rules").is_dir(), "SigmaHQ rules not found at {} (set HINOMI_SIGMA_DIR)", root.display());
    let mut builder = RuleSetBuilder::new(options);
    let mut files = 0;
    for folder in FOLDERS {
        let dir = root.join(folder);
        if !dir.is_dir() {
            continue;
        }
        for path in rule_files(&dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            let rel = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            builder.add_file(&rel, &text);
            files += 1;
        }
    }
    let (set, errors) = builder.build();
    (files, set, errors)
}

/// Each expected rejection: `path<TAB>reason`. The only accepted reason is a
/// placeholder without configured values: the spec requires a tool that
/// cannot resolve a placeholder to reject the rule.
fn expected_rejections() -> Vec<(String, String)> {
    include_str!("../../test_data/expected_rejections.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (p, r) = l.split_once('\t').expect("path<TAB>reason");
            (p.to_owned(), r.to_owned())
        })
        .collect()
}

#[test]
fn every_sigmahq_rule_loads_or_is_a_listed_rejection() {
    let (files, set, errors) = load_corpus(CompileOptions::default());
    assert!(files >= 3780, "only {files} rule files");
    let mut got: Vec<(String, String)> = errors.iter().map(|e| (e.path.clone(), e.to_string())).collect();
    got.sort();
    let want = expected_rejections();
    let unexpected: Vec<&String> =
        got.iter().filter(|(p, _)| !want.iter().any(|(w, _)| w == p)).map(|(_, e)| e).collect();
    assert!(
        unexpected.is_empty(),
        "unexpected rejections:\n{}",
        unexpected.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
    for (path, reason) in &want {
        let e = got.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("{path} was expected to be rejected"));
        assert!(e.1.contains(reason.as_str()), "{path}: want reason `{reason}`, got `{}`", e.1);
        assert!(e.1.contains("placeholder `%"), "only unresolved placeholders may reject a SigmaHQ rule: {}", e.1);
    }
    assert_eq!(set.len() + errors.len(), files);
    // Outside rules-placeholder, the only rejections are rules that also use placeholders.
    for (path, _) in &want {
        assert!(path.starts_with("rules-placeholder/") || path.contains("CVE-2026-54121"), "{path}");
    }
}

#[test]
fn placeholder_rules_load_when_their_values_are_configured() {
    let names = [
        "known_cdcs",
        "Legitimate_Countries",
        "ApprovedUserUpn",
        "Approved_Inviters",
        "Important_AppIds",
        "Known_Location",
        "KNOWN_LOCATION",
        "UnLegitCountries",
        "HomeTenantID",
        "legtimate_identifiers",
        "Admins_Workstations",
        "dc_machine_accounts",
        "DC-MACHINE-NAME",
        "Administrators",
        "Workstations",
        "ServerSystems",
        "internal_domains",
        "legit_ips",
        "domain_controller_hostnames",
        "userdomain",
        "Legitimate_IP_Ranges",
        "UnApprovedIp",
        "dc_ip_addresses",
        "DomainControllers",
        "UnApprovedDevice",
    ];
    let mut options = CompileOptions::default();
    for n in names {
        options.placeholders.insert(n.to_owned(), vec!["10.0.0.0/8".to_owned(), "value-b".to_owned()]);
    }
    let (files, set, errors) = load_corpus(options);
    let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{}", msgs.join("\n"));
    assert_eq!(set.len(), files);
}
