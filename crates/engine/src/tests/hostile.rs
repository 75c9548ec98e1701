//! Record shapes a hostile sender would choose, through every stage of the
//! input path: parse, serialize, match (the SigmaHQ rules) and index. Each
//! stage must cost about the same per byte however the bytes are shaped;
//! records past the limits are refused with the limit they broke and kept
//! as dead letters.
//!
//! Costs are compared, not timed: the same shape at n and 8n, in one run,
//! the best of a few tries each. Linear work grows about 8 times (up to 12
//! measured, as the larger record falls out of the caches), a scan per
//! field 64 times; the bound of 24 leaves room for a noisy machine.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use eventstore::{EventStore, NewEvent, StoreConfig, StoreWriter};
use normalize::limits::{MAX_DEPTH, MAX_FIELDS, MAX_VALUE_BYTES};
use sigma::{CompileOptions, RuleSet, RuleSetBuilder};

use super::{batch, lines, tempdir};
use crate::{Engine, EngineConfig};

/// Shapes of `n` units, each a record of one format.
fn shapes(n: usize) -> Vec<(&'static str, String)> {
    let keys = |f: &dyn Fn(usize) -> String, sep: &str| (0..n).map(f).collect::<Vec<_>>().join(sep);
    vec![
        ("wide JSON", format!("{{{}}}", keys(&|i| format!("\"k{i}\":\"v{i}\""), ","))),
        ("one name repeated", format!("{{{}}}", keys(&|i| format!("\"Image\":\"v{i}\""), ","))),
        ("wide below a prefix", format!("{{\"a\":{{\"b\":{{{}}}}}}}", keys(&|i| format!("\"k{i}\":{i}"), ","))),
        ("long value", format!("{{\"CommandLine\":\"{}\"}}", "x".repeat(n * 100))),
        ("long array", format!("{{\"a\":[{}]}}", keys(&|i| format!("\"v{i}\""), ","))),
        ("wide key=value", keys(&|i| format!("k{i}=v{i}"), " ")),
        ("wide CEF", format!("CEF:0|v|p|1|sig|name|5|{}", keys(&|i| format!("cs{i}=v{i}"), " "))),
        ("wide syslog JSON", format!("<13>Nov 22 10:00:00 h app: {{{}}}", keys(&|i| format!("\"k{i}\":1"), ","))),
    ]
}

fn sigma_rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let root = match std::env::var_os("HINOMI_SIGMA_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/sigma")),
        };
        let mut b = RuleSetBuilder::new(CompileOptions::default());
        let mut files = 0;
        for dir in ["rules", "rules-threat-hunting", "rules-emerging-threats"] {
            for entry in walk(&root.join(dir)) {
                if let Ok(text) = std::fs::read_to_string(&entry) {
                    b.add_file(&entry.to_string_lossy(), &text);
                    files += 1;
                }
            }
        }
        assert!(files > 1000, "SigmaHQ rules not found under {} (set HINOMI_SIGMA_DIR)", root.display());
        b.build().0
    })
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yml") {
            out.push(path);
        }
    }
    out
}

/// The cost of one run of `f`: runs repeated for at least 20 ms, so that
/// the clock and the allocator's moods are a small part of the figure.
fn cost(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || start.elapsed() < Duration::from_millis(20) {
        f();
        runs += 1;
    }
    start.elapsed() / runs
}

const STAGES: [&str; 4] = ["parse", "serialize", "match", "index"];

/// One record, parsed, with what each stage needs.
struct Prepared<'r> {
    raw: &'r str,
    event: model::Event,
    logsource: Vec<String>,
}

impl<'r> Prepared<'r> {
    fn new(raw: &'r str) -> Prepared<'r> {
        let event = parse(raw);
        let logsource = event.views.iter().map(|v| v.logsource.to_string()).collect();
        Prepared { raw, event, logsource }
    }

    /// The cost of `stage` for this record.
    fn cost(&self, stage: &str, writer: &mut StoreWriter, position: &mut u64) -> Duration {
        let received = jiff::Timestamp::UNIX_EPOCH;
        match stage {
            "parse" => cost(|| drop(parse(self.raw))),
            "serialize" => cost(|| drop(serde_json::to_vec(&self.event))),
            "match" => {
                let mut matcher = sigma_rules().matcher();
                cost(|| {
                    std::hint::black_box(matcher.matches(&self.event).len());
                })
            }
            _ => cost(|| {
                *position += 1;
                let ev = NewEvent {
                    position: *position,
                    index: 0,
                    timestamp: received,
                    received,
                    source: "hostile",
                    format: "auto",
                    view: None,
                    logsource: &self.logsource,
                    raw: self.raw,
                    enriched: None,
                    event: &self.event,
                };
                writer.add_frame(*position, *position + 1, "default", &[ev]).expect("indexed");
            }),
        }
    }
}

fn parse(raw: &str) -> model::Event {
    normalize::parse_record(raw, normalize::Format::Auto, jiff::Timestamp::UNIX_EPOCH).expect("within the limits")
}

#[test]
fn every_stage_costs_the_same_per_byte_whatever_the_shape() {
    let dir = tempdir("hostile-index");
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let mut writer = StoreWriter::new(store).unwrap();
    let mut position = 0;
    let n = MAX_FIELDS / 8 - 10;
    let (small, large) = (shapes(n), shapes(8 * n));
    let mut report = Vec::new();
    for ((shape, a), (_, b)) in small.iter().zip(&large) {
        let (a, b) = (Prepared::new(a), Prepared::new(b));
        for stage in STAGES {
            // Small and large in turn, the best of five each: other tests
            // share the machine, and a busy moment then weighs on both.
            let (mut ta, mut tb) = (Duration::MAX, Duration::MAX);
            for _ in 0..5 {
                ta = ta.min(a.cost(stage, &mut writer, &mut position));
                tb = tb.min(b.cost(stage, &mut writer, &mut position));
            }
            let ratio = tb.as_secs_f64() / ta.as_secs_f64().max(1e-6);
            report.push(format!("{shape:>20} {stage:>9}: {ta:>10.2?} -> {tb:>10.2?} ({ratio:.1}x)"));
            assert!(ratio < 24.0, "{shape}, {stage}: 8 times the input cost {ratio:.1} times\n{}", report.join("\n"));
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn records_past_the_limits_are_dead_letters_that_say_which_limit() {
    let wide = format!("{{{}}}", (0..=MAX_FIELDS).map(|i| format!("\"k{i}\":1")).collect::<Vec<_>>().join(","));
    let deep = format!("{}{}", "{\"a\":".repeat(MAX_DEPTH + 1), "1".to_string() + &"}".repeat(MAX_DEPTH + 1));
    let deep_in_syslog = format!("<13>Nov 22 10:00:00 h app: {deep}");
    let long = format!("{{\"message\":\"{}\"}}", "x".repeat(MAX_VALUE_BYTES + 1));
    // Depth inside a string is text, not nesting.
    let braces_in_text = format!("{{\"message\":\"{}\"}}", "{[".repeat(MAX_DEPTH * 2));
    let data = tempdir("limits");
    let engine =
        Engine::start(EngineConfig::new(&data), Arc::new(RuleSetBuilder::new(CompileOptions::default()).build().0))
            .unwrap();
    engine.ingest().submit_blocking(batch(&[&wide, &deep, &deep_in_syslog, &long, &braces_in_text])).unwrap();
    assert!(engine.drain(Duration::from_secs(30)));
    engine.shutdown();
    let dead = lines(&data.join("deadletter"));
    let reasons: Vec<String> = dead.iter().map(|d| d["reason"].as_str().unwrap_or("").to_string()).collect();
    // A dead letter keeps the first 64 KiB of a huge record and says how
    // long it was; a small one whole.
    let kept: Vec<(usize, Option<u64>)> =
        dead.iter().map(|d| (d["raw"].as_str().unwrap_or("").len(), d["raw_bytes"].as_u64())).collect();
    assert_eq!(kept[1], (deep.len(), None));
    assert_eq!(kept[3], (crate::output::DEAD_RAW, Some(long.len() as u64)));
    assert!(long.starts_with(dead[3]["raw"].as_str().unwrap_or("-")));
    assert_eq!(
        reasons,
        [
            format!("limits: {} fields (at most {MAX_FIELDS})", MAX_FIELDS + 1),
            format!("limits: nested more than {MAX_DEPTH} levels deep (at byte {})", 5 * MAX_DEPTH),
            format!("limits: nested more than {MAX_DEPTH} levels deep (at byte {})", 5 * MAX_DEPTH),
            format!("limits: field `message` holds {} bytes (at most {MAX_VALUE_BYTES})", MAX_VALUE_BYTES + 1),
        ]
    );
    assert_eq!(lines(&data.join("events")).len(), 1);
}
