//! Compiled rules as inert values, and their evaluation against one event.
//!
//! A rule is a condition tree ([`Expr`]) over detections; a detection is an
//! OR of AND-ed detection items; an item tests one field (or, for keywords,
//! every value) with leaves. Nothing here allocates per leaf: lowercased
//! field text is computed once per event and field, on first use
//! ([`EventView`]).

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;
use memchr::memmem;
use model::{Event, Value};
use regex::Regex;

use crate::value::{Piece, SigmaStr};

/// Index of a field name in a rule set's field table.
pub(crate) type FieldId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    fn test(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
        }
    }
}

/// The parts of a date the Sigma time modifiers extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimePart {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimePart::Minute => "minute",
            TimePart::Hour => "hour",
            TimePart::Day => "day",
            TimePart::Week => "week",
            TimePart::Month => "month",
            TimePart::Year => "year",
        }
    }

    fn extract(self, text: &str) -> Option<f64> {
        let dt = parse_datetime(text)?;
        Some(f64::from(match self {
            TimePart::Minute => i32::from(dt.minute()),
            TimePart::Hour => i32::from(dt.hour()),
            TimePart::Day => i32::from(dt.day()),
            TimePart::Week => i32::from(dt.date().iso_week_date().week()),
            TimePart::Month => i32::from(dt.month()),
            TimePart::Year => i32::from(dt.year()),
        }))
    }
}

/// Reads the date forms logs use: RFC 3339 (with offset, converted to UTC)
/// and `YYYY-MM-DD HH:MM:SS[.fff]` taken as written (Sysmon's `UtcTime`).
fn parse_datetime(text: &str) -> Option<jiff::civil::DateTime> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Some(ts.to_zoned(jiff::tz::TimeZone::UTC).datetime());
    }
    t.parse::<jiff::civil::DateTime>().ok()
}

/// A string pattern over (lowercased, unless cased) text.
#[derive(Debug, Clone)]
pub(crate) enum StrPat {
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<memmem::Finder<'static>>),
    /// Any text at all: a lone `*`.
    Any,
    Glob(Vec<Piece>),
}

impl StrPat {
    pub(crate) fn new(s: &SigmaStr, cased: bool) -> StrPat {
        let fold = |l: &str| if cased { l.to_owned() } else { l.to_lowercase() };
        let pieces: Vec<Piece> = s
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(l) => Piece::Lit(fold(l)),
                other => other.clone(),
            })
            .collect();
        match pieces.as_slice() {
            [] => StrPat::Exact("".into()),
            [Piece::Lit(l)] => StrPat::Exact(l.as_str().into()),
            [Piece::Star] => StrPat::Any,
            [Piece::Lit(l), Piece::Star] => StrPat::Prefix(l.as_str().into()),
            [Piece::Star, Piece::Lit(l)] => StrPat::Suffix(l.as_str().into()),
            [Piece::Star, Piece::Lit(l), Piece::Star] => {
                StrPat::Contains(Box::new(memmem::Finder::new(l.as_bytes()).into_owned()))
            }
            _ => StrPat::Glob(pieces),
        }
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        match self {
            StrPat::Exact(p) => text == &**p,
            StrPat::Prefix(p) => text.starts_with(&**p),
            StrPat::Suffix(p) => text.ends_with(&**p),
            StrPat::Contains(f) => f.find(text.as_bytes()).is_some(),
            StrPat::Any => true,
            StrPat::Glob(pieces) => glob_match(pieces, text),
        }
    }

    /// The longest literal every match must contain, for prefiltering.
    pub(crate) fn anchor(&self) -> Option<String> {
        let s = match self {
            StrPat::Exact(p) | StrPat::Prefix(p) | StrPat::Suffix(p) => p.to_string(),
            StrPat::Contains(f) => String::from_utf8_lossy(f.needle()).into_owned(),
            StrPat::Any => return None,
            StrPat::Glob(pieces) => pieces
                .iter()
                .filter_map(|p| if let Piece::Lit(l) = p { Some(l) } else { None })
                .max_by_key(|l| l.len())?
                .clone(),
        };
        (!s.is_empty()).then(|| s.to_lowercase())
    }
}

/// Glob matching with `*` and `?`: the pattern is split at stars into
/// segments; the first must match at the start, the last at the end, and the
/// ones between at their leftmost place (which is always safe for globs).
fn glob_match(pieces: &[Piece], text: &str) -> bool {
    let mut segments: Vec<&[Piece]> = pieces.split(|p| matches!(p, Piece::Star)).collect();
    let anchored_start = !matches!(pieces.first(), Some(Piece::Star));
    let anchored_end = !matches!(pieces.last(), Some(Piece::Star));
    if segments.len() == 1 {
        return match_segment_at(segments[0], text, 0) == Some(text.len());
    }
    let mut pos = 0;
    let last = segments.pop().unwrap_or(&[]);
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            continue;
        }
        if i == 0 && anchored_start {
            match match_segment_at(seg, text, 0) {
                Some(end) => pos = end,
                None => return false,
            }
            continue;
        }
        match find_segment(seg, text, pos) {
            Some(end) => pos = end,
            None => return false,
        }
    }
    if last.is_empty() {
        return true;
    }
    if anchored_end {
        // The last segment must end exactly at the end of the text.
        let len = segment_len(last);
        if let Some(min_len) = len {
            // Fixed character count: find the start by counting back.
            let start = text.char_indices().rev().nth(min_len.wrapping_sub(1)).map(|(i, _)| i);
            let start = if min_len == 0 { Some(text.len()) } else { start };
            return start.is_some_and(|s| s >= pos && match_segment_at(last, text, s) == Some(text.len()));
        }
        false
    } else {
        find_segment(last, text, pos).is_some()
    }
}

/// Number of characters a star-free segment matches.
fn segment_len(seg: &[Piece]) -> Option<usize> {
    let mut n = 0;
    for p in seg {
        match p {
            Piece::Lit(l) => n += l.chars().count(),
            Piece::One => n += 1,
            Piece::Star => return None,
        }
    }
    Some(n)
}

/// Matches a star-free segment at byte offset `at`; returns the end offset.
fn match_segment_at(seg: &[Piece], text: &str, at: usize) -> Option<usize> {
    let mut pos = at;
    for p in seg {
        match p {
            Piece::Lit(l) => {
                if text.get(pos..)?.starts_with(l.as_str()) {
                    pos += l.len();
                } else {
                    return None;
                }
            }
            Piece::One => {
                let c = text.get(pos..)?.chars().next()?;
                pos += c.len_utf8();
            }
            Piece::Star => return None,
        }
    }
    Some(pos)
}

/// Finds the leftmost match of a segment at or after `from`.
fn find_segment(seg: &[Piece], text: &str, from: usize) -> Option<usize> {
    let mut start = from;
    loop {
        if let Some(end) = match_segment_at(seg, text, start) {
            return Some(end);
        }
        let c = text.get(start..)?.chars().next()?;
        start += c.len_utf8();
    }
}

/// One test of one value.
#[derive(Debug, Clone)]
pub(crate) enum Leaf {
    Str {
        pat: StrPat,
        cased: bool,
    },
    Regex(Regex),
    Cidr(IpNet),
    Num {
        cmp: Cmp,
        value: f64,
    },
    Time {
        part: TimePart,
        cmp: Cmp,
        value: f64,
    },
    /// Compare with another field of the same event (its id is in the item's
    /// `fieldrefs[slot]`).
    FieldRef {
        slot: usize,
        before: bool,
        after: bool,
        cased: bool,
    },
    /// The field is absent, null or empty.
    Null,
}

/// How an item's values combine.
#[derive(Debug, Clone)]
pub(crate) enum ItemTest {
    /// OR of groups (AND with `all`); each group an OR of leaves.
    Groups {
        groups: Vec<Vec<Leaf>>,
        all: bool,
    },
    Exists(bool),
}

/// One `field|modifiers: values` entry, or a keyword list when `field` is None.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) field: Option<FieldId>,
    pub(crate) test: ItemTest,
    pub(crate) negate: bool,
    pub(crate) fieldrefs: Vec<FieldId>,
}

/// A search identifier: OR of alternatives, each an AND of items.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub(crate) alternatives: Vec<Vec<Item>>,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Det(u32),
}

impl Expr {
    /// The same expression over detections numbered `by` higher (a
    /// filter's condition, once its detections follow a rule's).
    pub(crate) fn shifted(&self, by: u32) -> Expr {
        match self {
            Expr::And(v) => Expr::And(v.iter().map(|e| e.shifted(by)).collect()),
            Expr::Or(v) => Expr::Or(v.iter().map(|e| e.shifted(by)).collect()),
            Expr::Not(e) => Expr::Not(Box::new(e.shifted(by))),
            Expr::Det(i) => Expr::Det(i + by),
        }
    }
}

/// The matchable part of a rule.
#[derive(Debug)]
pub(crate) struct Matchable {
    pub(crate) detections: Vec<Detection>,
    pub(crate) condition: Expr,
}

impl Matchable {
    /// The detections the condition needs to be true (under an even
    /// number of `not`s), into `out`.
    pub(crate) fn positive_detections(&self, e: &Expr, negated: bool, out: &mut Vec<u32>) {
        match e {
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| self.positive_detections(x, negated, out)),
            Expr::Not(x) => self.positive_detections(x, !negated, out),
            Expr::Det(d) if !negated => out.push(*d),
            Expr::Det(_) => {}
        }
    }

    pub(crate) fn eval(&self, ev: &mut EventView<'_, '_>) -> bool {
        self.eval_expr(&self.condition, ev)
    }

    fn eval_expr(&self, e: &Expr, ev: &mut EventView<'_, '_>) -> bool {
        match e {
            Expr::And(xs) => xs.iter().all(|x| self.eval_expr(x, ev)),
            Expr::Or(xs) => xs.iter().any(|x| self.eval_expr(x, ev)),
            Expr::Not(x) => !self.eval_expr(x, ev),
            Expr::Det(i) => self
                .detections
                .get(*i as usize)
                .is_some_and(|d| d.alternatives.iter().any(|items| items.iter().all(|item| eval_item(item, ev)))),
        }
    }
}

/// Per-thread buffers for the texts of the event being matched, reused
/// from one event to the next so that matching does not allocate.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Per event field: one of the `TEXT_*` states.
    state: Vec<u8>,
    /// Per event field: its lowercased text when `state` is `TEXT_POOL`.
    pool: Vec<String>,
}

const TEXT_UNSET: u8 = 0;
/// Null or an array: no scalar text.
const TEXT_NONE: u8 = 1;
/// A string that is already lowercase: the event's own text.
const TEXT_ORIG: u8 = 2;
/// Text in `Scratch::pool` (lowercased strings; numbers and booleans).
const TEXT_POOL: u8 = 3;

/// An event bound to a rule set's field table, with lazily computed texts.
pub(crate) struct EventView<'e, 's> {
    pub(crate) event: &'e Event,
    /// Field id → index into `event.fields()`, or `NONE`.
    pub(crate) slots: &'s [u32],
    scratch: &'s mut Scratch,
}

pub(crate) const NONE: u32 = u32::MAX;

impl<'e, 's> EventView<'e, 's> {
    pub(crate) fn new(event: &'e Event, slots: &'s [u32], scratch: &'s mut Scratch) -> Self {
        let n = event.fields().len();
        scratch.state.clear();
        scratch.state.resize(n, TEXT_UNSET);
        if scratch.pool.len() < n {
            scratch.pool.resize_with(n, String::new);
        }
        EventView { event, slots, scratch }
    }

    pub(crate) fn index_of(&self, field: FieldId) -> Option<usize> {
        match self.slots.get(field as usize) {
            Some(&i) if i != NONE => Some(i as usize),
            _ => None,
        }
    }

    pub(crate) fn value(&self, idx: usize) -> &'e Value {
        &self.event.fields()[idx].1
    }

    /// The field's text as the event has it.
    fn text(&mut self, idx: usize) -> Option<&str> {
        match &self.event.fields()[idx].1 {
            Value::Str(s) => Some(s),
            // Numbers and booleans have no case: their text is the lowercase one.
            _ => self.lower(idx),
        }
    }

    /// The field's lowercased text, computed once per event.
    pub(crate) fn lower(&mut self, idx: usize) -> Option<&str> {
        let value = &self.event.fields()[idx].1;
        if self.scratch.state[idx] == TEXT_UNSET {
            let buf = &mut self.scratch.pool[idx];
            self.scratch.state[idx] = match value {
                Value::Str(s) if s.is_ascii() => {
                    if s.bytes().any(|b| b.is_ascii_uppercase()) {
                        buf.clear();
                        buf.push_str(s);
                        buf.make_ascii_lowercase();
                        TEXT_POOL
                    } else {
                        TEXT_ORIG
                    }
                }
                Value::Str(s) => {
                    buf.clear();
                    buf.push_str(&s.to_lowercase());
                    TEXT_POOL
                }
                Value::Null | Value::Array(_) => TEXT_NONE,
                other => {
                    buf.clear();
                    if let Some(t) = other.as_text() {
                        buf.push_str(&t);
                    }
                    TEXT_POOL
                }
            };
        }
        match (self.scratch.state[idx], value) {
            (TEXT_ORIG, Value::Str(s)) => Some(s),
            (TEXT_POOL, _) => Some(&self.scratch.pool[idx]),
            _ => None,
        }
    }
}

/// Lowercases without allocating when there is nothing to change.
pub(crate) fn lowercase(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(s.to_ascii_lowercase()) } else { Cow::Borrowed(s) }
    } else {
        let l = s.to_lowercase();
        if l == s { Cow::Borrowed(s) } else { Cow::Owned(l) }
    }
}

fn eval_item(item: &Item, ev: &mut EventView<'_, '_>) -> bool {
    let result = match item.field {
        Some(field) => match ev.index_of(field) {
            None => match &item.test {
                ItemTest::Exists(b) => !b,
                ItemTest::Groups { groups, all } => combine(groups, *all, |leaf| matches!(leaf, Leaf::Null)),
            },
            Some(idx) => match &item.test {
                ItemTest::Exists(b) => *b,
                ItemTest::Groups { groups, all } => {
                    combine(groups, *all, |leaf| test_field(leaf, idx, &item.fieldrefs, ev))
                }
            },
        },
        None => match &item.test {
            ItemTest::Exists(_) => false,
            ItemTest::Groups { groups, all } => combine(groups, *all, |leaf| {
                (0..ev.event.fields().len()).any(|idx| test_field(leaf, idx, &item.fieldrefs, ev))
            }),
        },
    };
    result != item.negate
}

fn combine(groups: &[Vec<Leaf>], all: bool, mut test: impl FnMut(&Leaf) -> bool) -> bool {
    if all { groups.iter().all(|g| g.iter().any(&mut test)) } else { groups.iter().any(|g| g.iter().any(&mut test)) }
}

/// Tests a leaf against the field at `idx` (any element, for arrays).
fn test_field(leaf: &Leaf, idx: usize, fieldrefs: &[FieldId], ev: &mut EventView<'_, '_>) -> bool {
    let value = ev.value(idx);
    match (leaf, value) {
        (Leaf::Null, v) => is_null(v),
        (_, Value::Null) => matches!(leaf, Leaf::Str { pat: StrPat::Exact(p), .. } if p.is_empty()),
        (_, Value::Array(items)) => items.iter().any(|v| test_value(leaf, v, fieldrefs, ev)),
        (Leaf::Str { pat, cased: false }, _) => ev.lower(idx).is_some_and(|t| pat.is_match(t)),
        (Leaf::Str { pat, cased: true }, _) => ev.text(idx).is_some_and(|t| pat.is_match(t)),
        (Leaf::Regex(re), _) => ev.text(idx).is_some_and(|t| re.is_match(t)),
        _ => test_value(leaf, value, fieldrefs, ev),
    }
}

/// Sigma's `null`: "not set". An absent field is tested before this; an
/// empty string is a value (the normalizer turns the empty elements that
/// mean "not set" into nulls: see `normalize::windows`).
fn is_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Tests a leaf against one scalar value (uncached path).
fn test_value(leaf: &Leaf, value: &Value, fieldrefs: &[FieldId], ev: &mut EventView<'_, '_>) -> bool {
    if let Value::Array(items) = value {
        return items.iter().any(|v| test_value(leaf, v, fieldrefs, ev));
    }
    match leaf {
        Leaf::Null => is_null(value),
        Leaf::Str { pat, cased } => match value {
            Value::Null => matches!(pat, StrPat::Exact(p) if p.is_empty()),
            _ => value.as_text().is_some_and(|t| if *cased { pat.is_match(&t) } else { pat.is_match(&lowercase(&t)) }),
        },
        Leaf::Regex(re) => value.as_text().is_some_and(|t| re.is_match(&t)),
        Leaf::Cidr(net) => {
            value.as_text().and_then(|t| t.trim().parse::<IpAddr>().ok()).is_some_and(|ip| net.contains(&ip))
        }
        Leaf::Num { cmp, value: want } => value.as_f64().is_some_and(|v| cmp.test(v, *want)),
        Leaf::Time { part, cmp, value: want } => {
            value.as_text().and_then(|t| part.extract(&t)).is_some_and(|v| cmp.test(v, *want))
        }
        Leaf::FieldRef { slot, before, after, cased } => {
            let Some(other_idx) = fieldrefs.get(*slot).and_then(|f| ev.index_of(*f)) else {
                return false;
            };
            let other = ev.value(other_idx);
            let (Some(mine), Some(theirs)) = (value.as_text(), other.as_text()) else {
                return false;
            };
            let (mine, theirs) = if *cased {
                (mine, theirs)
            } else {
                (Cow::Owned(lowercase(&mine).into_owned()), Cow::Owned(lowercase(&theirs).into_owned()))
            };
            match (before, after) {
                (false, false) => mine == theirs,
                (true, true) => mine.contains(&*theirs),
                (false, true) => mine.starts_with(&*theirs),
                (true, false) => mine.ends_with(&*theirs),
            }
        }
    }
}
