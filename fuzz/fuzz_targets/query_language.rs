//! The search language: any text either parses or fails with a column
//! inside it; a parsed query evaluates over an event and runs its pipes
//! without panicking. As a raw record, the text has the same words whether
//! or not its JSON keys are cut out and tokenized apart, and decoding its
//! JSON escapes is done once for all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::{Event, Timestamp, Value};

/// The words of `text`, sorted and unique.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    query::tokens::tokens(text, |t| {
        out.push(t.to_string());
        false
    });
    out.sort();
    out.dedup();
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // As a raw record: cutting out JSON keys loses and invents no word.
    let (mut keys, mut other) = (Vec::new(), Vec::new());
    query::tokens::split_json_keys(&text, &mut |k| keys.extend(words(k)), &mut |o| other.extend(words(o)));
    keys.append(&mut other);
    keys.sort();
    keys.dedup();
    assert_eq!(keys, words(&text));
    // Decoding JSON escapes only shrinks a record and makes no new escape.
    let decoded = query::tokens::search_text(&text);
    assert!(decoded.len() <= text.len());
    assert_eq!(query::tokens::search_text(&decoded), decoded);
    let query = match query::parse(&text) {
        Ok(q) => q,
        Err(e) => {
            assert!(e.column <= text.chars().count() + 1);
            return;
        }
    };
    let mut event = Event::new();
    event.push("user.name", Value::Str("Alice".into()));
    event.push("source.ip", Value::Str("10.0.0.1".into()));
    event.push("bytes", Value::Int(1200));
    event.push("tags", Value::Array(vec![Value::Str("a".into()), Value::Int(2)]));
    let meta = [("@timestamp", Value::Str("2026-11-01T00:00:00Z".into()))];
    let record = query::Record::new(&event, "Failed password for alice from 10.0.0.1", &meta);
    let now = Timestamp::UNIX_EPOCH;
    let hit = query.filter.matches(&record, now);
    let rows = (0..if hit { 3 } else { 1 }).map(|_| record.to_row());
    let limits = query::Limits { max_groups: 1000, max_distinct: 1000, max_rows: 1000 };
    let _ = query::pipes::run(&query.pipes, rows, &limits, now);
});
