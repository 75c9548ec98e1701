//! Golden tests: `test_data/parse.txt` (each query → its canonical form or
//! its error) and `test_data/semantics.txt` (each query over the events of
//! `test_data/events.txt` → ids or rows). `UPDATE_EXPECT=1 cargo test`
//! rewrites the goldens. The store runs the same semantics cases through
//! its index and must produce the same golden.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use model::{Event, Value};

use crate::{Filter, Limits, Record, parse, pipes};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(name)
}

/// Compares `got` with the golden file next to `case`.
fn check(case: &str, got: &str) {
    let golden = data(case).with_extension("golden");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&golden, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    if got != want {
        let first = got.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "golden mismatch for {case} (UPDATE_EXPECT=1 to accept), first difference at line {}:\n got: {:?}\nwant: {:?}",
            first + 1,
            got.lines().nth(first),
            want.lines().nth(first)
        );
    }
}

fn queries(case: &str) -> Vec<String> {
    std::fs::read_to_string(data(case)).unwrap().lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
}

#[test]
fn parser_golden() {
    let mut out = String::new();
    for q in queries("parse.txt") {
        let _ = writeln!(out, "> {q}");
        match parse(&q) {
            Ok(query) => {
                let _ = writeln!(out, "  {query}");
            }
            Err(e) => {
                let _ = writeln!(out, "  error: {e}");
            }
        }
    }
    check("parse.txt", &out);
}

/// The fixed events: `(id, raw, event, @timestamp)`.
pub(crate) fn fixture() -> Vec<(String, String, Event, Timestamp)> {
    let base: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut format = normalize::Format::Auto;
    let mut out = Vec::new();
    for line in std::fs::read_to_string(data("events.txt")).unwrap().lines() {
        if let Some(f) = line.strip_prefix("#format ") {
            format = f.parse().unwrap();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let received = base + jiff::SignedDuration::from_mins(out.len() as i64);
        let event = normalize::parse_record(line, format, received).unwrap();
        let ts = event.timestamp.unwrap_or(received);
        out.push((out.len().to_string(), line.to_string(), event, ts));
    }
    out
}

fn meta(id: &str, ts: Timestamp) -> Vec<(&'static str, Value)> {
    vec![
        ("@timestamp", Value::Str(ts.to_string().into())),
        ("_id", Value::Str(id.into())),
        ("_tenant", Value::Str("default".into())),
    ]
}

/// What a query gives: the ids it finds, or its rows as JSON lines.
pub(crate) fn render(query: &str, rows: Vec<serde_json::Map<String, serde_json::Value>>, pipes: bool) -> String {
    let mut out = format!("> {query}\n");
    if pipes {
        for row in rows {
            let _ = writeln!(out, "  {}", serde_json::Value::Object(row));
        }
    } else {
        let ids: Vec<&str> = rows.iter().filter_map(|r| r.get("_id").and_then(|v| v.as_str())).collect();
        let _ = writeln!(out, "  ids: {}", ids.join(" "));
    }
    out
}

#[test]
fn semantics_golden() {
    let now: Timestamp = "2026-11-01T01:00:00Z".parse().unwrap();
    let events = fixture();
    assert_eq!(events.len(), 14);
    let mut out = String::new();
    for q in queries("semantics.txt") {
        let query = parse(&q).unwrap_or_else(|e| panic!("{}", e.show(&q)));
        let rows = events.iter().filter_map(|(id, raw, event, ts)| {
            let meta = meta(id, *ts);
            let record = Record { event, raw, meta: &meta };
            query.filter.matches(&record, now).then(|| record.to_row())
        });
        let rows = pipes::run(&query.pipes, rows, &Limits::default(), now).unwrap();
        out.push_str(&render(&q, rows, !query.pipes.is_empty()));
    }
    check("semantics.txt", &out);
}

#[test]
fn limits_are_enforced() {
    let now = Timestamp::UNIX_EPOCH;
    let rows = (0..50).map(|i| {
        let mut r = crate::Row::new();
        r.insert("k".into(), i.into());
        r
    });
    let small = Limits { max_groups: 10, max_distinct: 10, max_rows: 100 };
    let q = parse("| stats count() by k").unwrap();
    let err = pipes::run(&q.pipes, rows.clone(), &small, now).unwrap_err();
    assert!(err.0.contains("more than 10 groups"), "{err}");
    let q = parse("| stats dc(k)").unwrap();
    let err = pipes::run(&q.pipes, rows.clone(), &small, now).unwrap_err();
    assert!(err.0.contains("distinct"), "{err}");
    let tiny = Limits { max_rows: 20, ..small };
    let q = parse("| sort k").unwrap();
    assert!(pipes::run(&q.pipes, rows.clone(), &tiny, now).is_err());
    let q = parse("| head 5").unwrap();
    assert_eq!(pipes::run(&q.pipes, rows, &tiny, now).unwrap().len(), 5);
}

#[test]
fn errors_never_panic_on_any_prefix() {
    // Every prefix of every test query parses or fails cleanly, and the
    // error column lies within the text (plus one for "at the end").
    for q in queries("parse.txt").iter().chain(&queries("semantics.txt")) {
        for (i, _) in q.char_indices() {
            let prefix = &q[..i];
            if let Err(e) = parse(prefix) {
                assert!(e.column <= prefix.chars().count() + 1, "{prefix:?}: {e}");
            }
        }
    }
    let deep = "(".repeat(10_000);
    assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
    let nots = "NOT ".repeat(10_000) + "a";
    assert!(parse(&nots).is_err());
}

#[test]
fn filter_all_matches_everything() {
    assert!(matches!(parse("").unwrap().filter, Filter::All));
    assert!(matches!(parse("*").unwrap().filter, Filter::All));
}
