//! Triage throughput and queue latency at a million open alerts:
//! `cargo run --release -p state --example triage_bench -- DB_PATH [ALERTS]`.
//!
//! Fills a fresh SQLite state store through `State::triage` with
//! generated detections (a thousand rules over 50,000 hosts, 20,000 users
//! and 100,000 addresses, a fifth of them repeats), printing the rate as
//! it grows; then, at the full size, measures the rate of a mixed batch
//! (half repeats) and the latency of the queue queries a console page
//! makes. The database is left in place for the API measurement
//! (`bench/triage.py`).

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use soc::{Detection, TriagePolicy};
use state::reader::BATCH;
use state::{AlertQuery, IncidentQuery, State};

// The server's allocator: the figure should be the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn detection(rng: &mut Rng, n: u64, at: Timestamp) -> Detection {
    let levels = ["low", "medium", "medium", "high", "critical"];
    let rule = rng.below(1000);
    let level = levels[(rule % 5) as usize];
    let line = serde_json::json!({
        "id": format!("{n}.0.r{rule}"), "kind": "sigma", "event_id": format!("{n}.0"), "@timestamp": at.to_string(),
        "tenant": "default", "source": "bench", "level": level, "title": format!("Rule {rule}"),
        "rule": {"id": format!("r{rule}"), "title": format!("Rule {rule}"), "level": level, "tags": ["attack.t1078"], "author": "bench", "path": "x.yml"},
        "event": {"host.name": format!("host-{}", rng.below(50_000)), "user.name": format!("user-{}", rng.below(20_000)),
                  "source.ip": format!("10.{}.{}.{}", rng.below(100), rng.below(250), rng.below(4))},
    });
    Detection::from_alert_line(&serde_json::to_vec(&line).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
}

/// A queue query to time; returns the rows it found.
type Query<'a> = Box<dyn FnMut() -> usize + 'a>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: triage_bench DB_PATH [ALERTS] [START_SECOND STEP_MS]";
    let path = std::path::PathBuf::from(std::env::args().nth(1).ok_or(usage)?);
    let target: u64 = std::env::args().nth(2).map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    // Where event time starts and how far it moves per detection: by
    // default 10 ms from a fixed instant in 2026-11; the console benchmark
    // ends the alerts at its own start so that the last 24 hours are full.
    let start: i64 = std::env::args().nth(3).map(|a| a.parse()).transpose()?.unwrap_or(1_795_000_000);
    let step: i64 = std::env::args().nth(4).map(|a| a.parse()).transpose()?.unwrap_or(10);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let state = State::sqlite(&path, TriagePolicy::default())?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Timestamp::from_second(start)?;
    let mut n = 0u64;
    let mut recent: Vec<Detection> = Vec::new();
    let mut open = 0u64;
    let t0 = Instant::now();
    let mut mark = (Instant::now(), 0u64);
    // Event time advances 10 ms per detection: the dedup window (1 h)
    // holds 360,000 detections, the grouping window (4 h) all of them.
    while open < target {
        let mut batch = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            n += 1;
            let at = start + SignedDuration::from_millis(step * n as i64);
            let d = if !recent.is_empty() && rng.below(5) == 0 {
                let mut d = recent[rng.below(recent.len() as u64) as usize].clone();
                d.at = at;
                d
            } else {
                detection(&mut rng, n, at)
            };
            if recent.len() < 10_000 {
                recent.push(d.clone());
            } else {
                let i = rng.below(10_000) as usize;
                recent[i] = d.clone();
            }
            batch.push(d);
        }
        let out = state.triage(&batch, Some(("bench", n)), start + SignedDuration::from_millis(step * n as i64))?;
        open += out.new_alerts;
        if open / 100_000 != (open - out.new_alerts) / 100_000 {
            let secs = mark.0.elapsed().as_secs_f64();
            eprintln!(
                "{open:>9} open alerts: {:>7.0} detections/s over the last {} detections",
                (n - mark.1) as f64 / secs,
                n - mark.1
            );
            mark = (Instant::now(), n);
        }
    }
    println!(
        "fill: {n} detections, {open} open alerts in {:.1} s ({:.0} detections/s)",
        t0.elapsed().as_secs_f64(),
        n as f64 / t0.elapsed().as_secs_f64()
    );

    // At full size: 100,000 detections, half repeats of recent ones, in
    // the reader's transactions. Timed as a whole, not as a median of
    // parts: the WAL checkpoints that some commits run are part of the
    // rate.
    const MEASURED: usize = 100_000;
    let mut batch = Vec::with_capacity(MEASURED);
    for _ in 0..MEASURED {
        n += 1;
        let at = start + SignedDuration::from_millis(step * n as i64);
        let d = if rng.below(2) == 0 {
            let mut d = recent[rng.below(recent.len() as u64) as usize].clone();
            d.at = at;
            d
        } else {
            detection(&mut rng, n, at)
        };
        batch.push(d);
    }
    let t = Instant::now();
    for chunk in batch.chunks(BATCH) {
        state.triage(chunk, Some(("bench", n)), start + SignedDuration::from_millis(step * n as i64))?;
    }
    println!(
        "at {open} open alerts: {:.0} detections/s triaged (100,000 in transactions of {BATCH}, checkpoints included; \
         half repeats, grouping and risk on)",
        MEASURED as f64 / t.elapsed().as_secs_f64()
    );

    let time = |f: &mut dyn FnMut() -> usize| -> (f64, usize) {
        let mut ms = Vec::new();
        let mut rows = 0;
        for _ in 0..50 {
            let t = Instant::now();
            rows = f();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        (median(ms), rows)
    };
    let state = &state;
    let page = |q: AlertQuery| move || state.alerts("default", &q).map(|v| v.len()).unwrap_or(0);
    let first = state.alerts("default", &AlertQuery { limit: 50, ..Default::default() })?;
    let deep = state.alerts(
        "default",
        &AlertQuery { limit: 1000, before: first.last().map(|a| (a.last_seen, a.id)), ..Default::default() },
    )?;
    let cases: Vec<(&str, Query<'_>)> = vec![
        (
            "alert queue, first page of 50",
            Box::new(page(AlertQuery { status: Some("open".into()), limit: 50, ..Default::default() })),
        ),
        (
            "alert queue, high and above",
            Box::new(page(AlertQuery {
                status: Some("open".into()),
                min_severity: Some(model::Level::High),
                limit: 50,
                ..Default::default()
            })),
        ),
        (
            "alert queue, one rule",
            Box::new(page(AlertQuery {
                status: Some("open".into()),
                rule_id: Some("r7".into()),
                limit: 50,
                ..Default::default()
            })),
        ),
        (
            "alert queue, a page 1,050 deep",
            Box::new(page(AlertQuery {
                status: Some("open".into()),
                limit: 50,
                before: deep.last().map(|a| (a.last_seen, a.id)),
                ..Default::default()
            })),
        ),
        (
            "incident queue, first page of 50",
            Box::new(|| {
                state
                    .incidents(
                        "default",
                        &IncidentQuery { statuses: vec![soc::Status::New], limit: 50, ..Default::default() },
                    )
                    .map(|v| v.len())
                    .unwrap_or(0)
            }),
        ),
        ("alert counts by status", Box::new(|| state.alert_counts("default").map(|v| v.len()).unwrap_or(0))),
    ];
    for (name, mut f) in cases {
        let (ms, rows) = time(&mut *f);
        println!("{name:<36} {ms:>8.2} ms  ({rows} rows, median of 50)");
    }
    Ok(())
}
