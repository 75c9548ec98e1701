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

/// What a detection keeps of its event: the fields every format shows and,
/// when the format prints the event, its JSON text. Built once per event in
/// the worker thread and shared by all of that event's detections, so the
/// event itself can be dropped right after matching.
pub(crate) struct EventSummary {
    pub(crate) timestamp: Option<model::Timestamp>,
    computer: Option<String>,
    channel: Option<String>,
    event_id: Option<model::Value>,
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
            computer: text("Computer"),
            channel: text("Channel"),
            event_id: event.get("EventID").cloned(),
            json,
        }
    }

    fn event_id_text(&self) -> String {
        self.event_id.as_ref().and_then(|v| v.as_text()).map(|c| c.into_owned()).unwrap_or_default()
    }
}

/// One rule matching one event.
pub(crate) struct Detection {
    pub(crate) rule: usize,
    pub(crate) source: std::sync::Arc<str>,
    pub(crate) event: std::sync::Arc<EventSummary>,
}

impl Detection {
    pub(crate) fn timestamp(&self) -> Option<model::Timestamp> {
        self.event.timestamp
    }

    fn timestamp_text(&self) -> String {
        self.event.timestamp.map(|t| t.to_string()).unwrap_or_default()
    }

    /// The record of `--format jsonl`. The rule's author travels with every
    /// detection, as the Detection Rule License requires.
    pub(crate) fn record<'a>(&'a self, rule: &'a Rule) -> JsonRecord<'a> {
        JsonRecord {
            timestamp: self.event.timestamp.map(|t| t.to_string()),
            rule_id: &rule.id,
            rule_title: &rule.title,
            level: rule.level.as_str(),
            tags: &rule.tags,
            author: rule.author.as_deref(),
            rule_path: &rule.path,
            source: &self.source,
            computer: self.event.computer.as_deref(),
            channel: self.event.channel.as_deref(),
            event_id: self.event.event_id.as_ref(),
            event: self.event.json.as_deref(),
        }
    }
}

/// One line of `--format jsonl`, serialized straight from the detection.
#[derive(Serialize)]
pub(crate) struct JsonRecord<'a> {
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
    event: Option<&'a serde_json::value::RawValue>,
}

const CSV_HEADER: [&str; 11] = [
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
    "event",
];

pub(crate) fn write(
    out: &mut dyn Write,
    format: Format,
    rules: &[Rule],
    detections: &[Detection],
) -> std::io::Result<()> {
    match format {
        Format::Jsonl => render_parallel(out, detections, |buf, d| {
            serde_json::to_writer(&mut *buf, &d.record(&rules[d.rule]))?;
            buf.write_all(b"\n")
        })?,
        Format::Csv => {
            csv_row(out, CSV_HEADER.iter().map(|s| s.to_string()))?;
            render_parallel(out, detections, |buf, d| {
                let rule = &rules[d.rule];
                csv_row(
                    buf,
                    [
                        d.timestamp_text(),
                        rule.id.clone(),
                        rule.title.clone(),
                        rule.level.to_string(),
                        rule.tags.join(" "),
                        rule.author.clone().unwrap_or_default(),
                        d.source.to_string(),
                        d.event.computer.clone().unwrap_or_default(),
                        d.event.channel.clone().unwrap_or_default(),
                        d.event.event_id_text(),
                        d.event.json.as_ref().map(|j| j.get().to_owned()).unwrap_or_default(),
                    ]
                    .into_iter(),
                )
            })?;
        }
        Format::Table => {
            let rows: Vec<[String; 5]> = detections
                .iter()
                .map(|d| {
                    let rule = &rules[d.rule];
                    [
                        d.timestamp_text(),
                        rule.level.to_string(),
                        d.event.computer.clone().unwrap_or_default(),
                        d.event.event_id_text(),
                        rule.title.clone(),
                    ]
                })
                .collect();
            let head = ["TIMESTAMP", "LEVEL", "COMPUTER", "EVENT", "RULE"].map(String::from);
            let mut widths = head.clone().map(|h| h.chars().count());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count()).min(40);
                }
            }
            for row in std::iter::once(&head).chain(&rows) {
                let mut line = String::new();
                for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                    let cell = clip(cell, if i == 4 { 200 } else { w });
                    if i == 4 {
                        line.push_str(&cell);
                    } else {
                        line.push_str(&format!("{cell:<w$}  "));
                    }
                }
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    Ok(())
}

/// Renders detections on all worker threads, a bounded batch at a time, and
/// writes the batches in order: the output is identical to a serial loop.
fn render_parallel(
    out: &mut dyn Write,
    detections: &[Detection],
    render: impl Fn(&mut Vec<u8>, &Detection) -> std::io::Result<()> + Sync,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    const CHUNK: usize = 2048;
    const BATCH: usize = CHUNK * 32;
    for batch in detections.chunks(BATCH) {
        let parts: Vec<std::io::Result<Vec<u8>>> = batch
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut buf = Vec::with_capacity(chunk.len() * 2048);
                for d in chunk {
                    render(&mut buf, d)?;
                }
                Ok(buf)
            })
            .collect();
        for part in parts {
            out.write_all(&part?)?;
        }
    }
    Ok(())
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().take(max.saturating_sub(1)).chain(['…']).collect() }
}

fn csv_row(out: &mut dyn Write, cells: impl Iterator<Item = String>) -> std::io::Result<()> {
    let mut first = true;
    for cell in cells {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        if cell.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", cell.replace('"', "\"\""))?;
        } else {
            out.write_all(cell.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}

/// Counts per level for the summary line.
pub(crate) fn level_counts(rules: &[Rule], detections: &[Detection]) -> String {
    let mut counts = [0usize; 5];
    for d in detections {
        counts[rules[d.rule].level as usize] += 1;
    }
    Level::ALL.iter().rev().map(|l| format!("{} {}", counts[*l as usize], l.as_str())).collect::<Vec<_>>().join(", ")
}
