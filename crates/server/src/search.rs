//! What searches share, from the API, the console and retro-hunts: one
//! tenant's events over a time window, on the search threads.

use std::time::Duration;

use jiff::Timestamp;

use crate::error::ApiError;

/// A search's scope: one tenant, a window, a deadline.
pub(crate) struct Search {
    pub(crate) tenant: String,
    pub(crate) from: Option<Timestamp>,
    pub(crate) to: Option<Timestamp>,
    /// What relative times in the query are relative to.
    pub(crate) now: Timestamp,
    pub(crate) timeout: Duration,
}

impl Search {
    /// Runs `query` over the tenant's partitions, giving each row to
    /// `each` until it says stop; at most `limit` events without pipes.
    pub(crate) fn run(
        &self,
        store: &eventstore::EventStore,
        query: &query::Query,
        limit: usize,
        each: &mut dyn FnMut(query::Row) -> bool,
    ) -> Result<eventstore::SearchResult, ApiError> {
        let tenants = [self.tenant.clone()];
        let request = eventstore::SearchRequest {
            tenants: &tenants,
            query,
            from: self.from,
            to: self.to,
            now: self.now,
            limit,
            limits: query::Limits::default(),
            timeout: self.timeout,
        };
        store.search_each(&request, &engine::Renormalize, each).map_err(|e| match e {
            eventstore::SearchError::Store(_) => ApiError::Internal(e.to_string()),
            eventstore::SearchError::Timeout(_) => ApiError::Unavailable(e.to_string()),
            eventstore::SearchError::Limit(_) => ApiError::Invalid(e.to_string()),
        })
    }
}

/// Searches' nice value: below detection (0), above indexing (19). Under a
/// burst a search takes longer and ingest keeps its pace; on idle cores a
/// search runs at full speed.
const SEARCH_NICE: i32 = 10;

/// Runs store work for analysts (searches, retro-hunts, the console's
/// search page) on the search threads, whose priority is below detection's;
/// the parallel parts of a search stay on them too.
pub(crate) fn at_search_priority<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("search-{i}"))
            .start_handler(|_| engine::lower_thread_priority(SEARCH_NICE))
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        // No threads to be had: search on the caller's, at its priority.
        None => work(),
    }
}
