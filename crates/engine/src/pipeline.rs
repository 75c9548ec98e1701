//! The pipeline thread: reads the log from the checkpoint on, parses and
//! runs the rules over each record (in parallel, order kept), writes the
//! journals and checkpoints.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use normalize::Format;
use rayon::prelude::*;
use sigma::RuleSet;
use wal::{Batch, Checkpoint, Journal, Wal};

use crate::output::{Alert, DeadLetter, IndicatorRef, Matched, RuleRef, StoredEvent, event_id};
use crate::throttle::{RateLimit, Throttle, Verdict};
use crate::{EngineConfig, Shared};

pub(crate) const JOURNALS: [&str; 3] = ["events", "alerts", "deadletter"];

/// Log bytes handled together: enough to keep every core busy, few enough
/// to keep latency and memory low.
const CHUNK_BYTES: usize = 2 << 20;

pub(crate) struct Journals {
    pub(crate) events: Journal,
    pub(crate) alerts: Box<dyn AlertSink>,
    pub(crate) dead: Journal,
}

/// Where alerts go: today a JSON-lines journal. The triage store will
/// implement the same three calls; replays after a crash are harmless as
/// long as `sync` positions go into the checkpoint (or writes are
/// idempotent by alert id).
pub trait AlertSink: Send {
    /// Writes one alert (its JSON), in log order.
    fn write(&mut self, alert: &[u8]) -> std::io::Result<()>;
    /// Makes what was written visible to readers.
    fn flush(&mut self) -> std::io::Result<()>;
    /// Makes it durable; the position is recorded in the checkpoint.
    fn sync(&mut self) -> std::io::Result<wal::JournalPos>;
    /// Forgets what was written after `to` (a checkpointed position): the
    /// pipeline writes it again after a failure.
    fn rewind(&mut self, to: wal::JournalPos) -> std::io::Result<()>;
}

impl AlertSink for Journal {
    fn write(&mut self, alert: &[u8]) -> std::io::Result<()> {
        self.write_line(alert)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Journal::flush(self)
    }

    fn sync(&mut self) -> std::io::Result<wal::JournalPos> {
        Journal::sync(self)
    }

    fn rewind(&mut self, to: wal::JournalPos) -> std::io::Result<()> {
        Journal::rewind(self, to)
    }
}

impl Journals {
    pub(crate) fn open(data: &Path, cp: &Checkpoint) -> std::io::Result<Journals> {
        let at = |name: &str| cp.journals.get(name).copied().unwrap_or_default();
        Ok(Journals {
            events: Journal::open(data.join(JOURNALS[0]), at(JOURNALS[0]))?,
            alerts: Box::new(Journal::open(data.join(JOURNALS[1]), at(JOURNALS[1]))?),
            dead: Journal::open(data.join(JOURNALS[2]), at(JOURNALS[2]))?,
        })
    }

    /// Cuts every journal back to the checkpoint, as opening them would.
    fn rewind(&mut self, cp: &Checkpoint) -> std::io::Result<()> {
        let at = |name: &str| cp.journals.get(name).copied().unwrap_or_default();
        self.events.rewind(at(JOURNALS[0]))?;
        self.alerts.rewind(at(JOURNALS[1]))?;
        self.dead.rewind(at(JOURNALS[2]))
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
    /// Each alert with the index of its rule, for the rate limits.
    alerts: Vec<(usize, Vec<u8>)>,
    /// The tenant and receive time (Unix ns) of a record with alerts.
    alerted: Option<(String, i64)>,
    /// Matches correlations use, fed to them in log order by the writer.
    correlate: Vec<crate::correlation::Input>,
    dead: Vec<u8>,
    /// `(tenant, source)` of a record that went to the dead letter.
    failed_source: Option<(String, String)>,
}

/// What the pipeline hands the writer: the outputs of one chunk and the
/// log position after it.
struct Chunk {
    outs: Vec<Out>,
    end: u64,
}

/// The first wait before a stopped pipeline tries again; it doubles on
/// each failure, up to [`MAX_RETRY`].
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(500);
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(10);

/// How a run of the pipeline ended.
enum Ended {
    Stopped,
    /// Writing the journals failed: the reason, and the journals to cut
    /// back (`None` when the writer thread did not give them back).
    Failed(String, Option<Journals>),
}

/// Runs the pipeline; after a failure to write the journals (a full disk,
/// no file descriptors) waits, cuts them back to the last checkpoint and
/// runs again from there: what a restart would do, without one. While it
/// waits, detection counts as stopped and ingest refuses records.
pub(crate) fn supervise(config: EngineConfig, wal: Wal, rules: Arc<RuleSet>, shared: Arc<Shared>, journals: Journals) {
    let mut journals = Some(journals);
    let mut start = shared.checkpointed.load(Ordering::Acquire);
    let mut delay = FIRST_RETRY;
    loop {
        let began = Instant::now();
        let Some(running) = journals.take() else { return };
        let (mut why, mut back) = match run(&config, &wal, &rules, &shared, running, start) {
            Ended::Stopped => return,
            Ended::Failed(why, back) => (why, back),
        };
        shared.errors.fetch_add(1, Ordering::Relaxed);
        if began.elapsed() > Duration::from_secs(60) {
            delay = FIRST_RETRY;
        }
        loop {
            let at = shared.checkpointed.load(Ordering::Acquire);
            let why_now = format!(
                "{why}; retrying in {:.1} s from log position {at} (nothing acknowledged is lost)",
                delay.as_secs_f64()
            );
            shared.troubles.report("detection", why_now, true);
            if crate::wait_unless_stopping(&shared, delay) {
                return;
            }
            delay = (delay * 2).min(MAX_RETRY);
            match rewind(&config, &mut back) {
                Ok(cp) => {
                    start = cp.wal;
                    journals = back;
                    break;
                }
                Err(e) => why = format!("cutting the journals back to the checkpoint failed: {e}"),
            }
        }
        shared.processed.store(start, Ordering::Release);
    }
}

/// Loads the last checkpoint and cuts the journals back to it, opening
/// them again when the failed run did not give them back. On success
/// `journals` holds them; on failure it keeps what it had.
fn rewind(config: &EngineConfig, journals: &mut Option<Journals>) -> std::io::Result<Checkpoint> {
    let cp = Checkpoint::load(&config.data.join("checkpoint.json"))?;
    match journals {
        Some(j) => j.rewind(&cp)?,
        None => *journals = Some(Journals::open(&config.data, &cp)?),
    }
    Ok(cp)
}

/// Reads and processes; a writer thread writes the journals and
/// checkpoints meanwhile, so both cores work on detection while the
/// previous chunk is written out.
fn run(
    config: &EngineConfig,
    wal: &Wal,
    rules: &Arc<RuleSet>,
    shared: &Arc<Shared>,
    journals: Journals,
    start: u64,
) -> Ended {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(2);
    let correlations = crate::correlation::Correlations::open(&config.data, rules, config.correlation, start);
    let needs = correlations.needs();
    let writer = {
        let (config, wal, shared, rules) = (config.clone(), wal.clone(), shared.clone(), rules.clone());
        std::thread::Builder::new().name("journal-writer".into()).spawn(move || {
            let throttle = Throttle::new(config.rate_limit);
            let mut out = Output { journals, correlations, rules, throttle };
            let written = write_loop(rx, config, wal, shared, &mut out, start);
            (written, out.journals)
        })
    };
    let writer = match writer {
        Ok(w) => w,
        Err(e) => return Ended::Failed(format!("cannot start the journal writer: {e}"), None),
    };
    let mut reader = wal.reader(start);
    // Frame buffers are reused from chunk to chunk: frames are megabytes,
    // and fresh buffers would cost page faults each time.
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
    loop {
        // Gather frames until the chunk is full, 5 ms after the first one,
        // or after 100 ms of a quiet log.
        let mut used = 0;
        let mut outs = Vec::new();
        let mut bytes = 0;
        let mut deadline: Option<Instant> = None;
        while bytes < CHUNK_BYTES {
            if used == frames.len() {
                frames.push((0, Vec::new()));
            }
            let wait = deadline.map_or(Duration::from_millis(100), |d| d.saturating_duration_since(Instant::now()));
            match reader.next(wait, &mut frames[used].1) {
                Ok(Some(pos)) => {
                    deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(5));
                    frames[used].0 = pos;
                    bytes += frames[used].1.len();
                    used += 1;
                }
                Ok(None) => break,
                Err(skipped) => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    let reason = format!("damaged log frame skipped ({} bytes): {}", skipped.bytes, skipped.reason);
                    outs.push(dead_frame(skipped.position, &reason));
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        let batch = &frames[..used];
        let idle = batch.is_empty();
        if !idle {
            // One span per batch: whatever a batch logs names its log range.
            let span = tracing::debug_span!("batch", from = batch[0].0, frames = batch.len(), bytes);
            let _batch = span.enter();
            let started = Instant::now();
            process(batch, rules, &needs, config, shared, &mut outs);
            tracing::trace!(outputs = outs.len(), took_us = started.elapsed().as_micros() as u64, "detected");
            if !config.slow_down.is_zero() {
                std::thread::sleep(config.slow_down);
            }
        }
        // A writer that failed has given up: no chunk will tell.
        if writer.is_finished() {
            break;
        }
        crate::trim_buffers(frames.iter_mut().map(|f| &mut f.1), 2 * CHUNK_BYTES);
        let stopping = shared.stop.load(Ordering::Acquire) && idle;
        if (!outs.is_empty() || !idle) && tx.send(Chunk { outs, end: reader.position() }).is_err() {
            // The writer failed and gave up.
            break;
        }
        if stopping {
            break;
        }
    }
    drop(tx);
    match writer.join() {
        Ok((Ok(()), _)) => Ended::Stopped,
        Ok((Err(why), journals)) => Ended::Failed(why, Some(journals)),
        Err(_) => Ended::Failed("the journal writer panicked".into(), None),
    }
}

/// What the writer thread writes to: the journals and the correlations.
struct Output {
    journals: Journals,
    correlations: crate::correlation::Correlations,
    rules: Arc<RuleSet>,
    throttle: Throttle,
}

fn write_loop(
    rx: std::sync::mpsc::Receiver<Chunk>,
    config: EngineConfig,
    wal: Wal,
    shared: Arc<Shared>,
    output: &mut Output,
    start: u64,
) -> Result<(), String> {
    let checkpoint_path = config.data.join("checkpoint.json");
    let mut last_checkpoint = Instant::now();
    let mut checkpointed = start;
    let mut end = start;
    let mut resolved = false;
    loop {
        let (chunk, closed) = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => (Some(c), false),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => (None, false),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => (None, true),
        };
        let written = (|| -> std::io::Result<()> {
            if let Some(chunk) = &chunk {
                write_chunk(&chunk.outs, &shared, output)?;
            }
            let journals = &mut output.journals;
            for alert in shared.take_system_alerts() {
                journals.alerts.write(&alert)?;
            }
            journals.events.flush()?;
            journals.alerts.flush()?;
            journals.dead.flush()
        })();
        // Once a journal write fails, nothing after it may be checkpointed:
        // the journals would have a hole the log no longer covers. The run
        // ends; the supervisor cuts the journals back and replays.
        if let Err(e) = written {
            return Err(format!("writing the journals failed: {e}"));
        }
        if !resolved && chunk.is_some() {
            shared.troubles.resolve("detection");
            resolved = true;
        }
        if let Some(chunk) = chunk {
            end = chunk.end;
        }
        shared.processed.store(end, Ordering::Release);
        if (last_checkpoint.elapsed() >= config.checkpoint_interval || closed) && end != checkpointed {
            // The correlation state of this position first, then the
            // checkpoint naming the position, then the state becomes current.
            let saved = output
                .correlations
                .save_next(end)
                .and_then(|()| output.journals.checkpoint(end))
                .and_then(|cp| cp.save(&checkpoint_path))
                .and_then(|()| output.correlations.commit());
            match saved {
                Ok(()) => {
                    checkpointed = end;
                    shared.checkpointed.store(end, Ordering::Release);
                    shared.troubles.resolve("checkpoint");
                    crate::trim_log(&wal, &shared);
                }
                Err(e) => {
                    // Not fatal: the next checkpoint tries again, and until
                    // one works a restart replays from the last.
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    let why = format!("saving the checkpoint failed: {e} (the last is at log position {checkpointed})");
                    shared.troubles.report("checkpoint", why, false);
                }
            }
            last_checkpoint = Instant::now();
        }
        if closed {
            return Ok(());
        }
    }
}

fn write_chunk(outs: &[Out], shared: &Shared, output: &mut Output) -> std::io::Result<()> {
    let journals = &mut output.journals;
    let mut correlated = false;
    // Matches past a rule's rate limit, by tenant and rule, published once
    // per chunk.
    let mut limited: HashMap<(&str, usize), (u64, &[u8])> = HashMap::new();
    // The correlations tenants switched off, looked up once per chunk.
    let disabled = shared.disabled.read().ok();
    shared.records.fetch_add(outs.len() as u64, Ordering::Relaxed);
    for out in outs {
        if !out.dead.is_empty() {
            if let Some((tenant, source)) = &out.failed_source {
                shared.health.parse_errors(tenant, source, 1);
            }
            journals.dead.write_line(&out.dead)?;
        }
        if !out.event.is_empty() {
            journals.events.write_line(&out.event)?;
        }
        if let Some((tenant, received)) = &out.alerted {
            for (rule, line) in &out.alerts {
                match output.throttle.admit(tenant, *rule, *received) {
                    Verdict::Raise => {
                        shared.alerts.fetch_add(1, Ordering::Relaxed);
                        journals.alerts.write(line)?;
                    }
                    Verdict::Limited { since, until } => {
                        limited.entry((tenant, *rule)).or_insert((0, line)).0 += 1;
                        let named = named(&output.rules, *rule, line);
                        if let Some(notice) = named.and_then(|(_, title)| {
                            rate_limit_notice(line, &title, output.throttle.limit(), since, until)
                        }) {
                            shared.alerts.fetch_add(1, Ordering::Relaxed);
                            journals.alerts.write(&notice)?;
                        }
                    }
                    Verdict::Suppressed => limited.entry((tenant, *rule)).or_insert((0, line)).0 += 1,
                }
            }
        }
        if !out.correlate.is_empty() {
            correlated = true;
            // Correlations the tenant switched off raise nothing.
            let off = |tenant: &str, id: &str| {
                disabled.as_ref().is_some_and(|map| map.get(tenant).is_some_and(|ids| ids.contains(id)))
            };
            for a in output.correlations.feed(&out.correlate, &output.rules, &off) {
                shared.alerts.fetch_add(1, Ordering::Relaxed);
                journals.alerts.write(&a)?;
            }
        }
    }
    if correlated && let Ok(mut stats) = shared.correlation.lock() {
        *stats = output.correlations.stats();
    }
    if !limited.is_empty() {
        let counts = limited.into_iter().filter_map(|((tenant, rule), (n, line))| {
            let (id, title) = named(&output.rules, rule, line)?;
            Some((tenant, id, title, n))
        });
        shared.rate_limited.add(counts);
    }
    Ok(())
}

/// The id and title of what raised an alert: a rule by its index, or (a
/// threat-intel alert) the indicator its line names.
fn named(rules: &RuleSet, key: usize, line: &[u8]) -> Option<(String, String)> {
    if let Some(r) = rules.rules().get(key) {
        return Some((r.id.clone(), r.title.clone()));
    }
    let alert: serde_json::Value = serde_json::from_slice(line).ok()?;
    let rule = alert.get("rule")?;
    Some((rule.get("id")?.as_str()?.to_string(), rule.get("title")?.as_str()?.to_string()))
}

/// The one alert that says a rule reached its rate limit: the alert it
/// would have raised (its event, for the entities), re-titled, without
/// `rule` (so triage keeps it apart from the rule's own alerts) and with
/// the rule under `limited_rule`.
fn rate_limit_notice(line: &[u8], rule_title: &str, limit: RateLimit, since: i64, until: i64) -> Option<Vec<u8>> {
    let mut alert: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).ok()?;
    let at = |ns: i64| Timestamp::from_nanosecond(i128::from(ns)).map(|t| t.to_string()).unwrap_or_default();
    let title = format!(
        "rate limit reached: rule \"{}\" raised {} alerts within {} s from {}; its matches until {} are counted, not raised",
        rule_title,
        limit.alerts,
        limit.window.as_secs(),
        at(since),
        at(until),
    );
    let id = format!("{}.rate_limit", alert.get("id")?.as_str()?);
    alert.insert("id".into(), id.into());
    alert.insert("kind".into(), "rate_limit".into());
    alert.insert("title".into(), title.into());
    let rule_ref = alert.remove("rule")?;
    alert.insert("limited_rule".into(), rule_ref);
    serde_json::to_vec(&alert).ok()
}

fn dead_frame(position: u64, reason: &str) -> Out {
    let id = event_id(position, 0);
    let line = DeadLetter {
        id: &id,
        received: Timestamp::now(),
        tenant: "",
        source: "",
        format: "",
        reason,
        raw: "",
        raw_bytes: None,
    };
    Out { dead: serde_json::to_vec(&line).unwrap_or_default(), ..Out::default() }
}

fn process(
    frames: &[(u64, Vec<u8>)],
    rules: &RuleSet,
    needs: &crate::correlation::Needs,
    config: &EngineConfig,
    shared: &Shared,
    outs: &mut Vec<Out>,
) {
    let mut batches = Vec::with_capacity(frames.len());
    for (pos, payload) in frames {
        match Batch::decode(payload) {
            Ok(b) => batches.push((*pos, b)),
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                outs.push(dead_frame(*pos, &format!("undecodable log frame: {e}")));
            }
        }
    }
    for (_, b) in &batches {
        shared.backlog.done(&b.tenant, b.records.iter().map(|r| r.len() as u64).sum());
    }
    // A configured log source, and the rules the tenant switched off, are
    // looked up once per batch, not per record.
    let views: Vec<Option<Arc<model::SourceView>>> = batches.iter().map(|(_, b)| configured_view(config, b)).collect();
    let off: Vec<Option<Arc<HashSet<String>>>> = match shared.disabled.read() {
        Ok(map) if !map.is_empty() => batches.iter().map(|(_, b)| map.get(&b.tenant).cloned()).collect(),
        _ => vec![None; batches.len()],
    };
    // The indicators of this chunk: a change applies from the next one.
    let intel = shared.intel.read().map(|set| set.clone()).unwrap_or_default();
    let intel = Intel { set: &intel, fields: &shared.observables };
    let items: Vec<Item<'_>> = batches
        .iter()
        .zip(views.iter().zip(&off))
        .flat_map(|((pos, b), (view, off))| (0..b.records.len()).map(move |i| (*pos, i, b, view, off.as_deref())))
        .collect();
    let made: Vec<Out> = items
        .par_chunks(256)
        .flat_map_iter(|chunk| {
            let mut matcher = rules.matcher();
            chunk
                .iter()
                .map(move |&(pos, i, b, view, off)| {
                    one(rules, needs, &mut matcher, pos, i, b, (view, off), config, intel)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    outs.extend(made);
}

/// One record: its log position, index in the batch, batch, the log
/// source configured for the batch's source, and the rules its tenant
/// switched off.
type Item<'a> = (u64, usize, &'a Batch, &'a Option<Arc<model::SourceView>>, Option<&'a HashSet<String>>);

#[allow(clippy::too_many_arguments)]
fn one(
    rules: &RuleSet,
    needs: &crate::correlation::Needs,
    matcher: &mut sigma::Matcher<'_>,
    pos: u64,
    index: usize,
    batch: &Batch,
    (view, off): (&Option<Arc<model::SourceView>>, Option<&HashSet<String>>),
    config: &EngineConfig,
    intel: Intel<'_>,
) -> Out {
    let events_journal = config.events_journal;
    let mut out = Out::default();
    let raw = &batch.records[index];
    let id = event_id(pos, index);
    let received = received(batch);
    let event = match normalize(batch, index, view.as_ref(), config.geo.as_deref()) {
        Ok((e, _)) => e,
        Err(reason) => {
            let (raw, raw_bytes) = crate::output::dead_raw(raw);
            let dead = DeadLetter {
                id: &id,
                received,
                tenant: &batch.tenant,
                source: &batch.source,
                format: &batch.format,
                reason: &reason,
                raw,
                raw_bytes,
            };
            out.dead = serde_json::to_vec(&dead).unwrap_or_default();
            out.failed_source = Some((batch.tenant.clone(), batch.source.clone()));
            return out;
        }
    };
    let timestamp = event.timestamp.unwrap_or(received);
    let hits = matcher.matches_in(&batch.tenant, &event);
    // Matches of rules the tenant switched off are dropped here, before
    // alerts and correlations see them.
    let kept: Vec<usize>;
    let hits = match off {
        Some(off) if hits.iter().any(|h| rules.rules().get(*h).is_some_and(|r| off.contains(&r.id))) => {
            kept =
                hits.iter().copied().filter(|h| rules.rules().get(*h).is_none_or(|r| !off.contains(&r.id))).collect();
            &kept[..]
        }
        _ => hits,
    };
    if !needs.is_empty() {
        out.correlate = crate::correlation::inputs(needs, hits, &event, timestamp, &id, &batch.tenant);
    }
    let mut seen = Vec::new();
    if !intel.set.is_empty() {
        intel.fields.observe(&event, &mut seen);
    }
    let intel_hits = intel.set.matches(&batch.tenant, &seen, received);
    if !events_journal && hits.is_empty() && intel_hits.is_empty() {
        return out;
    }
    // The fields are serialized once, for the stored event and every alert.
    let fields = serde_json::to_vec(&event).unwrap_or_else(|_| b"{}".to_vec());
    if events_journal {
        let stored = StoredEvent {
            id: &id,
            timestamp,
            received,
            tenant: &batch.tenant,
            source: &batch.source,
            log_source: event.views.iter().map(|v| v.logsource.to_string()).collect(),
            original: raw,
        };
        out.event = with_object(&stored, "fields", &fields);
    }
    let on = Detected { id: &id, timestamp, received, tenant: &batch.tenant, source: &batch.source, origin: None };
    out.alerts = alert_lines(rules, hits, &on, &fields);
    out.alerts.extend(intel_lines(&intel_hits, &on, &fields));
    if !out.alerts.is_empty() {
        out.alerted = Some((batch.tenant.clone(), batch.received));
    }
    out
}

/// The event a detection fired on.
pub(crate) struct Detected<'a> {
    pub(crate) id: &'a str,
    pub(crate) timestamp: Timestamp,
    pub(crate) received: Timestamp,
    pub(crate) tenant: &'a str,
    pub(crate) source: &'a str,
    pub(crate) origin: Option<&'a str>,
}

/// One alert line per rule hit; `fields` is the event's JSON. Stream and
/// retro-hunt alerts are made here alike, with the same ids.
pub(crate) fn alert_lines(rules: &RuleSet, hits: &[usize], on: &Detected<'_>, fields: &[u8]) -> Vec<(usize, Vec<u8>)> {
    if hits.is_empty() {
        return Vec::new();
    }
    let detected = Timestamp::now();
    // A rule a correlation uses without `generate` is no alert of its own.
    hits.iter()
        .filter_map(|&r| Some((r, rules.rules().get(r).filter(|rule| rule.alerts)?)))
        .map(|(r, rule)| {
            let alert = Alert {
                id: format!("{}.{}", on.id, rule.id),
                kind: "sigma",
                event_id: Some(on.id),
                timestamp: on.timestamp,
                received: Some(on.received),
                detected,
                tenant: on.tenant,
                source: on.source,
                level: rule.level.as_str(),
                title: &rule.title,
                rule: Some(RuleRef::of(rule)),
                origin: on.origin,
                indicator: None,
            };
            (r, with_object(&alert, "event", fields))
        })
        .collect()
}

/// The indicators a chunk is matched against, and which fields carry
/// observables.
#[derive(Clone, Copy)]
pub(crate) struct Intel<'a> {
    pub(crate) set: &'a intel::Set,
    pub(crate) fields: &'a intel::observe::Fields,
}

/// Rate-limit keys of threat-intel alerts start here, one per indicator
/// of the set, apart from the rules' indices.
pub(crate) const INTEL_KEYS: usize = 1 << 40;

/// One alert line per indicator an event matched, `kind: intel`. Its
/// "rule" is the indicator (`intel:<feed>:<id>`), so triage dedups its
/// repeats on the same entities into one alert; the level follows the
/// confidence (80 and over high, under 50 low, medium when unknown).
pub(crate) fn intel_lines(hits: &[intel::Hit<'_>], on: &Detected<'_>, fields: &[u8]) -> Vec<(usize, Vec<u8>)> {
    if hits.is_empty() {
        return Vec::new();
    }
    let detected = Timestamp::now();
    hits.iter()
        .map(|hit| {
            let entry = hit.entry;
            let i = &*entry.indicator;
            let confidence = i.confidence_at(on.received);
            let level = match confidence {
                Some(c) if c >= 80 => model::Level::High,
                Some(c) if c < 50 => model::Level::Low,
                _ => model::Level::Medium,
            };
            let rule_id = format!("intel:{}:{}", entry.feed, i.id);
            let title = format!("Threat intel match: {}", i.name);
            let mut tags: Vec<String> = i.tlp.map(|t| format!("tlp:{}", t.as_str())).into_iter().collect();
            tags.extend(i.attack.iter().map(|t| format!("attack.{}", t.to_ascii_lowercase())));
            let path = format!("intel/{}", entry.feed);
            let alert = Alert {
                id: format!("{}.{rule_id}", on.id),
                kind: "intel",
                event_id: Some(on.id),
                timestamp: on.timestamp,
                received: Some(on.received),
                detected,
                tenant: on.tenant,
                source: on.source,
                level: level.as_str(),
                title: &title,
                rule: Some(RuleRef {
                    id: &rule_id,
                    title: &title,
                    level: level.as_str(),
                    tags: &tags,
                    author: Some(&entry.feed),
                    path: &path,
                }),
                origin: on.origin,
                indicator: Some(IndicatorRef {
                    id: &i.id,
                    feed: &entry.feed,
                    shared: entry.tenant.is_none(),
                    name: &i.name,
                    pattern: i.pattern.to_stix(),
                    confidence,
                    tlp: i.tlp.map(intel::Tlp::as_str),
                    valid_until: i.valid_until,
                    tags: &i.tags,
                    attack: &i.attack,
                    matched: hit.matched.iter().map(|(field, value)| Matched { field, value }).collect(),
                }),
            };
            (INTEL_KEYS + hit.index, with_object(&alert, "event", fields))
        })
        .collect()
}

/// The log source configured for a batch's source, if any.
pub(crate) fn configured_view(config: &EngineConfig, b: &Batch) -> Option<Arc<model::SourceView>> {
    if config.log_sources.is_empty() {
        return None;
    }
    config.log_sources.get(&(b.tenant.clone(), b.source.clone())).cloned()
}

pub(crate) fn received(b: &Batch) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(b.received)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Parses record `index` of `batch` as its source is configured, and
/// enriches it; returns the event and the fields enrichment added. Both
/// detection and the event store read records through this one function.
pub(crate) fn normalize(
    batch: &Batch,
    index: usize,
    view: Option<&Arc<model::SourceView>>,
    geo: Option<&geo::Geo>,
) -> Result<(model::Event, Vec<(String, model::Value)>), String> {
    // `reject:REASON`: records a listener could not frame, kept as dead
    // letters with the listener's reason.
    if let Some(reason) = batch.format.strip_prefix("reject:") {
        return Err(reason.to_string());
    }
    let raw = batch.records.get(index).ok_or("no such record")?;
    let format = Format::from_str(&batch.format).unwrap_or_default();
    let mut event = normalize::parse_record(raw, format, received(batch)).map_err(|e| e.to_string())?;
    if let Some(view) = view {
        event.views = vec![view.clone()];
    }
    let added = geo.map(|g| g.enrich(&mut event)).unwrap_or_default();
    Ok((event, added))
}

/// `value` serialized as a JSON object, with `"key": raw` added at its end;
/// `raw` is already JSON.
fn with_object(value: &impl serde::Serialize, key: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    if out.last() == Some(&b'}') {
        out.pop();
        if out.len() > 1 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(raw);
        out.push(b'}');
    }
    out
}
