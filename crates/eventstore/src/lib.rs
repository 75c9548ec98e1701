//! Hinomi's event store: every normalized event, kept compressed and
//! indexed so analysts can search months of data in well under a second.
//!
//! The store is a directory of partitions, one per tenant and UTC day
//! (`<dir>/<tenant>/<YYYY-MM-DD>/`), each a tantivy index (the search
//! library Quickwit builds on). Expiring data is deleting a directory.
//! [`StoreWriter`] adds events frame by frame from the write-ahead log and
//! commits with the log position it covers, so a replay after a crash adds
//! nothing twice. [`EventStore::search`] runs a [`query::Query`]: the index
//! only narrows candidates (`plan.rs`); what matches is decided by the
//! query crate's evaluator, on the event normalized again from its raw
//! record, exactly as the stream saw it.
//!
//! The store does not parse records (the caller's [`Rebuild`] does), run
//! rules or know HTTP.

mod plan;
mod scan;
mod schema;
mod search;
mod shape;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use jiff::civil::Date;
use model::Event;
use tantivy::{Index, IndexReader, ReloadPolicy};

pub use scan::Scan;
pub use schema::META;
pub use search::{SearchError, SearchRequest, SearchResult, Stored};
pub use writer::StoreWriter;

/// Fields `stats` and `timechart` read from columns without opening
/// events: the ECS core analysts group by, and where events came from.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "_source",
    "host.name",
    "user.name",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "event.code",
    "event.action",
    "event.outcome",
    "event.category",
    "process.name",
    "process.executable",
    "process.parent.executable",
    "network.transport",
    "network.protocol",
    "url.domain",
    "file.name",
    "observer.product",
    "observer.vendor",
    "rule.name",
    "winlog.channel",
];

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub dir: PathBuf,
    /// Column fields of new partitions (see [`DEFAULT_COLUMNS`]).
    pub columns: Vec<String>,
    /// Indexing memory per open partition writer.
    pub writer_memory: usize,
    /// zstd level of the stored records of a compacted day. While a day
    /// is written its records are LZ4-compressed (see `writer.rs`).
    pub zstd_level: i32,
    /// Bytes per compressed block of stored records: larger compresses
    /// better, smaller reads single events faster.
    pub block_size: usize,
    /// Partition writers kept open at once (late events for an older day
    /// reopen its writer).
    pub open_writers: usize,
}

impl StoreConfig {
    pub fn new(dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            dir: dir.into(),
            columns: DEFAULT_COLUMNS.iter().map(|s| s.to_string()).collect(),
            writer_memory: 64 << 20,
            zstd_level: 9,
            block_size: 512 << 10,
            open_writers: 4,
        }
    }
}

/// One event to store, as the pipeline normalized it.
pub struct NewEvent<'a> {
    /// The write-ahead-log position of its frame.
    pub position: u64,
    /// Its place in the frame. The event's id is `<position>.<index>`,
    /// as the stream names it; the store keeps both as numbers.
    pub index: u32,
    pub timestamp: Timestamp,
    pub received: Timestamp,
    pub source: &'a str,
    /// The parser it was read with (`auto`, `syslog`, ...).
    pub format: &'a str,
    /// The log source configured for its source, if any (`product/category/service`).
    pub view: Option<&'a str>,
    /// Its log sources, as detection saw them.
    pub logsource: &'a [String],
    pub raw: &'a str,
    /// Fields added to the event after parsing (geolocation), as a JSON
    /// object: kept with the raw record so that reading it back gives the
    /// event detection saw.
    pub enriched: Option<&'a str>,
    pub event: &'a Event,
}

/// The events of one log frame (all of one tenant), for
/// [`StoreWriter::add_frames`].
pub struct Frame<'f, 'e> {
    /// The frame's log position, and where the next frame starts.
    pub position: u64,
    pub end: u64,
    pub tenant: &'f str,
    pub events: &'f [NewEvent<'e>],
}

/// Normalizes a stored record again, exactly as the stream did. The
/// engine implements it with the same parser and configuration.
pub trait Rebuild: Sync {
    fn event(&self, stored: &Stored) -> Option<Event>;
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PartKey {
    pub(crate) tenant: String,
    pub(crate) day: Date,
}

impl PartKey {
    fn dir(&self, root: &Path) -> PathBuf {
        root.join(&self.tenant).join(self.day.to_string())
    }
}

pub(crate) struct Part {
    pub(crate) key: PartKey,
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    pub(crate) fields: schema::Fields,
    /// The shapes of the searcher generation they were read from.
    shapes: std::sync::Mutex<Option<(u64, Arc<shape::Known>)>>,
}

impl Part {
    /// The partition's shapes as `searcher` sees them, read once per
    /// searcher generation (a commit or merge makes a new one).
    pub(crate) fn shapes(&self, searcher: &tantivy::Searcher) -> tantivy::Result<Arc<shape::Known>> {
        let generation = searcher.generation().generation_id();
        if let Ok(cached) = self.shapes.lock()
            && let Some((g, known)) = &*cached
            && *g == generation
        {
            return Ok(known.clone());
        }
        let known = Arc::new(shape::Known::read(searcher, self.fields.f)?);
        if let Ok(mut cached) = self.shapes.lock() {
            *cached = Some((generation, known.clone()));
        }
        Ok(known)
    }
}

/// What one partition holds, for status pages and retention.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartitionInfo {
    pub tenant: String,
    pub day: String,
    pub events: u64,
    pub bytes: u64,
}

pub struct EventStore {
    config: StoreConfig,
    /// Partitions opened so far; others are opened on first use.
    parts: Mutex<BTreeMap<PartKey, Arc<Part>>>,
}

/// Tenant names are directory names: letters, digits, `_`, `-`, `.`, not
/// starting with a dot.
pub fn valid_tenant(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl EventStore {
    pub fn open(config: StoreConfig) -> std::io::Result<Arc<EventStore>> {
        std::fs::create_dir_all(&config.dir)?;
        Ok(Arc::new(EventStore { config, parts: Mutex::new(BTreeMap::new()) }))
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The partitions on disk for `tenant` (all tenants when `None`), by day.
    pub(crate) fn keys(&self, tenant: Option<&str>) -> Vec<PartKey> {
        let mut out = Vec::new();
        let Ok(tenants) = std::fs::read_dir(&self.config.dir) else { return out };
        for t in tenants.flatten() {
            let name = t.file_name().to_string_lossy().into_owned();
            if !valid_tenant(&name) || tenant.is_some_and(|want| want != name) {
                continue;
            }
            let Ok(days) = std::fs::read_dir(t.path()) else { continue };
            for d in days.flatten() {
                if let Ok(day) = d.file_name().to_string_lossy().parse::<Date>()
                    && d.path().join("meta.json").exists()
                {
                    out.push(PartKey { tenant: name.clone(), day });
                }
            }
        }
        out.sort();
        out
    }

    /// Opens (or creates, when `create`) a partition.
    pub(crate) fn part(&self, key: &PartKey, create: bool) -> tantivy::Result<Option<Arc<Part>>> {
        let mut parts =
            self.parts.lock().map_err(|_| tantivy::TantivyError::InternalError("store lock poisoned".into()))?;
        if let Some(p) = parts.get(key) {
            return Ok(Some(p.clone()));
        }
        let dir = key.dir(&self.config.dir);
        let settings = tantivy::IndexSettings {
            docstore_compression: zstd(self.config.zstd_level),
            docstore_blocksize: self.config.block_size,
            sort_by_field: Some(tantivy::IndexSortByField {
                field: schema::KIND.to_string(),
                order: tantivy::Order::Asc,
            }),
            ..tantivy::IndexSettings::default()
        };
        let mut index = if dir.join("meta.json").exists() {
            Index::open_in_dir(&dir)?
        } else if create {
            std::fs::create_dir_all(&dir)?;
            Index::builder()
                .schema(schema::build(&self.config.columns))
                .settings(settings.clone())
                .create_in_dir(&dir)?
        } else {
            return Ok(None);
        };
        // The store's compression, not the last writer's: a day's writer
        // commits its own (LZ4) into meta.json, and the day's compaction
        // must write with the configured one. The sort stays as the
        // partition was made (partitions older than `kind` have none).
        index.settings_mut().docstore_compression = settings.docstore_compression;
        index.settings_mut().docstore_blocksize = settings.docstore_blocksize;
        index.tokenizers().register(schema::TERMS_TOKENIZER, schema::Terms);
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let fields = schema::Fields::of(&index.schema())?;
        let part = Arc::new(Part { key: key.clone(), index, reader, fields, shapes: Default::default() });
        parts.insert(key.clone(), part.clone());
        Ok(Some(part))
    }

    /// Forgets an open partition (before its directory is deleted).
    fn forget(&self, key: &PartKey) {
        if let Ok(mut parts) = self.parts.lock() {
            parts.remove(key);
        }
    }

    /// Every partition with its event count and size on disk.
    pub fn partitions(&self, tenant: Option<&str>) -> Vec<PartitionInfo> {
        self.keys(tenant)
            .into_iter()
            .map(|key| {
                let events = self.part(&key, false).ok().flatten().map(|p| p.reader.searcher().num_docs()).unwrap_or(0);
                PartitionInfo {
                    tenant: key.tenant.clone(),
                    day: key.day.to_string(),
                    events,
                    bytes: dir_size(&key.dir(&self.config.dir)),
                }
            })
            .collect()
    }

    /// Deletes whole partitions: those older than `max_age_days` before
    /// `now`, then the oldest while the tenant's partitions together are
    /// larger than `max_bytes`. The partition being written (today's) is
    /// never deleted for size. Returns what was deleted.
    pub fn enforce_retention(
        &self,
        tenant: &str,
        max_age_days: Option<u32>,
        max_bytes: Option<u64>,
        now: Timestamp,
    ) -> std::io::Result<Vec<PartitionInfo>> {
        let mut parts = self.partitions(Some(tenant));
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut deleted = Vec::new();
        if let Some(days) = max_age_days {
            let oldest = today.checked_sub(jiff::Span::new().days(i64::from(days))).unwrap_or(today);
            let (old, keep): (Vec<_>, Vec<_>) =
                parts.into_iter().partition(|p| p.day.parse::<Date>().is_ok_and(|d| d < oldest));
            for p in old {
                self.delete(&p)?;
                deleted.push(p);
            }
            parts = keep;
        }
        if let Some(limit) = max_bytes {
            let mut total: u64 = parts.iter().map(|p| p.bytes).sum();
            for p in parts {
                if total <= limit || p.day.parse::<Date>().is_ok_and(|d| d >= today) {
                    break;
                }
                total -= p.bytes;
                self.delete(&p)?;
                deleted.push(p);
            }
        }
        Ok(deleted)
    }

    fn delete(&self, p: &PartitionInfo) -> std::io::Result<()> {
        let Ok(day) = p.day.parse::<Date>() else { return Ok(()) };
        let key = PartKey { tenant: p.tenant.clone(), day };
        self.forget(&key);
        std::fs::remove_dir_all(key.dir(&self.config.dir))
    }
}

pub(crate) fn zstd(level: i32) -> tantivy::store::Compressor {
    tantivy::store::Compressor::Zstd(tantivy::store::ZstdCompressor { compression_level: Some(level) })
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}

/// The UTC day an instant falls on.
pub(crate) fn day_of(t: Timestamp) -> Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}

#[cfg(test)]
mod tests;
