//! `hinomi import`: log files into a data directory or a running server.
//!
//! Files are read as records, the way a listener would receive them: EVTX
//! records as their JSON, CloudTrail files (`{"Records": [...]}`, also
//! `.json.gz`) record by record, other JSON as objects, and any other text
//! (syslog files, CEF, key=value) line by line. Straight into a data
//! directory the records go through the same write-ahead log and pipeline
//! as in `hinomi serve` (no server may run on that directory meanwhile);
//! to a server they are posted to `/api/v1/ingest` with an ingest token,
//! waiting whenever the server asks to retry later.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use engine::{Engine, EngineConfig, Ingest, Refused};
use indicatif::{ProgressBar, ProgressStyle};
use wal::Batch;

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// Files or directories: .evtx, .json/.jsonl/.ndjson (CloudTrail too), .gz of those, syslog and other text.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Write into this data directory (no server may be running on it).
    #[arg(long, env = "HINOMI_DATA", value_name = "DIR", conflicts_with = "server")]
    data: Option<PathBuf>,
    /// Send to a running server instead, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Ingest token for --server.
    #[arg(long, env = "HINOMI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Tenant of the records (--data only; with --server the token decides).
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Source name the records are counted under (--data only).
    #[arg(long, default_value = "import")]
    source: String,
    /// Rules to run while importing into --data; repeatable.
    #[arg(long = "rules", short = 'r', value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Geolocate addresses with this MaxMind-format database (--data only;
    /// a server uses its own `[enrich] geoip`).
    #[arg(long, value_name = "FILE", conflicts_with = "server")]
    geoip: Option<PathBuf>,
}

/// Where records go.
enum Sink {
    Direct { ingest: Ingest, tenant: String, source: String },
    Server { addr: String, token: String },
}

const BATCH_RECORDS: usize = 2000;
const BATCH_BYTES: usize = 2 << 20;

pub(crate) fn run(args: ImportArgs) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in &args.paths {
        files.extend(crate::rules::walk(p, &|_| true)?);
    }
    if files.is_empty() {
        bail!("no files under {}", crate::rules::display_list(&args.paths));
    }
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut engine = None;
    let sink = match (&args.data, &args.server) {
        (Some(data), None) => {
            let rules = if args.rules.is_empty() {
                sigma::RuleSetBuilder::new(sigma::CompileOptions::default()).build().0
            } else {
                let ra = crate::rules::RuleArgs {
                    rules: args.rules.clone(),
                    placeholders: Vec::new(),
                    unknown_source: crate::rules::UnknownSourceArg::Generic,
                };
                crate::rules::load(&ra)?.0
            };
            // Imported events are indexed like the server's, with the
            // default store settings and, like the server's, no second
            // copy in the events/ journal.
            let mut config = EngineConfig::new(data);
            config.events_journal = false;
            // Once all is indexed the log is a second copy: it goes.
            config.seal_on_stop = true;
            let mut store = server::config::Store::default().settings(data);
            store.compact_on_stop = true;
            config.store = Some(store);
            config.geo = args.geoip.as_deref().map(server::config::open_geoip).transpose()?;
            // The data directory's threat-intel indicators, as a server on it would match.
            let settings = server::config::Config::for_data(data, None)?;
            if settings.triage.enabled {
                let state = settings.triage.open(data)?;
                config.intel = Arc::new(server::intel::load_set(&state).context("loading threat-intel indicators")?);
            }
            let e = Engine::start(config, Arc::new(rules)).with_context(|| format!("opening {}", data.display()))?;
            let ingest = e.ingest();
            engine = Some(e);
            Sink::Direct { ingest, tenant: args.tenant.clone(), source: args.source.clone() }
        }
        (None, Some(url)) => {
            let token = args.token.clone().context("--server needs --token (or HINOMI_TOKEN)")?;
            let host = url.strip_prefix("http://").context("--server must be an http:// URL")?.trim_end_matches('/');
            Sink::Server { addr: host.to_string(), token }
        }
        _ => bail!("give --data DIR or --server URL"),
    };
    let mut sent = 0u64;
    let mut unreadable = 0u64;
    let mut client = None;
    for file in &files {
        bar.set_message(file.display().to_string());
        let mut batch: Vec<String> = Vec::new();
        let mut batch_bytes = 0;
        let mut format = "auto";
        let result = read_records(file, &bar, &mut |record, fmt| {
            if fmt != format && !batch.is_empty() {
                send(&sink, &mut client, format, std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
            format = fmt;
            batch_bytes += record.len();
            batch.push(record);
            sent += 1;
            if batch.len() >= BATCH_RECORDS || batch_bytes >= BATCH_BYTES {
                send(&sink, &mut client, format, std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
            Ok(())
        });
        if !batch.is_empty() {
            send(&sink, &mut client, format, batch)?;
        }
        match result {
            Ok(bad) => unreadable += bad,
            Err(e) => {
                bar.suspend(|| eprintln!("error: {}: {e:#}", file.display()));
                unreadable += 1;
            }
        }
    }
    bar.finish_and_clear();
    if let Some(e) = engine {
        bar.suspend(|| eprintln!("hinomi: waiting for the pipeline to write everything out"));
        e.drain(Duration::from_secs(3600));
        bar.suspend(|| eprintln!("hinomi: waiting for the event store to index everything"));
        e.drain_index(Duration::from_secs(3600));
        let status = e.status();
        e.shutdown();
        eprintln!("imported {sent} records from {} files; {} alerts", files.len(), status.alerts);
        if let Some(data) = &args.data {
            // No server runs here: triage the new detections now.
            let state = server::config::Config::for_data(data, None)?.triage.open(data)?;
            let n = state::reader::catch_up(data, &state).map_err(anyhow::Error::msg)?;
            eprintln!("triaged {n} detections (`hinomi alerts list`, `hinomi incident list`)");
        }
    } else {
        eprintln!("sent {sent} records from {} files", files.len());
    }
    if unreadable > 0 {
        eprintln!("{unreadable} records or files could not be read (see the errors above)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

type Each<'a> = dyn FnMut(String, &'static str) -> Result<()> + 'a;

/// Calls `each` with every record of `path`; returns how many records could
/// not be read (EVTX records the parser cannot decode).
fn read_records(path: &Path, bar: &ProgressBar, each: &mut Each<'_>) -> Result<u64> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if name.ends_with(".evtx") {
        let file = File::open(path)?;
        let records = normalize::read_evtx_json(file).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut bad = 0;
        for r in records {
            match r {
                Ok(json) => each(json, "json")?,
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {}: {e}", path.display()));
                    bad += 1;
                }
            }
        }
        bar.inc(len);
        return Ok(bad);
    }
    let file = File::open(path)?;
    let counted = bar.wrap_read(file);
    let mut reader: Box<dyn Read> =
        if name.ends_with(".gz") { Box::new(flate2::read::MultiGzDecoder::new(counted)) } else { Box::new(counted) };
    let stem = name.trim_end_matches(".gz");
    if stem.ends_with(".json") && len < 512 << 20 {
        // Small enough to look at as a whole: CloudTrail and pretty JSON.
        let mut text = String::new();
        reader.read_to_string(&mut text).context("reading")?;
        if json_document(&text, each)? {
            return Ok(0);
        }
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            each(line.trim_end_matches('\r').to_string(), "auto")?;
        }
        return Ok(0);
    }
    let mut lines = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            return Ok(0);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.trim().is_empty() {
            each(text.to_string(), "auto")?;
        }
    }
}

/// A CloudTrail file (`{"Records": [...]}`), or JSON values one after
/// another (pretty-printed or an array): one record per object. `false`
/// when the text is not JSON as a whole, so it is read line by line.
fn json_document(text: &str, each: &mut Each<'_>) -> Result<bool> {
    let mut values = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
        match v {
            Ok(v) => values.push(v),
            Err(_) => return Ok(false),
        }
    }
    if values.len() > 1 && !text.trim_start().starts_with('[') && text.lines().count() == values.len() {
        // One object per line: JSON lines, read as lines to keep each as sent.
        return Ok(false);
    }
    for v in values {
        match wire::envelope::unwrap(v) {
            Ok(records) => {
                for r in records {
                    each(r, "json")?;
                }
            }
            Err(single) => each(single.to_string(), "json")?,
        }
    }
    Ok(true)
}

fn send(sink: &Sink, client: &mut Option<std::net::TcpStream>, format: &str, records: Vec<String>) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    match sink {
        Sink::Direct { ingest, tenant, source } => {
            let batch = Batch {
                received: jiff::Timestamp::now().as_nanosecond() as i64,
                tenant: tenant.clone(),
                source: source.clone(),
                format: format.to_string(),
                records,
            };
            loop {
                match ingest.submit_blocking(batch.clone()) {
                    Ok(_) => return Ok(()),
                    Err(Refused::Busy) => std::thread::sleep(Duration::from_millis(50)),
                    Err(Refused::Failed(e)) => bail!("writing the log: {e}"),
                    // An import is watched: say so rather than wait on a full disk.
                    Err(Refused::Stopped(why)) => bail!("the pipeline stopped: {why}"),
                }
            }
        }
        Sink::Server { addr, token } => {
            let mut body = records.join("\n");
            body.push('\n');
            let path = format!("/api/v1/ingest?format={format}");
            loop {
                let (status, retry) = post(client, addr, &path, token, body.as_bytes())?;
                match status {
                    200 => return Ok(()),
                    429 | 503 => std::thread::sleep(Duration::from_secs(retry.unwrap_or(1).clamp(1, 60))),
                    401 | 403 => bail!("the server refused the token (HTTP {status})"),
                    other => bail!("the server answered HTTP {other}"),
                }
            }
        }
    }
}

/// One HTTP/1.1 POST on a kept-alive connection (reconnecting once when
/// the server closed it); returns the status and any Retry-After seconds.
fn post(
    client: &mut Option<std::net::TcpStream>,
    addr: &str,
    path: &str,
    token: &str,
    body: &[u8],
) -> Result<(u16, Option<u64>)> {
    for attempt in 0..2 {
        if client.is_none() {
            let stream = std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
            stream.set_read_timeout(Some(Duration::from_secs(300)))?;
            *client = Some(stream);
        }
        let Some(stream) = client.as_mut() else { continue };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let sent = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
        match sent.map_err(anyhow::Error::from).and_then(|()| read_response(stream)) {
            Ok(r) => return Ok(r),
            // The server may have closed a kept-alive connection: once more.
            Err(_) if attempt == 0 => *client = None,
            Err(e) => return Err(e),
        }
    }
    bail!("could not reach {addr}")
}

fn read_response(stream: &mut std::net::TcpStream) -> Result<(u16, Option<u64>)> {
    let mut reader = BufReader::new(&*stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no HTTP status line")?;
    let mut length = 0usize;
    let mut retry = None;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "retry-after" => retry = v.trim().parse().ok(),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length.min(16 << 20)];
    reader.read_exact(&mut body)?;
    Ok((status, retry))
}
