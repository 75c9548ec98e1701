//! Everything Hinomi keeps on disk, and nothing else.
//!
//! - [`wal`]: the write-ahead log. A batch of received records is appended
//!   and synced before its sender is acknowledged; group commit makes one
//!   sync serve every waiting sender.
//! - [`Batch`]: the payload of one log frame.
//! - [`Journal`]: append-only JSON-lines outputs (events, alerts, dead
//!   letters) that are cut back to the [`Checkpoint`] on start, so that
//!   replaying the log never writes anything twice.
//! - [`tokens`]: API and ingest tokens, stored as hashes.
//! - [`state`]: SOC state (alerts, incidents, cases, assets, SLA policies,
//!   suppressions, risk) in SQLite or PostgreSQL.
//!
//! It does not parse records, run rules or speak any network protocol; the
//! engine decides what to write and when to checkpoint.

mod batch;
mod checkpoint;
mod journal;
pub mod password;
pub mod state;
pub mod tokens;
pub mod wal;

pub use crate::batch::Batch;
pub use crate::checkpoint::Checkpoint;
pub use crate::journal::{Journal, JournalPos, read_lines, read_range};
pub use crate::wal::{Recovery, Wal, WalConfig, WalReader};

#[cfg(test)]
mod tests;
