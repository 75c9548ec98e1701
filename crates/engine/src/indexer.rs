//! The indexer thread: a second reader of the write-ahead log that puts
//! every event into the event store.
//!
//! It is separate from detection on purpose: indexing costs more than
//! matching, and an analyst's search may lag a few seconds behind while an
//! alert may not. The log stays the source of truth until the store has
//! committed (the store's commit records the log position it covers), so
//! the log is only trimmed below both the detection checkpoint and the
//! store's position.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use eventstore::{EventStore, Frame, NewEvent, Rebuild, StoreWriter, Stored};
use jiff::Timestamp;
use model::Event;
use wal::{Batch, Wal};

use crate::{EngineConfig, Shared, StoreSettings};

/// Log bytes indexed together.
const CHUNK_BYTES: usize = 4 << 20;

/// The indexer's nice value, the lowest: the scheduler gives it a few
/// percent of a core that detection also wants, and all of an idle one.
const INDEXER_NICE: i32 = 19;

/// One record normalized for the store.
struct Normalized {
    event: Event,
    /// What enrichment added, as JSON.
    enriched: Option<String>,
    logsource: Vec<String>,
    timestamp: Timestamp,
}

pub(crate) fn run(
    config: EngineConfig,
    settings: StoreSettings,
    store: Arc<EventStore>,
    writer: StoreWriter,
    wal: Wal,
    shared: Arc<Shared>,
) {
    // Detection first: when both want the cores, the indexer (and the
    // index threads it starts, which inherit this) gets what is left.
    // Search lags more under a burst; alerts do not.
    crate::lower_thread_priority(INDEXER_NICE);
    // After a failure (a full disk, no file descriptors) the writer is
    // dropped with what it had not committed, and a new one starts from
    // the store's position after a wait: what a restart would do. The
    // partitions' commits say which events they hold, so none is added
    // twice.
    let mut writer = Some(writer);
    let mut delay = crate::pipeline::FIRST_RETRY;
    loop {
        let began = Instant::now();
        let opened = match writer.take() {
            Some(w) => Ok(w),
            None => StoreWriter::new(store.clone()).map_err(|e| format!("opening the event store failed: {e}")),
        };
        let why = match opened.and_then(|w| index_until_stopped(&config, &settings, &store, w, &wal, &shared)) {
            Ok(()) => return,
            Err(why) => why,
        };
        shared.errors.fetch_add(1, Ordering::Relaxed);
        if began.elapsed() > Duration::from_secs(60) {
            delay = crate::pipeline::FIRST_RETRY;
        }
        let why = format!(
            "{why}; search stops at log position {} and retries in {:.1} s (detection goes on)",
            shared.indexed.load(Ordering::Acquire),
            delay.as_secs_f64()
        );
        shared.troubles.report("indexing", why, true);
        if crate::wait_unless_stopping(&shared, delay) {
            return;
        }
        delay = (delay * 2).min(crate::pipeline::MAX_RETRY);
    }
}

/// Indexes until the engine stops (`Ok`) or indexing fails.
fn index_until_stopped(
    config: &EngineConfig,
    settings: &StoreSettings,
    store: &EventStore,
    mut writer: StoreWriter,
    wal: &Wal,
    shared: &Shared,
) -> Result<(), String> {
    // The indexer's own threads, at its priority: normalizing and cutting
    // words are most of its work, and one thread would leave an idle core
    // idle while search falls behind.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("indexer-{i}"))
        .start_handler(|_| crate::lower_thread_priority(INDEXER_NICE))
        .build()
        .map_err(|e| format!("starting the indexer's threads failed: {e}"))?;
    let mut reader = wal.reader(writer.position());
    let mut frames: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    let mut last_commit = Instant::now();
    let mut last_retention: Option<Instant> = None;
    let mut resolved = false;
    // Bytes of each tenant indexed since the last commit: they leave the
    // tenant's indexing backlog only once committed, since the log is kept
    // until then.
    let mut uncommitted: HashMap<String, u64> = HashMap::new();
    // The chunk read and normalized while the last commit ran.
    let mut ready: Option<Chunk> = None;
    loop {
        let stopping = shared.stop.load(Ordering::Acquire);
        let chunk = match ready.take() {
            Some(chunk) => chunk,
            None => pool.install(|| read_chunk(&mut reader, &mut frames, config)),
        };
        let span = tracing::debug_span!("index_batch", from = chunk.from, frames = chunk.batches.len(), chunk.bytes);
        let _batch = span.enter();
        pool.install(|| add(&chunk, &mut writer, &mut uncommitted)).map_err(|e| format!("indexing failed: {e}"))?;
        drop(chunk);
        if last_commit.elapsed() >= settings.commit_interval || stopping {
            // A commit writes the segments out on tantivy's threads while
            // this one waits: the next chunk is read and normalized
            // meanwhile, unless the engine stops.
            let (committed, next) = pool.install(|| {
                rayon::join(|| writer.commit(), || (!stopping).then(|| read_chunk(&mut reader, &mut frames, config)))
            });
            committed.map_err(|e| format!("committing the event store failed: {e}"))?;
            ready = next;
            shared.indexed.store(writer.position(), Ordering::Release);
            for (tenant, bytes) in uncommitted.drain() {
                shared.index_backlog.done(&tenant, bytes);
            }
            crate::trim_log(wal, shared);
            if !resolved {
                shared.troubles.resolve("indexing");
                resolved = true;
            }
            last_commit = Instant::now();
        }
        if last_retention.is_none_or(|t| t.elapsed() >= settings.retention_check) {
            retention(settings, store, &mut writer, shared);
            last_retention = Some(Instant::now());
        }
        // A stop does not wait for a backlog: indexing is the slower
        // reader, and what it has not committed stays in the log, indexed
        // after the next start. What it has is committed above.
        if stopping {
            break;
        }
    }
    let closed = if settings.compact_on_stop { writer.close() } else { writer.stop() };
    if let Err(e) = closed {
        tracing::error!(error = %e, "closing the event store failed");
    }
    Ok(())
}

/// Log frames read and normalized, ready to add.
struct Chunk {
    /// The first frame's position, for the logs.
    from: u64,
    bytes: usize,
    batches: Vec<Read>,
}

/// One frame of a [`Chunk`].
struct Read {
    position: u64,
    /// Where the next frame starts.
    end: u64,
    batch: Batch,
    /// The log source configured for its source, as text.
    view: Option<String>,
    /// Its records normalized, `None` for those the pipeline sends to the
    /// dead letter.
    events: Vec<Option<Normalized>>,
}

/// Reads frames (a chunk, or what comes within 50 ms) into `frames`, the
/// reused buffers, and normalizes their records in parallel (on the
/// caller's pool, the indexer's, not detection's).
fn read_chunk(reader: &mut wal::WalReader, frames: &mut Vec<(u64, u64, Vec<u8>)>, config: &EngineConfig) -> Chunk {
    let mut used = 0;
    let mut bytes = 0;
    let deadline = Instant::now() + Duration::from_millis(50);
    while bytes < CHUNK_BYTES {
        if used == frames.len() {
            frames.push((0, 0, Vec::new()));
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match reader.next(wait, &mut frames[used].2) {
            Ok(Some(pos)) => {
                frames[used].0 = pos;
                frames[used].1 = reader.position();
                bytes += frames[used].2.len();
                used += 1;
            }
            // Damaged frames are the pipeline's to report (dead letter).
            Ok(None) | Err(_) => break,
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let batches = frames[..used]
        .par_iter()
        .filter_map(|(pos, end, payload)| {
            let b = Batch::decode(payload).ok()?;
            let view = crate::pipeline::configured_view(config, &b);
            let received = crate::pipeline::received(&b);
            let events = (0..b.records.len())
                .into_par_iter()
                .map(|i| {
                    let (event, added) =
                        crate::pipeline::normalize(&b, i, view.as_ref(), config.geo.as_deref()).ok()?;
                    Some(Normalized {
                        enriched: enriched_json(&added),
                        logsource: event.views.iter().map(|v| v.logsource.to_string()).collect(),
                        timestamp: event.timestamp.unwrap_or(received),
                        event,
                    })
                })
                .collect();
            Some(Read { position: *pos, end: *end, view: view.map(|v| v.logsource.to_string()), batch: b, events })
        })
        .collect();
    let from = frames[..used].first().map_or(0, |f| f.0);
    crate::trim_buffers(frames.iter_mut().map(|f| &mut f.2), 2 * CHUNK_BYTES);
    Chunk { from, bytes, batches }
}

/// Adds a chunk's events to the store, all frames at once so that the
/// writer goes partition by partition.
fn add(chunk: &Chunk, writer: &mut StoreWriter, uncommitted: &mut HashMap<String, u64>) -> Result<(), String> {
    if chunk.batches.is_empty() {
        return Ok(());
    }
    for Read { batch: b, .. } in &chunk.batches {
        *uncommitted.entry(b.tenant.clone()).or_default() += b.records.iter().map(|r| r.len() as u64).sum::<u64>();
    }
    let news: Vec<Vec<NewEvent<'_>>> = chunk
        .batches
        .iter()
        .map(|Read { position: pos, batch: b, view, events, .. }| {
            let received = crate::pipeline::received(b);
            events
                .iter()
                .zip(&b.records)
                .enumerate()
                .filter_map(|(index, (n, raw))| {
                    let n = n.as_ref()?;
                    Some(NewEvent {
                        position: *pos,
                        index: u32::try_from(index).ok()?,
                        timestamp: n.timestamp,
                        received,
                        source: &b.source,
                        format: &b.format,
                        view: view.as_deref(),
                        logsource: &n.logsource,
                        raw,
                        enriched: n.enriched.as_deref(),
                        event: &n.event,
                    })
                })
                .collect()
        })
        .collect();
    let frames: Vec<Frame<'_, '_>> = chunk
        .batches
        .iter()
        .zip(&news)
        .map(|(r, events)| Frame { position: r.position, end: r.end, tenant: &r.batch.tenant, events })
        .collect();
    writer.add_frames(&frames).map_err(|e| e.to_string())?;
    Ok(())
}

fn retention(settings: &StoreSettings, store: &EventStore, writer: &mut StoreWriter, shared: &Shared) {
    let now = Timestamp::now();
    let mut tenants: Vec<String> = store.partitions(None).into_iter().map(|p| p.tenant).collect();
    tenants.dedup();
    for tenant in tenants {
        let (days, bytes) = settings.retention.get(&tenant).copied().unwrap_or(settings.default_retention);
        if days.is_none() && bytes.is_none() {
            continue;
        }
        match writer.enforce_retention(&tenant, days, bytes, now) {
            Ok(deleted) if !deleted.is_empty() => {
                let days: Vec<&str> = deleted.iter().map(|p| p.day.as_str()).collect();
                tracing::info!(%tenant, partitions = deleted.len(), days = %days.join(", "), "retention deleted partitions");
            }
            Ok(_) => shared.troubles.resolve("retention"),
            Err(e) => shared.troubles.report("retention", format!("tenant {tenant}: {e}"), false),
        }
    }
    // On the store's own thread, one past day at a time: a day's merge
    // (its stored records compressed again with zstd) takes a while, and
    // indexing goes on meanwhile.
    match writer.compact_behind(now) {
        Ok(_) => shared.troubles.resolve("compaction"),
        Err(e) => shared.troubles.report("compaction", e.to_string(), false),
    }
}

/// Normalizes stored records again the way the pipeline did: the
/// record's parser, then the log source configured for its source when
/// it was stored.
pub struct Renormalize;

impl Rebuild for Renormalize {
    fn event(&self, s: &Stored) -> Option<Event> {
        let format = s.format.parse().unwrap_or_default();
        let mut event = normalize::parse_record(&s.raw, format, s.received).ok()?;
        if let Some(view) = &s.view {
            let l = logsource_of(view);
            event.views = vec![normalize::view(l.product.as_deref(), l.category.as_deref(), l.service.as_deref())];
        }
        // What enrichment added when it was stored, not what a database
        // loaded now would say.
        if let Some(Ok(serde_json::Value::Object(added))) = s.enriched.as_deref().map(serde_json::from_str) {
            for (name, value) in &added {
                event.push(name.as_str(), model::Value::from_json(value));
            }
        }
        Some(event)
    }
}

/// The fields enrichment added, as the store keeps them (`None` when none).
fn enriched_json(added: &[(String, model::Value)]) -> Option<String> {
    if added.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> =
        added.iter().map(|(name, value)| (name.clone(), value.to_json())).collect();
    serde_json::to_string(&map).ok()
}

/// Reads a log source back from its text (`product/category/service`,
/// `*` for unset), as `LogSource`'s `Display` writes it.
pub(crate) fn logsource_of(text: &str) -> model::LogSource {
    let parts: Vec<Option<&str>> = text.splitn(3, '/').map(|p| Some(p).filter(|p| *p != "*")).collect();
    let part = |i: usize| parts.get(i).copied().flatten();
    model::LogSource::new(part(0), part(1), part(2))
}

/// Per-tenant retention: `(max age in days, max bytes)`.
pub type Retention = HashMap<String, (Option<u32>, Option<u64>)>;
