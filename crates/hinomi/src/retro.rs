//! `hinomi hunt --store`: rules over the events stored in a data
//! directory (a retro-hunt), with a progress bar. Findings are alerts like
//! the stream's, marked `"origin": "retro-hunt"`, printed in time order.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use engine::retro::RetroHunt;
use indicatif::{ProgressBar, ProgressStyle};
use model::Timestamp;
use serde_json::Value;
use sigma::RuleSet;

use crate::output::{Format, csv_row};

pub(crate) struct StoreHunt<'a> {
    pub(crate) data: &'a Path,
    pub(crate) tenants: &'a [String],
    pub(crate) from: Option<Timestamp>,
    pub(crate) to: Option<Timestamp>,
    pub(crate) format: Format,
}

pub(crate) fn run(h: &StoreHunt<'_>, rules: &RuleSet) -> Result<ExitCode> {
    let started = Instant::now();
    let dir = h.data.join("store");
    anyhow::ensure!(dir.exists(), "{} has no event store yet", h.data.display());
    let store = eventstore::EventStore::open(eventstore::StoreConfig::new(&dir))?;
    let hunt = RetroHunt { store: &store, rules, tenants: h.tenants, from: h.from, to: h.to };
    let total = hunt.count().map_err(|e| anyhow::anyhow!("{e}"))?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let found = Mutex::new(Vec::new());
    let summary = hunt
        .run(
            &|line| {
                if let Ok(v) = serde_json::from_slice::<Value>(&line)
                    && let Ok(mut found) = found.lock()
                {
                    found.push(v);
                }
            },
            &|n| bar.set_position(n),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    let mut found = found.into_inner().map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
    found.sort_by(|a, b| {
        let key = |v: &Value| {
            (v["@timestamp"].as_str().unwrap_or_default().to_string(), v["id"].as_str().unwrap_or_default().to_string())
        };
        key(a).cmp(&key(b))
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    print(&mut out, h.format, &found).context("writing findings")?;
    out.flush()?;
    eprintln!(
        "hunt: {} stored events read (of tenants {}), {} unparsable; {} findings; {} rules; {:.2}s",
        summary.events,
        h.tenants.join(", "),
        summary.unparsable,
        summary.alerts,
        rules.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn print(out: &mut dyn Write, format: Format, found: &[Value]) -> std::io::Result<()> {
    let cells = |a: &Value| -> Vec<String> {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        vec![s(&a["@timestamp"]), s(&a["level"]), s(&a["event_id"]), s(&a["rule"]["id"]), s(&a["title"])]
    };
    match format {
        Format::Jsonl => {
            for a in found {
                serde_json::to_writer(&mut *out, a)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            csv_row(out, ["timestamp", "level", "event_id", "rule_id", "title"].map(String::from).into_iter())?;
            for a in found {
                csv_row(out, cells(a).into_iter())?;
            }
        }
        Format::Table => {
            writeln!(out, "{:<27}  {:<13}  {:<20}  RULE", "TIMESTAMP", "LEVEL", "EVENT")?;
            for a in found {
                let c = cells(a);
                writeln!(out, "{:<27}  {:<13}  {:<20}  {}", c[0], c[1], c[2], c[4])?;
            }
        }
    }
    Ok(())
}
