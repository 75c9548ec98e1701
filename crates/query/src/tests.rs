//! Golden tests: `test_data/parse.txt` (each query → its canonical form or
//! its error) and `test_data/semantics.txt` (each query over the events of
//! `test_data/events.txt` → ids or rows). `UPDATE_EXPECT=1 cargo test`
//! rewrites the goldens. The store runs the same semantics cases through
//! its index and must produce the same golden.

use std::fmt::Write;

use jiff::Timestamp;
use model::Value;

use crate::golden::{check, queries, records, render};
use crate::{Filter, Limits, Output, Record, parse, pipes};

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

#[test]
fn semantics_golden() {
    let now = crate::golden::now();
    let mut events = Vec::new();
    for r in records() {
        let format = r.format.parse().unwrap();
        let event = normalize::parse_record(&r.raw, format, r.received).unwrap();
        let ts = event.timestamp.unwrap_or(r.received);
        events.push((r.id, r.raw, event, ts));
    }
    assert_eq!(events.len(), 15);
    // Rows reach the pipes newest first, as the store gives them.
    events.sort_by_key(|e| std::cmp::Reverse(e.3));
    let mut out = String::new();
    for q in queries("semantics.txt") {
        let query = parse(&q).unwrap_or_else(|e| panic!("{}", e.show(&q)));
        let rows = events.iter().filter_map(|(id, raw, event, ts)| {
            let meta = vec![
                ("@timestamp", Value::Str(ts.to_string().into())),
                ("_id", Value::Str(id.as_str().into())),
                ("_tenant", Value::Str("default".into())),
            ];
            let record = Record::new(event, raw, &meta);
            query.filter.matches(&record, now).then(|| record.to_row())
        });
        let rows = pipes::run(&query.pipes, rows, &Limits::default(), now).unwrap();
        render(&mut out, &q, rows, !query.pipes.is_empty());
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

#[test]
fn the_last_reshaping_pipe_names_the_columns() {
    let table = |cols: &[&str]| Output::Table(cols.iter().map(|c| c.to_string()).collect());
    let cases = [
        ("EventID:4625 | sort -@timestamp | head 5", Output::Events),
        ("* | stats count() by host.name", table(&["host.name", "count()"])),
        (
            "* | stats dc(user.name) as users, count() by host.name, EventID",
            table(&["host.name", "EventID", "users", "count()"]),
        ),
        ("* | fields EventID, ServiceName, host.name", table(&["EventID", "ServiceName", "host.name"])),
        ("* | stats count() by host.name | fields count()", table(&["count()"])),
        (
            "* | timechart span=1h count() by host.name",
            Output::Chart { by: Some("host.name".into()), values: vec!["count()".into()] },
        ),
        (
            "* | timechart span=1h count() | where count() > 1",
            Output::Chart { by: None, values: vec!["count()".into()] },
        ),
    ];
    for (q, want) in cases {
        assert_eq!(parse(q).unwrap().output(), want, "{q}");
    }
}
