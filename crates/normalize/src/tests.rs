//! Golden tests: each `test_data/json/<case>.json` is read with
//! [`read_json`] and rendered next to it as `<case>.golden` (fields, views,
//! timestamp, errors). `UPDATE_EXPECT=1 cargo test` rewrites the goldens.

use std::fmt::Write;
use std::path::Path;

use super::*;

fn render_event(out: &mut String, event: &Event) {
    let _ = writeln!(out, "event");
    if let Some(ts) = event.timestamp {
        let _ = writeln!(out, "  @timestamp = {ts}");
    }
    for view in &event.views {
        let aliases: Vec<String> = view.aliases.iter().map(|(r, e)| format!("{r}<-{e}")).collect();
        let _ = writeln!(out, "  view {} {}", view.logsource, aliases.join(" "));
    }
    for (name, value) in event.fields() {
        let _ = writeln!(out, "  {name} = {}", value.to_json());
    }
}

/// JSON files through [`read_json`], as `hinomi hunt` reads them.
fn render_json(text: &str) -> String {
    let mut out = String::new();
    for item in read_json(text) {
        match item {
            Ok(event) => render_event(&mut out, &event),
            Err(e) => {
                let _ = writeln!(out, "error {e}");
            }
        }
    }
    out
}

/// One record per line through [`parse_record`], as a listener receives
/// them. A line `#format NAME` sets the format of the lines after it; other
/// `#` lines are comments; `\t` stands for a tab.
fn render_records(text: &str) -> String {
    let received: model::Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    let mut out = String::new();
    let mut format = Format::Auto;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("#format ") {
            format = name.trim().parse().unwrap();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let record = line.replace("\\t", "\t");
        let _ = writeln!(out, "<< {line}");
        match parse_record(&record, format, received) {
            Ok(event) => render_event(&mut out, &event),
            Err(e) => {
                let _ = writeln!(out, "dead-letter {e}");
            }
        }
    }
    out
}

#[track_caller]
fn check(case: &Path, render: fn(&str) -> String) {
    let input = std::fs::read_to_string(case).unwrap();
    let got = render(&input);
    let golden = case.with_extension("golden");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&golden, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(got, want, "golden mismatch for {} (UPDATE_EXPECT=1 to accept)", case.display());
}

fn check_dir(dir: &str, ext: &str, render: fn(&str) -> String) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(dir);
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    cases.sort();
    let cases: Vec<_> = cases.into_iter().filter(|p| p.extension().is_some_and(|e| e == ext)).collect();
    for case in &cases {
        check(case, render);
    }
    cases.len()
}

#[test]
fn golden_json_cases() {
    let n = check_dir("json", "json", render_json);
    assert!(n >= 3, "only {n} golden cases");
}

#[test]
fn golden_record_cases() {
    let n = check_dir("records", "txt", render_records);
    assert!(n >= 6, "only {n} golden cases");
}

#[test]
fn builtin_routing_table_parses() {
    let table = WindowsRouting::parse(include_str!("../data/windows-logsources.txt")).unwrap();
    assert!(table.all_views().len() > 60);
}

#[test]
fn routing_table_errors_name_the_line() {
    let err = WindowsRouting::parse("service | a | A\ncategory | x | a | 1,z\n").err().unwrap();
    assert_eq!(err.to_string(), "line 2: `z` is not an event id");
    let err = WindowsRouting::parse("category | x | nope | 1\n").err().unwrap();
    assert_eq!(err.to_string(), "line 1: service `nope` has no channel");
}

#[test]
fn security_4688_is_also_process_creation_with_aliases() {
    let rec =
        r#"{"Event":{"System":{"EventID":4688,"Channel":"Security"},"EventData":{"NewProcessName":"C:\\x.exe"}}}"#;
    let event = from_json_object(&serde_json::from_str(rec).unwrap()).unwrap();
    let views: Vec<String> = event.views.iter().map(|v| v.logsource.to_string()).collect();
    assert_eq!(views, ["windows/*/security", "windows/process_creation/security"]);
    assert_eq!(event.views[1].aliases[0], ("Image".into(), "NewProcessName".into()));
}

#[test]
fn evtx_garbage_is_an_error_not_a_panic() {
    let r = read_evtx(std::io::Cursor::new(b"not an evtx file at all".to_vec()));
    assert!(r.is_err());
}

#[test]
fn one_line_fast_path_equals_the_tree_path() {
    let records = [
        r#"{"a":{"b":1,"c":{"d":"x\"y"}},"e":[1,"y",{"z":1}],"f":null,"g":-2.5,"h":18446744073709551615,"i":true}"#,
        r#"{"user.name":"alice","user":{"id":7}}"#,
        r#"{}"#,
        r#"{"Event":{"System":{"EventID":4688,"Channel":"Security"},"EventData":{"NewProcessName":"C:\\x.exe"}}}"#,
    ];
    for text in records {
        let mut tree = from_json_object(&serde_json::from_str(text).unwrap()).unwrap();
        sources::classify_json(&mut tree, model::Timestamp::UNIX_EPOCH);
        let fast: Vec<Event> = read_json(text).map(|r| r.unwrap()).collect();
        assert_eq!(fast.len(), 1);
        assert_eq!(fast[0].fields(), tree.fields(), "{text}");
        assert_eq!(fast[0].views, tree.views, "{text}");
    }
}
