//! Threat-intel feeds read from files and URLs, and the matcher kept in
//! step with the state store.
//!
//! [`read_source`] takes a path or an `http(s)://` URL (with a timeout and a
//! size budget) and reads it as its format says (or its content shows): a
//! STIX 2.1 bundle, a MISP feed (its `manifest.json`, whose events are
//! read beside it, or one event), CSV or a plain list. [`load_set`] builds
//! the engine's matcher from the stored indicators; [`watch`] rebuilds it
//! whenever another process (the CLI, the API) changed them.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use intel::Read;

/// Largest feed document read (a bundle, a list, one MISP event).
pub const MAX_FEED_BYTES: u64 = 512 << 20;
/// MISP events read from one manifest at most.
pub const MAX_MISP_EVENTS: usize = 10_000;

/// The formats a feed comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    Stix,
    Misp,
    Csv,
    List,
}

impl FeedFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::Stix => "stix",
            FeedFormat::Misp => "misp",
            FeedFormat::Csv => "csv",
            FeedFormat::List => "list",
        }
    }

    pub fn parse(name: &str) -> Result<FeedFormat, String> {
        match name {
            "stix" => Ok(FeedFormat::Stix),
            "misp" => Ok(FeedFormat::Misp),
            "csv" => Ok(FeedFormat::Csv),
            "list" => Ok(FeedFormat::List),
            _ => Err(format!("unknown feed format {name:?} (stix, misp, csv or list)")),
        }
    }

    /// The format a document's first bytes show.
    pub fn detect(text: &str) -> FeedFormat {
        let head: String = text.trim_start().chars().take(4096).collect();
        if head.starts_with('{') || head.starts_with('[') {
            if head.contains("\"Event\"") || looks_like_manifest(&head) { FeedFormat::Misp } else { FeedFormat::Stix }
        } else {
            let first = head.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
            if first.contains(',') { FeedFormat::Csv } else { FeedFormat::List }
        }
    }
}

/// `{"<uuid>": {...` is how a MISP manifest starts.
fn looks_like_manifest(head: &str) -> bool {
    let rest = head.trim_start_matches('{').trim_start();
    rest.strip_prefix('"').and_then(|r| r.get(..36)).is_some_and(intel::misp::is_uuid)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .timeout_connect(Some(Duration::from_secs(15)))
        .build()
        .into()
}

/// A document from a path or a URL, at most [`MAX_FEED_BYTES`].
fn fetch(agent: &ureq::Agent, source: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    if source.starts_with("http://") || source.starts_with("https://") {
        let response = agent.get(source).call().map_err(|e| format!("fetching {source}: {e}"))?;
        response
            .into_body()
            .into_reader()
            .take(MAX_FEED_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading {source}: {e}"))?;
    } else {
        let file = std::fs::File::open(source).map_err(|e| format!("opening {source}: {e}"))?;
        file.take(MAX_FEED_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("reading {source}: {e}"))?;
    }
    if bytes.len() as u64 > MAX_FEED_BYTES {
        return Err(format!("{source} is larger than {} MiB", MAX_FEED_BYTES >> 20));
    }
    String::from_utf8(bytes).map_err(|e| format!("{source} is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

/// Reads a feed: the document at `source` (a directory holding a MISP
/// feed's `manifest.json` counts as that manifest). `kind` is the kind of
/// a plain list's values when they do not show it. A document that cannot
/// be read at all is an error; entries that cannot are the read's problems.
pub fn read_source(
    source: &str,
    format: Option<FeedFormat>,
    kind: Option<intel::Kind>,
) -> Result<(Read, FeedFormat), String> {
    let agent = agent();
    let document = if Path::new(source).is_dir() {
        Path::new(source).join("manifest.json").to_string_lossy().into_owned()
    } else {
        source.to_string()
    };
    let text = fetch(&agent, &document)?;
    let format = format.unwrap_or_else(|| FeedFormat::detect(&text));
    let read = match format {
        FeedFormat::Stix => intel::stix::read_bundle(&text)?,
        FeedFormat::Csv | FeedFormat::List => intel::list::read(&text, kind),
        FeedFormat::Misp if looks_like_manifest(text.trim_start()) => read_misp_feed(&agent, &document, &text)?,
        FeedFormat::Misp => intel::misp::read_event(&text)?.0,
    };
    Ok((read, format))
}

/// Every event a MISP manifest lists, read from beside it; an event that
/// cannot be fetched or read is a problem of the read, not its end.
fn read_misp_feed(agent: &ureq::Agent, manifest_at: &str, manifest: &str) -> Result<Read, String> {
    let events = intel::misp::read_manifest(manifest)?;
    let base = manifest_at.rsplit_once('/').map_or("", |(b, _)| b);
    let mut read = Read::default();
    for (uuid, _) in events.iter().take(MAX_MISP_EVENTS) {
        // `is_uuid` (hex and dashes) keeps the name inside the feed.
        let at = if base.is_empty() { format!("{uuid}.json") } else { format!("{base}/{uuid}.json") };
        match fetch(agent, &at).and_then(|text| intel::misp::read_event(&text)) {
            Ok((one, _skipped)) => {
                read.indicators.extend(one.indicators);
                read.revoked.extend(one.revoked);
                read.problems.extend(one.problems);
            }
            Err(reason) => read.problems.push(intel::Problem { at: format!("event {uuid}"), reason }),
        }
    }
    if events.len() > MAX_MISP_EVENTS {
        read.problems.push(intel::Problem {
            at: "manifest".into(),
            reason: format!("{} events listed; the newest {MAX_MISP_EVENTS} were read", events.len()),
        });
    }
    Ok(read)
}

/// The matcher of every stored indicator.
pub fn load_set(state: &state::State) -> Result<intel::Set, state::StateError> {
    let entries = state
        .indicators()?
        .into_iter()
        .map(|s| intel::Entry {
            tenant: s.scope.map(Into::into),
            feed: s.feed.into(),
            indicator: Arc::new(s.indicator),
        })
        .collect();
    Ok(intel::Set::new(entries))
}

/// Rebuilds the engine's matcher whenever the stored indicators change
/// (checked every `every`), until `stop`.
pub fn watch(
    state: Arc<state::State>,
    ingest: engine::Ingest,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("intel-watch".into()).spawn(move || {
        let mut seen = state.intel_generation().ok();
        while !stop.load(Ordering::Acquire) {
            std::thread::sleep(every);
            let now = match state.intel_generation() {
                Ok(g) => Some(g),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the threat-intel generation failed");
                    continue;
                }
            };
            if now == seen {
                continue;
            }
            match load_set(&state) {
                Ok(set) => {
                    tracing::info!(indicators = set.len(), "threat-intel indicators reloaded");
                    ingest.set_intel(Arc::new(set));
                    seen = now;
                }
                Err(e) => tracing::warn!(error = %e, "loading threat-intel indicators failed; the last set stays"),
            }
        }
    })
}
