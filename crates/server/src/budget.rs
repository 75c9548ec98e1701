//! Connection budgets: how many connections the process holds, and how
//! many of them one client address may take.
//!
//! Every stream listener (HTTP, HTTPS, syslog TCP and TLS) admits a new
//! connection only with a [`Slot`] of one shared [`Budget`]; a connection
//! refused is closed at once, before anything is read. The total is kept
//! below the process's descriptor limit with room to spare, so the
//! write-ahead log, the journals and the event store can always open
//! their files: a flood of connections is refused at the door instead of
//! failing the log ("too many open files") behind it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The shared budget.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    per_address: usize,
    open: Mutex<Open>,
    /// Connections refused since start, for `/api/v1/status`.
    pub(crate) refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Slot {
    budget: Arc<Budget>,
    address: IpAddr,
}

impl Budget {
    pub(crate) fn new(limit: usize, per_address: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit: limit.max(1),
            per_address: per_address.max(1),
            open: Mutex::new(Open::default()),
            refused: AtomicU64::new(0),
        })
    }

    /// A place for a connection from `address`, or `None` (the caller
    /// closes it) when the process or that address is at its limit.
    pub(crate) fn admit(self: &Arc<Budget>, address: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mine = open.by_address.get(&address).copied().unwrap_or(0);
        if open.total >= self.limit || mine >= self.per_address {
            drop(open);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        open.total += 1;
        open.by_address.insert(address, mine + 1);
        Some(Slot { budget: self.clone(), address })
    }

    pub(crate) fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.budget.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// Descriptors kept for the process's own files whatever the clients do:
/// log segments, journals, the event store's segments, the state store.
const RESERVED: u64 = 512;

/// How many connections the descriptor limit allows, at most `wanted`.
/// Raises the soft limit to the hard one first (what the operator allows
/// the process); keeps a quarter of it, and at least [`RESERVED`], free.
pub(crate) fn connection_limit(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current.is_some_and(|soft| soft < hard)
    {
        limit.current = Some(hard);
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "raising the open-file limit to its hard limit failed");
        }
    }
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let spare = RESERVED.max(soft / 4);
    let allowed = usize::try_from(soft.saturating_sub(spare)).unwrap_or(usize::MAX).max(16);
    if allowed < wanted {
        tracing::warn!(
            open_files = soft,
            connections = allowed,
            "the open-file limit caps connections below [connections] max"
        );
    }
    allowed.min(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_cannot_take_the_others_places() {
        let budget = Budget::new(4, 2);
        let (a, b) = (IpAddr::from([127, 0, 0, 2]), IpAddr::from([127, 0, 0, 1]));
        let held: Vec<Slot> = (0..2).filter_map(|_| budget.admit(a)).collect();
        assert_eq!(held.len(), 2);
        assert!(budget.admit(a).is_none(), "a third from one address");
        let others: Vec<Slot> = (0..3).filter_map(|_| budget.admit(b)).collect();
        assert_eq!(others.len(), 2);
        assert_eq!(budget.open(), 4);
        drop(held);
        assert_eq!(budget.open(), 2);
        assert!(budget.admit(a).is_some());
        assert_eq!(budget.refused.load(Ordering::Relaxed), 2);
    }
}
