//! The search page and the event page. Results take the shape the query's
//! pipes give them (events, a `stats` or `fields` table, a `timechart`
//! chart with its table); events get columns chosen for their log source
//! or by the analyst, a sidebar of the fields of the events shown with
//! their most frequent values (each a filter in or out), and a link to
//! the whole event. Every link carries the whole search, so a URL is a
//! search to share.

use std::collections::HashMap;

use jiff::Timestamp;
use maud::{Markup, html};
use query::Output;
use state::SavedSearch;

use super::{Ctx, Stacked, T, clip, empty_row, preview, record};
use crate::enc::{Shown, query_value};

type Row = serde_json::Map<String, serde_json::Value>;

/// A search as asked and what it found.
pub(crate) struct SearchView<'a> {
    pub(crate) query: &'a str,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    /// The columns the analyst chose (`cols=`, comma-separated); empty for
    /// the log source's defaults.
    pub(crate) columns: &'a str,
    pub(crate) output: Output,
    pub(crate) rows: &'a [Row],
    /// The histogram of an event search: label and count per column.
    pub(crate) buckets: Vec<(String, i64)>,
    /// The histogram took longer than its budget and is left out.
    pub(crate) histogram_skipped: bool,
    pub(crate) error: Option<String>,
    /// The analyst's saved searches and those shared in the tenant.
    pub(crate) saved: &'a [SavedSearch],
}

/// Columns an event table shows by default, per log source, when the
/// events have them: what identifies the activity at a glance.
const DEFAULT_COLUMNS: &[(&str, &[&str])] = &[
    (
        "proxy",
        &["@timestamp", "source.ip", "user.name", "cs-method", "url.full", "c-uri", "cs-host", "sc-status", "sc-bytes"],
    ),
    ("webserver", &["@timestamp", "source.ip", "cs-method", "url.full", "cs-uri-query", "sc-status", "cs-user-agent"]),
    ("firewall", &["@timestamp", "source.ip", "source.port", "destination.ip", "destination.port", "event.action"]),
    ("dns", &["@timestamp", "source.ip", "query", "dns.question.name", "answer", "record_type"]),
    (
        "windows",
        &["@timestamp", "host.name", "EventID", "Channel", "user.name", "Image", "CommandLine", "source.ip", "message"],
    ),
    ("linux", &["@timestamp", "host.name", "process.name", "user.name", "source.ip", "event.action", "message"]),
];

/// Columns when no log source says better.
const FALLBACK_COLUMNS: &[&str] = &["@timestamp", "host.name", "user.name", "source.ip", "event.action", "message"];

/// Most columns the defaults give.
const MAX_DEFAULT_COLUMNS: usize = 7;

/// Fields the sidebar leaves out: they identify a row, not the activity.
const NOT_IN_SIDEBAR: &[&str] = &["_raw", "_id", "_received", "_tenant", "@timestamp"];

/// Fields the sidebar lists at most, and values per field.
const SIDEBAR_FIELDS: usize = 40;
const SIDEBAR_VALUES: usize = 5;

/// Values longer than this get no filter link (it would be a URL as long).
const MAX_PIVOT: usize = 256;

/// A value as a cell shows it: text as is, numbers short.
fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() != 0.0 => {
                let text = format!("{f:.3}");
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            }
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

/// Whether the query language can name this field unquoted.
fn nameable(field: &str) -> bool {
    !field.is_empty() && field.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '$' | '/'))
}

/// `field:"value"`, quoted as the query language reads it; `None` when the
/// field cannot be named or the value is too long to link.
pub(crate) fn term(field: &str, value: &str) -> Option<String> {
    (nameable(field) && !value.is_empty() && value.len() <= MAX_PIVOT)
        .then(|| format!("{field}:\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// Where a query's pipes begin: its first `|` outside quotes.
pub(crate) fn pipes_at(q: &str) -> usize {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in q.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '|' if !quoted => return i,
            _ => {}
        }
    }
    q.len()
}

/// `q` with `clause` added to its filter (before its pipes).
pub(crate) fn narrowed(q: &str, clause: &str) -> String {
    let at = pipes_at(q);
    let (filter, pipes) = (q[..at].trim(), q[at..].trim());
    // `a OR b AND c` would bind the clause to `b` only.
    let has_or = filter.split_whitespace().any(|w| w == "OR");
    let filter = match filter {
        "" | "*" => clause.to_string(),
        f if has_or => format!("({f}) AND {clause}"),
        f => format!("{f} AND {clause}"),
    };
    if pipes.is_empty() { filter } else { format!("{filter} {pipes}") }
}

/// The product (or, for network logs, the category) most of the rows
/// come from.
fn main_source(rows: &[Row]) -> Option<&'static str> {
    let mut votes: HashMap<&'static str, usize> = HashMap::new();
    for row in rows {
        let Some(serde_json::Value::Array(list)) = row.get("_logsource") else { continue };
        let mut parts = list.iter().filter_map(|l| l.as_str()).flat_map(|l| l.split('/').take(2));
        if let Some((name, _)) = parts.find_map(|p| DEFAULT_COLUMNS.iter().find(|(n, _)| *n == p)) {
            *votes.entry(name).or_default() += 1;
        }
    }
    votes.into_iter().max_by_key(|(name, n)| (*n, std::cmp::Reverse(*name))).map(|(name, _)| name)
}

/// The columns of an event table: the analyst's, else the log source's
/// defaults that the rows have.
fn event_columns(chosen: &str, rows: &[Row]) -> Vec<String> {
    let chosen: Vec<String> =
        chosen.split(',').map(str::trim).filter(|c| !c.is_empty()).take(30).map(str::to_string).collect();
    if !chosen.is_empty() {
        return chosen;
    }
    let set = main_source(rows)
        .and_then(|s| DEFAULT_COLUMNS.iter().find(|(n, _)| *n == s))
        .map_or(FALLBACK_COLUMNS, |(_, cols)| *cols);
    set.iter()
        .filter(|c| rows.iter().any(|r| r.get(**c).is_some_and(|v| !v.is_null())))
        .take(MAX_DEFAULT_COLUMNS)
        .map(|c| c.to_string())
        .collect()
}

/// One field of the sidebar: in how many rows, and its top values.
struct FieldStat<'a> {
    name: &'a str,
    rows: usize,
    values: Vec<(String, usize)>,
}

/// The fields of the rows, most common first, with their top values.
fn field_stats(rows: &[Row]) -> Vec<FieldStat<'_>> {
    let mut seen: HashMap<&str, (usize, HashMap<String, usize>)> = HashMap::new();
    for row in rows {
        for (name, value) in row.iter().filter(|(n, _)| !NOT_IN_SIDEBAR.contains(&n.as_str())) {
            let (n, values) = seen.entry(name.as_str()).or_default();
            *n += 1;
            let mut count = |v: &serde_json::Value| *values.entry(clip(&cell(Some(v)), 300)).or_default() += 1;
            match value {
                serde_json::Value::Array(items) => items.iter().take(50).for_each(&mut count),
                serde_json::Value::Null => {}
                v => count(v),
            }
        }
    }
    let mut out: Vec<FieldStat<'_>> = seen
        .into_iter()
        .map(|(name, (rows, values))| {
            let mut values: Vec<(String, usize)> = values.into_iter().filter(|(v, _)| !v.is_empty()).collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            values.truncate(SIDEBAR_VALUES);
            FieldStat { name, rows, values }
        })
        .collect();
    out.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.name.cmp(b.name)));
    out.truncate(SIDEBAR_FIELDS);
    out
}

/// Colours of a chart's series, in order; the last is for the rest.
const SERIES_COLOURS: [&str; 8] = ["#1f5f8b", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#555"];

/// A search as a link: the query, its range and its columns.
fn search_link(ctx: &Ctx, q: &str, from: &str, to: &str, columns: &str) -> String {
    let mut url = format!("search?q={}&from={}", query_value(q), query_value(from));
    if !to.is_empty() {
        url.push_str(&format!("&to={}", query_value(to)));
    }
    if !columns.is_empty() {
        url.push_str(&format!("&cols={}", query_value(columns)));
    }
    ctx.url(&url)
}

impl SearchView<'_> {
    /// This search with another query or columns, as a link.
    fn link(&self, ctx: &Ctx, q: &str, columns: &str) -> String {
        search_link(ctx, q, self.from, self.to, columns)
    }

    /// A time from a row, in the user's zone.
    fn time(ctx: &Ctx, v: Option<&serde_json::Value>) -> String {
        let text = cell(v);
        text.parse::<Timestamp>().map(|t| ctx.time(t)).unwrap_or(text)
    }

    fn form(&self, ctx: &Ctx) -> Markup {
        html! {
            form method="get" class="filters" role="search" {
                label for="q" { (ctx.t(T::Query)) } " " input #q name="q" size="60" value=(self.query);
                " " label for="from" { (ctx.t(T::From)) } " " input #from name="from" size="10" value=(self.from);
                " " label for="to" { (ctx.t(T::To)) } " " input #to name="to" size="10" value=(self.to);
                @if !self.columns.is_empty() { input type="hidden" name="cols" value=(self.columns); }
                " " button #search-go { (ctx.t(T::Search)) }
                " " span.hint { (ctx.t(T::TimeHint)) " (" (ctx.tz.iana_name().unwrap_or("UTC")) ")" }
            }
        }
    }

    fn saved(&self, ctx: &Ctx) -> Markup {
        html! {
            details #saved open[!self.saved.is_empty() && self.query.is_empty()] {
                summary { (ctx.t(T::SavedSearches)) " (" (self.saved.len()) ")" }
                ul.saved {
                    @for s in self.saved {
                        li {
                            a.saved-search href=(search_link(ctx, &s.query, &s.from, &s.to, &s.columns)) {
                                (Shown(&s.name))
                            }
                            @if s.shared { " · " (ctx.t(T::SharedMark)) }
                            @if s.owner == ctx.user {
                                form method="post" action=(ctx.url("search")) class="inline" {
                                    (ctx.csrf_field())
                                    input type="hidden" name="action" value="delete";
                                    input type="hidden" name="id" value=(s.id);
                                    " " button.link aria-label=(format!("{} {}", ctx.t(T::Delete), s.name)) { (ctx.t(T::Delete)) }
                                }
                            } @else {
                                " (" (Shown(&s.owner)) ")"
                            }
                        }
                    }
                }
                @if !self.query.is_empty() {
                    form method="post" action=(ctx.url("search")) class="inline" {
                        (ctx.csrf_field())
                        input type="hidden" name="action" value="save";
                        input type="hidden" name="q" value=(self.query);
                        input type="hidden" name="from" value=(self.from);
                        input type="hidden" name="to" value=(self.to);
                        input type="hidden" name="cols" value=(self.columns);
                        label for="search-name" { (ctx.t(T::SaveSearchAs)) } " "
                        input #search-name name="name" size="24" required;
                        " " input #search-shared type="checkbox" name="shared" value="1";
                        " " label for="search-shared" { (ctx.t(T::SharedWithTenant)) }
                        " " button #search-save { (ctx.t(T::Save)) }
                    }
                }
            }
        }
    }

    fn sidebar(&self, ctx: &Ctx, columns: &[String]) -> Markup {
        let stats = field_stats(self.rows);
        let with = |field: &str| -> String {
            let mut cols: Vec<&str> = columns.iter().map(String::as_str).collect();
            match cols.iter().position(|c| *c == field) {
                Some(at) => {
                    cols.remove(at);
                }
                None => cols.push(field),
            }
            // An empty choice would mean the defaults again: keep the time.
            if cols.is_empty() { "@timestamp".to_string() } else { cols.join(",") }
        };
        html! {
            aside.fields #fields aria-labelledby="fields-title" {
                h2 #fields-title { (ctx.t(T::Fields)) }
                p.hint { (ctx.t(T::FieldsHint)) }
                @if !self.columns.is_empty() {
                    p { a #default-columns href=(self.link(ctx, self.query, "")) { (ctx.t(T::DefaultColumns)) } }
                }
                @for f in &stats {
                    details.field data-field=(f.name) {
                        summary {
                            (Shown(f.name)) " "
                            span.count { (f.rows) "/" (self.rows.len()) }
                        }
                        @if nameable(f.name) {
                            @let shown = columns.iter().any(|c| c == f.name);
                            a.column-toggle href=(self.link(ctx, self.query, &with(f.name))) {
                                (ctx.t(if shown { T::RemoveColumn } else { T::AddColumn }))
                            }
                        }
                        ul {
                            @for (value, n) in &f.values {
                                li {
                                    span.value { (Shown(&preview(value))) } " " span.count { (n) }
                                    @if let Some(t) = term(f.name, value) {
                                        " "
                                        a.filter-in href=(self.link(ctx, &narrowed(self.query, &t), self.columns))
                                            aria-label=(format!("{}: {} = {}", ctx.t(T::FilterIn), f.name, clip(value, 60))) { "+" }
                                        " "
                                        a.filter-out href=(self.link(ctx, &narrowed(self.query, &format!("NOT {t}")), self.columns))
                                            aria-label=(format!("{}: {} = {}", ctx.t(T::FilterOut), f.name, clip(value, 60))) { "−" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn events(&self, ctx: &Ctx) -> Markup {
        let columns = event_columns(self.columns, self.rows);
        let raw = self.rows.iter().any(|r| r.contains_key("_raw"));
        html! {
            div.search-layout {
                (self.sidebar(ctx, &columns))
                div.search-results {
                    h2 { (ctx.t(T::Results)) " (" (self.rows.len()) ")" }
                    table.results #results {
                        thead {
                            tr {
                                @for c in &columns { th scope="col" { (Shown(c)) } }
                                @if raw { th scope="col" { (ctx.t(T::Event)) } }
                            }
                        }
                        tbody {
                            @for row in self.rows {
                                @let id = row.get("_id").and_then(|v| v.as_str());
                                tr {
                                    @for c in &columns {
                                        td {
                                            @if c == "@timestamp" {
                                                @match id {
                                                    Some(id) => a.event-link href=(ctx.url(&format!("events/{}", query_value(id)))) {
                                                        (Self::time(ctx, row.get("@timestamp")))
                                                    },
                                                    None => (Self::time(ctx, row.get("@timestamp"))),
                                                }
                                            } @else {
                                                @let value = cell(row.get(c.as_str()));
                                                @match (c != "message").then(|| term(c, &value)).flatten() {
                                                    Some(t) => a href=(self.link(ctx, &narrowed(self.query, &t), self.columns)) { (Shown(&value)) },
                                                    None => (Shown(&preview(&value))),
                                                }
                                            }
                                        }
                                    }
                                    @if raw { td { (record(&cell(row.get("_raw")))) } }
                                }
                            }
                            @if self.rows.is_empty() { (empty_row(ctx, columns.len().max(1) + usize::from(raw))) }
                        }
                    }
                }
            }
        }
    }

    fn table(&self, ctx: &Ctx, columns: &[String]) -> Markup {
        html! {
            h2 { (ctx.t(T::Results)) " (" (self.rows.len()) ")" }
            table.results #results {
                thead { tr { @for c in columns { th scope="col" { (Shown(c)) } } } }
                tbody {
                    @for row in self.rows {
                        tr {
                            @for c in columns {
                                @if c == "_time" {
                                    td { (Self::time(ctx, row.get("_time"))) }
                                } @else {
                                    @let value = cell(row.get(c.as_str()));
                                    @if row.get(c.as_str()).is_some_and(|v| v.is_number()) {
                                        td.num { (value) }
                                    } @else {
                                        td { (Shown(&preview(&value))) }
                                    }
                                }
                            }
                        }
                    }
                    @if self.rows.is_empty() { (empty_row(ctx, columns.len().max(1))) }
                }
            }
        }
    }

    /// A `timechart` as stacked bars: the first value per bucket, one
    /// series per `by` value (the seven largest, then the rest together).
    fn chart(&self, ctx: &Ctx, by: Option<&str>, value: &str) -> Markup {
        let number = |r: &Row| r.get(value).and_then(serde_json::Value::as_f64).unwrap_or(0.0).round() as i64;
        let mut totals: HashMap<String, i64> = HashMap::new();
        for r in self.rows {
            *totals.entry(by.map(|b| cell(r.get(b))).unwrap_or_default()).or_default() += number(r);
        }
        let mut names: Vec<(String, i64)> = totals.into_iter().collect();
        names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let other = ctx.t(T::Other);
        let mut series: Vec<String> = names.iter().take(SERIES_COLOURS.len() - 1).map(|(n, _)| n.clone()).collect();
        if names.len() >= SERIES_COLOURS.len() {
            series.push(other.to_string());
        }
        let index = |name: &str| series.iter().position(|s| s == name).unwrap_or(series.len().saturating_sub(1));
        let mut columns: Vec<(String, Vec<i64>)> = Vec::new();
        let mut last_time: Option<String> = None;
        for r in self.rows {
            let time = cell(r.get("_time"));
            if last_time.as_ref() != Some(&time) {
                let label = time
                    .parse::<Timestamp>()
                    .map_or_else(|_| time.clone(), |t| t.to_zoned(ctx.tz.clone()).strftime("%m-%d %H:%M").to_string());
                columns.push((label, vec![0; series.len()]));
                last_time = Some(time);
            }
            let name = by.map(|b| cell(r.get(b))).unwrap_or_default();
            if let Some((_, counts)) = columns.last_mut()
                && let Some(slot) = counts.get_mut(index(&name))
            {
                *slot += number(r);
            }
        }
        let every = (columns.len() / 8).max(1);
        for (i, (label, _)) in columns.iter_mut().enumerate() {
            if i % every != 0 {
                label.clear();
            }
        }
        let named: Vec<(&str, &str)> = series
            .iter()
            .zip(SERIES_COLOURS)
            .map(|(s, c)| (if s.is_empty() { value } else { s.as_str() }, c))
            .collect();
        Stacked { title: value, series: &named, columns }.render()
    }
}

pub(crate) fn search(ctx: &Ctx, v: &SearchView<'_>) -> Markup {
    html! {
        (v.form(ctx))
        (v.saved(ctx))
        @if let Some(e) = &v.error { p.error role="alert" { (e) } }
        @if !v.query.is_empty() && v.error.is_none() {
            @match &v.output {
                Output::Events => {
                    @if v.histogram_skipped { p.hint #histogram-skipped { (ctx.t(T::HistogramSkipped)) } }
                    @if !v.buckets.is_empty() {
                        @let every = (v.buckets.len() / 8).max(1);
                        @let columns = v.buckets.iter().enumerate()
                            .map(|(i, (l, n))| (if i % every == 0 { l.clone() } else { String::new() }, vec![*n]))
                            .collect();
                        (Stacked { title: ctx.t(T::Events), series: &[(ctx.t(T::Events), "#1f5f8b")], columns }.render())
                    }
                    (v.events(ctx))
                },
                Output::Table(columns) => (v.table(ctx, columns)),
                Output::Chart { by, values } => {
                    @if let Some(value) = values.first() { (v.chart(ctx, by.as_deref(), value)) }
                    @let columns: Vec<String> = std::iter::once("_time".to_string()).chain(by.clone()).chain(values.iter().cloned()).collect();
                    (v.table(ctx, &columns))
                },
            }
        }
    }
}

/// Fields the event page shows first, in this order, when present.
const EVENT_HEAD: &[&str] = &["@timestamp", "_source", "_logsource", "_received", "_id"];

/// One stored event, whole: Hinomi's fields, every field of the event
/// (each a search for its value), and the record as it came.
pub(crate) fn event(ctx: &Ctx, row: &Row) -> Markup {
    let raw = cell(row.get("_raw"));
    // A JSON record reads better indented; anything else as it came.
    let pretty = serde_json::from_str::<serde_json::Value>(&raw)
        .ok()
        .filter(|v| v.is_object())
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| raw.clone());
    let search = |q: &str| ctx.url(&format!("search?q={}&from=-7d", query_value(q)));
    let fields = row.iter().filter(|(k, _)| k.as_str() != "_raw" && !EVENT_HEAD.contains(&k.as_str()));
    html! {
        dl.facts #event-meta {
            @for k in EVENT_HEAD {
                @if let Some(v) = row.get(*k) {
                    dt { (k) }
                    dd {
                        @match *k {
                            "@timestamp" | "_received" => (SearchView::time(ctx, Some(v))),
                            "_logsource" => (Shown(&v.as_array().map(|l| l.iter().map(|x| cell(Some(x))).collect::<Vec<_>>().join(", ")).unwrap_or_default())),
                            _ => (Shown(&cell(Some(v)))),
                        }
                    }
                }
            }
        }
        h2 { (ctx.t(T::Fields)) }
        table #event-fields {
            thead { tr { th scope="col" { (ctx.t(T::Field)) } th scope="col" { (ctx.t(T::Value)) } } }
            tbody {
                @for (k, v) in fields {
                    @let value = cell(Some(v));
                    tr {
                        th scope="row" { (Shown(k)) }
                        td {
                            @match term(k, &value) {
                                Some(t) => a href=(search(&t)) { (Shown(&value)) },
                                None => code.raw { (Shown(&clip(&value, 64 << 10))) },
                            }
                        }
                    }
                }
            }
        }
        h2 { (ctx.t(T::RawRecord)) }
        pre #raw-record { code.raw { (Shown(&clip(&pretty, 256 << 10))) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_go_before_the_pipes_and_keep_their_meaning() {
        let t = term("host.name", "ws-\"42\"\\").unwrap();
        assert_eq!(t, r#"host.name:"ws-\"42\"\\""#);
        let cases = [
            ("", "x:1", "x:1"),
            ("*", "x:1", "x:1"),
            ("EventID:4625", "x:1", "EventID:4625 AND x:1"),
            ("a OR b", "x:1", "(a OR b) AND x:1"),
            ("a | stats count() by x", "x:1", "a AND x:1 | stats count() by x"),
            // A pipe inside quotes is text.
            ("msg:\"a|b\" | head 5", "x:1", "msg:\"a|b\" AND x:1 | head 5"),
            ("msg:\"a\\\"|b\"", "x:1", "msg:\"a\\\"|b\" AND x:1"),
        ];
        for (q, clause, want) in cases {
            let got = narrowed(q, clause);
            assert_eq!(got, want, "{q}");
            assert!(query::parse(&got).is_ok(), "{got}");
        }
        assert_eq!(term("Logon Type", "3"), None);
        assert_eq!(term("x", &"a".repeat(MAX_PIVOT + 1)), None);
    }

    #[test]
    fn default_columns_follow_the_log_source_the_rows_come_from() {
        let row = |v: serde_json::Value| v.as_object().unwrap().clone();
        let windows = row(
            serde_json::json!({"@timestamp": "t", "_logsource": ["windows/process_creation/*", "windows/*/sysmon"],
            "EventID": 1, "Image": "a.exe", "CommandLine": "a", "host.name": "ws", "Channel": "x", "Hashes": "h"}),
        );
        let linux = row(
            serde_json::json!({"@timestamp": "t", "_logsource": ["linux/*/auth"], "user.name": "u", "source.ip": "1.2.3.4"}),
        );
        assert_eq!(
            event_columns("", &[windows.clone(), windows.clone(), linux.clone()]),
            ["@timestamp", "host.name", "EventID", "Channel", "user.name", "Image", "CommandLine"]
        );
        assert_eq!(event_columns("", std::slice::from_ref(&linux)), ["@timestamp", "user.name", "source.ip"]);
        assert_eq!(event_columns(" Hashes, ,EventID", &[windows]), ["Hashes", "EventID"]);
        let both = [linux.clone(), linux];
        let stats = field_stats(&both);
        assert_eq!(stats[0].rows, 2);
        assert!(stats.iter().all(|f| f.name != "@timestamp"));
        assert_eq!(stats.iter().find(|f| f.name == "user.name").unwrap().values, [("u".to_string(), 2)]);
    }
}
