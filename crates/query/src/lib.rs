//! Hinomi's search language: what an analyst types into the search box,
//! parsed ([`parse`]), and its exact meaning ([`Filter::matches`],
//! [`pipes::run`]).
//!
//! A query is a filter in the shape analysts know from Lucene and Splunk
//! (`user.name:alice AND NOT source.ip:10.0.0.0/8 "failed password"`)
//! followed by pipes (`| stats count() by host.name | sort -count() |
//! head 5`). The language is documented in `docs/search.md`.
//!
//! This crate is pure: no IO, no clock (callers pass `now`), no index.
//! The store uses the index only to find candidates and asks this crate
//! whether each one matches, so the index never changes what a query
//! means. [`tokens`] is the one definition of a word, shared by the index
//! and the evaluator.

mod ast;
mod eval;
#[cfg(any(test, feature = "golden"))]
pub mod golden;
mod parse;
pub mod pipes;
pub mod tokens;

pub use ast::*;
pub use eval::{Document, Record, compare, value_time};
pub use parse::{MAX_QUERY, ParseError, parse, parse_time, time_arg};
pub use pipes::{LimitError, Limits, Row, Stats};

#[cfg(test)]
mod tests;
