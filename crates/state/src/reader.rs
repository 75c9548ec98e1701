//! The triage reader: a second reader of the alert journal that feeds
//! detections into the SOC state store (`crate::State`), and the clock
//! that checks SLA targets.
//!
//! It reads only up to the alert journal's checkpointed position: lines
//! past it may be cut and written again on restart. Its own position is
//! stored in the same transaction as the alerts it applied, so every
//! detection is applied exactly once across crashes and restarts.
//! Detection never waits for triage, and triage never blocks ingestion.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::State;
use jiff::Timestamp;
use soc::Detection;
use wal::JournalPos;

/// Name of the reader's position in the state store.
const READER: &str = "triage";
/// Detections applied per transaction, at most. Most of a transaction's
/// cost is the index pages it dirties, and detections in one transaction
/// share many of them: 5,000 ran 1.3 times the rate of 1,000, and 10,000
/// 1.09 times the rate of 5,000 with 37% fewer bytes written (at 300,000
/// open alerts). A full one holds the writer about a second (what a
/// console action may wait while triage is behind).
pub const BATCH: usize = 10_000;

/// Counters for status pages.
#[derive(Debug, Default)]
pub struct TriageStats {
    pub detections: AtomicU64,
    /// Alert lines that could not be read as detections (kept in the journal).
    pub unreadable: AtomicU64,
    /// Failed attempts to write the state store (retried).
    pub failures: AtomicU64,
    pub notifications: AtomicU64,
    /// Bytes of the alert journal's checkpointed part not applied yet:
    /// the engine counts them in back-pressure (`engine::Ingest::watch`).
    pub behind: Arc<AtomicU64>,
}

pub struct Triage {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<TriageStats>,
}

/// A journal position as one integer (segments stay far below 2^24 and
/// lengths below 2^40).
fn encode(p: JournalPos) -> u64 {
    (u64::from(p.segment) << 40) | (p.len & ((1 << 40) - 1))
}

fn decode(v: u64) -> JournalPos {
    JournalPos { segment: (v >> 40) as u32, len: v & ((1 << 40) - 1) }
}

impl Triage {
    /// Starts the reader over `data`'s alert journal; `sla_every` is how
    /// often SLA clocks are checked.
    pub fn start(data: &Path, state: Arc<State>, sla_every: Duration) -> std::io::Result<Triage> {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(TriageStats::default());
        let data = data.to_path_buf();
        let thread = {
            let (stop, stats) = (stop.clone(), stats.clone());
            std::thread::Builder::new()
                .name("triage".into())
                .spawn(move || run(&data, &state, &stop, &stats, sla_every))?
        };
        Ok(Triage { stop, thread: Some(thread), stats })
    }
}

impl Drop for Triage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Applies every checkpointed detection not applied yet (after an
/// offline import, with no server running); returns how many.
pub fn catch_up(data: &Path, state: &State) -> Result<u64, String> {
    let stats = TriageStats::default();
    while step(data, state, &stats)? {}
    Ok(stats.detections.load(Ordering::Relaxed))
}

fn run(data: &Path, state: &State, stop: &AtomicBool, stats: &TriageStats, sla_every: Duration) {
    let mut last_sla = Instant::now();
    let mut last_error = String::new();
    while !stop.load(Ordering::Acquire) {
        let busy = match step(data, state, stats) {
            Ok(busy) => busy,
            Err(e) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                if e != last_error {
                    tracing::error!(error = %e, "triage failed; retrying");
                    last_error = e;
                }
                false
            }
        };
        if last_sla.elapsed() >= sla_every {
            last_sla = Instant::now();
            match state.sla_sweep(Timestamp::now()) {
                Ok(list) => {
                    for (tenant, incident, kind, message) in list {
                        stats.notifications.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%tenant, incident, %kind, %message, "SLA");
                    }
                }
                Err(e) => tracing::error!(error = %e, "SLA check failed"),
            }
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Applies one batch; returns whether there may be more.
fn step(data: &Path, state: &State, stats: &TriageStats) -> Result<bool, String> {
    let cp_path: PathBuf = data.join("checkpoint.json");
    let to = match wal::Checkpoint::load(&cp_path) {
        Ok(cp) => cp.journals.get("alerts").copied().unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("reading {}: {e}", cp_path.display())),
    };
    let from = decode(state.position(READER).map_err(|e| e.to_string())?);
    let alerts = data.join("alerts");
    stats.behind.store(wal::bytes_between(&alerts, from, to), Ordering::Release);
    if (from.segment, from.len) >= (to.segment, to.len) {
        return Ok(false);
    }
    let mut batch = Vec::new();
    let mut at = from;
    wal::read_range(&alerts, from, to, |line, after| {
        match Detection::from_alert_line(line.as_bytes()) {
            Ok(d) => batch.push(d),
            Err(e) => {
                if stats.unreadable.fetch_add(1, Ordering::Relaxed) < 10 {
                    tracing::warn!(before = ?after, error = %e, "triage skipped an unreadable alert line");
                }
            }
        }
        at = after;
        batch.len() < BATCH
    })
    .map_err(|e| format!("reading the alert journal: {e}"))?;
    if at == from {
        return Ok(false);
    }
    state.triage(&batch, Some((READER, encode(at))), Timestamp::now()).map_err(|e| e.to_string())?;
    stats.detections.fetch_add(batch.len() as u64, Ordering::Relaxed);
    stats.behind.store(wal::bytes_between(&alerts, at, to), Ordering::Release);
    Ok(true)
}
