//! Adding events: one writer for the whole store, fed frame by frame in
//! log order.
//!
//! Every partition commit carries the log position up to which the
//! partition holds all its events (`{"covered": P}` in tantivy's commit
//! payload), and `position.json` says where the next run starts reading.
//! After a crash the log replays from `position.json`; an event whose
//! frame lies below its partition's `covered` is already there and is
//! skipped, so nothing is stored twice.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tantivy::IndexWriter;

use crate::schema::{self, Scratch};
use crate::shape::Shapes;
use crate::{EventStore, Frame, NewEvent, PartKey, PartitionInfo, day_of, valid_tenant};

#[derive(Serialize, Deserialize, Default)]
struct Payload {
    covered: u64,
}

struct Open {
    part: Arc<crate::Part>,
    writer: IndexWriter,
    covered: u64,
    /// The log position this partition holds all its events up to, when
    /// that is past the writer's: a partition done with in a batch of
    /// frames and then closed for another must not be committed as
    /// covering less than it holds (a replay would add those again).
    through: u64,
    dirty: bool,
    last_used: u64,
}

impl Open {
    fn new(part: Arc<crate::Part>, writer: IndexWriter, covered: u64) -> Open {
        Open { part, writer, covered, through: 0, dirty: false, last_used: 0 }
    }
}

pub struct StoreWriter {
    store: Arc<EventStore>,
    open: HashMap<PartKey, Open>,
    /// Shared with the threads that build documents.
    shapes: Arc<Shapes>,
    /// Where the log is processed up to (the end of the last frame).
    next: u64,
    /// The position in `position.json`.
    saved: u64,
    clock: u64,
    /// Past days found compacted (or compacted here) and not written
    /// since: [`StoreWriter::compact`] need not look again.
    compacted: HashSet<PartKey>,
    /// The past day [`StoreWriter::compact_behind`] is merging.
    compacting: Option<Compacting>,
}

/// The most documents a merge of a day being written makes. tantivy's
/// log merge policy merges eight segments of a size into one, without
/// bound below 10M documents: at 10k events/s a day's segments of 160k
/// documents would become 1.3M, then 10M, each merge sorting postings and
/// compressing records again while indexing waits for the cores. Bounded
/// merges leave a busy day in more segments, until its compaction.
const LIVE_MERGE_DOCS: u32 = 1_000_000;

/// tantivy's log merge policy, with each merge cut into groups of at most
/// `max_docs` documents (and at least two segments).
#[derive(Debug)]
pub(crate) struct Bounded {
    inner: tantivy::indexer::LogMergePolicy,
    max_docs: u32,
}

impl Bounded {
    pub(crate) fn new(max_docs: u32) -> Bounded {
        let mut inner = tantivy::indexer::LogMergePolicy::default();
        // A segment of half the bound could only be merged with a smaller one.
        inner.set_max_docs_before_merge(max_docs as usize / 2);
        Bounded { inner, max_docs }
    }
}

impl tantivy::indexer::MergePolicy for Bounded {
    fn compute_merge_candidates(&self, segments: &[tantivy::SegmentMeta]) -> Vec<tantivy::indexer::MergeCandidate> {
        use tantivy::indexer::MergeCandidate;
        let docs: HashMap<tantivy::index::SegmentId, u32> = segments.iter().map(|s| (s.id(), s.num_docs())).collect();
        let mut out = Vec::new();
        for MergeCandidate(ids) in self.inner.compute_merge_candidates(segments) {
            let (mut group, mut sum) = (Vec::new(), 0u32);
            for id in ids {
                let n = docs.get(&id).copied().unwrap_or(0);
                if sum.saturating_add(n) > self.max_docs && !group.is_empty() {
                    if group.len() > 1 {
                        out.push(MergeCandidate(std::mem::take(&mut group)));
                    }
                    group.clear();
                    sum = 0;
                }
                group.push(id);
                sum = sum.saturating_add(n);
            }
            if group.len() > 1 {
                out.push(MergeCandidate(group));
            }
        }
        out
    }
}

/// A past day merged on a thread of its own, while the writer goes on
/// adding events to the days it holds open.
struct Compacting {
    key: PartKey,
    job: std::thread::JoinHandle<tantivy::Result<()>>,
}

fn position_path(store: &EventStore) -> PathBuf {
    store.config.dir.join("position.json")
}

impl StoreWriter {
    /// The writer of `store`. There must be only one per directory (the
    /// engine's data-directory lock sees to that).
    pub fn new(store: Arc<EventStore>) -> std::io::Result<StoreWriter> {
        let saved = match std::fs::read(position_path(&store)) {
            Ok(bytes) => {
                serde_json::from_slice::<Payload>(&bytes)
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", position_path(&store).display())))?
                    .covered
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(StoreWriter {
            store,
            open: HashMap::new(),
            shapes: Arc::default(),
            next: saved,
            saved,
            clock: 0,
            compacted: HashSet::new(),
            compacting: None,
        })
    }

    /// The log position to replay from.
    pub fn position(&self) -> u64 {
        self.saved
    }

    /// Adds the events of the frame at `position` (all of one tenant);
    /// `end` is where the next frame starts. Events a partition already
    /// holds are skipped. Returns how many were added.
    pub fn add_frame(
        &mut self,
        position: u64,
        end: u64,
        tenant: &str,
        events: &[NewEvent<'_>],
    ) -> tantivy::Result<usize> {
        self.add_frames(&[Frame { position, end, tenant, events }])
    }

    /// Adds several frames, in log order, partition by partition: events
    /// of many days interleaved (a backfill, a device with a wrong clock)
    /// must not open and close a partition per event.
    pub fn add_frames(&mut self, frames: &[Frame<'_, '_>]) -> tantivy::Result<usize> {
        if let Some(f) = frames.iter().find(|f| !valid_tenant(f.tenant)) {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "tenant name {:?} cannot name a partition",
                f.tenant
            )));
        }
        self.clock += 1;
        // Partition by partition. Each event carries its kind (log source
        // and field names), by which tantivy orders the documents of every
        // segment it writes or merges: the words events of a kind share
        // then get long runs of consecutive document ids, which its
        // bit-packed postings store in about a bit each, and similar
        // records share compressed blocks. Searches do not depend on
        // document order (rows are ordered by time and position).
        let mut order: Vec<(&str, jiff::civil::Date, usize, usize)> = frames
            .iter()
            .enumerate()
            .flat_map(|(f, frame)| {
                frame.events.iter().enumerate().map(move |(i, ev)| (frame.tenant, day_of(ev.timestamp), f, i))
            })
            .collect();
        order.sort_unstable();
        let end = frames.iter().map(|f| f.end).max().unwrap_or(self.next);
        let mut added = 0;
        for run in order.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (tenant, day) = (run[0].0, run[0].1);
            let shapes = self.shapes.clone();
            let open = self.writer(&PartKey { tenant: tenant.to_string(), day })?;
            let (part, covered) = (open.part.clone(), open.covered);
            let writer = &open.writer;
            // Documents are built on the threads of the caller's rayon
            // pool (the words of an event are most of an indexer's work)
            // and handed to tantivy's indexing thread as they are made, so
            // both stages run at once. Order does not matter: segments are
            // sorted by kind, and searches order by time and position.
            let count = std::sync::atomic::AtomicUsize::new(0);
            run.par_iter().filter(|&&(_, _, f, _)| frames[f].position >= covered).try_for_each_init(
                Scratch::default,
                |scratch, &(_, _, f, i)| {
                    let ev = &frames[f].events[i];
                    let mut doc = schema::document(&part.fields, tenant, ev, &shapes, scratch);
                    if let Some(field) = part.fields.kind {
                        doc.add_u64(field, kind_of(ev.logsource, ev.event));
                    }
                    writer.add_document(doc)?;
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tantivy::Result::Ok(())
                },
            )?;
            let count = count.into_inner();
            added += count;
            open.dirty |= count > 0;
            open.through = open.through.max(end);
        }
        self.next = self.next.max(end);
        Ok(added)
    }

    fn writer(&mut self, key: &PartKey) -> tantivy::Result<&mut Open> {
        if !self.open.contains_key(key) {
            // Late events for the day being compacted wait for it: its
            // merge holds the partition's writer lock.
            if self.compacting.as_ref().is_some_and(|c| &c.key == key) {
                self.finish_compaction(true)?;
            }
            self.compacted.remove(key);
            if self.open.len() >= self.store.config.open_writers.max(1) {
                self.close_least_used()?;
            }
            let part = self
                .store
                .part(key, true)?
                .ok_or_else(|| tantivy::TantivyError::InternalError("partition not created".into()))?;
            // The day's writer compresses stored records with LZ4, not
            // zstd: every commit compresses its segment's records (in kind
            // order, after sorting, while no document can be added) and
            // every merge of the day does it again. The day's compaction
            // writes them once at the store's zstd level; it rewrites
            // every day whose meta.json says LZ4 (see `needs_compaction`),
            // since tantivy copies a lone segment's blocks as they are.
            let mut live = part.index.clone();
            live.settings_mut().docstore_compression = tantivy::store::Compressor::Lz4;
            let writer = live.writer_with_num_threads(1, self.memory())?;
            writer.set_merge_policy(Box::new(Bounded::new(LIVE_MERGE_DOCS)));
            let covered = part
                .index
                .load_metas()?
                .payload
                .and_then(|p| serde_json::from_str::<Payload>(&p).ok())
                .map_or(0, |p| p.covered);
            self.open.insert(key.clone(), Open::new(part, writer, covered));
        }
        let clock = self.clock;
        let open =
            self.open.get_mut(key).ok_or_else(|| tantivy::TantivyError::InternalError("writer vanished".into()))?;
        open.last_used = clock;
        Ok(open)
    }

    /// Indexing memory of one partition writer.
    fn memory(&self) -> usize {
        self.store.config.writer_memory.max(16 << 20)
    }

    fn close_least_used(&mut self) -> tantivy::Result<()> {
        let Some(key) = self.open.iter().min_by_key(|(_, o)| o.last_used).map(|(k, _)| k.clone()) else {
            return Ok(());
        };
        // Committed, not merged: a partition pushed out by others may well
        // come back soon; merging is for when its day is over for good.
        if let Some(mut open) = self.open.remove(&key) {
            commit_one(&mut open, self.next)?;
            open.writer.wait_merging_threads()?;
        }
        Ok(())
    }

    /// Makes everything added so far durable and searchable.
    pub fn commit(&mut self) -> tantivy::Result<()> {
        for open in self.open.values_mut() {
            commit_one(open, self.next)?;
        }
        if self.next != self.saved {
            write_atomic(
                &position_path(&self.store),
                &serde_json::to_vec(&Payload { covered: self.next }).unwrap_or_default(),
            )?;
            self.saved = self.next;
        }
        Ok(())
    }

    /// Commits, then deletes partitions beyond the limits. Writers of
    /// earlier days are closed first (they reopen if late events come;
    /// [`StoreWriter::compact_behind`] compacts them). While one of the
    /// tenant's days is being compacted nothing is deleted: the next call
    /// does it.
    pub fn enforce_retention(
        &mut self,
        tenant: &str,
        max_age_days: Option<u32>,
        max_bytes: Option<u64>,
        now: Timestamp,
    ) -> tantivy::Result<Vec<PartitionInfo>> {
        self.commit()?;
        let today = day_of(now);
        let old: Vec<PartKey> = self.open.keys().filter(|k| k.tenant == tenant && k.day < today).cloned().collect();
        for key in old {
            if let Some(open) = self.open.remove(&key) {
                close_one(open)?;
            }
        }
        if self.compacting.as_ref().is_some_and(|c| c.key.tenant == tenant) && !self.finish_compaction(false)? {
            return Ok(Vec::new());
        }
        Ok(self.store.enforce_retention(tenant, max_age_days, max_bytes, now)?)
    }

    /// Commits, closes every partition and compacts the closed ones of
    /// earlier days (see [`StoreWriter::compact`]).
    pub fn close(mut self) -> tantivy::Result<()> {
        self.commit()?;
        for (_, open) in self.open.drain() {
            close_one(open)?;
        }
        self.compact(Timestamp::now(), usize::MAX)?;
        Ok(())
    }

    /// Compacts up to `max` partitions of days before the day of `now`
    /// that no writer holds open (see `next_to_compact`), on the caller's
    /// thread, after waiting for one under way; returns how many. A
    /// partition whose writer was closed (its day over, or pushed out of
    /// the open writers by others) is committed, not merged then, since
    /// late events may bring it back. An import calls this at its end; a
    /// server uses [`StoreWriter::compact_behind`].
    pub fn compact(&mut self, now: Timestamp, max: usize) -> tantivy::Result<usize> {
        self.finish_compaction(true)?;
        let mut merged = 0;
        while merged < max
            && let Some(part) = self.next_to_compact(day_of(now))?
        {
            merge_all(&part, self.memory())?;
            self.compacted.insert(part.key.clone());
            merged += 1;
        }
        Ok(merged)
    }

    /// Compacts past days one at a time on a thread of their own: a call
    /// starts the next day's merge when none is under way, and returns
    /// the error of one that ended in error (the day is tried again on a
    /// later call). A server calls it now and then; its indexing goes on
    /// meanwhile (a day is merged from its segments, not indexed again).
    pub fn compact_behind(&mut self, now: Timestamp) -> tantivy::Result<()> {
        if !self.finish_compaction(false)? {
            return Ok(());
        }
        if let Some(part) = self.next_to_compact(day_of(now))? {
            let memory = self.memory();
            let key = part.key.clone();
            let job = std::thread::Builder::new()
                .name("store-compact".into())
                .spawn(move || merge_all(&part, memory))
                .map_err(|e| tantivy::TantivyError::SystemError(format!("starting a compaction thread: {e}")))?;
            self.compacting = Some(Compacting { key, job });
        }
        Ok(())
    }

    /// The next past day to compact: before `today`, held by no writer,
    /// with more than one segment or with a day's writer's records (from
    /// its meta.json, so that a server does not open, and keep open, every
    /// partition of its retention to look).
    fn next_to_compact(&mut self, today: jiff::civil::Date) -> tantivy::Result<Option<Arc<crate::Part>>> {
        for key in self.store.keys(None) {
            if key.day >= today
                || self.open.contains_key(&key)
                || self.compacted.contains(&key)
                || self.compacting.as_ref().is_some_and(|c| c.key == key)
            {
                continue;
            }
            if needs_compaction(&key.dir(&self.store.config.dir))
                && let Some(part) = self.store.part(&key, false)?
            {
                return Ok(Some(part));
            }
            self.compacted.insert(key);
        }
        Ok(None)
    }

    /// Ends the compaction under way if it is done, or waits for it when
    /// `wait`; true when none is under way afterwards.
    pub(crate) fn finish_compaction(&mut self, wait: bool) -> tantivy::Result<bool> {
        match self.compacting.take() {
            None => Ok(true),
            Some(c) if !wait && !c.job.is_finished() => {
                self.compacting = Some(c);
                Ok(false)
            }
            Some(Compacting { key, job }) => {
                job.join().map_err(|_| {
                    tantivy::TantivyError::SystemError(format!("compacting {}/{} panicked", key.tenant, key.day))
                })??;
                self.compacted.insert(key);
                Ok(true)
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn compacting_day(&self) -> Option<jiff::civil::Date> {
        self.compacting.as_ref().map(|c| c.key.day)
    }

    /// Commits and waits only for merges already running: a server's stop.
    /// Earlier days' partitions are compacted by a later run.
    pub fn stop(mut self) -> tantivy::Result<()> {
        self.commit()?;
        for (_, open) in self.open.drain() {
            open.writer.wait_merging_threads()?;
        }
        self.finish_compaction(true)?;
        Ok(())
    }
}

/// Closes a committed writer (late events reopen it). Its day is
/// compacted by [`StoreWriter::compact`] or `compact_behind` once it is
/// over.
fn close_one(open: Open) -> tantivy::Result<()> {
    let Open { part, writer, .. } = open;
    writer.wait_merging_threads()?;
    part.reader.reload()
}

/// Merges a partition no writer holds open into one segment (smaller:
/// each term once, postings in one list, the day in kind order; and
/// faster to search), its stored records compressed with the store's
/// settings.
fn merge_all(part: &crate::Part, memory: usize) -> tantivy::Result<()> {
    let segments = part.index.searchable_segment_ids()?;
    if !segments.is_empty() {
        let mut writer: IndexWriter = part.index.writer_with_num_threads(1, memory)?;
        writer.merge(&segments).wait()?;
        writer.wait_merging_threads()?;
    }
    part.reader.reload()
}

/// Whether a partition's last commit, by its meta.json, has more than one
/// segment or stored records of a day's writer (LZ4): a compacted day has
/// one segment written by a merge, with the store's compression.
fn needs_compaction(dir: &std::path::Path) -> bool {
    let Some(meta) = std::fs::read(dir.join("meta.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
    else {
        return false;
    };
    let segments = meta.get("segments").and_then(|s| s.as_array()).map_or(0, Vec::len);
    let live = meta.pointer("/index_settings/docstore_compression").and_then(|c| c.as_str()) == Some("lz4");
    segments > 1 || (segments == 1 && live)
}

fn commit_one(open: &mut Open, next: u64) -> tantivy::Result<()> {
    if !open.dirty {
        return Ok(());
    }
    let covered = next.max(open.through);
    let payload = serde_json::to_string(&Payload { covered }).unwrap_or_default();
    let mut prepared = open.writer.prepare_commit()?;
    prepared.set_payload(&payload);
    prepared.commit()?;
    open.covered = covered;
    open.dirty = false;
    open.part.reader.reload()?;
    Ok(())
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A hash of an event's log sources and field names, in order: events of
/// one kind (one Windows event id through one shipper, one firewall's
/// records) share it.
fn kind_of(logsource: &[String], event: &model::Event) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    logsource.hash(&mut h);
    for (name, _) in event.fields() {
        name.hash(&mut h);
    }
    h.finish()
}
