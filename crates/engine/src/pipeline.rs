//! The pipeline thread: reads the log from the checkpoint on, parses and
//! runs the rules over each record (in parallel, order kept), writes the
//! journals and checkpoints.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use normalize::Format;
use rayon::prelude::*;
use sigma::RuleSet;
use store::{Batch, Checkpoint, Journal, Wal};

use crate::output::{Alert, DeadLetter, RuleRef, StoredEvent, event_id};
use crate::{EngineConfig, Shared};

pub(crate) const JOURNALS: [&str; 3] = ["events", "alerts", "deadletter"];

/// Log bytes handled together: enough to keep every core busy, few enough
/// to keep latency and memory low.
const CHUNK_BYTES: usize = 2 << 20;

pub(crate) struct Journals {
    pub(crate) events: Journal,
    pub(crate) alerts: Journal,
    pub(crate) dead: Journal,
}

impl Journals {
    pub(crate) fn open(data: &Path, cp: &Checkpoint) -> std::io::Result<Journals> {
        let at = |name: &str| cp.journals.get(name).copied().unwrap_or_default();
        Ok(Journals {
            events: Journal::open(data.join(JOURNALS[0]), at(JOURNALS[0]))?,
            alerts: Journal::open(data.join(JOURNALS[1]), at(JOURNALS[1]))?,
            dead: Journal::open(data.join(JOURNALS[2]), at(JOURNALS[2]))?,
        })
    }

    fn checkpoint(&mut self, wal: u64) -> std::io::Result<Checkpoint> {
        let mut cp = Checkpoint { wal, ..Checkpoint::default() };
        cp.journals.insert(JOURNALS[0].into(), self.events.sync()?);
        cp.journals.insert(JOURNALS[1].into(), self.alerts.sync()?);
        cp.journals.insert(JOURNALS[2].into(), self.dead.sync()?);
        Ok(cp)
    }
}

/// Output of one record, made in parallel and written in order.
#[derive(Default)]
struct Out {
    event: Vec<u8>,
    alerts: Vec<Vec<u8>>,
    dead: Vec<u8>,
}

pub(crate) fn run(
    config: EngineConfig,
    wal: Wal,
    rules: Arc<RuleSet>,
    shared: Arc<Shared>,
    mut journals: Journals,
    start: u64,
) {
    let mut reader = wal.reader(start);
    let checkpoint_path = config.data.join("checkpoint.json");
    let mut last_checkpoint = Instant::now();
    let mut checkpointed = start;
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
    loop {
        // Gather frames until the chunk is full, 5 ms after the first one,
        // or after 100 ms of a quiet log.
        frames.clear();
        let mut bytes = 0;
        let mut deadline: Option<Instant> = None;
        while bytes < CHUNK_BYTES {
            let wait = deadline.map_or(Duration::from_millis(100), |d| d.saturating_duration_since(Instant::now()));
            match reader.next(wait) {
                Ok(Some((pos, payload))) => {
                    deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(5));
                    bytes += payload.len();
                    frames.push((pos, payload));
                }
                Ok(None) => break,
                Err(skipped) => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    let reason = format!("damaged log frame skipped ({} bytes): {}", skipped.bytes, skipped.reason);
                    write_dead(&mut journals, skipped.position, &reason);
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        if !frames.is_empty() {
            process(&frames, &rules, &shared, &mut journals);
            if !config.slow_down.is_zero() {
                std::thread::sleep(config.slow_down);
            }
        }
        for alert in shared.take_system_alerts() {
            let _ = journals.alerts.write_line(&alert);
        }
        let _ = journals.events.flush();
        let _ = journals.alerts.flush();
        let _ = journals.dead.flush();
        shared.processed.store(reader.position(), Ordering::Release);
        let stopping = shared.stop.load(Ordering::Acquire) && frames.is_empty();
        if (last_checkpoint.elapsed() >= config.checkpoint_interval || stopping) && reader.position() != checkpointed {
            match journals.checkpoint(reader.position()).and_then(|cp| cp.save(&checkpoint_path)) {
                Ok(()) => {
                    checkpointed = reader.position();
                    let _ = wal.remove_before(checkpointed);
                }
                Err(e) => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    shared.set_problem(format!("checkpoint failed: {e}"));
                }
            }
            last_checkpoint = Instant::now();
        }
        if stopping {
            return;
        }
    }
}

fn write_dead(journals: &mut Journals, position: u64, reason: &str) {
    let id = event_id(position, 0);
    let line = DeadLetter { id: &id, received: Timestamp::now(), tenant: "", source: "", format: "", reason, raw: "" };
    if let Ok(bytes) = serde_json::to_vec(&line) {
        let _ = journals.dead.write_line(&bytes);
    }
}

fn process(frames: &[(u64, Vec<u8>)], rules: &RuleSet, shared: &Shared, journals: &mut Journals) {
    let mut batches = Vec::with_capacity(frames.len());
    for (pos, payload) in frames {
        match Batch::decode(payload) {
            Ok(b) => batches.push((*pos, b)),
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                write_dead(journals, *pos, &format!("undecodable log frame: {e}"));
            }
        }
    }
    let items: Vec<(u64, usize, &Batch)> =
        batches.iter().flat_map(|(pos, b)| (0..b.records.len()).map(move |i| (*pos, i, b))).collect();
    let outs: Vec<Out> = items
        .par_chunks(256)
        .flat_map_iter(|chunk| {
            let mut matcher = rules.matcher();
            chunk.iter().map(move |&(pos, i, b)| one(rules, &mut matcher, pos, i, b)).collect::<Vec<_>>()
        })
        .collect();
    for ((_, _, batch), out) in items.iter().zip(&outs) {
        if !out.dead.is_empty() {
            shared.health.parse_errors(&batch.tenant, &batch.source, 1);
            let _ = journals.dead.write_line(&out.dead);
        }
        if !out.event.is_empty() {
            let _ = journals.events.write_line(&out.event);
        }
        for a in &out.alerts {
            shared.alerts.fetch_add(1, Ordering::Relaxed);
            let _ = journals.alerts.write_line(a);
        }
    }
}

fn one(rules: &RuleSet, matcher: &mut sigma::Matcher<'_>, pos: u64, index: usize, batch: &Batch) -> Out {
    let mut out = Out::default();
    let raw = &batch.records[index];
    let id = event_id(pos, index);
    let received = Timestamp::from_nanosecond(i128::from(batch.received)).unwrap_or(Timestamp::UNIX_EPOCH);
    // `reject:REASON`: records a listener could not frame, kept as dead
    // letters with the listener's reason.
    let parsed = match batch.format.strip_prefix("reject:") {
        Some(reason) => Err(reason.to_string()),
        None => {
            let format = Format::from_str(&batch.format).unwrap_or_default();
            normalize::parse_record(raw, format, received).map_err(|e| e.to_string())
        }
    };
    let event = match parsed {
        Ok(e) => e,
        Err(reason) => {
            let dead = DeadLetter {
                id: &id,
                received,
                tenant: &batch.tenant,
                source: &batch.source,
                format: &batch.format,
                reason: &reason,
                raw,
            };
            out.dead = serde_json::to_vec(&dead).unwrap_or_default();
            return out;
        }
    };
    let timestamp = event.timestamp.unwrap_or(received);
    let stored = StoredEvent {
        id: &id,
        timestamp,
        received,
        tenant: &batch.tenant,
        source: &batch.source,
        log_source: event.views.iter().map(|v| v.logsource.to_string()).collect(),
        original: raw,
        fields: &event,
    };
    out.event = serde_json::to_vec(&stored).unwrap_or_default();
    let hits = matcher.matches(&event);
    if !hits.is_empty() {
        let detected = Timestamp::now();
        for &r in hits {
            let rule = &rules.rules()[r];
            let alert = Alert {
                id: format!("{id}.{}", rule.id),
                kind: "sigma",
                event_id: Some(&id),
                timestamp,
                received: Some(received),
                detected,
                tenant: &batch.tenant,
                source: &batch.source,
                level: rule.level.as_str(),
                title: &rule.title,
                rule: Some(RuleRef::of(rule)),
                event: Some(&event),
            };
            out.alerts.push(serde_json::to_vec(&alert).unwrap_or_default());
        }
    }
    out
}
