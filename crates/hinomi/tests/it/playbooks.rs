//! Playbooks as code: the example playbooks (`playbooks/`) load against
//! their configuration and pass their tests; the commands name the file,
//! line and column of a mistake and fail when they should.

use std::path::Path;

use crate::hinomi;

fn examples() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../playbooks").display().to_string()
}

fn config() -> String {
    format!("{}/hinomi.toml", examples())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_playbooks_load_and_pass_their_tests() {
    let out = hinomi(&["playbook", "check", "--config", &config(), &examples()]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("2 playbooks loaded, 0 problems"), "{}", text(&out.stderr));
    let out = hinomi(&["playbook", "test", "--config", &config(), &examples(), "--format", "jsonl"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let cases: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(cases.len() >= 5 && cases.iter().all(|c| c["passed"] == true), "{cases:?}");
}

#[test]
fn mistakes_are_named_by_file_line_and_column_and_fail_the_commands() {
    let dir = std::env::temp_dir().join(format!("hinomi-playbooks-as-code-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(format!("{}/contain-lateral-movement.yml", examples())).unwrap();
    // A severity that is none: file, line, column.
    std::fs::write(dir.join("bad.yml"), good.replace("  severity: high", "  severity: urgent")).unwrap();
    let out = hinomi(&["playbook", "check", &dir.display().to_string(), "--format", "csv"]);
    assert_eq!(out.status.code(), Some(1));
    let listing = text(&out.stdout);
    assert!(listing.contains("bad.yml,7,13,") && listing.contains("is not a level"), "{listing}");
    // An action the server does not have.
    std::fs::write(dir.join("bad.yml"), good.replace("action: nft-block", "action: wipe-disk")).unwrap();
    let out = hinomi(&["playbook", "check", "--config", &config(), &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("no action \"wipe-disk\" is configured"), "{}", text(&out.stdout));
    // A test whose expectation is wrong fails the run and says what ran.
    std::fs::write(dir.join("bad.yml"), &good).unwrap();
    std::fs::write(
        dir.join("bad.test.yml"),
        "tests:\n  - name: wrong\n    incident: { severity: high, tags: [attack.lateral_movement], entities: { host: ws-1, ip: 192.0.2.1 } }\n    steps: [asset, block]\n",
    )
    .unwrap();
    let out = hinomi(&["playbook", "test", "--config", &config(), &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("expected steps"), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}
