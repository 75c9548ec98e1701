//! Shapes: what events of one kind share, indexed once per event instead of
//! once per part.
//!
//! Events of one kind (a Sysmon process creation, a firewall session) have
//! the same field names and, when the raw record is a JSON object, the
//! same keys. Indexed one by one, each name and each key word costs a
//! posting in nearly every event: about half of the postings of a store.
//! Instead an event gets two terms in `f`:
//!
//! - `\x1cp` + its field names, sorted, joined by `\x1f` (the names that
//!   have a value, as presence terms would say);
//! - `\x1ck` + the words of its raw JSON keys, sorted, joined by `\x1f`.
//!
//! A store holds a few hundred distinct shapes, so a query reads them all
//! from the term dictionary and turns "field `x` is present" or "the word
//! `w` occurs in a key" into the shapes that say so. Words of keys are then
//! left out of `text`: every word of the raw record is either in `text` or
//! in the event's key shape, which is all a search needs to stay exact.
//!
//! When a shape would be too long, or a writer has seen too many distinct
//! shapes (records with free-form keys), the event falls back to one term
//! per name and per word, and searches always look at both.

use std::collections::HashSet;
use std::sync::Mutex;

use query::Pattern;
use tantivy::Searcher;
use tantivy::schema::Field;

pub(crate) const SHAPE: char = '\u{1c}';
const NAMES: char = 'p';
const KEYS: char = 'k';
const SEP: char = '\u{1f}';

/// Longest shape term; longer ones fall back to single terms.
const MAX_SHAPE: usize = 4096;
/// Distinct shapes one writer creates before it falls back to single terms.
const MAX_SHAPES: usize = 10_000;

/// The shapes a writer has created, to bound how many there are; shared
/// by the threads that build documents.
#[derive(Default)]
pub(crate) struct Shapes {
    seen: Mutex<HashSet<String>>,
}

impl Shapes {
    /// The shape term for these field names, or `None` to fall back.
    pub(crate) fn names(&self, names: &mut Vec<&str>) -> Option<String> {
        self.term(NAMES, names)
    }

    /// The shape term for these key words, or `None` to fall back.
    pub(crate) fn keys(&self, words: &mut Vec<&str>) -> Option<String> {
        self.term(KEYS, words)
    }

    fn term(&self, kind: char, items: &mut Vec<&str>) -> Option<String> {
        items.sort_unstable();
        items.dedup();
        let mut term = String::with_capacity(2 + items.iter().map(|i| i.len() + 1).sum::<usize>());
        term.push(SHAPE);
        term.push(kind);
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                term.push(SEP);
            }
            term.push_str(item);
        }
        if term.len() > MAX_SHAPE {
            return None;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.contains(&term) {
            if seen.len() >= MAX_SHAPES {
                return None;
            }
            seen.insert(term.clone());
        }
        Some(term)
    }
}

/// The shapes of a partition, read from its term dictionaries.
#[derive(Default)]
pub(crate) struct Known {
    names: Vec<(String, Vec<String>)>,
    keys: Vec<(String, Vec<String>)>,
}

impl Known {
    pub(crate) fn read(searcher: &Searcher, f: Field) -> tantivy::Result<Known> {
        let mut seen = HashSet::new();
        let mut known = Known::default();
        let start = SHAPE.to_string();
        let end = char::from_u32(SHAPE as u32 + 1).unwrap_or(SHAPE).to_string();
        for seg in searcher.segment_readers() {
            let index = seg.inverted_index(f)?;
            let mut stream = index.terms().range().ge(start.as_bytes()).lt(end.as_bytes()).into_stream()?;
            while stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else { continue };
                if !seen.insert(term.to_string()) {
                    continue;
                }
                let mut chars = term.chars();
                chars.next();
                let kind = chars.next();
                let items = chars.as_str().split(SEP).map(str::to_string).collect();
                match kind {
                    Some(NAMES) => known.names.push((term.to_string(), items)),
                    Some(KEYS) => known.keys.push((term.to_string(), items)),
                    _ => {}
                }
            }
        }
        Ok(known)
    }

    /// Shape terms of events that have field `name`.
    pub(crate) fn with_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.names.iter().filter(move |(_, names)| names.iter().any(|n| n == name)).map(|(t, _)| t.as_str())
    }

    /// Shape terms of events with a key word that `p` matches.
    pub(crate) fn with_key_word<'a>(&'a self, p: &'a Pattern) -> impl Iterator<Item = &'a str> + 'a {
        self.keys.iter().filter(move |(_, words)| words.iter().any(|w| p.matches_lower(w))).map(|(t, _)| t.as_str())
    }
}
