//! What every request works with: the engine's ingest handle, the stores,
//! the rules, the token file and the limits, built once from the settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use engine::Ingest;
use eventstore::EventStore;
use state::State;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wal::JournalIndex;

use crate::auth::Tokens;
use crate::budget::{Budget, connection_limit};
use crate::config::Config;
use crate::console::Console;
use crate::error::ApiError;

/// Searches that may run at once: each may use a core for its timeout.
const MAX_SEARCHES: usize = 4;

/// Journal listings (`/api/v1/detections`, `/api/v1/deadletter`) that may
/// run at once; more get 429. Each reads up to [`MAX_LISTED_BYTES`].
const MAX_LISTINGS: usize = 4;

/// Bytes of lines one listing answers at most: the newest lines that fit,
/// marked `truncated` when older ones were left out.
pub(crate) const MAX_LISTED_BYTES: usize = 16 << 20;

/// `[http] max_inflight` in KiB, at least `max_body`.
fn inflight_kib(config: &Config) -> u32 {
    let bytes = config.http.max_inflight.0.max(config.http.max_body.0);
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).min(Semaphore::MAX_PERMITS as u32)
}

/// Ingest requests buffered at once; more wait, then get "busy". With the
/// body limit this bounds the memory request bodies can take.
const MAX_BODIES: usize = 32;

/// The server's shared state.
pub struct App {
    pub(crate) ingest: Ingest,
    pub(crate) tokens: Tokens,
    pub(crate) data: PathBuf,
    /// Largest request body, after decompression.
    pub(crate) max_body: usize,
    /// Ingest requests whose bodies may be in memory at once.
    pub(crate) bodies: Arc<Semaphore>,
    /// The same, per tenant: a quarter of the whole each, so a tenant whose
    /// senders are slow (or hostile) cannot take the others' turns.
    tenant_bodies: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Room for ingest bodies, in KiB, over all requests.
    pub(crate) inflight: Arc<Semaphore>,
    pub(crate) inflight_kib: u32,
    /// How long an ingest body may take to arrive.
    pub(crate) body_timeout: Duration,
    /// Connections, over every stream listener.
    pub(crate) budget: Arc<Budget>,
    pub(crate) store: Option<Arc<EventStore>>,
    /// The rules the stream runs (a retro-hunt's default, the rules page).
    pub(crate) rules: Arc<sigma::RuleSet>,
    pub(crate) search_timeout: Duration,
    /// Searches running at once; more get 429.
    pub(crate) searches: Arc<Semaphore>,
    /// Journal listings running at once; more get 429.
    listings: Arc<Semaphore>,
    /// The SOC state store (alerts, incidents, users); `None` with triage off.
    pub(crate) soc: Option<Arc<State>>,
    pub(crate) console: Console,
    /// The alert and dead-letter journals, indexed by tenant.
    alerts: Mutex<JournalIndex>,
    dead_letters: Mutex<JournalIndex>,
    /// Tenants' display names and which are switched off, as the state
    /// store says: reloaded on every change here and at every health check,
    /// so a change made by another process sharing the store takes hold
    /// within seconds.
    tenants: RwLock<Arc<HashMap<String, state::Tenant>>>,
    /// The playbook responder, once serve has started it (runs by hand,
    /// dry runs and rollbacks go through it).
    pub(crate) responder: std::sync::OnceLock<Arc<crate::respond::Responder>>,
    /// The on-call rotas (the response page shows who is on call).
    pub(crate) rotas: Vec<notify::Rota>,
    /// The notification channels' names (tenants' routes may name them).
    pub(crate) channels: Vec<String>,
}

/// A journal the API lists from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Listed {
    Detections,
    DeadLetters,
}

/// Lines of one tenant a listing goes back at most.
pub(crate) const MAX_LISTED: usize = 100_000;

impl App {
    /// The state for a server on `data`, with the engine's ingest handle
    /// and event store, the rules it runs and the SOC state store.
    pub fn new(
        config: &Config,
        data: &Path,
        ingest: Ingest,
        store: Option<Arc<EventStore>>,
        rules: Arc<sigma::RuleSet>,
        soc: Option<Arc<State>>,
    ) -> App {
        App {
            ingest,
            tokens: Tokens::new(data.to_path_buf()),
            data: data.to_path_buf(),
            max_body: usize::try_from(config.http.max_body.0).unwrap_or(usize::MAX),
            bodies: Arc::new(Semaphore::new(MAX_BODIES)),
            tenant_bodies: Mutex::new(HashMap::new()),
            inflight: Arc::new(Semaphore::new(inflight_kib(config) as usize)),
            inflight_kib: inflight_kib(config),
            body_timeout: config.connections.body_timeout.0,
            budget: Budget::new(connection_limit(config.connections.max), config.connections.per_address),
            store,
            rules,
            search_timeout: config.store.search_timeout.0.max(Duration::from_secs(1)),
            searches: Arc::new(Semaphore::new(MAX_SEARCHES)),
            listings: Arc::new(Semaphore::new(MAX_LISTINGS)),
            soc,
            console: Console::new(&config.console, config.http.tls),
            alerts: Mutex::new(JournalIndex::new(data.join("alerts"), MAX_LISTED)),
            dead_letters: Mutex::new(JournalIndex::new(data.join("deadletter"), MAX_LISTED)),
            tenants: RwLock::new(Arc::new(HashMap::new())),
            responder: std::sync::OnceLock::new(),
            // Checked when the configuration was read.
            rotas: config.notify.rotas().unwrap_or_default(),
            channels: config.notify.channels.iter().map(|c| c.name.clone()).collect(),
        }
    }

    /// Reads the tenants' settings from the state store again. Blocking.
    pub(crate) fn reload_tenants(&self) -> Result<(), ApiError> {
        let Some(soc) = &self.soc else { return Ok(()) };
        let all = soc.tenants()?.into_iter().map(|t| (t.name.clone(), t)).collect();
        *self.tenants.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(all);
        Ok(())
    }

    /// `name`'s settings, if it has any beyond its name.
    pub(crate) fn tenant(&self, name: &str) -> Option<state::Tenant> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// What people see for tenant `name`.
    pub(crate) fn display_name(&self, name: &str) -> String {
        self.tenant(name).map_or_else(|| name.to_string(), |t| t.display)
    }

    /// KiB of the in-flight room a body of `announced` bytes takes: what
    /// it will hold once read. Unknown lengths take room for the largest
    /// body; gzip for what it may expand to (8 times, at most `max_body`).
    pub(crate) fn room_for(&self, announced: Option<u64>, gzip: bool) -> u32 {
        let max = self.max_body as u64;
        let bytes = match announced {
            None => max,
            Some(n) if gzip => n.saturating_mul(8).min(max),
            Some(n) => n.min(max),
        };
        u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, self.inflight_kib)
    }

    /// `tenant`'s share of the body slots.
    pub(crate) fn tenant_bodies(&self, tenant: &str) -> Arc<Semaphore> {
        let mut map = self.tenant_bodies.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(tenant.to_string()).or_insert_with(|| Arc::new(Semaphore::new(MAX_BODIES / 4))).clone()
    }

    /// The newest `limit` lines of `tenant` in a journal that fit in
    /// `max_bytes`, oldest first, and whether older ones were left out for
    /// the bytes: the index reads only what was written since it last
    /// looked. Blocking: call it off the async threads.
    pub(crate) fn newest(
        &self,
        journal: Listed,
        tenant: &str,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<String>, bool), ApiError> {
        let (index, name) = match journal {
            Listed::Detections => (&self.alerts, "alerts"),
            Listed::DeadLetters => (&self.dead_letters, "deadletter"),
        };
        let failed = |e: std::io::Error| ApiError::Internal(format!("reading the {journal:?} journal: {e}"));
        // Only what the checkpoint covers: the lines after it may be cut
        // and written again when the pipeline recovers from a failed write.
        let checkpoint = wal::Checkpoint::load(&self.data.join("checkpoint.json")).map_err(failed)?;
        let to = checkpoint.journals.get(name).copied().unwrap_or_default();
        let mut index = index.lock().map_err(|_| ApiError::Internal("a journal index lock was poisoned".into()))?;
        index.refresh(to, tenant_of).map_err(failed)?;
        index.newest(tenant, limit, max_bytes).map_err(failed)
    }

    /// The state store, or 503 when triage is off.
    pub(crate) fn soc(&self) -> Result<Arc<State>, ApiError> {
        self.soc.clone().ok_or_else(|| ApiError::Unavailable("triage is off ([triage] enabled = false)".into()))
    }

    /// The event store, or 503 when it is off.
    pub(crate) fn store(&self) -> Result<Arc<EventStore>, ApiError> {
        self.store
            .clone()
            .ok_or_else(|| ApiError::Unavailable("the event store is off ([store] enabled = false)".into()))
    }

    /// A slot among the searches that may run at once, or 429.
    pub(crate) fn search_permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.searches
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy("too many searches at once; retry shortly"))
    }

    /// A slot among the journal listings that may run at once, or 429.
    pub(crate) fn listing_permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.listings
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy("too many journal listings at once; retry shortly"))
    }
}

/// The tenant an output line (alert, dead letter) belongs to.
fn tenant_of(line: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Owner {
        tenant: String,
    }
    serde_json::from_str::<Owner>(line).ok().map(|o| o.tenant)
}
