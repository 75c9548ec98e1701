//! Hinomi's event pipeline, the IO shell around the pure crates.
//!
//! Listeners hand received records to an [`Ingest`] handle. It refuses them
//! with [`Refused::Busy`] when the pipeline is too far behind (the caller
//! answers 429/503 or stops reading), otherwise writes them to the
//! write-ahead log and returns once they are durable: only then may the
//! sender be acknowledged. A pipeline thread reads the log from the last
//! checkpoint, parses each record (`normalize`), runs the rules (`sigma`)
//! and writes events, alerts and dead letters to the journals (`wal`),
//! checkpointing about once a second. After a crash the journals are cut
//! back to the checkpoint and the log replays from there, so nothing
//! acknowledged is lost and nothing is written twice.
//!
//! With an event store configured, an indexer thread reads the same log
//! and adds every event to it (`indexer.rs`); the log is trimmed only
//! below both the detection checkpoint and the store's position.
//!
//! It knows nothing about HTTP, syslog framing or configuration files.

mod correlation;
mod health;
mod indexer;
pub mod output;
mod pipeline;
pub mod retro;
mod throttle;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::Timestamp;
use sigma::RuleSet;
use wal::{Batch, Checkpoint, Wal, WalConfig};

pub use crate::health::{Health, Silence, SourceStats};
pub use crate::indexer::{Renormalize, Retention};
pub use crate::pipeline::AlertSink;
pub use crate::throttle::{RateLimit, RateLimited};

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data: PathBuf,
    /// Sync the log before acknowledging (see `wal::WalConfig::sync`).
    pub wal_sync: bool,
    /// Senders are refused while the log holds more than this many bytes the
    /// pipeline has not processed yet. The log is on disk, so this bounds
    /// how far detection may fall behind, not memory.
    pub max_lag_bytes: u64,
    /// The log's ceiling on disk: at it every record is refused (503 with
    /// the reason) until the readers behind let segments go. Acknowledged
    /// records are never dropped to make room.
    pub max_log_bytes: u64,
    pub checkpoint_interval: Duration,
    /// Sleep after each chunk: a deliberately slow downstream, for testing
    /// back-pressure. Zero in production.
    pub slow_down: Duration,
    /// Log sources configured for `(tenant, source)`: they replace the
    /// recognised ones, so a CEF firewall feed can be `category: firewall`.
    pub log_sources: HashMap<(String, String), Arc<model::SourceView>>,
    /// The event store; `None` keeps events only in the journal.
    pub store: Option<StoreSettings>,
    /// Also write every event to the `events/` JSON-lines journal. With
    /// the event store on, this is a second copy of every record.
    pub events_journal: bool,
    /// At a stop with every reader at the log's end, end its segment and
    /// delete the whole log (a finished import, an idle server): what a
    /// lost checkpoint would replay is gone then, so tests that simulate
    /// one leave it off.
    pub seal_on_stop: bool,
    /// Correlation rules: state bounds and allowed lateness.
    pub correlation: correlate::Config,
    /// Alerts one rule may raise per tenant and window.
    pub rate_limit: RateLimit,
    /// Geolocation of events' addresses; the fields it adds are stored
    /// with each event, so searches and retro-hunts see what detection saw.
    pub geo: Option<Arc<geo::Geo>>,
    /// Rules each tenant has switched off (by id), from the start: records
    /// replayed from the log meet the same rules they would now.
    pub disabled_rules: HashMap<String, HashSet<String>>,
    /// Threat-intel indicators every event is matched against, from the
    /// start (`Ingest::set_intel` changes them while running).
    pub intel: Arc<intel::Set>,
}

/// The event store and how the indexer runs it.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub config: eventstore::StoreConfig,
    /// How often added events are committed (and become searchable).
    pub commit_interval: Duration,
    /// Retention per tenant, and for tenants without their own.
    pub retention: Retention,
    pub default_retention: (Option<u32>, Option<u64>),
    pub retention_check: Duration,
    /// At the stop, merge each earlier day's partition into one segment
    /// (smaller, faster to search). Right after an import; not when a
    /// server stops, which would then take minutes.
    pub compact_on_stop: bool,
}

impl StoreSettings {
    pub fn new(dir: impl Into<PathBuf>) -> StoreSettings {
        StoreSettings {
            config: eventstore::StoreConfig::new(dir),
            commit_interval: Duration::from_secs(2),
            retention: Retention::new(),
            default_retention: (None, None),
            retention_check: Duration::from_secs(60),
            compact_on_stop: false,
        }
    }
}

impl EngineConfig {
    pub fn new(data: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            data: data.into(),
            wal_sync: true,
            max_lag_bytes: 256 << 20,
            max_log_bytes: 4 << 30,
            checkpoint_interval: Duration::from_secs(1),
            slow_down: Duration::ZERO,
            log_sources: HashMap::new(),
            store: None,
            events_journal: true,
            seal_on_stop: false,
            correlation: correlate::Config::default(),
            rate_limit: RateLimit::default(),
            geo: None,
            disabled_rules: HashMap::new(),
            intel: Arc::new(intel::Set::default()),
        }
    }
}

/// State shared by the ingest handles and the pipeline thread.
pub(crate) struct Shared {
    /// Log position the pipeline has written out.
    processed: AtomicU64,
    /// Log position covered by the last checkpoint.
    checkpointed: AtomicU64,
    /// Log position the event store has committed (`u64::MAX` without a
    /// store, so it never holds the log back).
    indexed: AtomicU64,
    stop: AtomicBool,
    alerts: AtomicU64,
    /// Records the pipeline has written out (events and dead letters).
    records: AtomicU64,
    errors: AtomicU64,
    health: Health,
    system_alerts: Mutex<Vec<Vec<u8>>>,
    pub(crate) troubles: Troubles,
    /// The correlator's counters, as of the last chunk written.
    correlation: Mutex<correlate::Stats>,
    pub(crate) backlog: Backlog,
    /// The same for indexing: bytes of each tenant the indexer has not
    /// read (empty without an event store).
    pub(crate) index_backlog: Backlog,
    /// Matches past a rule's rate limit, counted.
    pub(crate) rate_limited: throttle::Suppressed,
    /// Rules each tenant has switched off: their matches raise nothing
    /// and feed no correlation.
    pub(crate) disabled: RwLock<HashMap<String, Arc<HashSet<String>>>>,
    /// Readers of the engine's outputs outside it (triage) whose lag also
    /// slows senders.
    consumers: RwLock<Vec<Consumer>>,
    /// The indicators, swapped whole when they change; read once a chunk.
    pub(crate) intel: RwLock<Arc<intel::Set>>,
    /// Which fields carry observables.
    pub(crate) observables: intel::observe::Fields,
}

/// A reader outside the engine, for back-pressure: how far behind it is,
/// published by itself, and how far it may be.
struct Consumer {
    name: String,
    lag: Arc<AtomicU64>,
    max: u64,
}

/// How far one reader is behind, for the status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Behind {
    pub name: String,
    pub lag_bytes: u64,
    pub max_bytes: u64,
}

/// Indexing may fall this many times `max_lag` behind the log before
/// everyone is refused: it commits every few seconds, so it is always some
/// way behind, and a log that grows without bound would fill the disk.
const INDEX_LAG: u64 = 4;

/// Bytes of records each tenant has in the log that the pipeline has not
/// processed yet. When the pipeline is behind, a tenant holding at least
/// its share of the backlog (the mean over the tenants that have one) is
/// refused and the others are still let in: one tenant's flood slows that
/// tenant, not everyone's detection. Counted from this start; records
/// replayed after a restart only count down, to zero.
#[derive(Debug, Default)]
pub(crate) struct Backlog(Mutex<HashMap<String, u64>>);

impl Backlog {
    fn add(&self, tenant: &str, bytes: u64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(tenant.to_string()).or_default() += bytes;
    }

    pub(crate) fn done(&self, tenant: &str, bytes: u64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(left) = map.get_mut(tenant) {
            *left = left.saturating_sub(bytes);
            if *left == 0 {
                map.remove(tenant);
            }
        }
    }

    fn at_least_its_share(&self, tenant: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mine = map.get(tenant).copied().unwrap_or(0);
        let total: u64 = map.values().sum();
        mine > 0 && mine.saturating_mul(map.len() as u64) >= total
    }
}

/// Deletes log segments every reader is done with.
pub(crate) fn trim_log(wal: &Wal, shared: &Shared) {
    let safe = shared.checkpointed.load(Ordering::Acquire).min(shared.indexed.load(Ordering::Acquire));
    // Not fatal: the segments stay and the next trim tries again; but a
    // disk that fills up with log should say why.
    if let Err(e) = wal.remove_before(safe) {
        tracing::warn!(error = %e, position = safe, "removing log segments every reader is done with failed");
    }
}

/// Lets go of frame buffers past `keep` bytes of capacity in all, keeping
/// the first. The readers reuse their buffers from chunk to chunk (fresh
/// ones would cost page faults for every frame), but a buffer keeps the
/// largest frame it ever held: unbounded, the buffers of a long run grow
/// towards the largest frames times the most frames a chunk ever had
/// (hundreds of MiB in a soak with hostile records beside small ones).
pub(crate) fn trim_buffers<'a>(buffers: impl Iterator<Item = &'a mut Vec<u8>>, keep: usize) {
    let mut kept = 0;
    for buffer in buffers {
        if kept + buffer.capacity() > keep {
            *buffer = Vec::new();
        } else {
            kept += buffer.capacity();
        }
    }
}

/// Sleeps `wait`, or less when the engine is told to stop; whether it was.
pub(crate) fn wait_unless_stopping(shared: &Shared, wait: Duration) -> bool {
    let until = std::time::Instant::now() + wait;
    while std::time::Instant::now() < until {
        if shared.stop.load(Ordering::Acquire) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(std::time::Instant::now())));
    }
    shared.stop.load(Ordering::Acquire)
}

impl Shared {
    fn take_system_alerts(&self) -> Vec<Vec<u8>> {
        self.system_alerts.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

/// What needs attention now, by the part of the pipeline it concerns: a
/// part that stopped and retries (detection, indexing), or a failure that
/// did not stop one (a checkpoint, retention). A part's trouble is
/// resolved when it works again; the status shows what is left.
#[derive(Default)]
pub(crate) struct Troubles {
    parts: Mutex<BTreeMap<&'static str, Trouble>>,
    /// How many parts are stopped; every ingest call reads it.
    stopped: AtomicUsize,
}

struct Trouble {
    why: String,
    stopped: bool,
}

impl Troubles {
    /// Records `part`'s trouble (replacing an earlier one) and logs it.
    pub(crate) fn report(&self, part: &'static str, why: String, stopped: bool) {
        tracing::error!(part, problem = %why, stopped, "the pipeline needs attention");
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = parts.insert(part, Trouble { why, stopped })
            && old.stopped
        {
            self.stopped.fetch_sub(1, Ordering::AcqRel);
        }
        if stopped {
            self.stopped.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// `part` works again.
    pub(crate) fn resolve(&self, part: &'static str) {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = parts.remove(part) {
            tracing::info!(part, "the pipeline part works again");
            if old.stopped {
                self.stopped.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Why a stopped part is stopped, if one is.
    fn stopped(&self) -> Option<String> {
        if self.stopped.load(Ordering::Acquire) == 0 {
            return None;
        }
        let parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.iter().find(|(_, t)| t.stopped).map(|(part, t)| format!("{part} is stopped: {}", t.why))
    }

    fn summary(&self) -> (Option<String>, Vec<&'static str>) {
        let parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        let text = parts.iter().map(|(part, t)| format!("{part}: {}", t.why)).collect::<Vec<_>>().join("; ");
        let stopped = parts.iter().filter(|(_, t)| t.stopped).map(|(part, _)| *part).collect();
        (Some(text).filter(|t| !t.is_empty()), stopped)
    }
}

/// The running pipeline.
pub struct Engine {
    wal: Wal,
    shared: Arc<Shared>,
    config: EngineConfig,
    thread: Option<JoinHandle<()>>,
    indexer: Option<JoinHandle<()>>,
    store: Option<Arc<eventstore::EventStore>>,
    /// What opening the log found.
    pub recovery: wal::Recovery,
    /// The checkpoint the pipeline started from.
    pub resumed_from: u64,
    /// Held while the engine runs: one process per data directory.
    _lock: std::fs::File,
}

/// Takes the data directory's lock, so a second server or an import cannot
/// write the same log and journals. The OS drops it when the process dies.
fn lock_data_dir(data: &std::path::Path) -> std::io::Result<std::fs::File> {
    let path = data.join("lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::other(format!(
            "{} is in use by another hinomi process (a server or an import)",
            data.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Lowers the calling thread's scheduling priority to the nice value
/// `nice`, where threads have their own (Linux); elsewhere it does nothing,
/// since it would lower the whole process. Detection keeps the default;
/// indexing and searches go below it, so that a burst slows them and not
/// the alerts.
pub fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, nice) {
        tracing::warn!(error = %e, "cannot lower a thread's priority");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Counters for `/api/v1/status` and the logs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub wal_end: u64,
    pub processed: u64,
    /// Log position the last checkpoint covers: the alerts up to it are
    /// what triage may read.
    pub checkpointed: u64,
    pub lag_bytes: u64,
    /// Log position the event store covers, and how far search lags.
    pub indexed: Option<u64>,
    pub index_lag_bytes: Option<u64>,
    pub alerts: u64,
    /// Records processed since the server started (events and dead letters).
    pub records: u64,
    pub errors: u64,
    /// What needs attention, part by part; `None` when all is well.
    pub problem: Option<String>,
    /// Parts that stopped and retry by themselves (`detection`,
    /// `indexing`); while one is, ingest refuses records.
    pub stopped: Vec<&'static str>,
    /// Correlation state: groups held, results, evictions, late events.
    pub correlation: correlate::Stats,
    /// Rules that reached their rate limit, with the matches counted and
    /// not raised.
    pub rate_limited: Vec<RateLimited>,
    /// Bytes of log on disk, and its ceiling.
    pub log_bytes: u64,
    pub max_log_bytes: u64,
    /// Each reader and how far behind it is (see [`Ingest::behind`]).
    pub behind: Vec<Behind>,
    /// Threat-intel indicators events are matched against now.
    pub indicators: usize,
}

impl Engine {
    /// Opens the data directory, repairs the log, cuts the journals back to
    /// the checkpoint and starts the pipeline thread.
    pub fn start(config: EngineConfig, rules: Arc<RuleSet>) -> std::io::Result<Engine> {
        Engine::start_with_alerts(config, rules, None)
    }

    /// [`Engine::start`] with alerts going to `alerts` instead of the
    /// `alerts/` journal (the triage store plugs in here).
    pub fn start_with_alerts(
        config: EngineConfig,
        rules: Arc<RuleSet>,
        alerts: Option<Box<dyn AlertSink>>,
    ) -> std::io::Result<Engine> {
        std::fs::create_dir_all(&config.data)?;
        let lock = lock_data_dir(&config.data)?;
        let checkpoint = Checkpoint::load(&config.data.join("checkpoint.json"))?;
        let mut journals = pipeline::Journals::open(&config.data, &checkpoint)?;
        if let Some(sink) = alerts {
            journals.alerts = sink;
        }
        let mut wal_config = WalConfig::new(config.data.join("wal"));
        wal_config.sync = config.wal_sync;
        let (wal, recovery) = Wal::open(wal_config)?;
        let (store, writer) = match &config.store {
            Some(settings) => {
                let store = eventstore::EventStore::open(settings.config.clone())?;
                let writer = eventstore::StoreWriter::new(store.clone())?;
                (Some(store), Some(writer))
            }
            None => (None, None),
        };
        let indexed = writer.as_ref().map_or(u64::MAX, eventstore::StoreWriter::position);
        let shared = Arc::new(Shared {
            processed: AtomicU64::new(checkpoint.wal),
            checkpointed: AtomicU64::new(checkpoint.wal),
            indexed: AtomicU64::new(indexed),
            stop: AtomicBool::new(false),
            alerts: AtomicU64::new(0),
            records: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            health: Health::default(),
            system_alerts: Mutex::new(Vec::new()),
            troubles: Troubles::default(),
            correlation: Mutex::new(correlate::Stats::default()),
            rate_limited: throttle::Suppressed::default(),
            backlog: Backlog::default(),
            index_backlog: Backlog::default(),
            consumers: RwLock::new(Vec::new()),
            disabled: RwLock::new(
                config.disabled_rules.iter().map(|(t, ids)| (t.clone(), Arc::new(ids.clone()))).collect(),
            ),
            intel: RwLock::new(config.intel.clone()),
            observables: intel::observe::Fields::default(),
        });
        let thread = {
            let (config, wal, shared) = (config.clone(), wal.clone(), shared.clone());
            std::thread::Builder::new()
                .name("pipeline".into())
                .spawn(move || pipeline::supervise(config, wal, rules, shared, journals))?
        };
        let indexer = match (config.store.clone(), store.clone(), writer) {
            (Some(settings), Some(store), Some(writer)) => {
                let (config, wal, shared) = (config.clone(), wal.clone(), shared.clone());
                Some(
                    std::thread::Builder::new()
                        .name("indexer".into())
                        .spawn(move || indexer::run(config, settings, store, writer, wal, shared))?,
                )
            }
            _ => None,
        };
        Ok(Engine {
            wal,
            shared,
            config,
            thread: Some(thread),
            indexer,
            store,
            recovery,
            resumed_from: checkpoint.wal,
            _lock: lock,
        })
    }

    pub fn ingest(&self) -> Ingest {
        Ingest {
            wal: self.wal.clone(),
            shared: self.shared.clone(),
            max_lag: self.config.max_lag_bytes,
            max_log: self.config.max_log_bytes,
        }
    }

    pub fn health(&self) -> &Health {
        &self.shared.health
    }

    pub fn status(&self) -> Status {
        self.ingest().status()
    }

    /// The event store, when one is configured.
    pub fn store(&self) -> Option<&Arc<eventstore::EventStore>> {
        self.store.as_ref()
    }

    /// Waits until the event store has committed everything in the log,
    /// up to `timeout` (tests, and `import` into a data directory).
    pub fn drain_index(&self, timeout: Duration) -> bool {
        if self.store.is_none() {
            return true;
        }
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if self.shared.indexed.load(Ordering::Acquire) >= self.wal.end() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Raises a source-health alert for every source that went silent.
    pub fn check_silence(&self, now: Timestamp) -> Vec<Silence> {
        let silent = self.shared.health.newly_silent(now);
        for s in &silent {
            let title = format!("source {} has sent nothing for over {}s", s.source, s.limit.as_secs());
            let alert = output::Alert {
                id: format!("health.{}.{}.{}", s.tenant, s.source, now.as_second()),
                kind: "source_health",
                event_id: None,
                timestamp: now,
                received: None,
                detected: now,
                tenant: &s.tenant,
                source: &s.source,
                level: "high",
                title: &title,
                rule: None,
                indicator: None,
                origin: None,
            };
            if let (Ok(line), Ok(mut queue)) = (serde_json::to_vec(&alert), self.shared.system_alerts.lock()) {
                queue.push(line);
            }
        }
        silent
    }

    /// Waits until the pipeline has written out everything in the log (for
    /// tests and orderly shutdown), up to `timeout`.
    pub fn drain(&self, timeout: Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if self.shared.processed.load(Ordering::Acquire) >= self.wal.end() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Stops the pipeline after a last checkpoint.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.indexer.take() {
            let _ = t.join();
        }
        // Every reader is past the log's end (a finished import, a server
        // stopped when idle): the whole log can go, not all but its
        // current segment.
        let end = self.wal.end();
        let consumed =
            self.shared.checkpointed.load(Ordering::Acquire).min(self.shared.indexed.load(Ordering::Acquire));
        if self.config.seal_on_stop && end > 0 && consumed >= end {
            match self.wal.seal() {
                Ok(()) => trim_log(&self.wal, &self.shared),
                Err(e) => tracing::warn!(error = %e, "ending the log's segment failed; it stays until the next start"),
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why records were not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The pipeline is behind; try again later.
    Busy,
    /// A part of the pipeline stopped (a full disk, no file descriptors)
    /// and retries by itself; records are refused meanwhile rather than
    /// piled up where they cannot be processed.
    Stopped(String),
    /// The log could not be written; none of the records was stored.
    Failed(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Busy => f.write_str("the pipeline is behind; retry later"),
            Refused::Stopped(why) => write!(f, "{why}; retry later"),
            Refused::Failed(e) => f.write_str(e),
        }
    }
}

/// Hands records to the log; cheap to clone, one per listener or request.
#[derive(Clone)]
pub struct Ingest {
    wal: Wal,
    shared: Arc<Shared>,
    max_lag: u64,
    max_log: u64,
}

impl Ingest {
    /// Whether the pipeline is behind: some tenants' records are refused.
    pub fn busy(&self) -> bool {
        self.lag() > self.max_lag
            || self.index_lag() > self.max_lag.saturating_mul(INDEX_LAG)
            || self.consumer_behind()
            || self.wal.size() >= self.max_log
    }

    /// Counts `name`'s lag (bytes it has yet to read of what the engine
    /// wrote, published by it in `lag`) in back-pressure: past `max`
    /// everyone is refused, as when detection is behind.
    pub fn watch(&self, name: &str, lag: Arc<AtomicU64>, max: u64) {
        if let Ok(mut consumers) = self.shared.consumers.write() {
            consumers.retain(|c| c.name != name);
            consumers.push(Consumer { name: name.to_string(), lag, max });
        }
    }

    fn consumer_behind(&self) -> bool {
        self.shared.consumers.read().is_ok_and(|cs| cs.iter().any(|c| c.lag.load(Ordering::Acquire) > c.max))
    }

    /// Every reader of the log and of its outputs with how far behind it
    /// is: detection, indexing (with a store) and those [`Ingest::watch`]es.
    pub fn behind(&self) -> Vec<Behind> {
        let mut out = vec![Behind { name: "detection".into(), lag_bytes: self.lag(), max_bytes: self.max_lag }];
        if self.shared.indexed.load(Ordering::Acquire) != u64::MAX {
            out.push(Behind {
                name: "indexing".into(),
                lag_bytes: self.index_lag(),
                max_bytes: self.max_lag.saturating_mul(INDEX_LAG),
            });
        }
        if let Ok(cs) = self.shared.consumers.read() {
            out.extend(cs.iter().map(|c| Behind {
                name: c.name.clone(),
                lag_bytes: c.lag.load(Ordering::Acquire),
                max_bytes: c.max,
            }));
        }
        out
    }

    /// Whether `tenant`'s new records would be refused now: the pipeline is
    /// an eighth of its limit behind and the tenant holds its share of the
    /// backlog, or the pipeline is at its limit (then everyone waits). A
    /// flooding tenant is so held to a small backlog, and another tenant's
    /// records wait behind little: the log is one queue.
    pub fn busy_for(&self, tenant: &str) -> bool {
        self.refusal(tenant).is_some()
    }

    /// Why `tenant`'s records would be refused now (see
    /// [`Ingest::busy_for`]): also while a part of the pipeline is stopped.
    pub fn refusal(&self, tenant: &str) -> Option<Refused> {
        if let Some(why) = self.shared.troubles.stopped() {
            return Some(Refused::Stopped(why));
        }
        let log = self.wal.size();
        if log >= self.max_log {
            let slowest = self
                .behind()
                .into_iter()
                .max_by_key(|b| b.lag_bytes)
                .map_or_else(|| "a reader".to_string(), |b| format!("{} ({} bytes behind)", b.name, b.lag_bytes));
            return Some(Refused::Stopped(format!(
                "the write-ahead log is at its ceiling ({log} of {} bytes) until {slowest} lets segments go",
                self.max_log
            )));
        }
        let lag = self.lag();
        // Indexing likewise, with more room: it commits every few seconds,
        // so it is a commit's worth of records behind at full speed.
        let (index_lag, max_index_lag) = (self.index_lag(), self.max_lag.saturating_mul(INDEX_LAG));
        let busy = lag > self.max_lag
            || (lag > self.max_lag / 8 && self.shared.backlog.at_least_its_share(tenant))
            || index_lag > max_index_lag
            || (index_lag > max_index_lag / 2 && self.shared.index_backlog.at_least_its_share(tenant))
            || self.consumer_behind();
        busy.then_some(Refused::Busy)
    }

    /// Switches `tenant`'s rules `ids` off (and every other on): from the
    /// next chunk the pipeline processes, their matches raise nothing.
    pub fn set_disabled_rules(&self, tenant: &str, ids: HashSet<String>) {
        if let Ok(mut map) = self.shared.disabled.write() {
            if ids.is_empty() {
                map.remove(tenant);
            } else {
                map.insert(tenant.to_string(), Arc::new(ids));
            }
        }
    }

    /// Matches events against `set` from the next chunk the pipeline
    /// processes on.
    pub fn set_intel(&self, set: Arc<intel::Set>) {
        if let Ok(mut current) = self.shared.intel.write() {
            *current = set;
        }
    }

    /// `tenant`'s rules that reached their rate limit, with the matches
    /// counted and not raised.
    pub fn rate_limited(&self, tenant: &str) -> Vec<RateLimited> {
        self.shared.rate_limited.list(Some(tenant))
    }

    /// Why processing is paused (a part of the pipeline stopped and
    /// retries by itself), if it is.
    pub fn paused(&self) -> Option<String> {
        self.shared.troubles.stopped()
    }

    fn lag(&self) -> u64 {
        self.wal.end().saturating_sub(self.shared.processed.load(Ordering::Acquire))
    }

    /// How far indexing is behind the log (0 without an event store): the
    /// log keeps what the indexer has not read, so this much of the disk
    /// is waiting for it.
    fn index_lag(&self) -> u64 {
        self.wal.end().saturating_sub(self.shared.indexed.load(Ordering::Acquire))
    }

    /// Writes `batch` to the log and returns once it is durable: then, and
    /// only then, may the sender be told it was accepted.
    pub async fn submit(&self, batch: Batch) -> Result<u64, Refused> {
        let rx = self.start(batch)?;
        rx.await.map_err(|_| Refused::Failed("the write-ahead log stopped".into()))?.map_err(Refused::Failed)
    }

    /// Like [`Ingest::submit`] for several batches, written as one log
    /// transaction: all are stored or none is, also across a crash, so a
    /// sender told "failed" may retry. Returns the position of the last.
    pub async fn submit_all(&self, batches: Vec<Batch>) -> Result<u64, Refused> {
        if let Some(refused) = batches.iter().find_map(|b| self.refusal(&b.tenant)) {
            return Err(refused);
        }
        self.append(batches)
            .await
            .map_err(|_| Refused::Failed("the write-ahead log stopped".into()))?
            .map_err(Refused::Failed)
    }

    /// [`Ingest::submit`] for threads outside the async runtime.
    pub fn submit_blocking(&self, batch: Batch) -> Result<u64, Refused> {
        let rx = self.start(batch)?;
        rx.blocking_recv().map_err(|_| Refused::Failed("the write-ahead log stopped".into()))?.map_err(Refused::Failed)
    }

    fn start(&self, batch: Batch) -> Result<tokio::sync::oneshot::Receiver<Result<u64, String>>, Refused> {
        if let Some(refused) = self.refusal(&batch.tenant) {
            return Err(refused);
        }
        Ok(self.append(vec![batch]))
    }

    /// Queues batches for the log as one transaction; the receiver answers
    /// once they are durable.
    fn append(&self, batches: Vec<Batch>) -> tokio::sync::oneshot::Receiver<Result<u64, String>> {
        let mut payloads = Vec::with_capacity(batches.len());
        // Per batch: tenant, source, records, bytes. The backlog counts the
        // bytes now (the pipeline may read them before the answer); a
        // failed write takes them back, and only a written batch counts as
        // received.
        let mut counts = Vec::with_capacity(batches.len());
        let indexing = self.shared.indexed.load(Ordering::Acquire) != u64::MAX;
        for batch in batches.into_iter().filter(|b| !b.records.is_empty()) {
            let bytes = batch.records.iter().map(|r| r.len() as u64).sum::<u64>();
            self.shared.backlog.add(&batch.tenant, bytes);
            if indexing {
                self.shared.index_backlog.add(&batch.tenant, bytes);
            }
            payloads.push(batch.encode());
            counts.push((batch.tenant, batch.source, batch.records.len() as u64, bytes));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = self.shared.clone();
        self.wal.append_all(
            payloads,
            Box::new(move |r| {
                let now = Timestamp::now();
                for (tenant, source, records, bytes) in &counts {
                    match r {
                        Ok(_) => shared.health.received(tenant, source, *records, *bytes, now),
                        Err(_) => {
                            shared.backlog.done(tenant, *bytes);
                            shared.index_backlog.done(tenant, *bytes);
                        }
                    }
                }
                let _ = tx.send(r);
            }),
        );
        rx
    }

    /// Queues an alert made outside the stream (a retro-hunt finding) for
    /// the alert journal; the journal writer writes it on its next round.
    pub fn raise_alert(&self, line: Vec<u8>) {
        if let Ok(mut queue) = self.shared.system_alerts.lock() {
            queue.push(line);
        }
    }

    /// Counts records refused before the log (UDP datagrams under load).
    pub fn dropped(&self, tenant: &str, source: &str, n: u64) {
        self.shared.health.dropped(tenant, source, n);
    }

    pub fn health(&self) -> &Health {
        &self.shared.health
    }

    pub fn status(&self) -> Status {
        let end = self.wal.end();
        let processed = self.shared.processed.load(Ordering::Acquire);
        let indexed = Some(self.shared.indexed.load(Ordering::Acquire)).filter(|&i| i != u64::MAX);
        let (problem, stopped) = self.shared.troubles.summary();
        Status {
            wal_end: end,
            processed,
            checkpointed: self.shared.checkpointed.load(Ordering::Acquire),
            lag_bytes: end.saturating_sub(processed),
            indexed,
            index_lag_bytes: indexed.map(|i| end.saturating_sub(i)),
            alerts: self.shared.alerts.load(Ordering::Relaxed),
            records: self.shared.records.load(Ordering::Relaxed),
            errors: self.shared.errors.load(Ordering::Relaxed),
            problem,
            stopped,
            correlation: self.shared.correlation.lock().map(|s| *s).unwrap_or_default(),
            rate_limited: self.shared.rate_limited.list(None),
            log_bytes: self.wal.size(),
            max_log_bytes: self.max_log,
            behind: self.behind(),
            indicators: self.shared.intel.read().map_or(0, |set| set.len()),
        }
    }
}

#[cfg(test)]
mod tests;
