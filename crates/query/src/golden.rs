//! The golden semantics cases: a fixed event set (`test_data/events.txt`)
//! and queries over it (`test_data/semantics.txt`) with their results
//! (`semantics.golden`). The evaluator's tests and the store's tests both
//! check against the same golden, which is how the store proves its index
//! never changes what a query finds.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::Row;

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(name)
}

/// When the semantics cases are evaluated.
pub fn now() -> Timestamp {
    Timestamp::from_second(1_793_494_800).unwrap_or(Timestamp::UNIX_EPOCH) // 2026-11-01T01:00:00Z
}

/// One record of the fixed event set.
pub struct FixtureRecord {
    /// `0.0`, `1.0`, ... in file order: record N is alone in log frame N,
    /// as the store names events.
    pub id: String,
    pub format: String,
    pub raw: String,
    /// Record N arrives N minutes after 2026-11-01T00:00:00Z.
    pub received: Timestamp,
}

pub fn records() -> Vec<FixtureRecord> {
    let base = Timestamp::from_second(1_793_491_200).unwrap_or(Timestamp::UNIX_EPOCH); // 2026-11-01T00:00:00Z
    let text = std::fs::read_to_string(data("events.txt")).unwrap_or_default();
    let mut format = "auto".to_string();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#format ") {
            format = f.to_string();
        } else if !line.starts_with('#') && !line.is_empty() {
            let received = base + jiff::SignedDuration::from_mins(out.len() as i64);
            out.push(FixtureRecord {
                id: format!("{}.0", out.len()),
                format: format.clone(),
                raw: line.to_string(),
                received,
            });
        }
    }
    out
}

/// The queries of a case file, without comments.
pub fn queries(case: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data(case)).unwrap_or_default();
    text.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
}

/// What a query gave: the ids it found, or its rows as JSON lines.
pub fn render(out: &mut String, query: &str, rows: Vec<Row>, pipes: bool) {
    let _ = writeln!(out, "> {query}");
    if pipes {
        for row in rows {
            let _ = writeln!(out, "  {}", serde_json::Value::Object(row));
        }
    } else {
        let ids: Vec<&str> = rows.iter().filter_map(|r| r.get("_id").and_then(|v| v.as_str())).collect();
        let _ = writeln!(out, "  ids: {}", ids.join(" "));
    }
}

/// Compares `got` with the golden file of `case`; `UPDATE_EXPECT=1`
/// rewrites it instead (only the evaluator's tests should).
pub fn check(case: &str, got: &str) {
    let golden = data(case).with_extension("golden");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        if let Err(e) = std::fs::write(&golden, got) {
            panic!("cannot write {}: {e}", golden.display());
        }
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
