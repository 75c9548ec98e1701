//! Reading every stored event a rule set could match, in parallel: the
//! retro-hunt's side of the store.
//!
//! The index narrows by log source: an event is a candidate when one of
//! its log sources is accepted (by the caller's predicate, which knows
//! the rules) or when it has none (rules of every log source are tried on
//! such events, as in the stream). Everything else about matching is left
//! to the caller, who runs the stream's matcher on each candidate.

use std::ops::Bound as StdBound;

use jiff::Timestamp;
use rayon::prelude::*;
use tantivy::collector::Count;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Term};

use crate::plan::presence;
use crate::plan::time_range;
use crate::schema::VALUE;
use crate::search::{MetaColumns, SearchError, Stored};
use crate::{EventStore, Part};

pub struct Scan<'a> {
    pub tenants: &'a [String],
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Whether events of this log source (`product/category/service`)
    /// can match; `None` takes every event.
    pub logsource: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
}

/// Events read per task: consecutive documents share compressed blocks.
const CHUNK: usize = 2048;

impl EventStore {
    fn scan_query(
        &self,
        part: &Part,
        searcher: &tantivy::Searcher,
        scan: &Scan<'_>,
    ) -> Result<Box<dyn Query>, SearchError> {
        let mut query: Box<dyn Query> = Box::new(AllQuery);
        if let Some(accept) = scan.logsource {
            let prefix = format!("_logsource{VALUE}");
            let mut terms: Vec<String> = Vec::new();
            for seg in searcher.segment_readers() {
                let index = seg.inverted_index(part.fields.f)?;
                let mut stream = index.terms().range().ge(prefix.as_bytes()).into_stream()?;
                while stream.advance() {
                    let Some(rest) = stream.key().strip_prefix(prefix.as_bytes()) else { break };
                    let name = String::from_utf8_lossy(rest).into_owned();
                    if !terms.contains(&name) {
                        terms.push(name);
                    }
                }
            }
            if !terms.iter().all(|t| accept(t)) {
                let term = |text: String| -> Box<dyn Query> {
                    Box::new(TermQuery::new(Term::from_field_text(part.fields.f, &text), IndexRecordOption::Basic))
                };
                let shapes = part.shapes(searcher)?;
                let none = BooleanQuery::new(vec![
                    (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                    (Occur::MustNot, presence(&part.fields, &shapes, "_logsource")),
                ]);
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, Box::new(none))];
                for t in terms.into_iter().filter(|t| accept(t)) {
                    clauses.push((Occur::Should, term(format!("{prefix}{t}"))));
                }
                query = Box::new(BooleanQuery::new(clauses));
            }
        }
        if scan.from.is_some() || scan.to.is_some() {
            let lo = scan.from.map_or(StdBound::Unbounded, StdBound::Included);
            let hi = scan.to.map_or(StdBound::Unbounded, StdBound::Excluded);
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (Occur::Must, time_range(part.fields.ts, lo, hi)),
            ]));
        }
        Ok(query)
    }

    fn scan_parts(&self, scan: &Scan<'_>) -> Result<Vec<std::sync::Arc<Part>>, SearchError> {
        let lo = scan.from.map(crate::day_of);
        let hi = scan.to.map(crate::day_of);
        let mut parts = Vec::new();
        for tenant in scan.tenants {
            for key in self.keys(Some(tenant)) {
                if lo.is_some_and(|lo| key.day < lo) || hi.is_some_and(|hi| key.day > hi) {
                    continue;
                }
                if let Some(p) = self.part(&key, false)? {
                    parts.push(p);
                }
            }
        }
        Ok(parts)
    }

    /// How many events [`EventStore::scan`] would read.
    pub fn scan_count(&self, scan: &Scan<'_>) -> Result<u64, SearchError> {
        let mut n = 0;
        for part in self.scan_parts(scan)? {
            let searcher = part.reader.searcher();
            let q = self.scan_query(&part, &searcher, scan)?;
            n += searcher.search(&*q, &Count)? as u64;
        }
        Ok(n)
    }

    /// Calls `each` with every candidate event, a chunk at a time, from
    /// several threads; `progress` with the number read so far.
    pub fn scan(
        &self,
        scan: &Scan<'_>,
        each: &(dyn Fn(Vec<Stored>) + Sync),
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, SearchError> {
        let done = std::sync::atomic::AtomicU64::new(0);
        for part in self.scan_parts(scan)? {
            let searcher = part.reader.searcher();
            let q = self.scan_query(&part, &searcher, scan)?;
            let mut docs: Vec<DocAddress> =
                searcher.search(&*q, &tantivy::collector::DocSetCollector)?.into_iter().collect();
            docs.sort_unstable();
            docs.par_chunks(CHUNK).try_for_each(|chunk| -> Result<(), SearchError> {
                // One store reader per task: its block cache is not shared.
                let mut readers = std::collections::HashMap::new();
                let mut stored = Vec::with_capacity(chunk.len());
                for addr in chunk {
                    let (reader, columns) = match readers.entry(addr.segment_ord) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            let seg = searcher.segment_reader(addr.segment_ord);
                            e.insert((seg.get_store_reader(4)?, MetaColumns::open(seg)?))
                        }
                    };
                    stored.push(columns.stored(&part, reader.get(addr.doc_id)?, addr.doc_id)?);
                }
                each(stored);
                let n = done.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed) + chunk.len() as u64;
                progress(n);
                Ok(())
            })?;
        }
        Ok(done.into_inner())
    }
}
