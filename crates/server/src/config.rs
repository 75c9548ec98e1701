//! The server's TOML configuration, typed: addresses are socket
//! addresses, formats and protocols are enums, the database is a
//! [`Database`], times are durations written with their unit (`"30s"`,
//! `"15m"`, `"90d"`) and sizes are sizes (`"100 MiB"`). A value that does
//! not fit is an error naming its key when the file is read, not a
//! surprise later. Every key has a default, so an empty file (or none)
//! runs a loopback-only server; `docs/configuration.md` lists them all,
//! and a test reads every example there.
//!
//! The settings become the engine's, the event store's and the state
//! store's in one place each ([`Config::engine_config`],
//! [`Store::settings`], [`Triage::open`]). Keys of earlier versions that
//! carried their unit in their name (`checkpoint_interval_ms = 1000`) are
//! read as the new ones (`checkpoint_interval = "1000ms"`), with a warning.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer};
pub use state::Database;

/// The configuration file a data directory may hold.
pub const CONFIG_FILE: &str = "hinomi.toml";

/// A span of time written with its unit: `500ms`, `30s`, `15m`, `12h`, `90d`, `2w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

/// A whole number and what follows it (`"15 m"` is 15 and `m`).
fn number_and_unit<'a>(text: &'a str, example: &str) -> Result<(u64, &'a str), String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n =
        t[..split].parse().map_err(|_| format!("{text:?}: expected a whole number and a unit, such as {example}"))?;
    Ok((n, t[split..].trim()))
}

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Span, String> {
        let (n, unit) = number_and_unit(text, "30s")?;
        let ms: u64 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => return Err(format!("{text:?}: say the unit (ms, s, m, h, d or w), such as {n}s")),
            other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h, d or w)")),
        };
        n.checked_mul(ms).map(|ms| Span(Duration::from_millis(ms))).ok_or_else(|| format!("{text:?} is too long"))
    }
}

/// An amount of bytes: `1048576`, `512 KiB`, `100 MiB`, `1 GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Size, String> {
        let (n, unit) = number_and_unit(text, "100 MiB")?;
        let scale: u64 = match unit {
            "" | "B" => 1,
            "KB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            "TB" => 1_000_000_000_000,
            "TiB" => 1 << 40,
            other => {
                return Err(format!("{text:?}: unknown unit {other:?} (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"));
            }
        };
        n.checked_mul(scale).map(Size).ok_or_else(|| format!("{text:?} is too large"))
    }
}

/// Reads a value through its `FromStr`, from a string, or from an
/// integer where the type allows one (a size in bytes).
macro_rules! deserialize_from_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Raw {
                    Text(String),
                    Number(u64),
                }
                let text = match Raw::deserialize(d)? {
                    Raw::Text(t) => t,
                    Raw::Number(n) => n.to_string(),
                };
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

deserialize_from_str!(Span, Size);

fn format<'de, D: Deserializer<'de>>(d: D) -> Result<normalize::Format, D::Error> {
    String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
}

fn database<'de, D: Deserializer<'de>>(d: D) -> Result<Database, D::Error> {
    let text = String::deserialize(d)?;
    parse_database(&text).map_err(serde::de::Error::custom)
}

/// `""` (SQLite in the data directory), `sqlite:PATH`, or a PostgreSQL URL
/// or key=value string. The empty path is resolved by [`Triage::open`].
fn parse_database(text: &str) -> Result<Database, String> {
    if text.is_empty() {
        return Ok(Database::Sqlite(PathBuf::new()));
    }
    if let Some(path) = text.strip_prefix("sqlite:") {
        return Ok(Database::Sqlite(PathBuf::from(path)));
    }
    let postgres = text.starts_with("postgres://")
        || text.starts_with("postgresql://")
        || text.split_whitespace().all(|kv| kv.contains('='));
    if postgres {
        return Ok(Database::Postgres(text.to_string()));
    }
    Err(format!(
        "{text:?}: expected empty (SQLite in the data directory), sqlite:PATH, or a PostgreSQL URL (postgresql://...)"
    ))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: Http,
    pub connections: Connections,
    /// Syslog listeners; when none are configured, UDP and TCP on
    /// 127.0.0.1:5514, plus TLS on 127.0.0.1:6514 when `tls` has a
    /// certificate.
    pub syslog: Vec<Syslog>,
    pub tls: Tls,
    pub engine: Engine,
    pub enrich: Enrich,
    pub store: Store,
    pub triage: Triage,
    pub console: ConsoleConfig,
    /// Sources with settings of their own (silence limits).
    pub sources: Vec<Source>,
    pub notify: NotifyConfig,
    pub respond: RespondConfig,
    pub intel: IntelConfig,
}

/// `[intel]`: threat-intel feeds a server reads on a schedule
/// (docs/intel.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntelConfig {
    pub feeds: Vec<IntelFeed>,
}

/// One `[[intel.feeds]]`: where, how and how often it is read, and whose
/// indicators it holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelFeed {
    /// The feed's name (letters, digits, `-`, `_`, `.`, `:`).
    pub name: String,
    /// A TAXII 2.1 collection's URL (`.../collections/<id>/`), or the URL or
    /// path of a STIX bundle, MISP feed (its manifest.json), CSV or list.
    pub url: String,
    /// `taxii`, `stix`, `misp`, `csv` or `list`.
    pub format: String,
    /// The tenant whose indicators these are; none: the shared set every
    /// tenant matches against.
    #[serde(default)]
    pub tenant: Option<String>,
    /// How often it is read.
    #[serde(default = "IntelFeed::default_every")]
    pub every: Span,
    /// How long one read may take (each request of it).
    #[serde(default = "IntelFeed::default_timeout")]
    pub timeout: Span,
    /// HTTP basic authentication: the user, and the environment variable
    /// holding the password.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// The environment variable holding a bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// The kind of a plain list's values, when their shape does not tell.
    #[serde(default)]
    pub kind: Option<String>,
    /// Confidence halves every this long after an indicator's `valid_from`
    /// (or, where the feed gives none, after Hinomi first read it), for the
    /// indicators whose feed entry sets no decay of its own. Whole days.
    #[serde(default)]
    pub decay_half_life: Option<Span>,
    /// With `decay_half_life`: below this confidence an indicator stops
    /// matching.
    #[serde(default)]
    pub decay_floor: Option<u8>,
}

impl IntelFeed {
    fn default_every() -> Span {
        Span(Duration::from_secs(3600))
    }

    fn default_timeout() -> Span {
        Span(Duration::from_secs(60))
    }
}

/// `[respond]`: the response playbooks, the actions they may take, and
/// who must agree first (docs/respond.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RespondConfig {
    /// The directory of playbook files (`*.yml`, tests `*.test.yml` beside
    /// them); empty: `playbooks/` in the data directory.
    pub playbooks: PathBuf,
    /// What playbooks may do: the allow-list of HTTP calls and commands.
    pub actions: Vec<playbook::ActionDef>,
    /// Per tenant, action kind and severity: act, ask, or only propose.
    pub authority: Vec<playbook::Authority>,
    /// How long one action call or command may take.
    pub timeout: Span,
    /// Tries of a failing action step; then it is dead.
    pub attempts: u32,
    /// How long a worker holds a run it drives; a run whose worker died
    /// is taken up again after it. Longer than twice `timeout`.
    pub lease: Span,
}

impl Default for RespondConfig {
    fn default() -> RespondConfig {
        RespondConfig {
            playbooks: PathBuf::new(),
            actions: Vec::new(),
            authority: Vec::new(),
            timeout: Span(Duration::from_secs(30)),
            attempts: 3,
            lease: Span(Duration::from_secs(300)),
        }
    }
}

impl RespondConfig {
    /// The playbook directory for data directory `data`.
    pub fn playbook_dir(&self, data: &Path) -> PathBuf {
        if self.playbooks.as_os_str().is_empty() { data.join("playbooks") } else { self.playbooks.clone() }
    }
}

/// `[notify]`: the channels notifications go out on, the routes that pick
/// them, and how a delivery is tried (docs/notify.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// The console's address as its users reach it: messages link to the
    /// incident's page there. No links without it.
    pub console_url: Option<String>,
    /// How long one send may take.
    pub timeout: Span,
    /// The wait after a first failure, doubled after each.
    pub retry_first: Span,
    pub retry_longest: Span,
    /// Tries in all before a delivery is dead.
    pub attempts: u32,
    pub channels: Vec<notify::Channel>,
    pub routes: Vec<notify::Route>,
    /// On-call rotas and their escalation chains.
    pub rotas: Vec<notify::RotaSpec>,
    /// How long a page's acknowledge link is good.
    pub ack_valid: Span,
}

impl Default for NotifyConfig {
    fn default() -> NotifyConfig {
        let retry = notify::RetryPolicy::default();
        NotifyConfig {
            console_url: None,
            timeout: Span(Duration::from_secs(10)),
            retry_first: Span(retry.first.unsigned_abs()),
            retry_longest: Span(retry.longest.unsigned_abs()),
            attempts: retry.attempts,
            channels: Vec::new(),
            routes: Vec::new(),
            rotas: Vec::new(),
            ack_valid: Span(Duration::from_secs(24 * 3600)),
        }
    }
}

impl NotifyConfig {
    pub fn retry(&self) -> notify::RetryPolicy {
        let span = |s: Span| jiff::SignedDuration::try_from(s.0).unwrap_or(jiff::SignedDuration::MAX);
        notify::RetryPolicy {
            first: span(self.retry_first),
            longest: span(self.retry_longest),
            attempts: self.attempts.max(1),
        }
    }

    /// The rotas, checked against the channels.
    pub fn rotas(&self) -> anyhow::Result<Vec<notify::Rota>> {
        notify::check_rotas(&self.channels, &self.rotas).map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Addresses serving the API, the console and every ingest route.
    pub listen: Vec<SocketAddr>,
    /// Largest request body accepted (after decompression).
    pub max_body: Size,
    /// Bytes of ingest bodies all requests together may hold at once; a
    /// request waits for room before its body is read. Raised to
    /// `max_body` when below it: one body of the largest size must fit.
    pub max_inflight: Size,
    /// Serve HTTP (API, console, ingest) over TLS with `[tls]`'s
    /// certificate and key.
    pub tls: bool,
}

impl Default for Http {
    fn default() -> Http {
        Http {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
            max_body: Size(100 << 20),
            max_inflight: Size(256 << 20),
            tls: false,
        }
    }
}

/// What one client may hold of the server: connections and the time its
/// requests may take to arrive. Every stream listener (HTTP, syslog TCP
/// and TLS) shares one budget.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Connections {
    /// Connections open at once, over every listener; the descriptor
    /// limit may lower it (a quarter of it is kept for the server's files).
    pub max: usize,
    /// Connections one client address may hold at once.
    pub per_address: usize,
    /// How long a request's header may take to arrive, and how long a
    /// kept-alive HTTP connection may wait idle for the next one.
    pub header_timeout: Span,
    /// How long an ingest request's body may take to arrive.
    pub body_timeout: Span,
    /// A syslog stream that sends nothing for this long is closed (its
    /// sender reconnects when it has something to say).
    pub syslog_idle: Span,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            max: 4096,
            per_address: 256,
            header_timeout: Span(Duration::from_secs(10)),
            body_timeout: Span(Duration::from_secs(60)),
            syslog_idle: Span(Duration::from_secs(600)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Udp,
    Tcp,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Syslog {
    pub protocol: Protocol,
    pub listen: SocketAddr,
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The source name records from this listener are counted under.
    #[serde(default = "default_syslog_source")]
    pub source: String,
    /// Parser for the records: auto, syslog, cef, leef, kv, json.
    #[serde(default, deserialize_with = "format")]
    pub format: normalize::Format,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM certificate chain and private key for syslog over TLS and
    /// HTTPS (`hinomi tls selfsigned` makes a pair).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Engine {
    /// Sync the write-ahead log before acknowledging. Turning it off keeps
    /// data through a process crash but not through a power cut.
    pub wal_sync: bool,
    /// Refuse senders (HTTP 429/503, TCP stops reading, UDP drops) while
    /// this much of the log waits for the pipeline.
    pub max_lag: Size,
    /// The write-ahead log's ceiling on disk: at it every record is
    /// refused (503 with the reason) until the readers let segments go.
    pub max_log: Size,
    pub checkpoint_interval: Span,
    /// Test knob: sleep this long after each pipeline chunk.
    pub slow_down: Span,
    /// How often silent sources are looked for.
    pub health_check: Span,
    /// Also write every event to the `events/` journal. Unset: only when
    /// the event store is off, since with it on the journal is a second,
    /// uncompressed copy that costs a third of the pipeline's time.
    pub events_journal: Option<bool>,
    /// Correlation rules: how far behind the newest event an event may be
    /// and still count.
    pub correlation_lateness: Span,
    /// Groups one correlation rule may hold; past it the least recently
    /// active is evicted (counted in the status).
    pub correlation_max_groups: usize,
    /// Alerts one rule may raise per tenant in `rule_window`; past that its
    /// matches are counted, not raised, and one alert says so. 0: no limit.
    pub rule_alerts: u32,
    pub rule_window: Span,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine {
            wal_sync: true,
            max_lag: Size(256 << 20),
            max_log: Size(4 << 30),
            checkpoint_interval: Span(Duration::from_secs(1)),
            slow_down: Span(Duration::ZERO),
            health_check: Span(Duration::from_secs(5)),
            events_journal: None,
            correlation_lateness: Span(Duration::from_secs(60)),
            correlation_max_groups: 100_000,
            rule_alerts: engine::RateLimit::default().alerts,
            rule_window: Span(engine::RateLimit::default().window),
        }
    }
}

/// What is added to events before detection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Enrich {
    /// A MaxMind-format database (GeoLite2 or GeoIP2 Country or City,
    /// DB-IP or IPinfo's free `.mmdb`): `source.ip`, `destination.ip`,
    /// `client.ip` and `server.ip` get their side's `geo` fields.
    pub geoip: Option<PathBuf>,
}

impl Enrich {
    /// Opens the configured geolocation database, if any.
    pub fn geo(&self) -> Result<Option<std::sync::Arc<geo::Geo>>> {
        let Some(path) = &self.geoip else { return Ok(None) };
        open_geoip(path).map(Some)
    }
}

/// Reads a geolocation database and says which one it is.
pub fn open_geoip(path: &Path) -> Result<std::sync::Arc<geo::Geo>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading the geolocation database {}", path.display()))?;
    let geo =
        geo::Geo::from_bytes(bytes).map_err(anyhow::Error::msg).with_context(|| format!("in {}", path.display()))?;
    tracing::info!(path = %path.display(), database = %geo.describe(), "geolocation from {}", path.display());
    Ok(std::sync::Arc::new(geo))
}

/// The event store (search and retro-hunt).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// Index every event for search. Off keeps events only in the journal.
    pub enabled: bool,
    /// How soon new events become searchable.
    pub commit_interval: Span,
    /// zstd level of stored records (1-19; higher is smaller and slower).
    pub zstd_level: i32,
    /// Fields `stats` and `timechart` read from columns (new partitions).
    pub columns: Option<Vec<String>>,
    /// Delete a tenant's days older than this.
    pub retention: Option<Span>,
    /// Delete a tenant's oldest days while its events take more than this.
    pub max_size: Option<Size>,
    /// Longest a search may run.
    pub search_timeout: Span,
    /// Retention per tenant, replacing the two limits above.
    pub tenants: std::collections::BTreeMap<String, TenantRetention>,
}

impl Default for Store {
    fn default() -> Store {
        Store {
            enabled: true,
            commit_interval: Span(Duration::from_secs(2)),
            zstd_level: 9,
            columns: None,
            retention: None,
            max_size: None,
            search_timeout: Span(Duration::from_secs(30)),
            tenants: Default::default(),
        }
    }
}

/// Whole days of a retention span (a part day keeps the day).
fn days(span: Option<Span>) -> Option<u32> {
    span.map(|s| u32::try_from(s.0.as_secs().div_ceil(86_400)).unwrap_or(u32::MAX))
}

impl Store {
    /// The event store's settings under `data`.
    pub fn settings(&self, data: &Path) -> engine::StoreSettings {
        let mut s = engine::StoreSettings::new(data.join("store"));
        s.commit_interval = self.commit_interval.0.max(Duration::from_millis(10));
        s.config.zstd_level = self.zstd_level;
        if let Some(columns) = &self.columns {
            s.config.columns = columns.clone();
        }
        s.default_retention = (days(self.retention), self.max_size.map(|b| b.0));
        for (tenant, r) in &self.tenants {
            s.retention.insert(tenant.clone(), (days(r.retention), r.max_size.map(|b| b.0)));
        }
        s
    }
}

/// The web console's sessions and login limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// A session ends after this long without a request.
    pub idle: Span,
    /// A session ends this long after login, in use or not.
    pub session: Span,
    /// Failed logins in a row that lock an account...
    pub lockout_failures: u32,
    /// ...for this long.
    pub lockout: Span,
    /// Login attempts one client address may make per minute.
    pub logins_per_minute: u32,
}

impl Default for ConsoleConfig {
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            idle: Span(Duration::from_secs(60 * 60)),
            session: Span(Duration::from_secs(12 * 3600)),
            lockout_failures: 5,
            lockout: Span(Duration::from_secs(15 * 60)),
            logins_per_minute: 10,
        }
    }
}

/// Triage: detections into alerts and incidents (the SOC state store).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Triage {
    /// Turn detections into deduplicated alerts and incidents.
    pub enabled: bool,
    /// Where the state lives: empty for `state.db` (SQLite) in the data
    /// directory, `sqlite:PATH`, or a PostgreSQL URL (`postgresql://...`).
    #[serde(deserialize_with = "database")]
    pub database: Database,
    /// A repeat of an open alert (same rule, same entities) within this
    /// long counts into it.
    pub dedup_window: Span,
    /// An alert joins an open incident sharing a host, user, address,
    /// hash or domain active within this long.
    pub group_window: Span,
    /// Entity risk at or above this opens a risk incident.
    pub risk_threshold: f64,
    /// How long an entity's risk takes to halve.
    pub risk_half_life: Span,
    /// How often SLA clocks are checked.
    pub sla_check: Span,
    /// The key of the audit chain's HMAC: empty for `audit.key` in the
    /// data directory (created when missing). Keep it where the database's
    /// users cannot read it; every node of one database needs the same.
    pub audit_key: PathBuf,
}

/// A span as a signed one, saturating (a config's spans are far below).
fn signed(span: Span) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(span.0).unwrap_or(jiff::SignedDuration::MAX)
}

fn span_of(d: jiff::SignedDuration) -> Span {
    Span(Duration::try_from(d).unwrap_or_default())
}

impl Default for Triage {
    fn default() -> Triage {
        let p = soc::TriagePolicy::default();
        Triage {
            enabled: true,
            database: Database::Sqlite(PathBuf::new()),
            dedup_window: span_of(p.dedup_window),
            group_window: span_of(p.group_window),
            risk_threshold: p.risk.threshold,
            risk_half_life: span_of(p.risk.half_life),
            sla_check: Span(Duration::from_secs(60)),
            audit_key: PathBuf::new(),
        }
    }
}

impl Triage {
    pub fn policy(&self) -> soc::TriagePolicy {
        let base = soc::TriagePolicy::default();
        soc::TriagePolicy {
            dedup_window: signed(self.dedup_window),
            group_window: signed(self.group_window),
            risk: soc::risk::RiskPolicy {
                threshold: self.risk_threshold,
                half_life: signed(self.risk_half_life).max(jiff::SignedDuration::from_secs(60)),
                ..base.risk
            },
            ..base
        }
    }

    /// Opens the state store this section names (SQLite's default file is
    /// `state.db` in the data directory).
    pub fn open(&self, data: &Path) -> Result<state::State> {
        let database = match &self.database {
            Database::Sqlite(path) if path.as_os_str().is_empty() => Database::Sqlite(data.join("state.db")),
            other => other.clone(),
        };
        if let Database::Sqlite(path) = &database
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let what = match &database {
            Database::Sqlite(path) => format!("the state store {}", path.display()),
            Database::Postgres(_) => "the state store in PostgreSQL ([triage] database)".to_string(),
        };
        std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
        let key = if self.audit_key.as_os_str().is_empty() { data.join("audit.key") } else { self.audit_key.clone() };
        let seal = state::AuditSeal::load(&key, &data.join("audit.head"))
            .with_context(|| format!("reading the audit key {}", key.display()))?;
        Ok(state::State::open(&database, self.policy()).with_context(|| format!("opening {what}"))?.with_seal(seal))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantRetention {
    pub retention: Option<Span>,
    pub max_size: Option<Size>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(default = "default_tenant")]
    pub tenant: String,
    pub name: String,
    /// Raise a source-health alert when nothing arrives for this long.
    pub silent_after: Option<Span>,
    /// The Sigma log source of this source's records, replacing the one
    /// recognised from them (e.g. `category = "firewall"` for a CEF feed).
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

fn default_tenant() -> String {
    "default".into()
}

fn default_syslog_source() -> String {
    "syslog".into()
}

/// Keys of earlier versions, with the unit they carried in their name:
/// `checkpoint_interval_ms = 1000` is read as `checkpoint_interval = "1000ms"`.
const OLD_UNITS: &[(&str, &str)] =
    &[("_ms", "ms"), ("_seconds", "s"), ("_minutes", "m"), ("_hours", "h"), ("_days", "d"), ("_bytes", "")];

/// A key whose name carried its unit, as the key it is now, and its
/// value with the unit; `None` for keys of today.
fn renamed(key: &str, value: &toml::Value) -> Option<(String, toml::Value)> {
    let n = value.as_integer()?;
    let (stem, unit) = OLD_UNITS.iter().find_map(|(suffix, unit)| Some((key.strip_suffix(suffix)?, *unit)))?;
    let stem = match stem {
        // `max_bytes` said too little once the unit left the name.
        "max" => "max_size",
        "idle" | "lockout" | "session" | "silent_after" | "retention" | "max_body" | "max_lag" => stem,
        s if s.ends_with("_interval") || s.ends_with("_window") || s.ends_with("_timeout") => s,
        "health_check" | "slow_down" | "correlation_lateness" | "risk_half_life" | "sla_check" => stem,
        _ => return None,
    };
    Some((stem.to_string(), toml::Value::String(format!("{n}{unit}"))))
}

/// Renames the old keys in a parsed file, everywhere they may be; says
/// which it renamed.
fn upgrade(table: &mut toml::Table, path: &str, renamed_keys: &mut Vec<String>) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let Some(value) = table.get_mut(&key) else { continue };
        match value {
            toml::Value::Table(inner) => upgrade(inner, &format!("{path}{key}."), renamed_keys),
            toml::Value::Array(items) => {
                for item in items.iter_mut() {
                    if let toml::Value::Table(inner) = item {
                        upgrade(inner, &format!("{path}{key}[]."), renamed_keys);
                    }
                }
            }
            _ => {
                if let Some((new, value)) = renamed(&key, value)
                    && !table.contains_key(&new)
                {
                    table.remove(&key);
                    table.insert(new.clone(), value);
                    renamed_keys.push(format!("{path}{key} (now {path}{new})"));
                }
            }
        }
    }
}

impl Config {
    /// The engine's settings for a data directory: the one place the
    /// configuration becomes the pipeline's.
    pub fn engine_config(&self, data: &Path) -> Result<engine::EngineConfig> {
        let mut e = engine::EngineConfig::new(data);
        e.wal_sync = self.engine.wal_sync;
        e.max_lag_bytes = self.engine.max_lag.0;
        e.max_log_bytes = self.engine.max_log.0;
        e.checkpoint_interval = self.engine.checkpoint_interval.0.max(Duration::from_millis(10));
        e.slow_down = self.engine.slow_down.0;
        e.events_journal = self.engine.events_journal.unwrap_or(!self.store.enabled);
        e.seal_on_stop = true;
        e.correlation.lateness_micros =
            i64::try_from(self.engine.correlation_lateness.0.as_micros()).unwrap_or(i64::MAX / 2);
        e.correlation.max_groups = self.engine.correlation_max_groups.max(1);
        e.rate_limit = engine::RateLimit {
            alerts: self.engine.rule_alerts,
            window: self.engine.rule_window.0.max(Duration::from_secs(1)),
        };
        e.geo = self.enrich.geo()?;
        for s in &self.sources {
            if s.product.is_some() || s.category.is_some() || s.service.is_some() {
                let view = normalize::view(s.product.as_deref(), s.category.as_deref(), s.service.as_deref());
                e.log_sources.insert((s.tenant.clone(), s.name.clone()), view);
            }
        }
        if self.store.enabled {
            e.store = Some(self.store.settings(data));
        }
        Ok(e)
    }

    /// The configuration of a data directory: `explicit` when given, else
    /// `DATA/hinomi.toml` when there is one, else the defaults. Every
    /// command on a data directory reads it so: `hinomi user add --data DIR`
    /// reaches the state store the server on DIR uses.
    pub fn for_data(data: &Path, explicit: Option<&Path>) -> Result<Config> {
        let beside = data.join(CONFIG_FILE);
        match explicit {
            Some(path) => Config::load(Some(path)),
            None if beside.exists() => Config::load(Some(&beside)),
            None => Config::load(None),
        }
    }

    /// Reads `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut config = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                Config::parse(&text).with_context(|| format!("in {}", p.display()))?
            }
        };
        if config.syslog.is_empty() {
            let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
            let default = |protocol, listen| Syslog {
                protocol,
                listen,
                tenant: default_tenant(),
                source: default_syslog_source(),
                format: normalize::Format::Auto,
            };
            let mut listeners = vec![default(Protocol::Udp, loopback(5514)), default(Protocol::Tcp, loopback(5514))];
            if config.tls.cert.is_some() {
                listeners.push(default(Protocol::Tls, loopback(6514)));
            }
            config.syslog = listeners;
        }
        config.check()?;
        Ok(config)
    }

    /// The settings a TOML text holds, old key names read as new ones.
    pub fn parse(text: &str) -> Result<Config> {
        let mut table: toml::Table = toml::from_str(text)?;
        let mut renamed_keys = Vec::new();
        upgrade(&mut table, "", &mut renamed_keys);
        for key in &renamed_keys {
            tracing::warn!(key = %key, "a configuration key of an earlier version: it still works, under its new name");
        }
        Ok(Config::deserialize(table)?)
    }

    fn check(&self) -> Result<()> {
        for s in &self.syslog {
            access::check_name("tenant", &s.tenant).map_err(anyhow::Error::msg)?;
            access::check_name("source", &s.source).map_err(anyhow::Error::msg)?;
            if s.protocol == Protocol::Tls && (self.tls.cert.is_none() || self.tls.key.is_none()) {
                bail!("syslog over TLS on {} needs [tls] cert and key", s.listen);
            }
        }
        for s in &self.sources {
            access::check_name("tenant", &s.tenant).map_err(anyhow::Error::msg)?;
            access::check_name("source", &s.name).map_err(anyhow::Error::msg)?;
        }
        if self.http.max_body.0 < 1024 {
            bail!("[http] max_body must be at least 1 KiB");
        }
        notify::check(&self.notify.channels, &self.notify.routes).map_err(anyhow::Error::msg)?;
        self.notify.rotas()?;
        let channels: Vec<&str> = self.notify.channels.iter().map(|c| c.name.as_str()).collect();
        playbook::check_actions(&self.respond.actions, &channels, &[]).map_err(anyhow::Error::msg)?;
        playbook::check_authority(&self.respond.authority).map_err(anyhow::Error::msg)?;
        if self.respond.lease.0 < self.respond.timeout.0 * 2 {
            bail!("[respond] lease must be at least twice timeout: a call must end within the lease");
        }
        if let Some(url) = &self.notify.console_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("[notify] console_url {url:?} is not an http(s) address");
        }
        // The log's current segment (64 MiB) stays until it is full, even
        // when every reader is past it.
        if self.engine.max_log.0 < 128 << 20 {
            bail!("[engine] max_log must be at least 128 MiB (two log segments), not {} bytes", self.engine.max_log.0);
        }
        if !(1..=19).contains(&self.store.zstd_level) {
            bail!("[store] zstd_level must be 1 to 19, not {}", self.store.zstd_level);
        }
        let mut names = std::collections::HashSet::new();
        for f in &self.intel.feeds {
            let at = format!("[[intel.feeds]] {:?}", f.name);
            crate::intel::Source::of(f).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
            if let Some(t) = &f.tenant {
                access::check_name("tenant", t).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
            }
            if !names.insert((f.tenant.clone(), f.name.clone())) {
                bail!("{at}: two feeds of one name");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
