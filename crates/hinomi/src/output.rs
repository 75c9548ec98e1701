//! Detection records and their output formats (table, JSON lines, CSV).

use std::io::Write;

use model::{Event, Level};
use serde_json::json;
use sigma::Rule;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Table,
    Jsonl,
    Csv,
}

/// One rule matching one event.
pub(crate) struct Detection {
    pub(crate) timestamp: Option<model::Timestamp>,
    pub(crate) rule: usize,
    pub(crate) source: String,
    pub(crate) event: Event,
}

impl Detection {
    fn field(&self, name: &str) -> String {
        self.event.text(name).map(|c| c.into_owned()).unwrap_or_default()
    }

    fn timestamp_text(&self) -> String {
        self.timestamp.map(|t| t.to_string()).unwrap_or_default()
    }

    /// The JSON object of `--format jsonl`. The rule's author travels with
    /// every detection, as the Detection Rule License requires.
    pub(crate) fn to_json(&self, rule: &Rule) -> serde_json::Value {
        json!({
            "timestamp": self.timestamp.map(|t| t.to_string()),
            "rule_id": rule.id,
            "rule_title": rule.title,
            "level": rule.level.as_str(),
            "tags": rule.tags,
            "author": rule.author,
            "rule_path": rule.path,
            "source": self.source,
            "computer": self.event.text("Computer"),
            "channel": self.event.text("Channel"),
            "event_id": self.event.get("EventID").map(model::Value::to_json),
            "event": self.event.to_json(),
        })
    }
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
        Format::Jsonl => {
            for d in detections {
                serde_json::to_writer(&mut *out, &d.to_json(&rules[d.rule]))?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            csv_row(out, CSV_HEADER.iter().map(|s| s.to_string()))?;
            for d in detections {
                let rule = &rules[d.rule];
                csv_row(
                    out,
                    [
                        d.timestamp_text(),
                        rule.id.clone(),
                        rule.title.clone(),
                        rule.level.to_string(),
                        rule.tags.join(" "),
                        rule.author.clone().unwrap_or_default(),
                        d.source.clone(),
                        d.field("Computer"),
                        d.field("Channel"),
                        d.field("EventID"),
                        d.event.to_json().to_string(),
                    ]
                    .into_iter(),
                )?;
            }
        }
        Format::Table => {
            let rows: Vec<[String; 5]> = detections
                .iter()
                .map(|d| {
                    let rule = &rules[d.rule];
                    [
                        d.timestamp_text(),
                        rule.level.to_string(),
                        d.field("Computer"),
                        d.field("EventID"),
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
