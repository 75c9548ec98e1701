//! Threat-intel feeds read from files and URLs, and the matcher kept in
//! step with the state store.
//!
//! [`read_source`] takes a path or an `http(s)://` URL (with a timeout and a
//! size budget) and reads it as its format says (or its content shows): a
//! STIX 2.1 bundle, a MISP feed (its `manifest.json`, whose events are
//! read beside it, or one event), CSV or a plain list. [`poll_taxii`] reads
//! what a TAXII 2.1 collection added since the last poll, page by page.
//! [`start_pollers`] reads each `[[intel.feeds]]` on its schedule, one
//! thread per feed so that a feed that hangs delays no other; a read that
//! fails is recorded on the feed and leaves its indicators as they were.
//! [`load_set`] builds the engine's matcher from the stored indicators;
//! [`watch`] rebuilds it whenever they change (a poll, the CLI, the API).

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

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(15))))
        .http_status_as_error(false)
        .build()
        .into()
}

/// How a feed's server is authenticated: secrets are named by environment
/// variable and read at each request, never kept in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Basic { user: String, password_env: String },
    Bearer { token_env: String },
}

impl Auth {
    fn header(&self) -> Result<String, String> {
        use base64::Engine as _;
        let env = |name: &str| std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"));
        Ok(match self {
            Auth::Basic { user, password_env } => {
                let pair = format!("{user}:{}", env(password_env)?);
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            }
            Auth::Bearer { token_env } => format!("Bearer {}", env(token_env)?),
        })
    }
}

/// An HTTP GET answered 200, with its body (at most [`MAX_FEED_BYTES`]).
fn get(
    agent: &ureq::Agent,
    url: &str,
    accept: Option<&str>,
    auth: Option<&Auth>,
) -> Result<(String, ureq::http::HeaderMap), String> {
    let mut request = agent.get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    if let Some(auth) = auth {
        request = request.header("Authorization", &auth.header()?);
    }
    let response = request.call().map_err(|e| format!("fetching {}: {e}", host_of(url)))?;
    let status = response.status();
    let headers = response.headers().clone();
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_FEED_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading {}: {e}", host_of(url)))?;
    if !status.is_success() {
        let said: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
        return Err(format!("{} answered {}: {}", host_of(url), status.as_u16(), said.trim()));
    }
    if bytes.len() as u64 > MAX_FEED_BYTES {
        return Err(format!("{} sent more than {} MiB", host_of(url), MAX_FEED_BYTES >> 20));
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| format!("{} sent no UTF-8 text (byte {})", host_of(url), e.utf8_error().valid_up_to()))?;
    Ok((text, headers))
}

/// A URL's scheme and host, for messages: its path and query may hold a
/// key.
fn host_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{host}")
}

/// A document from a path or a URL, at most [`MAX_FEED_BYTES`].
fn fetch(agent: &ureq::Agent, source: &str, auth: Option<&Auth>) -> Result<String, String> {
    let mut bytes = Vec::new();
    if source.starts_with("http://") || source.starts_with("https://") {
        return get(agent, source, None, auth).map(|(text, _)| text);
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
    read_document(&agent(Duration::from_secs(120)), source, format, kind, None)
}

fn read_document(
    agent: &ureq::Agent,
    source: &str,
    format: Option<FeedFormat>,
    kind: Option<intel::Kind>,
    auth: Option<&Auth>,
) -> Result<(Read, FeedFormat), String> {
    let document = if Path::new(source).is_dir() {
        Path::new(source).join("manifest.json").to_string_lossy().into_owned()
    } else {
        source.to_string()
    };
    let text = fetch(agent, &document, auth)?;
    let format = format.unwrap_or_else(|| FeedFormat::detect(&text));
    let read = match format {
        FeedFormat::Stix => intel::stix::read_bundle(&text)?,
        FeedFormat::Csv | FeedFormat::List => intel::list::read(&text, kind),
        FeedFormat::Misp if looks_like_manifest(text.trim_start()) => read_misp_feed(agent, &document, &text, auth)?,
        FeedFormat::Misp => intel::misp::read_event(&text)?.0,
    };
    Ok((read, format))
}

/// Every event a MISP manifest lists, read from beside it; an event that
/// cannot be fetched or read is a problem of the read, not its end.
fn read_misp_feed(agent: &ureq::Agent, manifest_at: &str, manifest: &str, auth: Option<&Auth>) -> Result<Read, String> {
    let events = intel::misp::read_manifest(manifest)?;
    let base = manifest_at.rsplit_once('/').map_or("", |(b, _)| b);
    let mut read = Read::default();
    for (uuid, _) in events.iter().take(MAX_MISP_EVENTS) {
        // `is_uuid` (hex and dashes) keeps the name inside the feed.
        let at = if base.is_empty() { format!("{uuid}.json") } else { format!("{base}/{uuid}.json") };
        match fetch(agent, &at, auth).and_then(|text| intel::misp::read_event(&text)) {
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

/// TAXII 2.1's media type.
const TAXII: &str = "application/taxii+json;version=2.1";
/// Objects asked for per page.
const TAXII_PAGE: usize = 1000;
/// Pages read in one poll at most; the rest waits for the next poll.
const TAXII_PAGES: usize = 1000;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Envelope {
    more: bool,
    next: Option<String>,
}

/// What a TAXII 2.1 collection (its URL, ending in `/`) added after
/// `added_after`, page by page; and where the next poll starts (the
/// server's `X-TAXII-Date-Added-Last`, or `added_after` again).
pub fn poll_taxii(
    agent: &ureq::Agent,
    collection: &str,
    auth: Option<&Auth>,
    added_after: Option<&str>,
) -> Result<(Read, Option<String>), String> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let base = format!("{}/objects/", collection.trim_end_matches('/'));
    let mut read = Read::default();
    let mut cursor = added_after.map(str::to_string);
    let mut next: Option<String> = None;
    for page in 0..TAXII_PAGES {
        let mut url = format!("{base}?limit={TAXII_PAGE}");
        // Paging keeps the first request's filters, as TAXII asks.
        if let Some(after) = added_after {
            url.push_str(&format!("&added_after={}", utf8_percent_encode(after, NON_ALPHANUMERIC)));
        }
        if let Some(n) = &next {
            url.push_str(&format!("&next={}", utf8_percent_encode(n, NON_ALPHANUMERIC)));
        }
        let (text, headers) = get(agent, &url, Some(TAXII), auth)?;
        let envelope: Envelope =
            serde_json::from_str(&text).map_err(|e| format!("page {} is not a TAXII envelope: {e}", page + 1))?;
        let one = intel::stix::read_bundle(&text).map_err(|e| format!("page {}: {e}", page + 1))?;
        read.indicators.extend(one.indicators);
        read.revoked.extend(one.revoked);
        read.problems.extend(one.problems);
        if let Some(last) = headers.get("X-TAXII-Date-Added-Last").and_then(|v| v.to_str().ok()) {
            cursor = Some(last.to_string());
        }
        match (envelope.more, envelope.next) {
            (true, Some(n)) if !n.is_empty() => next = Some(n),
            _ => return Ok((read, cursor)),
        }
    }
    read.problems.push(intel::Problem {
        at: "collection".into(),
        reason: format!("more than {TAXII_PAGES} pages; the rest is read by the next poll"),
    });
    Ok((read, cursor))
}

/// How a configured feed is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Taxii,
    Document(FeedFormat),
}

/// A configured feed, checked.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub url: String,
    pub how: How,
    /// The tenant; `None` for the shared set.
    pub scope: Option<String>,
    pub every: Duration,
    pub timeout: Duration,
    pub auth: Option<Auth>,
    pub kind: Option<intel::Kind>,
    pub decay: Option<intel::Decay>,
}

/// A feed's decay setting from its half-life and floor.
pub fn decay_of(half_life: Option<Duration>, floor: Option<u8>) -> Result<Option<intel::Decay>, String> {
    match (half_life, floor) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err("a decay floor needs a decay half-life".into()),
        (Some(h), floor) => {
            let days = h.as_secs() / 86_400;
            if h.as_secs() % 86_400 != 0 || days == 0 || days > 36_500 {
                return Err(format!("a decay half-life is 1 to 36500 whole days, not {}s", h.as_secs()));
            }
            let floor = floor.unwrap_or(0);
            if floor > 100 {
                return Err(format!("a decay floor is a confidence of 0 to 100, not {floor}"));
            }
            Ok(Some(intel::Decay { half_life_days: days as u32, floor }))
        }
    }
}

impl Source {
    pub fn of(f: &crate::config::IntelFeed) -> Result<Source, String> {
        let how = match f.format.as_str() {
            "taxii" => How::Taxii,
            other => How::Document(
                FeedFormat::parse(other)
                    .map_err(|_| format!("unknown format {other:?} (taxii, stix, misp, csv or list)"))?,
            ),
        };
        if how == How::Taxii && !(f.url.starts_with("http://") || f.url.starts_with("https://")) {
            return Err(format!("a TAXII collection is an http(s) URL, not {:?}", f.url));
        }
        let auth = match (&f.user, &f.password_env, &f.token_env) {
            (Some(user), Some(password_env), None) => {
                Some(Auth::Basic { user: user.clone(), password_env: password_env.clone() })
            }
            (None, None, Some(token_env)) => Some(Auth::Bearer { token_env: token_env.clone() }),
            (None, None, None) => None,
            _ => return Err("give user and password_env, or token_env, or neither".into()),
        };
        let kind = f.kind.as_deref().map(|k| intel::Kind::parse(k).ok_or(format!("unknown kind {k:?}"))).transpose()?;
        let name_ok = !f.name.is_empty()
            && f.name.len() <= 100
            && f.name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !name_ok {
            return Err("a feed name needs 1 to 100 letters, digits, '-', '_', '.' or ':'".into());
        }
        if f.every.0 < Duration::from_secs(1) || f.timeout.0 < Duration::from_millis(100) {
            return Err("every must be at least 1s and timeout at least 100ms".into());
        }
        let decay = decay_of(f.decay_half_life.map(|s| s.0), f.decay_floor)?;
        Ok(Source {
            decay,
            name: f.name.clone(),
            url: f.url.clone(),
            how,
            scope: f.tenant.clone(),
            every: f.every.0,
            timeout: f.timeout.0,
            auth,
            kind,
        })
    }

    fn kind_name(&self) -> &'static str {
        match self.how {
            How::Taxii => "taxii",
            How::Document(f) => f.as_str(),
        }
    }

    /// Reads the feed once and stores what it gave; a failure is recorded
    /// on the feed (its indicators stay) and returned.
    pub fn read_once(&self, state: &state::State) -> Result<state::Stored, String> {
        let now = jiff::Timestamp::now();
        let by = state::By { tenant: self.scope.as_deref().unwrap_or("*"), actor: "intel-poller", now };
        let feed = state::FeedSource {
            scope: self.scope.as_deref(),
            name: &self.name,
            kind: self.kind_name(),
            source: &self.url,
        };
        let agent = agent(self.timeout);
        let outcome = match self.how {
            How::Taxii => {
                let cursor = state.intel_feeds(self.scope.as_deref().unwrap_or("*")).ok().and_then(|feeds| {
                    feeds.into_iter().find(|f| f.name == self.name && f.scope == self.scope).and_then(|f| f.cursor)
                });
                poll_taxii(&agent, &self.url, self.auth.as_ref(), cursor.as_deref())
                    .map(|(read, cursor)| (read, false, cursor))
            }
            How::Document(format) => read_document(&agent, &self.url, Some(format), self.kind, self.auth.as_ref())
                .map(|(read, _)| (read, true, None)),
        };
        match outcome {
            Ok((mut read, whole, cursor)) => {
                if let Some(decay) = self.decay {
                    read.decay_unset(decay);
                }
                state
                    .store_indicators(&by, feed, &read, whole, cursor.as_deref())
                    .map_err(|e| format!("storing the indicators: {e}"))
            }
            Err(reason) => {
                if let Err(e) = state.feed_failed(&by, feed, &reason) {
                    tracing::warn!(feed = %self.name, error = %e, "recording a failed feed read failed");
                }
                Err(reason)
            }
        }
    }
}

/// Starts one thread per feed that reads it at once and then every
/// `every`, until `stop`.
pub fn start_pollers(
    sources: Vec<Source>,
    state: Arc<state::State>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut threads = Vec::new();
    for source in sources {
        let (state, stop) = (state.clone(), stop.clone());
        let name = format!("intel-{}", source.name.chars().take(8).collect::<String>());
        threads.push(std::thread::Builder::new().name(name).spawn(move || {
            while !stop.load(Ordering::Acquire) {
                match source.read_once(&state) {
                    Ok(stored) => tracing::info!(
                        feed = %source.name, added = stored.added, updated = stored.updated,
                        removed = stored.removed, problems = stored.problems, "threat-intel feed read"
                    ),
                    Err(reason) => tracing::warn!(feed = %source.name, %reason, "threat-intel feed read failed"),
                }
                let until = std::time::Instant::now() + source.every;
                while !stop.load(Ordering::Acquire) && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(100).min(source.every));
                }
            }
        })?);
    }
    Ok(threads)
}

/// Incident `id`'s indicators and sightings as a STIX 2.1 bundle: the
/// threat-intel indicators its alerts matched (seen as often as those
/// alerts counted) and the observables analysts marked as IOCs (seen in as
/// many of the tenant's incidents as marked or involved them). Only the
/// incident's own tenant is named: a bundle leaves the SOC, and an MSSP's
/// other customers are not its recipients' business. An indicator no
/// longer held (its feed dropped it) is left out.
pub fn incident_bundle(
    state: &state::State,
    tenant: &str,
    id: i64,
    now: jiff::Timestamp,
) -> Result<serde_json::Value, state::StateError> {
    use intel::export::{Export, Exported, Seen};
    let package = state.escalation(tenant, id)?;
    let mut matched: std::collections::BTreeMap<&str, Seen> = std::collections::BTreeMap::new();
    for a in package.alerts.iter().filter(|a| a.rule_id.starts_with("intel:")) {
        let count = u64::try_from(a.count).unwrap_or(0);
        matched
            .entry(a.rule_id.as_str())
            .and_modify(|s| {
                s.count += count;
                s.first = s.first.min(a.first_seen);
                s.last = s.last.max(a.last_seen);
            })
            .or_insert(Seen { count, first: a.first_seen, last: a.last_seen });
    }
    let mut indicators = Vec::new();
    for (rule, seen) in matched {
        if let Some(held) = state.indicator_of_rule(tenant, rule)? {
            indicators.push(Exported { indicator: held.indicator, sighting: Some(seen) });
        }
    }
    for ioc in state.incident_iocs(tenant, id)? {
        let single = intel::Pattern::single(ioc.observable.clone());
        if indicators.iter().any(|x| x.indicator.pattern == single) {
            continue;
        }
        let sighting = state.sightings(&[tenant], &ioc.observable)?.into_iter().next().map(|s| Seen {
            count: u64::try_from(s.incidents).unwrap_or(0),
            first: s.first_seen,
            last: s.last_seen,
        });
        let mut indicator = intel::Indicator::of(format!("ioc:{}", ioc.observable), ioc.observable);
        indicator.valid_from = Some(ioc.at);
        indicators.push(Exported { indicator, sighting });
    }
    let incident = &package.incident;
    let seed = format!("{tenant}/incident/{id}");
    Ok(intel::export::bundle(&Export {
        seed: &seed,
        producer: tenant,
        name: &incident.title,
        description: &package.summary,
        created: incident.created,
        modified: now,
        indicators,
    }))
}
