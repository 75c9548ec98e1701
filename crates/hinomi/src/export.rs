//! `hinomi export`: closed partitions of the event store as Parquet files,
//! so lake engines (DuckDB, Trino, Spark) read the same events.
//!
//! One file per partition, `OUT/<tenant>/<day>.parquet`, zstd-compressed,
//! in row groups of 65,536 events. Columns: `timestamp` and `received`
//! (UTC, microseconds), `id`, `tenant`, `source`, `logsource`, `raw` (the
//! record as received), `fields` (the normalized event as JSON), and one
//! text column per store column field with dots as underscores
//! (`host_name`). Today's partition is still being written and is skipped
//! unless `--include-open` is given.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;

use anyhow::{Context, Result};
use clap::Args;
use eventstore::{EventStore, PartitionInfo, Rebuild, Scan, StoreConfig, Stored};
use indicatif::{ProgressBar, ProgressStyle};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// The data directory of the server.
    #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
    data: PathBuf,
    /// Where the Parquet files go (`OUT/<tenant>/<day>.parquet`).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Tenants to export (default: all).
    #[arg(long)]
    tenant: Vec<String>,
    /// Only days from this date (YYYY-MM-DD).
    #[arg(long)]
    from: Option<jiff::civil::Date>,
    /// Only days up to this date, inclusive.
    #[arg(long)]
    to: Option<jiff::civil::Date>,
    /// Also export today's partition, which is still being written.
    #[arg(long)]
    include_open: bool,
    /// Export again even when the file exists.
    #[arg(long)]
    force: bool,
    /// Who exports (recorded in each tenant's audit trail).
    #[arg(long = "as", env = "USER", default_value = "cli")]
    actor: String,
}

const ROW_GROUP: usize = 65_536;

/// The store's column fields exported as their own Parquet columns.
fn extra_columns() -> Vec<String> {
    eventstore::DEFAULT_COLUMNS.iter().filter(|c| !c.starts_with('_')).map(|c| c.to_string()).collect()
}

pub(crate) fn run(args: ExportArgs) -> Result<ExitCode> {
    let dir = args.data.join("store");
    anyhow::ensure!(dir.exists(), "{} has no event store yet", args.data.display());
    let store = EventStore::open(StoreConfig::new(&dir))?;
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let parts: Vec<PartitionInfo> = store
        .partitions(None)
        .into_iter()
        .filter(|p| args.tenant.is_empty() || args.tenant.contains(&p.tenant))
        .filter(|p| {
            let Ok(day) = p.day.parse::<jiff::civil::Date>() else { return false };
            args.from.is_none_or(|f| day >= f) && args.to.is_none_or(|t| day <= t) && (args.include_open || day < today)
        })
        .collect();
    let audit = server::config::Config::for_data(&args.data, None)?.triage.open(&args.data)?;
    let total: u64 = parts.iter().map(|p| p.events).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut files, mut events) = (0, 0u64);
    for p in &parts {
        let path = args.out.join(&p.tenant).join(format!("{}.parquet", p.day));
        if path.exists() && !args.force {
            bar.inc(p.events);
            continue;
        }
        bar.set_message(format!("{}/{}", p.tenant, p.day));
        let n = export_partition(&store, p, &path, &bar).with_context(|| format!("exporting {}", path.display()))?;
        events += n;
        files += 1;
        // Data leaving the store is recorded in the tenant's audit trail.
        let by = state::By { tenant: &p.tenant, actor: &args.actor, now: jiff::Timestamp::now() };
        let data = serde_json::json!({"day": p.day, "events": n, "file": path.display().to_string()});
        audit.audit(&by, "export", &format!("partition:{}", p.day), &data)?;
    }
    bar.finish_and_clear();
    eprintln!("hinomi: exported {events} events to {files} Parquet files under {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// One exported row.
struct Row {
    timestamp: i64,
    received: i64,
    id: String,
    source: String,
    logsource: String,
    raw: String,
    fields: String,
    extra: Vec<Option<String>>,
}

fn row(stored: Stored, extra: &[String]) -> Row {
    let event = engine::Renormalize.event(&stored);
    let fields = event.as_ref().and_then(|e| serde_json::to_string(e).ok()).unwrap_or_else(|| "{}".into());
    let extra = extra
        .iter()
        .map(|c| event.as_ref().and_then(|e| e.get(c)).map(|v| query::pipes::key_text(&v.to_json())))
        .collect();
    Row {
        timestamp: stored.timestamp.as_microsecond(),
        received: stored.received.as_microsecond(),
        id: stored.id,
        source: stored.source,
        logsource: stored.logsource.join(", "),
        raw: stored.raw,
        fields,
        extra,
    }
}

fn export_partition(store: &EventStore, p: &PartitionInfo, path: &Path, bar: &ProgressBar) -> Result<u64> {
    let day: jiff::civil::Date = p.day.parse()?;
    let start = day.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp();
    let end = start + jiff::SignedDuration::from_hours(24);
    let extra = extra_columns();
    std::fs::create_dir_all(path.parent().context("no parent directory")?)?;
    let tmp = path.with_extension("parquet.tmp");
    let (tx, rx) = mpsc::sync_channel::<Vec<Row>>(4);
    let writer = {
        let (tmp, extra, tenant) = (tmp.clone(), extra.clone(), p.tenant.clone());
        std::thread::spawn(move || write_file(&tmp, &tenant, &extra, rx))
    };
    let tenants = [p.tenant.clone()];
    let scan = Scan { tenants: &tenants, from: Some(start), to: Some(end), logsource: None };
    let base = bar.position();
    let scanned = store.scan(
        &scan,
        &|chunk| {
            let rows: Vec<Row> = chunk.into_iter().map(|s| row(s, &extra)).collect();
            let _ = tx.send(rows);
        },
        &|n| bar.set_position(base + n),
    );
    drop(tx);
    let written = writer.join().map_err(|_| anyhow::anyhow!("the Parquet writer panicked"))??;
    scanned.map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::rename(&tmp, path)?;
    Ok(written)
}

fn write_file(path: &Path, tenant: &str, extra: &[String], rx: mpsc::Receiver<Vec<Row>>) -> Result<u64> {
    let mut schema = String::from(
        "message hinomi_event {\n\
         required int64 timestamp (TIMESTAMP(MICROS,true));\n\
         required int64 received (TIMESTAMP(MICROS,true));\n\
         required binary id (STRING);\n\
         required binary tenant (STRING);\n\
         required binary source (STRING);\n\
         required binary logsource (STRING);\n\
         required binary raw (STRING);\n\
         required binary fields (JSON);\n",
    );
    for c in extra {
        schema.push_str(&format!("optional binary {} (STRING);\n", parquet_name(c)));
    }
    schema.push('}');
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&schema)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::ZSTD(parquet::basic::ZstdLevel::try_new(6)?))
            .set_created_by("hinomi".into())
            .build(),
    );
    let file = std::fs::File::create(path)?;
    let mut writer = SerializedFileWriter::new(file, schema, props)?;
    let mut pending: Vec<Row> = Vec::new();
    let mut total = 0u64;
    for rows in rx {
        pending.extend(rows);
        if pending.len() >= ROW_GROUP {
            total += write_group(&mut writer, tenant, std::mem::take(&mut pending))?;
        }
    }
    if !pending.is_empty() {
        total += write_group(&mut writer, tenant, pending)?;
    }
    writer.close()?;
    Ok(total)
}

fn parquet_name(column: &str) -> String {
    column.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

fn write_group(writer: &mut SerializedFileWriter<std::fs::File>, tenant: &str, rows: Vec<Row>) -> Result<u64> {
    let n = rows.len();
    let mut group = writer.next_row_group()?;
    let bytes = |v: &str| ByteArray::from(v.as_bytes().to_vec());
    let mut column = 0;
    while let Some(mut col) = group.next_column()? {
        match column {
            0 | 1 => {
                let values: Vec<i64> =
                    rows.iter().map(|r| if column == 0 { r.timestamp } else { r.received }).collect();
                col.typed::<Int64Type>().write_batch(&values, None, None)?;
            }
            2..=7 => {
                let values: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| match column {
                        2 => bytes(&r.id),
                        3 => bytes(tenant),
                        4 => bytes(&r.source),
                        5 => bytes(&r.logsource),
                        6 => bytes(&r.raw),
                        _ => bytes(&r.fields),
                    })
                    .collect();
                col.typed::<ByteArrayType>().write_batch(&values, None, None)?;
            }
            extra => {
                let i = extra - 8;
                let values: Vec<ByteArray> = rows.iter().filter_map(|r| r.extra[i].as_deref().map(bytes)).collect();
                let defs: Vec<i16> = rows.iter().map(|r| i16::from(r.extra[i].is_some())).collect();
                col.typed::<ByteArrayType>().write_batch(&values, Some(&defs), None)?;
            }
        }
        col.close()?;
        column += 1;
    }
    group.close()?;
    Ok(n as u64)
}
