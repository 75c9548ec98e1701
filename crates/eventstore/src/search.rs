//! Running a query over the partitions of some tenants.
//!
//! Partitions are visited newest first; rows reach the pipes newest first.
//! A `stats` or `timechart` that only needs column fields, after an exact
//! filter, reads columns and never opens an event (the fast path). Every
//! other search reads the candidate events, normalizes them again
//! ([`crate::Rebuild`]) and asks the evaluator, so the index never changes
//! what a query means.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Bound as StdBound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use query::pipes::{self, Row};
use query::{LimitError, Limits, Pipe, Query, Record, Stats};
use serde_json::Value as Json;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::{BooleanQuery, Occur};
use tantivy::schema::Value as _;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, TantivyDocument};

use crate::plan::{Plan, Planner, time_range};
use crate::schema::{meta_of, truncate_micros};
use crate::{EventStore, Part, PartKey, Rebuild, day_of};

pub struct SearchRequest<'a> {
    /// The tenants whose events may be read.
    pub tenants: &'a [String],
    pub query: &'a Query,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// What relative times (`-24h`) are relative to.
    pub now: Timestamp,
    /// Events returned by a search without pipes (newest first).
    pub limit: usize,
    pub limits: Limits,
    pub timeout: Duration,
}

#[derive(Debug, Default)]
pub struct SearchResult {
    /// Events (with `_raw`) for a search without pipes, else the pipes'
    /// rows ([`EventStore::search`] only).
    pub rows: Vec<Row>,
    /// Partitions read.
    pub partitions: usize,
    /// Candidate events the index gave.
    pub candidates: u64,
    /// Events read and checked one by one.
    pub checked: u64,
    /// Whether a `stats`/`timechart` was answered from columns.
    pub columns: bool,
}

#[derive(Debug)]
pub enum SearchError {
    Timeout(Duration),
    Limit(LimitError),
    Store(String),
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchError::Timeout(d) => {
                write!(f, "the search ran longer than {d:?}; narrow the time range or the filter")
            }
            SearchError::Limit(e) => write!(f, "{e}"),
            SearchError::Store(e) => write!(f, "reading the event store failed: {e}"),
        }
    }
}

impl std::error::Error for SearchError {}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> SearchError {
        SearchError::Store(e.to_string())
    }
}

impl From<std::io::Error> for SearchError {
    fn from(e: std::io::Error) -> SearchError {
        SearchError::Store(e.to_string())
    }
}

impl From<LimitError> for SearchError {
    fn from(e: LimitError) -> SearchError {
        SearchError::Limit(e)
    }
}

/// A stored event as read back: enough to normalize it again.
#[derive(Debug, Clone)]
pub struct Stored {
    pub tenant: String,
    pub id: String,
    pub timestamp: Timestamp,
    pub received: Timestamp,
    pub source: String,
    pub format: String,
    pub view: Option<String>,
    pub logsource: Vec<String>,
    pub raw: String,
    /// Fields enrichment added (a JSON object), if any.
    pub enriched: Option<String>,
}

impl Stored {
    /// The fields Hinomi adds, as the evaluator sees them.
    pub fn meta(&self) -> Vec<(&'static str, model::Value)> {
        meta_of(
            &self.tenant,
            &self.id,
            &self.source,
            self.logsource.iter().map(String::as_str),
            self.timestamp,
            self.received,
        )
    }
}

/// One candidate: newest-first order key and where it is.
#[derive(Clone, Copy)]
struct Candidate {
    ts: i64,
    pos: u64,
    /// The event's place in its frame: with `pos`, its log order, which
    /// document ids do not follow (segments are ordered by kind).
    idx: u64,
    addr: DocAddress,
}

impl EventStore {
    /// Partitions of `tenants` that may hold events in `[from, to]`, newest first.
    fn selected(&self, req: &SearchRequest<'_>) -> Vec<PartKey> {
        let lo = req.from.map(day_of);
        let hi = req.to.map(day_of);
        let mut keys: Vec<PartKey> = req
            .tenants
            .iter()
            .flat_map(|t| self.keys(Some(t)))
            .filter(|k| lo.is_none_or(|lo| k.day >= lo) && hi.is_none_or(|hi| k.day <= hi))
            .collect();
        keys.sort_by(|a, b| b.day.cmp(&a.day).then_with(|| a.tenant.cmp(&b.tenant)));
        keys
    }

    /// Runs a search and collects its rows into [`SearchResult::rows`].
    pub fn search(&self, req: &SearchRequest<'_>, rebuild: &dyn Rebuild) -> Result<SearchResult, SearchError> {
        let mut rows = Vec::new();
        let mut result = self.search_each(req, rebuild, &mut |row| {
            rows.push(row);
            true
        })?;
        result.rows = rows;
        Ok(result)
    }

    /// Runs a search and hands each row to `emit` as soon as it is known
    /// (events one by one; a pipeline's rows at its end). `emit` returns
    /// `false` to stop early (the reader went away). The result's `rows`
    /// stays empty.
    pub fn search_each(
        &self,
        req: &SearchRequest<'_>,
        rebuild: &dyn Rebuild,
        emit: &mut dyn FnMut(Row) -> bool,
    ) -> Result<SearchResult, SearchError> {
        let deadline = Instant::now() + req.timeout;
        let keys = self.selected(req);
        let mut parts = Vec::with_capacity(keys.len());
        for key in &keys {
            if let Some(p) = self.part(key, false)? {
                parts.push(p);
            }
        }
        let mut result = SearchResult { partitions: parts.len(), ..SearchResult::default() };
        let run = Run { req, rebuild, deadline };
        match req.query.pipes.first() {
            Some(Pipe::Stats { aggs, by }) => {
                let mut stats = Stats::new(aggs.clone(), by.clone(), req.limits);
                run.aggregate(&parts, &mut stats, None, &mut result)?;
                let rows = stats.finish();
                pipes::run(&req.query.pipes[1..], rows, &req.limits, req.now)?.into_iter().all(&mut *emit);
            }
            Some(Pipe::Timechart { span, aggs, by }) => {
                let mut stats = pipes::timechart_stats(aggs, by.as_deref(), &req.limits);
                run.aggregate(&parts, &mut stats, Some(*span), &mut result)?;
                let rows = pipes::chart_rows(stats, *span, aggs, by.as_deref(), &req.limits)?;
                pipes::run(&req.query.pipes[1..], rows, &req.limits, req.now)?.into_iter().all(&mut *emit);
            }
            _ => {
                let failure = RefCell::new(None);
                let counters = RefCell::new((0u64, 0u64));
                let events = req.query.pipes.is_empty();
                let rows = parts
                    .iter()
                    .flat_map(|part| run.part_rows(part, events, &failure, &counters).into_iter().flatten());
                let rows = rows.take(if events { req.limit } else { usize::MAX });
                if events {
                    // Straight to the reader, one by one.
                    for row in rows {
                        if !emit(row) {
                            break;
                        }
                    }
                } else {
                    let out = pipes::run(&req.query.pipes, rows, &req.limits, req.now);
                    if failure.borrow().is_none() {
                        out?.into_iter().all(&mut *emit);
                    }
                }
                if let Some(e) = failure.into_inner() {
                    return Err(e);
                }
                (result.candidates, result.checked) = counters.into_inner();
            }
        }
        Ok(result)
    }
}

struct Run<'a> {
    req: &'a SearchRequest<'a>,
    rebuild: &'a dyn Rebuild,
    deadline: Instant,
}

impl Run<'_> {
    fn timed_out(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// The filter's plan for one partition, with the request's time range.
    fn plan(&self, part: &Part, searcher: &tantivy::Searcher) -> Result<Plan, SearchError> {
        let shapes = part.shapes(searcher)?;
        let planner = Planner { fields: &part.fields, searcher, shapes: &shapes, now: self.req.now };
        let plan = planner.plan(&self.req.query.filter);
        if self.req.from.is_none() && self.req.to.is_none() {
            return Ok(plan);
        }
        let lo = self.req.from.map_or(StdBound::Unbounded, StdBound::Included);
        let hi = self.req.to.map_or(StdBound::Unbounded, StdBound::Excluded);
        let clauses = vec![(Occur::Must, plan.query), (Occur::Must, time_range(part.fields.ts, lo, hi))];
        Ok(Plan { query: Box::new(BooleanQuery::new(clauses)), exact: plan.exact })
    }

    /// Whether an event from the time range passes the request's own
    /// `from`/`to` (which the evaluator does not know about).
    fn in_range(&self, t: Timestamp) -> bool {
        self.req.from.is_none_or(|f| t >= truncate_micros(f)) && self.req.to.is_none_or(|to| t < to)
    }

    /// The rows of one partition's matching events, newest first; stops
    /// (and records why) on a timeout or a read error.
    fn part_rows(
        &self,
        part: &Arc<Part>,
        events: bool,
        failure: &RefCell<Option<SearchError>>,
        counters: &RefCell<(u64, u64)>,
    ) -> Option<impl Iterator<Item = Row>> {
        if failure.borrow().is_some() {
            return None;
        }
        if self.timed_out() {
            failure.replace(Some(SearchError::Timeout(self.req.timeout)));
            return None;
        }
        let searcher = part.reader.searcher();
        let found = self.plan(part, &searcher).and_then(|plan| Ok((searcher.search(&*plan.query, &Candidates)?, plan)));
        let (mut found, plan) = match found {
            Ok(c) => c,
            Err(e) => {
                failure.replace(Some(e));
                return None;
            }
        };
        found.sort_unstable_by(|a, b| b.ts.cmp(&a.ts).then(b.pos.cmp(&a.pos)).then(b.idx.cmp(&a.idx)));
        counters.borrow_mut().0 += found.len() as u64;
        let part = part.clone();
        let mut columns = HashMap::new();
        Some(
            found
                .into_iter()
                .map_while(move |c| {
                    if self.timed_out() {
                        failure.replace(Some(SearchError::Timeout(self.req.timeout)));
                        return None;
                    }
                    match self.row(&part, &searcher, c.addr, plan.exact, events, &mut columns) {
                        Ok((row, checked)) => {
                            counters.borrow_mut().1 += u64::from(checked);
                            Some(row)
                        }
                        Err(e) => {
                            failure.replace(Some(e));
                            None
                        }
                    }
                })
                .flatten(),
        )
    }

    /// The row of one candidate, or `None` when the check says it does
    /// not match; also whether it had to be checked.
    fn row(
        &self,
        part: &Part,
        searcher: &tantivy::Searcher,
        addr: DocAddress,
        exact: bool,
        events: bool,
        columns: &mut HashMap<SegmentOrdinal, MetaColumns>,
    ) -> Result<(Option<Row>, bool), SearchError> {
        let stored = read_stored(part, searcher, addr, columns)?;
        let Some(event) = self.rebuild.event(&stored) else {
            // A record that no longer parses (the parser changed since)
            // cannot be checked; it is shown only when the index alone
            // answered.
            return Ok((None, !exact));
        };
        let meta = stored.meta();
        let record = Record::new(&event, &stored.raw, &meta);
        let matches = || self.req.query.filter.matches(&record, self.req.now) && self.in_range(stored.timestamp);
        if !exact && !matches() {
            return Ok((None, true));
        }
        let mut row = record.to_row();
        if events {
            row.insert("_raw".into(), Json::String(stored.raw.clone()));
        }
        Ok((Some(row), !exact))
    }

    /// Feeds `stats` (a `timechart`'s when `span` is set) from every
    /// partition: from columns where possible, else event by event.
    fn aggregate(
        &self,
        parts: &[Arc<Part>],
        stats: &mut Stats,
        span: Option<i64>,
        result: &mut SearchResult,
    ) -> Result<(), SearchError> {
        let mut used_columns = true;
        for part in parts {
            if self.timed_out() {
                return Err(SearchError::Timeout(self.req.timeout));
            }
            let searcher = part.reader.searcher();
            let plan = self.plan(part, &searcher)?;
            let columns = stats.columns();
            let needed: Vec<&str> =
                columns.iter().map(String::as_str).filter(|c| !(span.is_some() && *c == "_time")).collect();
            let fast = plan.exact && needed.iter().all(|c| part.fields.column(c).is_some());
            if fast {
                let collector = ColumnStats {
                    columns: needed.iter().map(|c| format!("c:{c}")).collect(),
                    names: needed.iter().map(|c| c.to_string()).collect(),
                    by: stats.by().to_vec(),
                    span,
                    counts_only: stats.counts_only(),
                    template: stats.empty_like(),
                    deadline: self.deadline,
                    timeout: self.req.timeout,
                };
                let (partial, n) = searcher.search(&*plan.query, &collector)?;
                result.candidates += n;
                stats.merge(partial?)?;
                continue;
            }
            used_columns = false;
            let mut found = searcher.search(&*plan.query, &Candidates)?;
            found.sort_unstable_by_key(|c| c.addr);
            result.candidates += found.len() as u64;
            let mut columns = HashMap::new();
            for c in found {
                if self.timed_out() {
                    return Err(SearchError::Timeout(self.req.timeout));
                }
                let (row, checked) = self.row(part, &searcher, c.addr, plan.exact, false, &mut columns)?;
                result.checked += u64::from(checked);
                let Some(row) = row else { continue };
                match span {
                    Some(span) => {
                        let by = stats.by().get(1).cloned();
                        if let Some(key) = pipes::timechart_key(&row, span, by.as_deref()) {
                            stats.add_keyed(key, |name| row.get(name))?;
                        }
                    }
                    None => stats.add(&row)?,
                }
            }
        }
        result.columns = used_columns && !parts.is_empty();
        Ok(())
    }
}

/// Reads a stored event; `columns` caches each segment's metadata columns
/// (opening a text column reads its dictionary's index).
fn read_stored(
    part: &Part,
    searcher: &tantivy::Searcher,
    addr: DocAddress,
    columns: &mut HashMap<SegmentOrdinal, MetaColumns>,
) -> Result<Stored, SearchError> {
    let meta = match columns.entry(addr.segment_ord) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(MetaColumns::open(searcher.segment_reader(addr.segment_ord))?)
        }
    };
    meta.stored(part, searcher.doc(addr)?, addr.doc_id)
}

/// The columns that hold a stored event's metadata, for one segment.
pub(crate) struct MetaColumns {
    ts: Option<tantivy::columnar::Column<tantivy::DateTime>>,
    pos: Option<tantivy::columnar::Column<u64>>,
    idx: Option<tantivy::columnar::Column<u64>>,
    received: Option<tantivy::columnar::Column<i64>>,
    source: Option<StrColumn>,
    format: Option<StrColumn>,
    view: Option<StrColumn>,
    logsource: Option<StrColumn>,
}

impl MetaColumns {
    pub(crate) fn open(seg: &SegmentReader) -> Result<MetaColumns, SearchError> {
        let ff = seg.fast_fields();
        Ok(MetaColumns {
            ts: ff.date("ts").ok(),
            pos: ff.u64("pos").ok(),
            idx: ff.u64("idx").ok(),
            received: ff.i64("received").ok(),
            source: ff.str("source")?,
            format: ff.str("format")?,
            view: ff.str("view")?,
            logsource: ff.str("logsource")?,
        })
    }

    fn texts(column: &Option<StrColumn>, doc: DocId) -> Vec<String> {
        let Some(c) = column else { return Vec::new() };
        c.term_ords(doc)
            .filter_map(|ord| {
                let mut s = String::new();
                c.ord_to_str(ord, &mut s).ok()?.then_some(s)
            })
            .collect()
    }

    /// The event `doc` of this segment, its stored part already read.
    pub(crate) fn stored(&self, part: &Part, doc: TantivyDocument, id: DocId) -> Result<Stored, SearchError> {
        let f = &part.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let first = |column: &Option<StrColumn>| MetaColumns::texts(column, id).into_iter().next();
        let ts = self.ts.as_ref().and_then(|c| c.first(id)).map_or(0, |d| d.into_timestamp_micros());
        let received = self.received.as_ref().and_then(|c| c.first(id)).unwrap_or(0);
        Ok(Stored {
            tenant: part.key.tenant.clone(),
            id: crate::schema::event_id(
                self.pos.as_ref().and_then(|c| c.first(id)).unwrap_or(0),
                self.idx.as_ref().and_then(|c| c.first(id)).map_or(0, |i| i as u32),
            ),
            timestamp: Timestamp::from_microsecond(ts).unwrap_or(Timestamp::UNIX_EPOCH),
            received: Timestamp::from_nanosecond(i128::from(received)).unwrap_or(Timestamp::UNIX_EPOCH),
            source: first(&self.source).unwrap_or_default(),
            format: first(&self.format).unwrap_or_default(),
            view: first(&self.view),
            logsource: MetaColumns::texts(&self.logsource, id),
            raw: text(f.raw),
            enriched: f.enriched.and_then(|e| doc.get_first(e)).and_then(|v| v.as_str()).map(str::to_owned),
        })
    }
}

/// Collects candidates with their time and log position.
struct Candidates;

struct SegmentCandidates {
    segment: SegmentOrdinal,
    ts: Option<tantivy::columnar::Column<tantivy::DateTime>>,
    pos: Option<tantivy::columnar::Column<u64>>,
    idx: Option<tantivy::columnar::Column<u64>>,
    out: Vec<Candidate>,
}

impl Collector for Candidates {
    type Fruit = Vec<Candidate>;
    type Child = SegmentCandidates;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentCandidates> {
        let ff = reader.fast_fields();
        Ok(SegmentCandidates {
            segment,
            ts: ff.date("ts").ok(),
            pos: ff.u64("pos").ok(),
            idx: ff.u64("idx").ok(),
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Candidate>>) -> tantivy::Result<Vec<Candidate>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentCandidates {
    type Fruit = Vec<Candidate>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let ts = self.ts.as_ref().and_then(|c| c.first(doc)).map_or(0, |d| d.into_timestamp_micros());
        let pos = self.pos.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
        let idx = self.idx.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
        self.out.push(Candidate { ts, pos, idx, addr: DocAddress::new(self.segment, doc) });
    }

    fn harvest(self) -> Vec<Candidate> {
        self.out
    }
}

/// `stats`/`timechart` from column fields. Count-only aggregations group
/// by term ordinals and look the texts up once per group.
struct ColumnStats {
    /// Tantivy field names (`c:NAME`) of `names`.
    columns: Vec<String>,
    names: Vec<String>,
    /// The `stats` group columns (`_time` first for a timechart).
    by: Vec<String>,
    span: Option<i64>,
    counts_only: bool,
    template: Stats,
    deadline: Instant,
    timeout: Duration,
}

struct SegmentColumnStats {
    columns: Vec<Option<StrColumn>>,
    /// For each `by` column, its index in `columns` (`None` for `_time`).
    by: Vec<Option<usize>>,
    ts: Option<tantivy::columnar::Column<tantivy::DateTime>>,
    span: Option<i64>,
    counts_only: bool,
    counts: HashMap<Vec<u64>, u64>,
    stats: Stats,
    names: Vec<String>,
    /// Texts of ordinals seen, per column.
    texts: Vec<HashMap<u64, Json>>,
    seen: u64,
    deadline: Instant,
    error: Option<SearchError>,
    timeout: Duration,
}

impl Collector for ColumnStats {
    type Fruit = (Result<Stats, SearchError>, u64);
    type Child = SegmentColumnStats;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentColumnStats> {
        let ff = reader.fast_fields();
        let mut columns = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            columns.push(ff.str(c)?);
        }
        let by = self.by.iter().map(|b| self.names.iter().position(|n| n == b)).collect();
        Ok(SegmentColumnStats {
            texts: vec![HashMap::new(); columns.len()],
            columns,
            by,
            ts: if self.span.is_some() { ff.date("ts").ok() } else { None },
            span: self.span,
            counts_only: self.counts_only,
            counts: HashMap::new(),
            stats: self.template.empty_like(),
            names: self.names.clone(),
            seen: 0,
            deadline: self.deadline,
            error: None,
            timeout: self.timeout,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<(Result<Stats, SearchError>, u64)>) -> tantivy::Result<Self::Fruit> {
        let mut total = self.template.empty_like();
        let mut n = 0;
        for (stats, seen) in fruits {
            n += seen;
            let merged = stats.and_then(|s| total.merge(s).map_err(SearchError::Limit));
            if let Err(e) = merged {
                return Ok((Err(e), n));
            }
        }
        Ok((Ok(total), n))
    }
}

impl SegmentColumnStats {
    fn text(&mut self, col: usize, ord: u64) -> Json {
        if let Some(t) = self.texts[col].get(&ord) {
            return t.clone();
        }
        let mut s = String::new();
        if let Some(c) = &self.columns[col] {
            let _ = c.ord_to_str(ord, &mut s);
        }
        let t = Json::String(s);
        self.texts[col].insert(ord, t.clone());
        t
    }

    fn ord(&self, col: usize, doc: DocId) -> Option<u64> {
        self.columns[col].as_ref()?.term_ords(doc).next()
    }
}

impl SegmentCollector for SegmentColumnStats {
    type Fruit = (Result<Stats, SearchError>, u64);

    fn collect(&mut self, doc: DocId, _: Score) {
        if self.error.is_some() {
            return;
        }
        self.seen += 1;
        if self.seen.is_multiple_of(65_536) && Instant::now() >= self.deadline {
            self.error = Some(SearchError::Timeout(self.timeout));
            return;
        }
        let mut key = Vec::with_capacity(self.by.len());
        for b in &self.by {
            let ord = match (b, self.span) {
                (Some(col), _) => self.ord(*col, doc),
                (None, Some(span)) => self
                    .ts
                    .as_ref()
                    .and_then(|c| c.first(doc))
                    .map(|d| pipes::bucket(d.into_timestamp_secs(), span) as u64),
                (None, None) => None,
            };
            match ord {
                Some(o) => key.push(o),
                None => return,
            }
        }
        if self.counts_only {
            *self.counts.entry(key).or_insert(0) += 1;
            return;
        }
        let texts = self.key_texts(&key);
        let values: Vec<Option<Json>> =
            (0..self.columns.len()).map(|col| self.ord(col, doc).map(|o| self.text(col, o))).collect();
        let names = &self.names;
        let get = |name: &str| names.iter().position(|n| n == name).and_then(|i| values[i].as_ref());
        if let Err(e) = self.stats.add_keyed(texts, get) {
            self.error = Some(SearchError::Limit(e));
        }
    }

    fn harvest(mut self) -> Self::Fruit {
        if let Some(e) = self.error.take() {
            return (Err(e), self.seen);
        }
        let counts = std::mem::take(&mut self.counts);
        for (key, n) in counts {
            let texts = self.key_texts(&key);
            if let Err(e) = self.stats.add_count(texts, n) {
                return (Err(SearchError::Limit(e)), self.seen);
            }
        }
        (Ok(self.stats), self.seen)
    }
}

impl SegmentColumnStats {
    fn key_texts(&mut self, key: &[u64]) -> Vec<String> {
        let by = self.by.clone();
        key.iter()
            .zip(by)
            .map(|(&ord, b)| match b {
                Some(col) => match self.text(col, ord) {
                    Json::String(s) => s,
                    other => other.to_string(),
                },
                None => (ord as i64).to_string(),
            })
            .collect()
    }
}
