//! `hinomi search`: a query over the event store of a data directory, as a
//! table, JSON lines or CSV. It reads the store while a server writes it
//! (tantivy readers take no lock).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use query::Row;
use serde_json::Value;

use crate::output::{Format, csv_row};

#[derive(Args, Debug)]
pub(crate) struct SearchArgs {
    /// The query, e.g. 'user.name:alice | stats count() by host.name' (see docs/search.md).
    query: String,
    /// The data directory of the server.
    #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
    data: PathBuf,
    /// Tenants to search; repeatable.
    #[arg(long, default_value = "default")]
    tenant: Vec<String>,
    /// Start of the time range: RFC 3339, a date, or an offset such as -24h.
    #[arg(long, allow_hyphen_values = true)]
    from: Option<String>,
    /// End of the time range (exclusive).
    #[arg(long, allow_hyphen_values = true)]
    to: Option<String>,
    /// Events shown by a search without pipes (newest first).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

pub(crate) fn run(args: SearchArgs) -> Result<ExitCode> {
    let query = match query::parse(&args.query) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("hinomi: the query does not parse:\n{}", e.show(&args.query));
            return Ok(ExitCode::from(2));
        }
    };
    let now = jiff::Timestamp::now();
    let time = |name: &str, text: &Option<String>| -> Result<Option<jiff::Timestamp>> {
        text.as_deref()
            .map(|t| query::time_arg(t, now).with_context(|| format!("--{name} {t:?} is not a time")))
            .transpose()
    };
    let (from, to) = (time("from", &args.from)?, time("to", &args.to)?);
    let dir = args.data.join("store");
    anyhow::ensure!(dir.exists(), "{} has no event store yet", args.data.display());
    let store = eventstore::EventStore::open(eventstore::StoreConfig::new(&dir))?;
    let request = eventstore::SearchRequest {
        tenants: &args.tenant,
        query: &query,
        from,
        to,
        now,
        limit: args.limit.max(1),
        limits: query::Limits::default(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let spinner = ProgressBar::new_spinner();
    spinner.set_message("searching");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = std::time::Instant::now();
    let result = store.search(&request, &engine::Renormalize);
    spinner.finish_and_clear();
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hinomi: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let events = query.pipes.is_empty();
    let mut out = std::io::stdout().lock();
    print_rows(&mut out, args.format, &result.rows, events)?;
    out.flush()?;
    eprintln!(
        "hinomi: {} {} in {:.3}s ({} partitions, {} candidates, {} read and checked{})",
        result.rows.len(),
        if events { "events" } else { "rows" },
        started.elapsed().as_secs_f64(),
        result.partitions,
        result.candidates,
        result.checked,
        if result.columns { ", from columns" } else { "" },
    );
    Ok(ExitCode::SUCCESS)
}

/// The columns to show: for events the time, source and raw record; for
/// rows every column, in order of first appearance.
fn columns(rows: &[Row], events: bool) -> Vec<String> {
    if events {
        return ["@timestamp", "_source", "_raw"].map(String::from).to_vec();
    }
    let mut cols: Vec<String> = Vec::new();
    for row in rows {
        for key in row.keys() {
            if !cols.contains(key) {
                cols.push(key.clone());
            }
        }
    }
    cols
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn print_rows(out: &mut dyn Write, format: Format, rows: &[Row], events: bool) -> std::io::Result<()> {
    let cols = columns(rows, events);
    match format {
        Format::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            csv_row(out, cols.iter().cloned())?;
            for row in rows {
                csv_row(out, cols.iter().map(|c| cell(row.get(c))))?;
            }
        }
        Format::Table => {
            let flat = |s: String| -> String { s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect() };
            let cells: Vec<Vec<String>> =
                rows.iter().map(|row| cols.iter().map(|c| flat(cell(row.get(c)))).collect()).collect();
            // The last column runs on; the others are as wide as their
            // widest cell, up to 40 characters.
            let widths: Vec<usize> = (0..cols.len())
                .map(|i| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([cols[i].chars().count()])
                        .max()
                        .unwrap_or(0)
                        .min(40)
                })
                .collect();
            let line = |out: &mut dyn Write, items: &[String]| -> std::io::Result<()> {
                let mut text = String::new();
                for (i, item) in items.iter().enumerate() {
                    if i + 1 == items.len() {
                        text.push_str(item);
                    } else {
                        let shown: String = item.chars().take(widths[i]).collect();
                        text.push_str(&format!("{shown:<w$}  ", w = widths[i]));
                    }
                }
                writeln!(out, "{}", text.trim_end())
            };
            let head: Vec<String> = cols.iter().map(|c| c.to_uppercase()).collect();
            line(out, &head)?;
            for r in &cells {
                line(out, r)?;
            }
        }
    }
    Ok(())
}
