//! `hinomi hunt`: the detection engine over log files on disk.
//!
//! Files are processed in parallel (one rayon task per file, each with its
//! own matcher); detections are collected, sorted into a timeline and
//! printed at the end, followed by a summary on standard error.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use model::{Event, Level, Timestamp};
use rayon::prelude::*;
use sigma::RuleSet;

use crate::output::{self, EventSummary, Format};
use crate::rules::{self, RuleArgs};
use crate::timeline::{self, Key, Record, Timeline};

#[derive(Args, Debug)]
pub(crate) struct HuntArgs {
    /// EVTX or JSON(-lines) files, or directories searched recursively for
    /// `.evtx`, `.json`, `.jsonl` and `.ndjson`.
    #[arg(required_unless_present = "store", value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// Hunt over the events stored in --data instead of files (a retro-hunt).
    #[arg(long, requires = "data", conflicts_with = "paths")]
    store: bool,
    /// The data directory for --store.
    #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Tenants to hunt in with --store; repeatable.
    #[arg(long, default_value = "default")]
    tenant: Vec<String>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Only report rules of this level or above.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    min_level: Option<Level>,
    /// Only events at or after this time (RFC 3339, `YYYY-MM-DD[ HH:MM:SS]` in UTC, or an
    /// offset from now such as -90d).
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    from: Option<Timestamp>,
    /// Only events before this time.
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    to: Option<Timestamp>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
    /// Geolocate the files' addresses with this MaxMind-format database
    /// (a retro-hunt sees what was added when the events were stored).
    #[arg(long, value_name = "FILE", conflicts_with = "store")]
    geoip: Option<PathBuf>,
    /// List every rule that did not load, not just the first few.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// JSON-lines files larger than this are read in ranges of this size, in parallel.
    #[arg(long, hide = true, default_value_t = 16 << 20)]
    chunk_bytes: u64,
    /// Bytes of rendered detections kept in memory before sorted runs spill
    /// to disk. Small is fast too: spilled runs are written sequentially,
    /// while a large in-memory buffer costs page faults (measured: 1M events,
    /// 3.3 GB of output, 29.6 s spilling at 256 MiB vs 45.1 s in memory).
    #[arg(long, hide = true, default_value_t = 64 << 20)]
    timeline_budget: usize,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| format!("`{s}` is not one of informational, low, medium, high, critical"))
}

pub(crate) fn parse_time(s: &str) -> Result<Timestamp, String> {
    query::parse_time(s)
        .or_else(|| query::time_arg(s, Timestamp::now()))
        .ok_or_else(|| format!("`{s}` is not a time (use RFC 3339, YYYY-MM-DD[ HH:MM:SS], or an offset such as -24h)"))
}

/// A piece of work for one thread: a whole file, or a line-aligned byte
/// range of a large JSON-lines file (so that one big file uses every core).
struct Unit {
    file: u32,
    /// `(chunk number, start, end)` for a range; `None` for the whole file.
    range: Option<(u32, u64, u64)>,
}

/// A match a correlation uses: event time (µs), file, event order in the
/// file, rule, and the fields the correlation reads.
type CorrelationInput = (i64, u32, u64, usize, Vec<(String, String)>);

/// What one unit gave.
#[derive(Default)]
struct UnitResult {
    events: u64,
    detections: u64,
    correlate: Vec<CorrelationInput>,
    levels: [u64; 5],
    tally: output::Tally,
    widths: [usize; 5],
    record_errors: Vec<String>,
    failed: Option<String>,
}

pub(crate) fn run(args: HuntArgs) -> Result<ExitCode> {
    let started = Instant::now();
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global().context("starting worker threads")?;
    }
    let (set, errors) = rules::load(&args.rules)?;
    report_rejections(&errors, args.verbose);
    if set.is_empty() {
        bail!("no rule loaded from {}", rules::display_list(&args.rules.rules));
    }
    if let (true, Some(data)) = (args.store, &args.data) {
        let hunt =
            crate::retro::StoreHunt { data, tenants: &args.tenant, from: args.from, to: args.to, format: args.format };
        return crate::retro::run(&hunt, &set);
    }

    let mut files = Vec::new();
    for p in &args.paths {
        files.extend(rules::walk(p, &|p| rules::has_ext(p, &["evtx", "json", "jsonl", "ndjson"]))?);
    }
    if files.is_empty() {
        eprintln!("error: no .evtx, .json, .jsonl or .ndjson files under {}", rules::display_list(&args.paths));
        return Ok(ExitCode::from(1));
    }
    let geo = args.geoip.as_deref().map(server::config::open_geoip).transpose()?;
    let units = plan(&files, args.chunk_bytes.max(1));
    let total_bytes: u64 = units.iter().map(|u| unit_len(u, &files)).sum();
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let timeline = Mutex::new(Timeline::new(args.timeline_budget));
    let correlator = correlate::Correlator::new(&set, correlate::Config { lateness_micros: 0, ..Default::default() });
    let needs = correlator.needs();
    let scan_started = Instant::now();
    let ctx = Ctx {
        set: &set,
        filter: TimeFilter { from: args.from, to: args.to },
        min_level: args.min_level,
        format: args.format,
        timeline: &timeline,
        needs: &needs,
        geo: geo.as_deref(),
    };
    let results: Vec<UnitResult> = units
        .par_iter()
        .map_init(
            || set.matcher(),
            |matcher, unit| {
                let r = hunt_unit(unit, &files[unit.file as usize], &ctx, matcher);
                let n = timeline.lock().map(|t| t.len()).unwrap_or(0);
                bar.set_message(format!("{n} events with detections"));
                bar.inc(unit_len(unit, &files));
                r
            },
        )
        .collect();
    bar.finish_and_clear();
    let mut results = results;
    let correlated = correlate_all(&set, correlator, &mut results, &ctx, &files);
    let scan_secs = scan_started.elapsed().as_secs_f64();

    // Per file: skipped when no unit of it could be read.
    let (mut events, mut detections, mut record_errors) = (0u64, 0u64, 0usize);
    let mut levels = [0u64; 5];
    let mut widths = correlated.widths;
    detections += correlated.detections;
    let mut tally = correlated.tally;
    for (l, n) in levels.iter_mut().zip(correlated.levels) {
        *l += n;
    }
    let mut file_ok = vec![false; files.len()];
    let mut file_failure: Vec<Option<String>> = vec![None; files.len()];
    for (unit, r) in units.iter().zip(&mut results) {
        tally.merge(std::mem::take(&mut r.tally));
        let f = unit.file as usize;
        events += r.events;
        detections += r.detections;
        record_errors += r.record_errors.len();
        for (l, n) in levels.iter_mut().zip(r.levels) {
            *l += n;
        }
        for (w, n) in widths.iter_mut().zip(r.widths) {
            *w = (*w).max(n);
        }
        match &r.failed {
            None => file_ok[f] = true,
            Some(why) => file_failure[f] = Some(why.clone()),
        }
        let path = files[f].display();
        for e in r.record_errors.iter().take(3) {
            eprintln!("warning: {path}: {e}");
        }
        if r.record_errors.len() > 3 {
            eprintln!("warning: {path}: {} more bad records", r.record_errors.len() - 3);
        }
    }
    for (f, ok) in file_ok.iter().enumerate() {
        if !ok {
            let why = file_failure[f].as_deref().unwrap_or("nothing readable");
            eprintln!("warning: skipped {}: {why}", files[f].display());
        }
    }
    let read_ok = file_ok.iter().filter(|ok| **ok).count();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let timeline = timeline.into_inner().map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
    let written = output::write_header(&mut out, args.format, &widths)
        .and_then(|()| timeline.finish(|_, record| output::write_record(&mut out, args.format, &widths, record)))
        .and_then(|()| out.flush());
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e).context("writing detections");
    }
    drop(out);

    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "hunt: {} files ({} unreadable), {events} events, {record_errors} bad records; {detections} detections ({}); rules: {} loaded, {} rejected; {elapsed:.2}s, {:.0} events/s",
        files.len(),
        files.len() - read_ok,
        output::level_counts(&levels),
        set.len(),
        errors.len(),
        events as f64 / scan_secs.max(1e-9),
    );
    for line in tally.lines(5) {
        eprintln!("hunt: {line}");
    }
    Ok(if read_ok == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Runs the correlations over every unit's matches in event-time order
/// (then file and event order) and puts what fires into the timeline.
fn correlate_all(
    set: &RuleSet,
    mut correlator: correlate::Correlator,
    results: &mut [UnitResult],
    ctx: &Ctx<'_>,
    files: &[PathBuf],
) -> UnitResult {
    let mut out = UnitResult::default();
    if correlator.is_empty() {
        return out;
    }
    let mut inputs: Vec<_> = results.iter_mut().flat_map(|r| std::mem::take(&mut r.correlate)).collect();
    inputs.sort_by_key(|(at, file, seq, rule, _)| (*at, *file, *seq, *rule));
    let mut fired = Vec::new();
    for (at, file, seq, rule, fields) in &inputs {
        let read = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let id = format!("{}:{seq}", files[*file as usize].display());
        correlator.observe("hunt", *rule, *at, &id, &read, &mut fired);
    }
    correlator.advance(i64::MAX / 2, &mut fired);
    let mut batch = Vec::new();
    for (n, f) in fired.iter().filter(|f| f.alerts).enumerate() {
        let c = &set.correlations()[f.correlation].def;
        if ctx.min_level.is_some_and(|m| c.level < m) {
            continue;
        }
        // The group's values and the result as the line's event.
        let mut event = model::Event::new();
        for (k, v) in &f.group {
            event.push(k.as_str(), model::Value::Str(v.as_str().into()));
        }
        event.push("correlation.type", model::Value::Str(c.kind.as_str().into()));
        event.push("correlation.value", model::Value::Float(f.value));
        event.push("correlation.event_count", model::Value::Int(f.event_count as i64));
        event.push("correlation.events", model::Value::Str(f.events.join(" ").into()));
        event.timestamp = jiff::Timestamp::from_microsecond(f.last).ok();
        let ev = EventSummary::new(&event, ctx.format);
        let mut buf = Vec::new();
        if output::render(
            ctx.format,
            &output::RuleMeta::of_correlation(c),
            "correlation",
            &ev,
            &mut out.widths,
            &mut buf,
        )
        .is_err()
        {
            continue;
        }
        out.detections += 1;
        out.levels[c.level as usize] += 1;
        out.tally.add(&output::RuleMeta::of_correlation(c), &ev);
        let key = Key { no_time: false, nanos: i128::from(f.last) * 1000, file: u32::MAX, seq: n as u64 };
        batch.push((key, buf.into_boxed_slice()));
    }
    if !batch.is_empty() {
        hand_over(ctx.timeline, &mut batch);
    }
    out
}

/// Splits large JSON-lines files into line-aligned ranges; everything else
/// (EVTX, small files, JSON whose first record spans lines) is one unit.
fn plan(files: &[PathBuf], chunk: u64) -> Vec<Unit> {
    let mut units = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let file = i as u32;
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len <= chunk || !rules::has_ext(path, &["json", "jsonl", "ndjson"]) {
            units.push(Unit { file, range: None });
            continue;
        }
        match line_ranges(path, len, chunk) {
            Some(ranges) => units.extend(
                ranges
                    .into_iter()
                    .enumerate()
                    .map(|(n, (start, end))| Unit { file, range: Some((n as u32, start, end)) }),
            ),
            None => units.push(Unit { file, range: None }),
        }
    }
    units
}

/// Cut points at line ends, or `None` when the file does not start with a
/// one-line JSON object (pretty-printed JSON must be read whole).
fn line_ranges(path: &Path, len: u64, chunk: u64) -> Option<Vec<(u64, u64)>> {
    let mut file = File::open(path).ok()?;
    let mut head = vec![0u8; 1 << 20];
    let n = read_up_to(&mut file, &mut head).ok()?;
    let first = head[..n].split(|&b| b == b'\n').find(|l| !l.iter().all(u8::is_ascii_whitespace))?;
    serde_json::from_slice::<serde::de::IgnoredAny>(first).ok()?;
    let mut cuts = vec![0u64];
    let mut at = chunk;
    let mut buf = vec![0u8; 64 << 10];
    while at < len {
        file.seek(SeekFrom::Start(at)).ok()?;
        let n = read_up_to(&mut file, &mut buf).ok()?;
        match memchr_newline(&buf[..n]) {
            Some(i) => {
                let cut = at + i as u64 + 1;
                if cut < len {
                    cuts.push(cut);
                }
                at = cut + chunk;
            }
            // A line longer than the probe: look further on.
            None if n > 0 => at += n as u64,
            None => break,
        }
    }
    cuts.push(len);
    Some(cuts.windows(2).map(|w| (w[0], w[1])).collect())
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn unit_len(unit: &Unit, files: &[PathBuf]) -> u64 {
    match unit.range {
        Some((_, start, end)) => end - start,
        None => std::fs::metadata(&files[unit.file as usize]).map(|m| m.len()).unwrap_or(0),
    }
}

fn report_rejections(errors: &[sigma::LoadError], verbose: bool) {
    if errors.is_empty() {
        return;
    }
    let shown = if verbose { errors.len() } else { errors.len().min(5) };
    for e in &errors[..shown] {
        eprintln!("rejected: {e}");
    }
    if shown < errors.len() {
        eprintln!("rejected: … and {} more rules (-v lists all, `hinomi rules check` explains)", errors.len() - shown);
    }
}

struct TimeFilter {
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

impl TimeFilter {
    fn keeps(&self, event: &Event) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        // An event without a time cannot be placed in a window; leave it out.
        let Some(t) = event.timestamp else { return false };
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t < to)
    }
}

const EVTX_MAGIC: &[u8; 8] = b"ElfFile\0";

/// What every unit shares.
struct Ctx<'a> {
    set: &'a RuleSet,
    filter: TimeFilter,
    min_level: Option<Level>,
    format: Format,
    timeline: &'a Mutex<Timeline>,
    /// Fields correlations read, per rule they use.
    needs: &'a std::collections::HashMap<usize, Vec<String>>,
    geo: Option<&'a geo::Geo>,
}

/// Records are handed to the shared timeline in batches of about this size.
const BATCH_BYTES: usize = 4 << 20;

fn hunt_unit(unit: &Unit, path: &Path, ctx: &Ctx<'_>, matcher: &mut sigma::Matcher<'_>) -> UnitResult {
    let mut result = UnitResult::default();
    let source = path.display().to_string();
    let mut batch: Vec<Record> = Vec::new();
    let mut batch_bytes = 0usize;
    // Event order inside the file, for a deterministic timeline.
    let mut seq: u64 = unit.range.map_or(0, |(chunk, _, _)| u64::from(chunk) << 40);
    let mut buf = Vec::new();
    let mut on_event = |mut event: Event, result: &mut UnitResult| {
        seq += 1;
        if !ctx.filter.keeps(&event) {
            return;
        }
        if let Some(geo) = ctx.geo {
            geo.enrich(&mut event);
        }
        result.events += 1;
        let hits = matcher.matches(&event);
        let rules = ctx.set.rules();
        for &r in hits {
            if let Some(names) = ctx.needs.get(&r) {
                let fields = names.iter().filter_map(|n| Some((n.clone(), event.text(n)?.into_owned()))).collect();
                let at = event.timestamp.map_or(0, |t| t.as_microsecond());
                result.correlate.push((at, unit.file, seq, r, fields));
            }
        }
        // One timeline record per event: the lines of all its detections,
        // in rule order, which is where they belong in the timeline anyway.
        let mut summary = None;
        buf.clear();
        for &r in hits {
            let rule = &rules[r];
            if !rule.alerts || ctx.min_level.is_some_and(|m| rule.level < m) {
                continue;
            }
            let ev = summary.get_or_insert_with(|| EventSummary::new(&event, ctx.format));
            let meta = output::RuleMeta::of(rule);
            if output::render(ctx.format, &meta, &source, ev, &mut result.widths, &mut buf).is_err() {
                continue;
            }
            result.detections += 1;
            result.levels[rule.level as usize] += 1;
            result.tally.add(&meta, ev);
        }
        if let Some(ev) = summary {
            let key = Key {
                no_time: ev.timestamp.is_none(),
                nanos: ev.timestamp.map_or(0, |t| t.as_nanosecond()),
                file: unit.file,
                seq,
            };
            batch_bytes += buf.len();
            batch.push((key, buf.as_slice().into()));
        }
        if batch_bytes > BATCH_BYTES {
            hand_over(ctx.timeline, &mut batch);
            batch_bytes = 0;
        }
    };
    read_unit(unit, path, &mut result, &mut on_event);
    if !batch.is_empty() {
        hand_over(ctx.timeline, &mut batch);
    }
    result
}

/// Gives a batch to the timeline; when that makes it spill, the run is
/// sorted and written here, outside the lock.
fn hand_over(timeline: &Mutex<Timeline>, batch: &mut Vec<Record>) {
    let spill = match timeline.lock() {
        Ok(mut t) => t.push(batch),
        Err(_) => return,
    };
    if let Some(records) = spill {
        let run = timeline::write_run(records);
        if let Ok(mut t) = timeline.lock() {
            t.add_run(run);
        }
    }
}

/// Reads the events of a unit and hands each to `on_event`.
fn read_unit(unit: &Unit, path: &Path, result: &mut UnitResult, on_event: &mut dyn FnMut(Event, &mut UnitResult)) {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            result.failed = Some(format!("cannot open: {e}"));
            return;
        }
    };
    if let Some((_, start, end)) = unit.range {
        let mut bytes = vec![0u8; (end - start) as usize];
        if let Err(e) = file.seek(SeekFrom::Start(start)).and_then(|_| file.read_exact(&mut bytes)) {
            result.failed = Some(format!("cannot read bytes {start}..{end}: {e}"));
            return;
        }
        read_json_text(&bytes, &format!("from byte {start}, "), result, on_event);
        return;
    }
    let mut magic = [0u8; 8];
    let is_evtx = file.read_exact(&mut magic).is_ok() && &magic == EVTX_MAGIC;
    if file.seek(SeekFrom::Start(0)).is_err() {
        result.failed = Some("cannot seek".into());
        return;
    }
    if is_evtx {
        match normalize::read_evtx(BufReader::new(file)) {
            Err(e) => result.failed = Some(format!("not a readable EVTX file ({e})")),
            Ok(records) => {
                for r in records {
                    match r {
                        Ok(event) => on_event(event, result),
                        Err(e) => result.record_errors.push(e.to_string()),
                    }
                }
            }
        }
    } else {
        let mut bytes = Vec::new();
        if let Err(e) = file.read_to_end(&mut bytes) {
            result.failed = Some(format!("cannot read: {e}"));
            return;
        }
        read_json_text(&bytes, "", result, on_event);
    }
}

fn read_json_text(
    bytes: &[u8],
    where_: &str,
    result: &mut UnitResult,
    on_event: &mut dyn FnMut(Event, &mut UnitResult),
) {
    let text = String::from_utf8_lossy(bytes);
    for r in normalize::read_json(&text) {
        match r {
            Ok(event) => on_event(event, result),
            Err(e) => result.record_errors.push(format!("{where_}{e}")),
        }
    }
    if result.events == 0 && !result.record_errors.is_empty() {
        result.failed = Some("no readable JSON record".into());
    }
}
