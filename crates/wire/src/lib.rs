//! Ingest protocols to records.
//!
//! Each module takes the bytes one protocol delivers and cuts them into
//! records (one log line or one JSON document each) for the write-ahead log:
//! [`framing`] for syslog streams (LF or RFC 6587 octet counting),
//! [`bulk`] for Elasticsearch `_bulk` bodies, [`hec`] for Splunk HEC event
//! and raw bodies, [`otlp`] for OTLP log exports (protobuf and JSON),
//! [`envelope`] for JSON values that carry many records (CloudTrail);
//! [`form`] decodes the console's HTML form bodies.
//!
//! It does no IO and reads no clock; sockets, HTTP and authentication live
//! in the `hinomi` binary, and the records are parsed later by `normalize`.
//! Every function here takes untrusted input and is fuzzed.

pub mod bulk;
pub mod envelope;
pub mod form;
pub mod framing;
pub mod hec;
pub mod otlp;

/// Bytes as text: records are stored as UTF-8, and devices that send
/// Latin-1 or broken bytes get U+FFFD instead of a refusal.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
