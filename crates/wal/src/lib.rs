//! What makes Hinomi's ingest durable, and nothing else.
//!
//! - [`wal`]: the write-ahead log. A batch of received records is appended
//!   and synced before its sender is acknowledged; group commit makes one
//!   sync serve every waiting sender.
//! - [`Batch`]: the payload of one log frame.
//! - [`Journal`]: append-only JSON-lines outputs (events, alerts, dead
//!   letters) that are cut back to the [`Checkpoint`] on start, so that
//!   replaying the log never writes anything twice.
//!
//! It does not parse records, run rules, keep SOC state (that is the
//! `state` crate) or speak any network protocol; the engine decides what
//! to write and when to checkpoint.

mod batch;
mod checkpoint;
mod journal;
mod log;

pub use crate::batch::Batch;
pub use crate::checkpoint::Checkpoint;
pub use crate::journal::{Journal, JournalIndex, JournalPos, bytes_between, read_lines, read_range};
pub use crate::log::{Done, Recovery, Wal, WalConfig, WalReader};

#[cfg(test)]
mod tests;
