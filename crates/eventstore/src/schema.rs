//! The tantivy schema of a partition and how one event becomes a document.
//!
//! - `text`: every token ([`query::tokens`]) of the raw record (JSON
//!   escapes decoded: [`query::tokens::search_text`]) and of every field
//!   value, but for the words of JSON keys; bare words and phrases are
//!   looked up here.
//! - `f`: the event's two shapes ([`crate::shape`]: its field names, the
//!   words of its JSON keys), or presence terms `name\x1d` and key words
//!   in `text` when it falls back; for column fields also a
//!   value term `name\x1fvalue` (lowercased), so `field:value` on them is
//!   exact and `stats` after it stays on columns. Values longer than
//!   [`MAX_VALUE`] and timestamps (unique per event, and searched by range)
//!   get the marker `name\x1e` instead, so a search for such a value knows
//!   which events it must read to be sure. Other fields are narrowed by
//!   their words in `text` and checked.
//! - `ts`, `pos` (fast): time ranges and `_id` lookups, from columns.
//! - `kind` (fast): a hash of the event's log sources and field names, the
//!   order of documents in every segment (see `StoreWriter::add_frames`).
//! - `c:NAME` (fast, per configured column): what `stats` and `timechart`
//!   read without opening documents.
//! - `received`, `source`, `format`, `view`, `logsource` (fast): what is
//!   needed, with the raw record, to normalize it again exactly as the
//!   stream did.
//! - Stored (zstd-compressed): the raw record and, for enriched events,
//!   the fields enrichment added (JSON); nothing else (the id is `pos` and
//!   `idx`, both columns).
//!
//! Only postings are kept (no frequencies, positions or norms): events are
//! filtered, not ranked.

use std::collections::HashSet;

use model::Value;
use query::tokens::{lowercase, tokens};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, FieldType, IndexRecordOption, NumericOptions, STORED, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{PreTokenizedString, Token, TokenStream, Tokenizer};
use tantivy::{DateTime, TantivyDocument};

use crate::NewEvent;
use crate::shape::{SHAPE, Shapes};

/// Longest field value indexed as a term; longer ones get a marker. Long
/// values (messages, command lines, URLs) are nearly all distinct and
/// their words are in `text` anyway.
pub(crate) const MAX_VALUE: usize = 64;

pub(crate) const PRESENT: char = '\u{1d}';
pub(crate) const UNINDEXED: char = '\u{1e}';
pub(crate) const VALUE: char = '\u{1f}';

/// Hinomi's own fields, in the order rows show them.
pub const META: [&str; 6] = ["@timestamp", "_id", "_tenant", "_source", "_logsource", "_received"];
/// Meta fields that get `f` terms (the others are answered from `ts`,
/// `pos` or by reading the event).
pub(crate) const META_TERMS: [&str; 3] = ["_tenant", "_source", "_logsource"];

#[derive(Clone)]
pub(crate) struct Fields {
    pub(crate) pos: Field,
    pub(crate) idx: Field,
    pub(crate) ts: Field,
    pub(crate) received: Field,
    pub(crate) source: Field,
    pub(crate) format: Field,
    pub(crate) view: Field,
    pub(crate) logsource: Field,
    pub(crate) raw: Field,
    /// Partitions made before enrichment was kept have none.
    pub(crate) enriched: Option<Field>,
    pub(crate) text: Field,
    /// Whether `text` takes its words joined ([`TERMS_TOKENIZER`]).
    pub(crate) joined: bool,
    pub(crate) f: Field,
    /// Whether `f` takes its terms joined too (partitions made since
    /// 2026-12-05); then a value holding [`TERM_END`] gets the marker.
    pub(crate) f_joined: bool,
    /// The event's kind ([`KIND`]); older partitions have none (and are
    /// not ordered).
    pub(crate) kind: Option<Field>,
    /// `(column name, field)`.
    pub(crate) columns: Vec<(String, Field)>,
}

/// The tokenizer of `text` in partitions made since 2026-11-23, and of
/// `f` since 2026-12-05: the event's words (terms), already cut, one after
/// another with [`TERM_END`] after each ([`Terms`]). Earlier partitions
/// take them pre-tokenized, which costs an allocation and a 50-byte token
/// per word, and for a document's pre-tokenized field a round trip
/// through JSON on tantivy's indexing thread.
pub(crate) const TERMS_TOKENIZER: &str = "hinomi-terms";

/// The column partitions are sorted by: a hash of the event's log sources
/// and field names (`writer::kind_of`).
pub(crate) const KIND: &str = "kind";

/// Ends each word in the text given to [`Terms`]; no token has it, and
/// names and values that do get no term of their own in `f`.
const TERM_END: char = '\0';

/// How a partition's schema was made: a partition keeps the layout it was
/// created with, and every layout is read.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Layout {
    /// Before 2026-11-23: `text` and `f` pre-tokenized, no `kind`.
    #[cfg_attr(not(test), allow(dead_code))]
    PreTokenized,
    /// 2026-11-23 to 2026-12-05: `text` joined, `f` pre-tokenized.
    #[cfg_attr(not(test), allow(dead_code))]
    TextJoined,
    /// Since 2026-12-05: both joined.
    Joined,
}

pub(crate) fn build(columns: &[String]) -> Schema {
    build_with(columns, Layout::Joined)
}

pub(crate) fn build_with(columns: &[String], layout: Layout) -> Schema {
    let joined_or_raw = |joined: bool| if joined { TERMS_TOKENIZER } else { "raw" };
    let text_tokenizer = joined_or_raw(layout != Layout::PreTokenized);
    let f_tokenizer = joined_or_raw(layout == Layout::Joined);
    let kind = layout != Layout::PreTokenized;
    let mut b = Schema::builder();
    let indexing = |tokenizer| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
    };
    b.add_u64_field("pos", NumericOptions::default().set_fast());
    b.add_u64_field("idx", NumericOptions::default().set_fast());
    // Ranges on `ts` are answered from the column; indexing it would add
    // a term per distinct microsecond.
    b.add_date_field("ts", DateOptions::default().set_fast().set_precision(DateTimePrecision::Microseconds));
    // Per-batch values live in columns, where they cost bits, not in the
    // stored documents, which then hold little but the raw record.
    b.add_i64_field("received", NumericOptions::default().set_fast());
    if kind {
        b.add_u64_field(KIND, NumericOptions::default().set_fast());
    }
    let column = TextOptions::default().set_fast("raw");
    for name in ["source", "format", "view", "logsource"] {
        b.add_text_field(name, column.clone());
    }
    b.add_text_field("raw", STORED);
    b.add_text_field("enriched", STORED);
    b.add_text_field("text", indexing(text_tokenizer));
    b.add_text_field("f", indexing(f_tokenizer));
    for c in columns {
        b.add_text_field(&format!("c:{c}"), TextOptions::default().set_fast("raw"));
    }
    b.build()
}

impl Fields {
    pub(crate) fn of(schema: &Schema) -> tantivy::Result<Fields> {
        let get = |name: &str| schema.get_field(name);
        let (text, f) = (get("text")?, get("f")?);
        let joined = |field: Field| {
            matches!(schema.get_field_entry(field).field_type(),
                FieldType::Str(o) if o.get_indexing_options().is_some_and(|i| i.tokenizer() == TERMS_TOKENIZER))
        };
        let columns = schema
            .fields()
            .filter_map(|(field, entry)| entry.name().strip_prefix("c:").map(|n| (n.to_string(), field)))
            .collect();
        Ok(Fields {
            pos: get("pos")?,
            idx: get("idx")?,
            ts: get("ts")?,
            received: get("received")?,
            source: get("source")?,
            format: get("format")?,
            view: get("view")?,
            logsource: get("logsource")?,
            raw: get("raw")?,
            enriched: get("enriched").ok(),
            text,
            joined: joined(text),
            f,
            f_joined: joined(f),
            kind: get(KIND).ok(),
            columns,
        })
    }

    pub(crate) fn column(&self, name: &str) -> Option<Field> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, f)| *f)
    }

    /// Whether a (lowercased) field value gets its own term in this
    /// partition (see [`MAX_VALUE`]); others get the marker.
    pub(crate) fn indexed_value(&self, lower: &str) -> bool {
        lower.len() <= MAX_VALUE
            && query::tokens::timestamp_len(lower) != Some(lower.len())
            && !(self.f_joined && lower.contains(TERM_END))
    }

    /// The layout this partition was made with.
    #[cfg(test)]
    pub(crate) fn layout(&self) -> Layout {
        match (self.joined, self.f_joined) {
            (false, _) => Layout::PreTokenized,
            (true, false) => Layout::TextJoined,
            (true, true) => Layout::Joined,
        }
    }
}

/// Reused buffers for building documents, one per thread that builds them.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Keyed at random like the standard hasher (the words are a sender's:
    /// a fixed hash would let one record make its own set quadratic), and
    /// a few times faster on short words.
    hasher: ahash::RandomState,
    /// The words of the event one after another, cut by `words` (text)
    /// and `key_words` (JSON keys): one buffer instead of a string each.
    buf: String,
    words: Vec<(u32, u32)>,
    key_words: Vec<(u32, u32)>,
    joined: String,
    terms: Vec<String>,
}

fn push_word(buf: &mut String, to: &mut Vec<(u32, u32)>, word: &str) {
    // Records are bounded far below 4 GiB (the log's frame limit); a
    // buffer past that would only lose words of this one event's text,
    // which its check still reads.
    if let (Ok(start), Ok(len)) = (u32::try_from(buf.len()), u32::try_from(word.len())) {
        buf.push_str(word);
        to.push((start, len));
    }
}

fn word(buf: &str, (start, len): (u32, u32)) -> &str {
    buf.get(start as usize..start as usize + len as usize).unwrap_or("")
}

pub(crate) fn document(
    fields: &Fields,
    tenant: &str,
    ev: &NewEvent<'_>,
    shapes: &Shapes,
    s: &mut Scratch,
) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_u64(fields.pos, ev.position);
    doc.add_u64(fields.idx, u64::from(ev.index));
    doc.add_date(fields.ts, DateTime::from_timestamp_micros(micros(ev.timestamp)));
    doc.add_i64(fields.received, i64::try_from(ev.received.as_nanosecond()).unwrap_or(i64::MAX));
    doc.add_text(fields.source, ev.source);
    doc.add_text(fields.format, ev.format);
    if let Some(v) = ev.view {
        doc.add_text(fields.view, v);
    }
    for l in ev.logsource {
        doc.add_text(fields.logsource, l);
    }
    doc.add_text(fields.raw, ev.raw);
    if let (Some(field), Some(enriched)) = (fields.enriched, ev.enriched) {
        doc.add_text(field, enriched);
    }

    // Text tokens: the raw record and every field value (all of them, as
    // `Record::any_text` reads them), each token once; words of JSON keys
    // go to the key shape instead when there is one.
    s.buf.clear();
    s.words.clear();
    s.key_words.clear();
    let text = query::tokens::search_text(ev.raw);
    {
        let Scratch { buf, words, key_words, hasher, .. } = &mut *s;
        // The strings of a JSON record's values, as search text has them:
        // a field value that is one of them (nearly all are: the fields
        // of a JSON record are its values) has its words among the
        // record's already, and is not cut again.
        let mut strings: HashSet<&str, ahash::RandomState> = HashSet::with_hasher(hasher.clone());
        query::tokens::json_string_values(&text, &mut |v| {
            strings.insert(v);
        });
        let buf = std::cell::RefCell::new(buf);
        query::tokens::split_json_keys(
            &text,
            &mut |key| {
                tokens(key, |t| {
                    push_word(&mut buf.borrow_mut(), key_words, t);
                    false
                });
            },
            &mut |text| {
                tokens(text, |t| {
                    push_word(&mut buf.borrow_mut(), words, t);
                    false
                });
            },
        );
        let buf = buf.into_inner();
        for (_, value) in ev.event.fields() {
            each_text(value, &mut |text| {
                if query::tokens::as_search_text(text).is_some_and(|shown| strings.contains(&*shown)) {
                    return;
                }
                tokens(text, |t| {
                    push_word(buf, words, t);
                    false
                });
            });
        }
    }
    s.terms.clear();
    let Scratch { buf, words, key_words, joined, terms, hasher } = &mut *s;
    if !key_words.is_empty() {
        let mut refs: Vec<&str> = key_words.iter().map(|&r| word(buf, r)).collect();
        match shapes.keys(&mut refs) {
            Some(term) => terms.push(term),
            // No shape: the key words are words of `text` like the rest.
            None => words.append(key_words),
        }
    }
    // Each word once, in the order first seen.
    let mut seen: HashSet<&str, ahash::RandomState> = HashSet::with_capacity_and_hasher(words.len(), hasher.clone());
    let unique = words.iter().map(|&r| word(buf, r)).filter(|w| seen.insert(w));
    if fields.joined {
        joined.clear();
        for t in unique {
            joined.push_str(t);
            joined.push(TERM_END);
        }
        doc.add_text(fields.text, &*joined);
    } else {
        let words: Vec<String> = unique.map(str::to_string).collect();
        doc.add_pre_tokenized_text(fields.text, pretokenized(&words));
    }

    // Field terms: the first value of each name, as `Event::get` reads it;
    // column values the same way, meta fields first.
    let mut present: Vec<&str> = Vec::new();
    // Only the meta fields with terms or columns: formatting the times and
    // the id of every event for nothing cost more than its field terms.
    let meta: Vec<(&str, Value)> = META
        .iter()
        .filter(|&&n| META_TERMS.contains(&n) || fields.column(n).is_some())
        .filter_map(|&n| Some((n, meta_value(tenant, ev, n)?)))
        .collect();
    let mut columns: Vec<Option<&Value>> =
        fields.columns.iter().map(|(name, _)| meta.iter().find(|(n, _)| n == name).map(|(_, v)| v)).collect();
    for (name, value) in meta.iter().filter(|(n, _)| META_TERMS.contains(n)) {
        if field_terms(fields, name, value, true, &mut s.terms) {
            present.push(name);
        }
    }
    for (name, value) in ev.event.first_fields() {
        if META.contains(&&**name) {
            continue;
        }
        let column = fields.columns.iter().position(|(n, _)| **n == **name);
        if let Some(slot) = column.and_then(|c| columns.get_mut(c)) {
            *slot = Some(value);
        }
        if field_terms(fields, name, value, column.is_some(), &mut s.terms) {
            present.push(name);
        }
    }
    match shapes.names(&mut present) {
        Some(term) => s.terms.push(term),
        None => s.terms.extend(present.iter().map(|name| format!("{name}{PRESENT}"))),
    }
    if fields.f_joined {
        s.joined.clear();
        for t in &s.terms {
            s.joined.push_str(t);
            s.joined.push(TERM_END);
        }
        doc.add_text(fields.f, &*s.joined);
    } else {
        doc.add_pre_tokenized_text(fields.f, pretokenized(&s.terms));
    }

    for ((_, field), value) in fields.columns.iter().zip(columns) {
        match value {
            None | Some(Value::Null) => {}
            // What `key_text` gives a string, without the copies.
            Some(Value::Str(text)) => doc.add_text(*field, &**text),
            Some(v) => doc.add_text(*field, query::pipes::key_text(&v.to_json())),
        }
    }
    doc
}

/// The meta fields of an event, as the evaluator sees them.
pub(crate) fn meta_values(tenant: &str, ev: &NewEvent<'_>) -> Vec<(&'static str, Value)> {
    meta_of(
        tenant,
        &event_id(ev.position, ev.index),
        ev.source,
        ev.logsource.iter().map(String::as_str),
        truncate_micros(ev.timestamp),
        ev.received,
    )
}

/// One meta field of an event, as [`meta_values`] has it.
pub(crate) fn meta_value(tenant: &str, ev: &NewEvent<'_>, name: &str) -> Option<Value> {
    Some(match name {
        "_tenant" => Value::Str(tenant.into()),
        "_source" => Value::Str(ev.source.into()),
        "_logsource" => Value::Array(ev.logsource.iter().map(|l| Value::Str(l.as_str().into())).collect()),
        _ => return meta_values(tenant, ev).into_iter().find(|(n, _)| *n == name).map(|(_, v)| v),
    })
}

pub(crate) fn meta_of<'a>(
    tenant: &str,
    id: &str,
    source: &str,
    logsource: impl Iterator<Item = &'a str>,
    timestamp: jiff::Timestamp,
    received: jiff::Timestamp,
) -> Vec<(&'static str, Value)> {
    vec![
        ("@timestamp", Value::Str(timestamp.to_string().into())),
        ("_id", Value::Str(id.into())),
        ("_tenant", Value::Str(tenant.into())),
        ("_source", Value::Str(source.into())),
        ("_logsource", Value::Array(logsource.map(|l| Value::Str(l.into())).collect())),
        ("_received", Value::Str(received.to_string().into())),
    ]
}

fn each_text(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| each_text(v, f)),
        v => {
            if let Some(t) = v.as_text() {
                f(&t);
            }
        }
    }
}

/// Field names that would collide with the separators (or cut a joined
/// term in two) get no terms; a query on them reads events instead (see
/// `plan.rs`).
pub(crate) fn indexable_name(name: &str) -> bool {
    !name.contains([SHAPE, PRESENT, UNINDEXED, VALUE, TERM_END])
}

/// Pushes the value terms of a field when `values`; returns whether it has
/// a value (its name goes into the event's name shape).
fn field_terms(fields: &Fields, name: &str, value: &Value, values: bool, out: &mut Vec<String>) -> bool {
    if !indexable_name(name) {
        return false;
    }
    let items: &[Value] = match value {
        Value::Array(items) => items,
        v => std::slice::from_ref(v),
    };
    let mut present = false;
    let start = out.len();
    for v in items {
        if matches!(v, Value::Null) {
            continue;
        }
        present = true;
        if !values {
            continue;
        }
        if let Some(text) = v.as_text() {
            let lower = lowercase(&text);
            let term = if fields.indexed_value(&lower) {
                format!("{name}{VALUE}{lower}")
            } else {
                format!("{name}{UNINDEXED}")
            };
            out.push(term);
        }
    }
    // Terms carry their name, and names come once: repeats can only be
    // an array's, so they are removed here, by sorting (a search of all
    // terms per item would make a long array quadratic).
    if out.len() - start > 1 {
        let mut mine = out.split_off(start);
        mine.sort_unstable();
        mine.dedup();
        out.append(&mut mine);
    }
    present
}

fn pretokenized(terms: &[String]) -> PreTokenizedString {
    let mut offset = 0;
    let tokens = terms
        .iter()
        .enumerate()
        .map(|(position, t)| {
            let token = Token {
                offset_from: offset,
                offset_to: offset + t.len(),
                position,
                text: t.clone(),
                position_length: 1,
            };
            offset += t.len() + 1;
            token
        })
        .collect();
    // The text itself is not stored or used: the field is indexed only.
    PreTokenizedString { text: String::new(), tokens }
}

/// Cuts text at [`TERM_END`]: see [`TERMS_TOKENIZER`].
#[derive(Clone, Default)]
pub(crate) struct Terms;

pub(crate) struct TermStream<'a> {
    rest: &'a str,
    offset: usize,
    token: Token,
}

impl Tokenizer for Terms {
    type TokenStream<'a> = TermStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TermStream<'a> {
        TermStream { rest: text, offset: 0, token: Token { position: usize::MAX, ..Token::default() } }
    }
}

impl TokenStream for TermStream<'_> {
    fn advance(&mut self) -> bool {
        while !self.rest.is_empty() {
            let (word, rest, len) = match self.rest.split_once(TERM_END) {
                Some((w, r)) => (w, r, w.len() + TERM_END.len_utf8()),
                None => (self.rest, "", self.rest.len()),
            };
            self.rest = rest;
            let from = self.offset;
            self.offset += len;
            if word.is_empty() {
                continue;
            }
            self.token.text.clear();
            self.token.text.push_str(word);
            self.token.offset_from = from;
            self.token.offset_to = from + word.len();
            self.token.position = self.token.position.wrapping_add(1);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// An event's id: `<log position>.<index in frame>`.
pub(crate) fn event_id(position: u64, index: u32) -> String {
    format!("{position}.{index}")
}

pub(crate) fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

/// The index keeps microseconds; the evaluator must see the same instant.
pub(crate) fn truncate_micros(t: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}
