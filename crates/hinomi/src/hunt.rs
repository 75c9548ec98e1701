//! `hinomi hunt`: the detection engine over log files on disk.
//!
//! Files are processed in parallel (one rayon task per file, each with its
//! own matcher); detections are collected, sorted into a timeline and
//! printed at the end, followed by a summary on standard error.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use model::{Event, Level, Timestamp};
use rayon::prelude::*;
use sigma::RuleSet;

use crate::output::{self, Detection, EventSummary, Format};
use crate::rules::{self, RuleArgs};

#[derive(Args, Debug)]
pub(crate) struct HuntArgs {
    /// EVTX or JSON(-lines) files, or directories searched recursively for
    /// `.evtx`, `.json`, `.jsonl` and `.ndjson`.
    #[arg(required = true, value_name = "PATHS")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Only report rules of this level or above.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    min_level: Option<Level>,
    /// Only events at or after this time (RFC 3339, or `YYYY-MM-DD[ HH:MM:SS]` in UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<Timestamp>,
    /// Only events before this time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<Timestamp>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
    /// List every rule that did not load, not just the first few.
    #[arg(long, short = 'v')]
    verbose: bool,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| format!("`{s}` is not one of informational, low, medium, high, critical"))
}

pub(crate) fn parse_time(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string());
    }
    Err(format!("`{s}` is not a time (use RFC 3339 or YYYY-MM-DD[ HH:MM:SS])"))
}

/// What one file gave.
#[derive(Default)]
struct FileResult {
    detections: Vec<Detection>,
    events: u64,
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

    let mut files = Vec::new();
    for p in &args.paths {
        files.extend(rules::walk(p, &|p| rules::has_ext(p, &["evtx", "json", "jsonl", "ndjson"]))?);
    }
    if files.is_empty() {
        eprintln!("error: no .evtx, .json, .jsonl or .ndjson files under {}", rules::display_list(&args.paths));
        return Ok(ExitCode::from(1));
    }
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let detections_so_far = AtomicU64::new(0);

    let filter = TimeFilter { from: args.from, to: args.to };
    let results: Vec<(PathBuf, FileResult)> = files
        .par_iter()
        .map_init(
            || set.matcher(),
            |matcher, path| {
                let r = hunt_file(path, &set, matcher, &filter, args.min_level, args.format);
                let n = detections_so_far.fetch_add(r.detections.len() as u64, Ordering::Relaxed)
                    + r.detections.len() as u64;
                bar.set_message(format!("{n} detections"));
                bar.inc(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
                (path.clone(), r)
            },
        )
        .collect();
    bar.finish_and_clear();

    let mut detections = Vec::new();
    let (mut events, mut read_ok, mut record_errors) = (0u64, 0usize, 0usize);
    for (path, r) in results {
        events += r.events;
        record_errors += r.record_errors.len();
        match &r.failed {
            Some(why) => eprintln!("warning: skipped {}: {why}", path.display()),
            None => read_ok += 1,
        }
        for e in r.record_errors.iter().take(3) {
            eprintln!("warning: {}: {e}", path.display());
        }
        if r.record_errors.len() > 3 {
            eprintln!("warning: {}: {} more bad records", path.display(), r.record_errors.len() - 3);
        }
        detections.extend(r.detections);
    }
    // A timeline: by event time, then rule, so output is deterministic.
    detections.sort_by(|a, b| {
        let key = |d: &Detection| (d.timestamp().is_none(), d.timestamp(), d.source.clone(), d.rule);
        key(a).cmp(&key(b))
    });

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if let Err(e) = output::write(&mut out, args.format, set.rules(), &detections)
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e).context("writing detections");
    }
    drop(out);

    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "hunt: {} files ({} unreadable), {events} events, {record_errors} bad records; {} detections ({}); rules: {} loaded, {} rejected; {elapsed:.2}s, {:.0} events/s",
        files.len(),
        files.len() - read_ok,
        detections.len(),
        output::level_counts(set.rules(), &detections),
        set.len(),
        errors.len(),
        events as f64 / elapsed.max(1e-9),
    );
    Ok(if read_ok == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
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

fn hunt_file(
    path: &Path,
    set: &RuleSet,
    matcher: &mut sigma::Matcher<'_>,
    filter: &TimeFilter,
    min_level: Option<Level>,
    format: Format,
) -> FileResult {
    let mut result = FileResult::default();
    let source: std::sync::Arc<str> = path.display().to_string().into();
    let mut on_event = |event: Event, result: &mut FileResult| {
        if !filter.keeps(&event) {
            return;
        }
        result.events += 1;
        let hits = matcher.matches(&event);
        let hits: Vec<usize> =
            hits.iter().copied().filter(|&r| min_level.is_none_or(|m| set.rules()[r].level >= m)).collect();
        if hits.is_empty() {
            return;
        }
        let summary = std::sync::Arc::new(EventSummary::new(&event, format));
        for rule in hits {
            result.detections.push(Detection { rule, source: source.clone(), event: summary.clone() });
        }
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            result.failed = Some(format!("cannot open: {e}"));
            return result;
        }
    };
    let mut magic = [0u8; 8];
    let is_evtx = file.read_exact(&mut magic).is_ok() && &magic == EVTX_MAGIC;
    if file.seek(SeekFrom::Start(0)).is_err() {
        result.failed = Some("cannot seek".into());
        return result;
    }
    if is_evtx {
        match normalize::read_evtx(BufReader::new(file)) {
            Err(e) => result.failed = Some(format!("not a readable EVTX file ({e})")),
            Ok(records) => {
                for r in records {
                    match r {
                        Ok(event) => on_event(event, &mut result),
                        Err(e) => result.record_errors.push(e.to_string()),
                    }
                }
            }
        }
    } else {
        let mut bytes = Vec::new();
        if let Err(e) = file.read_to_end(&mut bytes) {
            result.failed = Some(format!("cannot read: {e}"));
            return result;
        }
        let text = String::from_utf8_lossy(&bytes);
        for r in normalize::read_json(&text) {
            match r {
                Ok(event) => on_event(event, &mut result),
                Err(e) => result.record_errors.push(e.to_string()),
            }
        }
        if result.events == 0 && !result.record_errors.is_empty() {
            result.failed = Some("no readable JSON record".into());
        }
    }
    result
}
