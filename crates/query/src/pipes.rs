//! The pipes after the filter (`where`, `stats`, `sort`, `head`, `fields`,
//! `timechart`), run over rows. A row is a JSON object: an event's fields
//! before the first `stats`, the aggregates after it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use model::Value;
use serde_json::{Map, Value as Json};

use crate::ast::{Agg, AggFn, CmpOp, Expr, Pipe, Scalar, SortKey};
use crate::eval::{compare, value_time};
use crate::tokens::lowercase;

pub type Row = Map<String, Json>;

/// Bounds on what one query may hold in memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Groups of a `stats` or `timechart` (buckets × series).
    pub max_groups: usize,
    /// Distinct values kept by all `dc()` of one query.
    pub max_distinct: usize,
    /// Rows a pipe may hold (a `sort` before `head`, for instance).
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_groups: 100_000, max_distinct: 5_000_000, max_rows: 1_000_000 }
    }
}

/// A query that went over one of its [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError(pub String);

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitError {}

/// Runs `pipes` over `rows`.
pub fn run(
    pipes: &[Pipe],
    rows: impl IntoIterator<Item = Row>,
    limits: &Limits,
    now: Timestamp,
) -> Result<Vec<Row>, LimitError> {
    let mut rows: Box<dyn Iterator<Item = Row>> = Box::new(rows.into_iter());
    let mut held: Vec<Row>;
    for pipe in pipes {
        held = match pipe {
            Pipe::Where(expr) => rows.filter(|r| expr.matches(r, now)).collect(),
            Pipe::Head(n) => rows.take(*n).collect(),
            Pipe::Fields(names) => rows.map(|r| project(r, names)).collect(),
            Pipe::Sort(keys) => {
                let mut all = bounded(rows, limits)?;
                all.sort_by(|a, b| compare_rows(a, b, keys));
                all
            }
            Pipe::Stats { aggs, by } => {
                let mut stats = Stats::new(aggs.clone(), by.clone(), *limits);
                for row in rows {
                    stats.add(&row)?;
                }
                stats.finish()
            }
            Pipe::Timechart { span, aggs, by } => timechart(rows, *span, aggs, by.as_deref(), limits)?,
        };
        if held.len() > limits.max_rows {
            return Err(LimitError(format!("more than {} rows; add a filter or `| head`", limits.max_rows)));
        }
        rows = Box::new(held.into_iter());
    }
    bounded(rows, limits)
}

fn bounded(rows: impl Iterator<Item = Row>, limits: &Limits) -> Result<Vec<Row>, LimitError> {
    let mut out = Vec::new();
    for row in rows {
        if out.len() == limits.max_rows {
            return Err(LimitError(format!("more than {} rows; add a filter or `| head`", limits.max_rows)));
        }
        out.push(row);
    }
    Ok(out)
}

fn project(row: Row, names: &[String]) -> Row {
    let mut out = Row::new();
    let mut row = row;
    for name in names {
        if let Some(v) = row.remove(name) {
            out.insert(name.clone(), v);
        }
    }
    out
}

/// A JSON scalar as a field value; arrays keep their elements.
pub fn to_value(json: &Json) -> Value {
    Value::from_json(json)
}

impl Expr {
    pub fn matches(&self, row: &Row, now: Timestamp) -> bool {
        match self {
            Expr::And(a, b) => a.matches(row, now) && b.matches(row, now),
            Expr::Or(a, b) => a.matches(row, now) || b.matches(row, now),
            Expr::Not(a) => !a.matches(row, now),
            Expr::Compare { field, op, value } => {
                let Some(json) = row.get(field) else {
                    return *op == CmpOp::Ne;
                };
                let ord = match (value, json) {
                    (Scalar::Text(t), _) => to_value(json).as_text().map(|v| lowercase(&v).as_str().cmp(t.as_str())),
                    _ => compare(&to_value(json), value, now),
                };
                match ord {
                    Some(o) => match op {
                        CmpOp::Eq => o.is_eq(),
                        CmpOp::Ne => o.is_ne(),
                        CmpOp::Lt => o.is_lt(),
                        CmpOp::Le => o.is_le(),
                        CmpOp::Gt => o.is_gt(),
                        CmpOp::Ge => o.is_ge(),
                    },
                    None => *op == CmpOp::Ne,
                }
            }
        }
    }
}

/// Orders JSON values: missing and null first, then numbers by value,
/// then text, then everything else by its JSON text.
pub fn compare_json(a: Option<&Json>, b: Option<&Json>) -> Ordering {
    fn rank(v: Option<&Json>) -> u8 {
        match v {
            None | Some(Json::Null) => 0,
            Some(Json::Bool(_)) => 1,
            Some(Json::Number(_)) => 2,
            Some(Json::String(_)) => 3,
            Some(_) => 4,
        }
    }
    match (a, b) {
        (Some(Json::Number(x)), Some(Json::Number(y))) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Some(Json::String(x)), Some(Json::String(y))) => x.cmp(y),
        (Some(Json::Bool(x)), Some(Json::Bool(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
            (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
            _ => Ordering::Equal,
        }),
    }
}

fn compare_rows(a: &Row, b: &Row, keys: &[SortKey]) -> Ordering {
    for key in keys {
        let o = compare_json(a.get(&key.field), b.get(&key.field));
        let o = if key.descending { o.reverse() } else { o };
        if o.is_ne() {
            return o;
        }
    }
    Ordering::Equal
}

/// The running state of one aggregate in one group.
#[derive(Debug, Clone)]
enum Acc {
    Count(u64),
    Distinct(HashSet<String>),
    Min(Option<Json>),
    Max(Option<Json>),
    Avg { sum: f64, n: u64 },
    Sum(f64),
}

impl Acc {
    fn new(func: AggFn) -> Acc {
        match func {
            AggFn::Count => Acc::Count(0),
            AggFn::Dc => Acc::Distinct(HashSet::new()),
            AggFn::Min => Acc::Min(None),
            AggFn::Max => Acc::Max(None),
            AggFn::Avg => Acc::Avg { sum: 0.0, n: 0 },
            AggFn::Sum => Acc::Sum(0.0),
        }
    }

    /// Adds one value (`None` when the row lacks the column); returns how
    /// many distinct values it added.
    fn add(&mut self, value: Option<&Json>, counts_row: bool) -> usize {
        let value = value.filter(|v| !v.is_null());
        match self {
            Acc::Count(n) => {
                if counts_row || value.is_some() {
                    *n += 1;
                }
            }
            Acc::Distinct(set) => {
                if let Some(t) = value.and_then(|v| to_value(v).as_text().map(|t| t.into_owned()))
                    && set.insert(t)
                {
                    return 1;
                }
            }
            Acc::Min(best) => {
                if let Some(v) = value.map(numeric_if_possible)
                    && best.as_ref().is_none_or(|b| compare_json(Some(&v), Some(b)).is_lt())
                {
                    *best = Some(v);
                }
            }
            Acc::Max(best) => {
                if let Some(v) = value.map(numeric_if_possible)
                    && best.as_ref().is_none_or(|b| compare_json(Some(&v), Some(b)).is_gt())
                {
                    *best = Some(v);
                }
            }
            Acc::Avg { sum, n } => {
                if let Some(x) = value.and_then(|v| to_value(v).as_f64()) {
                    *sum += x;
                    *n += 1;
                }
            }
            Acc::Sum(s) => {
                if let Some(x) = value.and_then(|v| to_value(v).as_f64()) {
                    *s += x;
                }
            }
        }
        0
    }

    fn merge(&mut self, other: Acc) -> usize {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Distinct(a), Acc::Distinct(b)) => {
                let before = a.len();
                a.extend(b);
                return a.len() - before;
            }
            (Acc::Min(a), Acc::Min(Some(b))) if a.as_ref().is_none_or(|x| compare_json(Some(&b), Some(x)).is_lt()) => {
                *a = Some(b);
            }
            (Acc::Max(a), Acc::Max(Some(b))) if a.as_ref().is_none_or(|x| compare_json(Some(&b), Some(x)).is_gt()) => {
                *a = Some(b);
            }
            (Acc::Avg { sum, n }, Acc::Avg { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (Acc::Sum(a), Acc::Sum(b)) => *a += b,
            _ => {}
        }
        0
    }

    fn result(&self) -> Json {
        match self {
            Acc::Count(n) => Json::from(*n),
            Acc::Distinct(set) => Json::from(set.len()),
            Acc::Min(v) | Acc::Max(v) => v.clone().unwrap_or(Json::Null),
            Acc::Avg { n: 0, .. } => Json::Null,
            Acc::Avg { sum, n } => number(*sum / *n as f64),
            Acc::Sum(s) => number(*s),
        }
    }

    /// The value of a group with no rows (a gap in a timechart).
    fn empty(func: AggFn) -> Json {
        match func {
            AggFn::Count | AggFn::Dc | AggFn::Sum => Json::from(0),
            _ => Json::Null,
        }
    }
}

/// Text that reads as a number aggregates as one (`"443"` sorts after `"80"`).
fn numeric_if_possible(v: &Json) -> Json {
    match v {
        Json::String(s) => model::parse_number(s).filter(|n| n.is_finite()).map(number).unwrap_or_else(|| v.clone()),
        other => other.clone(),
    }
}

fn number(x: f64) -> Json {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        Json::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map(Json::Number).unwrap_or(Json::Null)
    }
}

/// The group key of a row: the text of each `by` column. A row that lacks
/// one of them is in no group (as in Splunk and Elasticsearch terms).
pub type Key = Vec<String>;

/// `stats` state. Stores feed it row by row, or merge partial states
/// computed per partition.
pub struct Stats {
    aggs: Vec<Agg>,
    by: Vec<String>,
    groups: HashMap<Key, Vec<Acc>>,
    distinct: usize,
    limits: Limits,
}

impl Stats {
    pub fn new(aggs: Vec<Agg>, by: Vec<String>, limits: Limits) -> Stats {
        Stats { aggs, by, groups: HashMap::new(), distinct: 0, limits }
    }

    /// A state for the same aggregation with no rows yet.
    pub fn empty_like(&self) -> Stats {
        Stats::new(self.aggs.clone(), self.by.clone(), self.limits)
    }

    /// The columns a row needs for this `stats`.
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = self.by.clone();
        out.extend(self.aggs.iter().filter_map(|a| a.field.clone()));
        out.sort();
        out.dedup();
        out
    }

    pub fn add(&mut self, row: &Row) -> Result<(), LimitError> {
        let mut key = Vec::with_capacity(self.by.len());
        for b in &self.by {
            match row.get(b).filter(|v| !v.is_null()) {
                Some(v) => key.push(key_text(v)),
                None => return Ok(()),
            }
        }
        self.add_keyed(key, |name| row.get(name))
    }

    /// Adds one row given its group key and a column lookup.
    pub fn add_keyed<'j>(&mut self, key: Key, get: impl Fn(&str) -> Option<&'j Json>) -> Result<(), LimitError> {
        let groups_full = self.groups.len() >= self.limits.max_groups;
        let aggs = &self.aggs;
        let accs = match self.groups.get_mut(&key) {
            Some(a) => a,
            None if groups_full => {
                return Err(LimitError(format!(
                    "more than {} groups; narrow the `by` columns",
                    self.limits.max_groups
                )));
            }
            None => self.groups.entry(key).or_insert_with(|| aggs.iter().map(|a| Acc::new(a.func)).collect()),
        };
        for (agg, acc) in self.aggs.iter().zip(accs.iter_mut()) {
            let value = agg.field.as_deref().and_then(&get);
            self.distinct += acc.add(value, agg.field.is_none());
        }
        if self.distinct > self.limits.max_distinct {
            return Err(LimitError(format!("more than {} distinct values in dc()", self.limits.max_distinct)));
        }
        Ok(())
    }

    /// Adds `n` rows of one group at once, with no column values: the
    /// fast path for `count()` from an index.
    pub fn add_count(&mut self, key: Key, n: u64) -> Result<(), LimitError> {
        if !self.groups.contains_key(&key) && self.groups.len() >= self.limits.max_groups {
            return Err(LimitError(format!("more than {} groups; narrow the `by` columns", self.limits.max_groups)));
        }
        let aggs = &self.aggs;
        let accs = self.groups.entry(key).or_insert_with(|| aggs.iter().map(|a| Acc::new(a.func)).collect());
        for acc in accs {
            if let Acc::Count(c) = acc {
                *c += n;
            }
        }
        Ok(())
    }

    /// Whether every aggregate is `count()`, so counts per group suffice.
    pub fn counts_only(&self) -> bool {
        self.aggs.iter().all(|a| a.func == AggFn::Count && a.field.is_none())
    }

    pub fn by(&self) -> &[String] {
        &self.by
    }

    /// Folds another state of the same `stats` into this one.
    pub fn merge(&mut self, other: Stats) -> Result<(), LimitError> {
        for (key, accs) in other.groups {
            match self.groups.get_mut(&key) {
                Some(mine) => {
                    for (a, b) in mine.iter_mut().zip(accs) {
                        self.distinct += a.merge(b);
                    }
                }
                None => {
                    if self.groups.len() >= self.limits.max_groups {
                        return Err(LimitError(format!(
                            "more than {} groups; narrow the `by` columns",
                            self.limits.max_groups
                        )));
                    }
                    self.groups.insert(key, accs);
                }
            }
        }
        if self.distinct > self.limits.max_distinct {
            return Err(LimitError(format!("more than {} distinct values in dc()", self.limits.max_distinct)));
        }
        Ok(())
    }

    /// One row per group, ordered by the group key.
    pub fn finish(self) -> Vec<Row> {
        let ordered: BTreeMap<Key, Vec<Acc>> = self.groups.into_iter().collect();
        ordered
            .into_iter()
            .map(|(key, accs)| {
                let mut row = Row::new();
                for (name, k) in self.by.iter().zip(key) {
                    row.insert(name.clone(), Json::String(k));
                }
                for (agg, acc) in self.aggs.iter().zip(&accs) {
                    row.insert(agg.name.clone(), acc.result());
                }
                row
            })
            .collect()
    }
}

/// The text a value groups under: strings as they are, numbers and
/// booleans as their canonical text, arrays by their JSON.
pub fn key_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => to_value(other).as_text().map(|t| t.into_owned()).unwrap_or_else(|| other.to_string()),
    }
}

fn timechart(
    rows: impl Iterator<Item = Row>,
    span: i64,
    aggs: &[Agg],
    by: Option<&str>,
    limits: &Limits,
) -> Result<Vec<Row>, LimitError> {
    let mut stats = timechart_stats(aggs, by, limits);
    for row in rows {
        if let Some(key) = timechart_key(&row, span, by) {
            stats.add_keyed(key, |name| row.get(name))?;
        }
    }
    chart_rows(stats, span, aggs, by, limits)
}

/// The `timechart` group of a row: its bucket (the start second, as
/// text) and its series; `None` when it has no time or no series value.
pub fn timechart_key(row: &Row, span: i64, by: Option<&str>) -> Option<Key> {
    let t = row.get("@timestamp").and_then(|v| value_time(&to_value(v)))?;
    let mut key = vec![bucket(t.as_second(), span).to_string()];
    if let Some(b) = by {
        key.push(key_text(row.get(b).filter(|v| !v.is_null())?));
    }
    Some(key)
}

/// The start second of the bucket of `second`.
pub fn bucket(second: i64, span: i64) -> i64 {
    second.div_euclid(span) * span
}

/// A `stats` state for a `timechart`: grouped by bucket, then series.
pub fn timechart_stats(aggs: &[Agg], by: Option<&str>, limits: &Limits) -> Stats {
    let by_cols: Vec<String> = std::iter::once("_time".to_string()).chain(by.map(str::to_string)).collect();
    Stats::new(aggs.to_vec(), by_cols, *limits)
}

/// Turns `timechart` groups (keyed by bucket second and series) into rows
/// in time order, with every series present in every bucket between the
/// first and the last.
pub fn chart_rows(
    stats: Stats,
    span: i64,
    aggs: &[Agg],
    by: Option<&str>,
    limits: &Limits,
) -> Result<Vec<Row>, LimitError> {
    let mut cells: BTreeMap<(i64, String), Vec<Acc>> = BTreeMap::new();
    let mut series: std::collections::BTreeSet<String> = Default::default();
    for (key, accs) in stats.groups {
        let Some(second) = key.first().and_then(|s| s.parse::<i64>().ok()) else { continue };
        let name = key.get(1).cloned().unwrap_or_default();
        series.insert(name.clone());
        cells.insert((second, name), accs);
    }
    let (Some(first), Some(last)) = (cells.keys().next().map(|k| k.0), cells.keys().next_back().map(|k| k.0)) else {
        return Ok(Vec::new());
    };
    let buckets = ((last - first) / span + 1) as usize;
    if buckets.saturating_mul(series.len().max(1)) > limits.max_groups {
        return Err(LimitError(format!(
            "{buckets} buckets × {} series is more than {}; use a larger span",
            series.len(),
            limits.max_groups
        )));
    }
    let mut out = Vec::with_capacity(buckets * series.len());
    let mut second = first;
    while second <= last {
        let time = Timestamp::from_second(second).map(|t| t.to_string()).unwrap_or_default();
        for name in &series {
            let mut row = Row::new();
            row.insert("_time".into(), Json::String(time.clone()));
            if let Some(b) = by {
                row.insert(b.to_string(), Json::String(name.clone()));
            }
            let accs = cells.get(&(second, name.clone()));
            for (i, agg) in aggs.iter().enumerate() {
                let v = accs.and_then(|a| a.get(i)).map_or_else(|| Acc::empty(agg.func), Acc::result);
                row.insert(agg.name.clone(), v);
            }
            out.push(row);
        }
        second += span;
    }
    Ok(out)
}
