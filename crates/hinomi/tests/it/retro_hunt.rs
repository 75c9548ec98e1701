//! Retro-hunt against the stream: every SigmaHQ regression sample is
//! imported into a data directory (the stream runs the rules and writes
//! alerts), then `hunt --store` runs the same rules over the stored
//! events. Both must find exactly the same (event, rule) pairs.

use std::collections::BTreeSet;

use crate::{all_rule_args, files_under, hinomi, sigma_dir};

fn pairs(lines: impl Iterator<Item = String>) -> BTreeSet<(String, String)> {
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            (v["event_id"].as_str().unwrap().to_string(), v["rule"]["id"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn retro_hunt_agrees_with_the_stream_on_the_regression_set() {
    let data = std::env::temp_dir().join(format!("hinomi-retro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let files = files_under(&sigma_dir().join("regression_data"), |p| p.extension().is_some_and(|e| e == "evtx"));
    assert!(files.len() >= 150, "only {} regression samples", files.len());
    let data_arg = data.display().to_string();
    let rules = all_rule_args();
    let file_args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();

    let mut args: Vec<&str> = vec!["import", "--data", &data_arg];
    args.extend(rules.iter().map(String::as_str));
    args.extend(file_args.iter().map(String::as_str));
    let out = hinomi(&args);
    assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut stream_lines = Vec::new();
    for f in files_under(&data.join("alerts"), |p| p.extension().is_some_and(|e| e == "jsonl")) {
        stream_lines.extend(std::fs::read_to_string(f).unwrap().lines().map(str::to_string));
    }
    let stream = pairs(stream_lines.into_iter());

    let mut args: Vec<&str> = vec!["hunt", "--store", "--data", &data_arg, "--format", "jsonl"];
    args.extend(rules.iter().map(String::as_str));
    let out = hinomi(&args);
    assert!(out.status.success(), "hunt --store failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().all(|l| l.contains(r#""origin":"retro-hunt""#)), "findings are marked");
    let retro = pairs(text.lines().map(str::to_string));

    assert!(stream.len() >= 300, "the stream found only {} alerts", stream.len());
    let only_stream: Vec<_> = stream.difference(&retro).take(5).collect();
    let only_retro: Vec<_> = retro.difference(&stream).take(5).collect();
    assert!(
        only_stream.is_empty() && only_retro.is_empty(),
        "stream only: {only_stream:?}; retro only: {only_retro:?}"
    );
    let _ = std::fs::remove_dir_all(&data);
}
