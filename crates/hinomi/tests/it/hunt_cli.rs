//! The `hinomi hunt` command line: formats, filters, exit codes, bad input.

use std::path::Path;

use crate::{hinomi, test_data};

fn hunt(extra: &[&str]) -> (i32, String, String) {
    let data = test_data();
    let logs = data.join("logs").display().to_string();
    let rules = data.join("rules").display().to_string();
    let mut args = vec!["hunt", logs.as_str(), "--rules", rules.as_str()];
    args.extend_from_slice(extra);
    let out = hinomi(&args);
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn jsonl_carries_every_documented_field() {
    let (code, stdout, stderr) = hunt(&["--format", "jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // whoami via Sysmon 1, encoded PowerShell via windash, whoami via Security 4688 (aliased Image);
    // the file event is not process creation and must not fire.
    let ids: Vec<&str> = rows.iter().map(|r| r["rule_id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "0b6d7d0a-9d3c-4a0e-8f3a-2f1d9a7c0001",
            "0b6d7d0a-9d3c-4a0e-8f3a-2f1d9a7c0002",
            "0b6d7d0a-9d3c-4a0e-8f3a-2f1d9a7c0001"
        ]
    );
    let first = &rows[0];
    for key in [
        "timestamp",
        "rule_id",
        "rule_title",
        "level",
        "tags",
        "author",
        "source",
        "computer",
        "channel",
        "event_id",
        "event",
    ] {
        assert!(!first[key].is_null(), "{key} missing in {first}");
    }
    assert_eq!(first["timestamp"], "2026-01-01T10:00:00Z");
    assert_eq!(first["level"], "low");
    assert_eq!(first["author"], "Hinomi developers");
    assert_eq!(first["tags"], serde_json::json!(["attack.discovery", "attack.t1033"]));
    assert_eq!(first["computer"], "WS1");
    assert_eq!(first["event_id"], 1);
    assert_eq!(first["event"]["CommandLine"], "whoami /all");
    assert!(first["source"].as_str().unwrap().ends_with("sample.jsonl"));
    assert_eq!(rows[2]["computer"], "DC1");
    // The summary names the rejected rule count and the bad record.
    assert!(stderr.contains("rules: 2 loaded, 1 rejected"), "{stderr}");
    assert!(stderr.contains("1 bad records"), "{stderr}");
    assert!(stderr.contains("broken.yml:7:9: unknown modifier `endswithh`"), "{stderr}");
    // The summary after the run: top rules and hosts, the span of the hits.
    assert!(stderr.contains("hunt: top rules: 2 Whoami Execution (low); 1 Encoded PowerShell (high)\n"), "{stderr}");
    assert!(stderr.contains("hunt: top hosts: 2 WS1; 1 DC1\n"), "{stderr}");
    assert!(stderr.contains("hunt: hits from 2026-01-01T10:00:00Z to 2026-01-03T10:00:00Z\n"), "{stderr}");
}

#[test]
fn csv_and_table_have_a_header_and_one_row_per_detection() {
    let (code, stdout, _) = hunt(&["--format", "csv"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "timestamp,rule_id,rule_title,level,tags,author,source,computer,channel,event_id,details,event"
    );
    assert_eq!(lines.len(), 4);
    assert!(
        lines[2].contains(",high,attack.execution attack.t1059.001,\"Hinomi developers, Second Author\","),
        "{}",
        lines[2]
    );
    let (code, stdout, _) = hunt(&["--format", "table"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("TIMESTAMP") && lines[0].ends_with("DETAILS"), "{stdout}");
    assert_eq!(lines.len(), 4);
    assert!(lines[2].contains("Encoded PowerShell"));
    // The details column: what ran, as Hayabusa's details say it.
    assert!(lines[1].contains("Image: ") && lines[1].contains("CommandLine: whoami /all"), "{stdout}");
}

#[test]
fn min_level_and_time_window_filter() {
    let (_, stdout, _) = hunt(&["--format", "jsonl", "--min-level", "medium"]);
    assert_eq!(stdout.lines().count(), 1);
    let (_, stdout, _) = hunt(&["--format", "jsonl", "--from", "2026-01-02", "--to", "2026-01-03T00:00:00Z"]);
    let rows: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["rule_title"], "Encoded PowerShell");
}

#[test]
fn corrupt_and_truncated_files_are_reported_and_skipped() {
    let dir = std::env::temp_dir().join(format!("hinomi-hunt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // An EVTX magic followed by garbage, and a real EVTX cut in half.
    std::fs::write(dir.join("garbage.evtx"), b"ElfFile\0this is not an event log at all").unwrap();
    let sample = first_regression_evtx();
    let bytes = std::fs::read(&sample).unwrap();
    std::fs::write(dir.join("truncated.evtx"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::copy(test_data().join("logs/sample.jsonl"), dir.join("sample.jsonl")).unwrap();
    let rules = test_data().join("rules").display().to_string();
    let out = hinomi(&["hunt", dir.to_str().unwrap(), "--rules", &rules, "--format", "jsonl"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("skipped") && stderr.contains("garbage.evtx"), "{stderr}");
    assert!(stderr.contains("3 files (1 unreadable)"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    std::fs::remove_dir_all(&dir).ok();
}

fn first_regression_evtx() -> std::path::PathBuf {
    crate::files_under(&crate::sigma_dir().join("regression_data"), |p| p.extension().is_some_and(|e| e == "evtx"))
        .into_iter()
        .next()
        .expect("no evtx in regression data")
}

#[test]
fn nothing_readable_is_an_error_and_usage_errors_are_too() {
    let dir = std::env::temp_dir().join(format!("hinomi-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = test_data().join("rules").display().to_string();
    let out = hinomi(&["hunt", dir.to_str().unwrap(), "--rules", &rules]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(dir.join("only.evtx"), b"ElfFile\0garbage").unwrap();
    let out = hinomi(&["hunt", dir.to_str().unwrap(), "--rules", &rules]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
    let out = hinomi(&["hunt", "x", "--rules", &rules, "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = hinomi(&["hunt", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(Path::new(&rules).is_dir());
}

/// Reading a big JSON-lines file in parallel ranges, and spilling the
/// timeline to disk, change nothing in the output.
#[test]
fn chunked_reading_and_spilled_timeline_give_identical_output() {
    let dir = std::env::temp_dir().join(format!("hinomi-chunks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sample = std::fs::read_to_string(test_data().join("logs/sample.jsonl")).unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let mut big = String::new();
    for i in 0..3000 {
        // Same second for many events, so ordering ties are exercised too.
        big.push_str(&lines[i % lines.len()].replace("10:00:00Z", &format!("10:00:{:02}Z", i % 7)));
        big.push('\n');
    }
    let path = dir.join("big.jsonl");
    std::fs::write(&path, &big).unwrap();
    let rules = test_data().join("rules").display().to_string();
    let run = |extra: &[&str]| {
        let format = if extra.contains(&"csv") { "csv" } else { "jsonl" };
        let mut args = vec!["hunt", path.to_str().unwrap(), "--rules", &rules, "-j", "2", "--format", format];
        let extra: Vec<&str> = extra.iter().copied().filter(|a| *a != "csv").collect();
        args.extend_from_slice(&extra);
        let out = hinomi(&args);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let whole = run(&[]);
    assert_eq!(whole.lines().count(), 1800);
    assert_eq!(run(&["--chunk-bytes", "4096"]), whole, "chunked reading");
    assert_eq!(run(&["--timeline-budget", "10000"]), whole, "spilled timeline");
    assert_eq!(run(&["--chunk-bytes", "4096", "--timeline-budget", "10000", "csv"]).lines().count(), 1801);
    std::fs::remove_dir_all(&dir).ok();
}
