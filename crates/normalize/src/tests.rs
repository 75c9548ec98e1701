//! Golden tests: each `test_data/json/<case>.json` is read with
//! [`read_json`] and rendered next to it as `<case>.golden` (fields, views,
//! timestamp, errors). `UPDATE_EXPECT=1 cargo test` rewrites the goldens.

use std::fmt::Write;
use std::path::Path;

use super::*;

fn render(text: &str) -> String {
    let mut out = String::new();
    for item in read_json(text) {
        match item {
            Ok(event) => {
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
            Err(e) => {
                let _ = writeln!(out, "error {e}");
            }
        }
    }
    out
}

#[track_caller]
fn check(case: &Path) {
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

#[test]
fn golden_json_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/json");
    let mut n = 0;
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    cases.sort();
    for case in cases.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        check(case);
        n += 1;
    }
    assert!(n >= 3, "only {n} golden cases");
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
        let tree = from_json_object(&serde_json::from_str(text).unwrap()).unwrap();
        let fast: Vec<Event> = read_json(text).map(|r| r.unwrap()).collect();
        assert_eq!(fast.len(), 1);
        assert_eq!(fast[0].fields(), tree.fields(), "{text}");
        assert_eq!(fast[0].views, tree.views, "{text}");
    }
}
