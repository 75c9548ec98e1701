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
    /// Past days found in one segment (or merged into one) and not
    /// written since: [`StoreWriter::compact`] need not look again.
    compacted: HashSet<PartKey>,
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
            self.compacted.remove(key);
            if self.open.len() >= self.store.config.open_writers.max(1) {
                self.close_least_used()?;
            }
            let part = self
                .store
                .part(key, true)?
                .ok_or_else(|| tantivy::TantivyError::InternalError("partition not created".into()))?;
            let writer = part.index.writer_with_num_threads(1, self.memory())?;
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
    /// earlier days are closed first (they reopen if late events come).
    pub fn enforce_retention(
        &mut self,
        tenant: &str,
        max_age_days: Option<u32>,
        max_bytes: Option<u64>,
        now: Timestamp,
    ) -> tantivy::Result<Vec<PartitionInfo>> {
        self.commit()?;
        let (today, memory) = (day_of(now), self.memory());
        let old: Vec<PartKey> = self.open.keys().filter(|k| k.tenant == tenant && k.day < today).cloned().collect();
        for key in old {
            if let Some(open) = self.open.remove(&key) {
                close_one(open, today, memory)?;
            }
        }
        Ok(self.store.enforce_retention(tenant, max_age_days, max_bytes, now)?)
    }

    /// Commits, closes every partition and compacts the closed ones of
    /// earlier days (see [`StoreWriter::compact`]).
    pub fn close(mut self) -> tantivy::Result<()> {
        self.commit()?;
        let (today, memory) = (today(), self.memory());
        for (_, open) in self.open.drain() {
            close_one(open, today, memory)?;
        }
        self.compact(Timestamp::now(), usize::MAX)?;
        Ok(())
    }

    /// Merges the segments of up to `max` partitions of days before the
    /// day of `now` that no writer holds open and that have more than one;
    /// returns how many it merged. A partition pushed out of the open
    /// writers by others (a backfill of many days, late events) is
    /// committed but not merged then, since it may come back; once its day
    /// is over it is compacted here, a few per call so that a server can
    /// spread the work.
    pub fn compact(&mut self, now: Timestamp, max: usize) -> tantivy::Result<usize> {
        let today = day_of(now);
        let mut merged = 0;
        for key in self.store.keys(None) {
            if merged >= max {
                break;
            }
            if key.day >= today || self.open.contains_key(&key) || self.compacted.contains(&key) {
                continue;
            }
            // From its meta.json, so that a server does not open (and keep
            // open) every partition of its retention to look.
            if segments_on_disk(&key.dir(&self.store.config.dir)).is_some_and(|n| n > 1)
                && let Some(part) = self.store.part(&key, false)?
            {
                merge_all(&part, self.memory())?;
                part.reader.reload()?;
                merged += 1;
            }
            self.compacted.insert(key);
        }
        Ok(merged)
    }

    /// Commits and waits only for merges already running: a server's stop.
    /// Earlier days' partitions are merged when retention closes them, not
    /// now.
    pub fn stop(mut self) -> tantivy::Result<()> {
        self.commit()?;
        for (_, open) in self.open.drain() {
            open.writer.wait_merging_threads()?;
        }
        Ok(())
    }
}

fn today() -> jiff::civil::Date {
    day_of(Timestamp::now())
}

/// Closes a committed writer. A partition of a day before `today` is
/// closed for good (late events reopen it): its segments are merged into
/// one, which is smaller (each term once, postings in one list) and faster
/// to search.
fn close_one(open: Open, today: jiff::civil::Date, memory: usize) -> tantivy::Result<()> {
    let Open { part, writer, .. } = open;
    // Merges tantivy started on its own must end first: one finishing
    // during ours would take segments ours was given.
    writer.wait_merging_threads()?;
    if part.key.day < today {
        merge_all(&part, memory)?;
    }
    part.reader.reload()?;
    Ok(())
}

/// Merges a partition no writer holds open into one segment.
fn merge_all(part: &crate::Part, memory: usize) -> tantivy::Result<()> {
    let segments = part.index.searchable_segment_ids()?;
    if segments.len() > 1 {
        let mut writer: IndexWriter = part.index.writer_with_num_threads(1, memory)?;
        writer.merge(&segments).wait()?;
        writer.wait_merging_threads()?;
    }
    Ok(())
}

/// How many segments a partition's last commit has, from its meta.json.
fn segments_on_disk(dir: &std::path::Path) -> Option<usize> {
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).ok()?).ok()?;
    Some(meta.get("segments")?.as_array()?.len())
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
