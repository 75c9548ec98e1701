//! Detection records and their output formats (table, JSON lines, CSV).

use std::io::Write;

use model::{Event, Level};
use serde::Serialize;
use sigma::Rule;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Table,
    Jsonl,
    Csv,
}

/// What an output line needs of its event: the fields every format shows
/// and, when the format prints the event, its JSON text. Built once per event
/// with detections, in the worker thread; every detection line of that event
/// is rendered from it.
pub(crate) struct EventSummary {
    pub(crate) timestamp: Option<model::Timestamp>,
    computer: Option<String>,
    channel: Option<String>,
    event_id: Option<model::Value>,
    /// The fields that say what the event did (`soc::details`), as one
    /// line: `TargetUserName: alice ¦ IpAddress: 203.0.113.7`.
    details: String,
    json: Option<Box<serde_json::value::RawValue>>,
}

impl EventSummary {
    pub(crate) fn new(event: &Event, format: Format) -> EventSummary {
        let text = |name: &str| event.text(name).map(|c| c.into_owned());
        let json = match format {
            Format::Table => None,
            // Serialized straight into a raw value: no re-parse to validate it.
            Format::Jsonl | Format::Csv => serde_json::value::to_raw_value(event).ok(),
        };
        EventSummary {
            timestamp: event.timestamp,
            // The Windows computer, else the ECS host of other logs.
            computer: text("Computer").or_else(|| text("host.name")),
            channel: text("Channel"),
            event_id: event.get("EventID").cloned(),
            // The host is in its own column already.
            details: soc::details::key_fields(text)
                .into_iter()
                .filter(|(k, _)| *k != "host.name")
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(" ¦ "),
            json,
        }
    }

    pub(crate) fn event_id_text(&self) -> String {
        self.event_id.as_ref().and_then(|v| v.as_text()).map(|c| c.into_owned()).unwrap_or_default()
    }
}

/// What an output line shows of a rule or correlation.
pub(crate) struct RuleMeta<'a> {
    pub(crate) id: &'a str,
    pub(crate) title: &'a str,
    pub(crate) level: model::Level,
    pub(crate) tags: &'a [String],
    pub(crate) author: Option<&'a str>,
    pub(crate) path: &'a str,
}

impl<'a> RuleMeta<'a> {
    pub(crate) fn of(rule: &'a Rule) -> RuleMeta<'a> {
        RuleMeta {
            id: &rule.id,
            title: &rule.title,
            level: rule.level,
            tags: &rule.tags,
            author: rule.author.as_deref(),
            path: &rule.path,
        }
    }

    pub(crate) fn of_correlation(c: &'a sigma::Correlation) -> RuleMeta<'a> {
        RuleMeta {
            id: &c.id,
            title: &c.title,
            level: c.level,
            tags: &c.tags,
            author: c.author.as_deref(),
            path: &c.path,
        }
    }
}

/// Appends the record of one detection to `buf`: the whole output line for
/// jsonl and CSV; for the table, its cells separated by `\x1f` and ended
/// by `\n` (the column widths are only known at the end, see
/// [`write_record`]), and `widths` grows to fit them.
pub(crate) fn render(
    format: Format,
    rule: &RuleMeta<'_>,
    source: &str,
    ev: &EventSummary,
    widths: &mut [usize; 5],
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    let timestamp = ev.timestamp.map(|t| t.to_string());
    match format {
        Format::Jsonl => {
            let record = JsonRecord {
                timestamp,
                rule_id: rule.id,
                rule_title: rule.title,
                level: rule.level.as_str(),
                tags: rule.tags,
                author: rule.author,
                rule_path: rule.path,
                source,
                computer: ev.computer.as_deref(),
                channel: ev.channel.as_deref(),
                event_id: ev.event_id.as_ref(),
                details: &ev.details,
                event: ev.json.as_deref(),
            };
            serde_json::to_writer(&mut *buf, &record)?;
            buf.push(b'\n');
        }
        Format::Csv => csv_row(
            buf,
            [
                timestamp.unwrap_or_default(),
                rule.id.to_owned(),
                rule.title.to_owned(),
                rule.level.to_string(),
                rule.tags.join(" "),
                rule.author.unwrap_or_default().to_owned(),
                source.to_owned(),
                ev.computer.clone().unwrap_or_default(),
                ev.channel.clone().unwrap_or_default(),
                ev.event_id_text(),
                ev.details.clone(),
                ev.json.as_ref().map(|j| j.get().to_owned()).unwrap_or_default(),
            ]
            .into_iter(),
        )?,
        Format::Table => {
            let cells = [
                timestamp.unwrap_or_default(),
                rule.level.to_string(),
                ev.computer.clone().unwrap_or_default(),
                ev.event_id_text(),
                rule.title.to_owned(),
                ev.details.clone(),
            ];
            for (i, cell) in cells.iter().enumerate() {
                let cell: String = cell.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count()).min(MAX_WIDTHS[i]);
                }
                if i > 0 {
                    buf.push(0x1f);
                }
                buf.extend_from_slice(cell.as_bytes());
            }
            // One event's detections share a timeline record: each ends its
            // line (cells hold no control characters).
            buf.push(b'\n');
        }
    }
    Ok(())
}

const TABLE_HEAD: [&str; 6] = ["TIMESTAMP", "LEVEL", "COMPUTER", "EVENT", "RULE", "DETAILS"];

/// The widest each column but the last may grow; longer cells end in `…`.
const MAX_WIDTHS: [usize; 5] = [40, 13, 40, 12, 64];

/// Writes what comes before the records: the CSV header or the table head.
pub(crate) fn write_header(out: &mut dyn Write, format: Format, widths: &[usize; 5]) -> std::io::Result<()> {
    match format {
        Format::Jsonl => Ok(()),
        Format::Csv => csv_row(out, CSV_HEADER.iter().map(|s| s.to_string())),
        Format::Table => table_line(out, widths, TABLE_HEAD.iter().copied()),
    }
}

/// Writes one record made by [`render`].
pub(crate) fn write_record(
    out: &mut dyn Write,
    format: Format,
    widths: &[usize; 5],
    record: &[u8],
) -> std::io::Result<()> {
    match format {
        Format::Jsonl | Format::Csv => out.write_all(record),
        Format::Table => {
            let text = String::from_utf8_lossy(record);
            text.split_terminator('\n').try_for_each(|line| table_line(out, widths, line.split('\x1f')))
        }
    }
}

fn table_line<'a>(
    out: &mut dyn Write,
    widths: &[usize; 5],
    cells: impl Iterator<Item = &'a str>,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, cell) in cells.enumerate() {
        match widths.get(i) {
            Some(&w) => {
                let cell = clip(cell, w.max(TABLE_HEAD[i].len()));
                line.push_str(&format!("{cell:<w$}  ", w = w.max(TABLE_HEAD[i].len())));
            }
            None => line.push_str(&clip(cell, 200)),
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// One line of `--format jsonl`, serialized straight from the detection.
#[derive(Serialize)]
struct JsonRecord<'a> {
    timestamp: Option<String>,
    rule_id: &'a str,
    rule_title: &'a str,
    level: &'a str,
    tags: &'a [String],
    author: Option<&'a str>,
    rule_path: &'a str,
    source: &'a str,
    computer: Option<&'a str>,
    channel: Option<&'a str>,
    event_id: Option<&'a model::Value>,
    details: &'a str,
    event: Option<&'a serde_json::value::RawValue>,
}

const CSV_HEADER: [&str; 12] = [
    "timestamp",
    "rule_id",
    "rule_title",
    "level",
    "tags",
    "author",
    "source",
    "computer",
    "channel",
    "event_id",
    "details",
    "event",
];

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().take(max.saturating_sub(1)).chain(['…']).collect() }
}

/// One CSV row (RFC 4180). A cell that a spreadsheet would take for a
/// formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return:
/// log data is written by attackers, and `=HYPERLINK(...)` in a user name
/// is a classic) gets a `'` first, which spreadsheets show as text.
pub(crate) fn csv_row(out: &mut dyn Write, cells: impl Iterator<Item = String>) -> std::io::Result<()> {
    let mut first = true;
    for cell in cells {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell };
        if cell.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", cell.replace('"', "\"\""))?;
        } else {
            out.write_all(cell.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}

/// What a run's detections add up to, for the summary after the run: the
/// rules that fired most, the hosts they fired on most, the first and the
/// last hit.
#[derive(Default)]
pub(crate) struct Tally {
    /// Rule id → (title, level, detections).
    rules: std::collections::HashMap<String, (String, Level, u64)>,
    hosts: std::collections::HashMap<String, u64>,
    first: Option<model::Timestamp>,
    last: Option<model::Timestamp>,
}

impl Tally {
    pub(crate) fn add(&mut self, rule: &RuleMeta<'_>, ev: &EventSummary) {
        self.rules.entry(rule.id.to_owned()).or_insert_with(|| (rule.title.to_owned(), rule.level, 0)).2 += 1;
        if let Some(host) = &ev.computer {
            *self.hosts.entry(host.clone()).or_default() += 1;
        }
        if let Some(t) = ev.timestamp {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    pub(crate) fn merge(&mut self, other: Tally) {
        for (id, (title, level, n)) in other.rules {
            self.rules.entry(id).or_insert((title, level, 0)).2 += n;
        }
        for (host, n) in other.hosts {
            *self.hosts.entry(host).or_default() += n;
        }
        self.first = [self.first, other.first].into_iter().flatten().min();
        self.last = [self.last, other.last].into_iter().flatten().max();
    }

    /// The summary's lines (none without detections): the top `top` rules
    /// and hosts, most detections first (then by name), and the span of
    /// the hits.
    pub(crate) fn lines(&self, top: usize) -> Vec<String> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let clean = |s: &str| -> String { s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect() };
        let mut rules: Vec<_> = self.rules.values().collect();
        rules.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let rules: Vec<String> =
            rules.iter().take(top).map(|(t, l, n)| format!("{n} {} ({})", clean(t), l.as_str())).collect();
        let mut out = vec![format!("top rules: {}", rules.join("; "))];
        let mut hosts: Vec<_> = self.hosts.iter().collect();
        hosts.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        if !hosts.is_empty() {
            let hosts: Vec<String> = hosts.iter().take(top).map(|(h, n)| format!("{n} {}", clean(h))).collect();
            out.push(format!("top hosts: {}", hosts.join("; ")));
        }
        if let (Some(first), Some(last)) = (self.first, self.last) {
            out.push(format!("hits from {first} to {last}"));
        }
        out
    }
}

/// The summary's "N critical, N high, …" from counts indexed by level.
pub(crate) fn level_counts(counts: &[u64; 5]) -> String {
    Level::ALL.iter().rev().map(|l| format!("{} {}", counts[*l as usize], l.as_str())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_detection_of_an_event_is_a_table_row_of_its_own() {
        let mut event = Event::new();
        event.push("Computer", model::Value::Str("ws-1".into()));
        event.push("EventID", model::Value::Int(4625));
        let ev = EventSummary::new(&event, Format::Table);
        let (tags, mut widths, mut buf) = (Vec::new(), [0; 5], Vec::new());
        for title in ["First rule", "Second\nrule"] {
            let rule = RuleMeta { id: "i", title, level: Level::High, tags: &tags, author: None, path: "p" };
            render(Format::Table, &rule, "f", &ev, &mut widths, &mut buf).unwrap();
        }
        let mut out = Vec::new();
        write_record(&mut out, Format::Table, &widths, &buf).unwrap();
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with("First rule") && lines[1].ends_with("Second rule"), "{lines:?}");
    }

    #[test]
    fn the_summary_names_the_top_rules_and_hosts_and_the_span() {
        let tags = Vec::new();
        let mut whole = Tally::default();
        for (title, host, minute) in [("B", "ws-1", 3), ("A", "ws-2", 1), ("B", "ws-2", 2), ("C\nx", "ws-2", 9)] {
            let mut event = Event::new();
            event.push("host.name", model::Value::Str(host.into()));
            event.timestamp = Some(format!("2026-11-30T10:0{minute}:00Z").parse().unwrap());
            let ev = EventSummary::new(&event, Format::Table);
            let rule = RuleMeta { id: title, title, level: Level::High, tags: &tags, author: None, path: "p" };
            // Tallies of two workers, merged.
            let mut part = Tally::default();
            part.add(&rule, &ev);
            whole.merge(part);
        }
        assert_eq!(
            whole.lines(2),
            [
                "top rules: 2 B (high); 1 A (high)",
                "top hosts: 3 ws-2; 1 ws-1",
                "hits from 2026-11-30T10:01:00Z to 2026-11-30T10:09:00Z"
            ]
        );
        assert!(Tally::default().lines(5).is_empty());
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        let row = |cells: &[&str]| {
            let mut out = Vec::new();
            csv_row(&mut out, cells.iter().map(|c| c.to_string())).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(row(&["alice", "a,b", "say \"hi\""]), "alice,\"a,b\",\"say \"\"hi\"\"\"\r\n");
        assert_eq!(
            row(&["=HYPERLINK(\"http://evil\",\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "ok=1"]),
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",'+1,'-2,'@SUM(A1),'\tx,ok=1\r\n"
        );
    }
}
