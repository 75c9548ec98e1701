//! Hinomi's rule pack (`rules/hinomi`) and the rules-as-code commands:
//! every case of the pack passes, the pack loads with correlations and
//! covers the expected techniques, and the commands fail when they should.

use std::path::Path;

use crate::hinomi;

fn pack() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/hinomi").display().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_rule_of_the_pack_passes_its_tests() {
    let out = hinomi(&["rules", "test", &pack(), "--format", "jsonl"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let cases: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    assert!(cases.iter().all(|c| c["passed"] == true));
    // Every rule file of the pack has a test file.
    let rule_files = crate::files_under(Path::new(&pack()), |p| {
        p.extension().is_some_and(|e| e == "yml") && !p.to_string_lossy().ends_with(".test.yml")
    });
    let tested: std::collections::BTreeSet<String> =
        cases.iter().map(|c| c["file"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tested.len(), rule_files.len(), "{tested:?}");
}

#[test]
fn the_pack_loads_with_correlations_and_covers_the_scenarios() {
    let out = hinomi(&["rules", "check", &pack()]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let summary = text(&out.stderr);
    let numbers: Vec<usize> = summary.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let (rules, correlations) = (numbers[0], numbers[1]);
    assert!(rules + correlations >= 25 && correlations >= 10, "{summary}");
    let layer = std::env::temp_dir().join(format!("hinomi-layer-{}.json", std::process::id()));
    let out = hinomi(&["rules", "coverage", &pack(), "--navigator", &layer.display().to_string(), "--format", "csv"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&layer).unwrap()).unwrap();
    let ids: Vec<&str> =
        v["techniques"].as_array().unwrap().iter().map(|t| t["techniqueID"].as_str().unwrap()).collect();
    for want in [
        "T1110.001",
        "T1110.003",
        "T1078",
        "T1021.002",
        "T1048",
        "T1046",
        "T1190",
        "T1566.001",
        "T1570",
        "T1562.008",
        "T1098.001",
        "T1537",
    ] {
        assert!(ids.contains(&want), "{want} not in {ids:?}");
    }
    assert_eq!(v["domain"], "enterprise-attack");
    assert!(text(&out.stdout).starts_with("technique,tactics,rules,titles"));
    let _ = std::fs::remove_file(layer);
}

#[test]
fn the_commands_fail_when_they_should() {
    let dir = std::env::temp_dir().join(format!("hinomi-rules-as-code-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rule = "title: Whoami\nid: 11111111-2222-3333-4444-555555555555\nlevel: low\ndescription: d\nauthor: a\n\
                tags: [attack.t1033]\nlogsource: {category: process_creation, product: windows}\n\
                detection: {sel: {Image|endswith: '\\whoami.exe'}, condition: sel}\n";
    std::fs::write(dir.join("whoami.yml"), rule).unwrap();
    // A wrong expectation fails the run and says what fired.
    std::fs::write(
        dir.join("whoami.test.yml"),
        "tests:\n  - name: whoami\n    match: false\n    events: [{\"Image\": \"C:\\\\Windows\\\\System32\\\\whoami.exe\"}]\n",
    )
    .unwrap();
    let out = hinomi(&["rules", "test", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("expected 11111111-2222-3333-4444-555555555555 not to fire"),
        "{}",
        text(&out.stdout)
    );
    // A duplicate id fails the check with both places.
    std::fs::write(dir.join("copy.yml"), rule).unwrap();
    let out = hinomi(&["rules", "check", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("duplicate rule id"));
    // A lint warning fails only --strict.
    std::fs::remove_file(dir.join("copy.yml")).unwrap();
    std::fs::write(
        dir.join("bare.yml"),
        "title: t\nid: x\nlogsource: {product: linux}\ndetection: {k: [foo], condition: k}\n",
    )
    .unwrap();
    assert!(hinomi(&["rules", "check", &dir.display().to_string()]).status.success());
    let out = hinomi(&["rules", "check", &dir.display().to_string(), "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("no `level`"));
    let _ = std::fs::remove_dir_all(&dir);
}
