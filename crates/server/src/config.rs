//! The server's TOML configuration. Every key has a default, so an empty
//! file (or none) runs a loopback-only server; `docs/configuration.md`
//! lists them all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: Http,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Addresses serving the API, the console and every ingest route.
    pub listen: Vec<String>,
    /// Largest request body accepted (after decompression), in bytes.
    pub max_body_bytes: usize,
    /// Serve HTTP (API, console, ingest) over TLS with `[tls]`'s
    /// certificate and key.
    pub tls: bool,
}

impl Default for Http {
    fn default() -> Http {
        Http { listen: vec!["127.0.0.1:8080".into()], max_body_bytes: 100 << 20, tls: false }
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
    pub listen: String,
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The source name records from this listener are counted under.
    #[serde(default = "default_syslog_source")]
    pub source: String,
    /// Parser for the records: auto, syslog, cef, leef, kv, json.
    #[serde(default = "default_format")]
    pub format: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM certificate chain and private key for syslog over TLS
    /// (`hinomi tls selfsigned` makes a pair).
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
    /// this many bytes of the log wait for the pipeline.
    pub max_lag_bytes: u64,
    pub checkpoint_interval_ms: u64,
    /// Test knob: sleep this long after each pipeline chunk.
    pub slow_down_ms: u64,
    /// Seconds between source-silence checks.
    pub health_check_seconds: u64,
    /// Also write every event to the `events/` journal. Unset: only when
    /// the event store is off, since with it on the journal is a second,
    /// uncompressed copy that costs a third of the pipeline's time.
    pub events_journal: Option<bool>,
    /// Correlation rules: how far behind the newest event an event may be
    /// and still count, in seconds.
    pub correlation_lateness_seconds: u64,
    /// Groups one correlation rule may hold; past it the least recently
    /// active is evicted (counted in the status).
    pub correlation_max_groups: usize,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine {
            wal_sync: true,
            max_lag_bytes: 256 << 20,
            checkpoint_interval_ms: 1000,
            slow_down_ms: 0,
            health_check_seconds: 5,
            events_journal: None,
            correlation_lateness_seconds: 60,
            correlation_max_groups: 100_000,
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
    /// How often new events become searchable.
    pub commit_interval_ms: u64,
    /// zstd level of stored records (1-19; higher is smaller and slower).
    pub zstd_level: i32,
    /// Fields `stats` and `timechart` read from columns (new partitions).
    pub columns: Option<Vec<String>>,
    /// Delete a tenant's days older than this.
    pub retention_days: Option<u32>,
    /// Delete a tenant's oldest days while its events take more bytes.
    pub max_bytes: Option<u64>,
    /// Longest a search may run.
    pub search_timeout_seconds: u64,
    /// Retention per tenant, replacing the two limits above.
    pub tenants: std::collections::BTreeMap<String, TenantRetention>,
}

impl Store {
    /// The event store's settings under `data`.
    pub fn settings(&self, data: &Path) -> engine::StoreSettings {
        let mut s = engine::StoreSettings::new(data.join("store"));
        s.commit_interval = Duration::from_millis(self.commit_interval_ms.max(10));
        s.config.zstd_level = self.zstd_level.clamp(1, 19);
        if let Some(columns) = &self.columns {
            s.config.columns = columns.clone();
        }
        s.default_retention = (self.retention_days, self.max_bytes);
        for (tenant, r) in &self.tenants {
            s.retention.insert(tenant.clone(), (r.retention_days, r.max_bytes));
        }
        s
    }
}

impl Default for Store {
    fn default() -> Store {
        Store {
            enabled: true,
            commit_interval_ms: 2000,
            zstd_level: 9,
            columns: None,
            retention_days: None,
            max_bytes: None,
            search_timeout_seconds: 30,
            tenants: Default::default(),
        }
    }
}

/// The web console's sessions and login limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u64,
    /// A session ends this many hours after login, in use or not.
    pub session_hours: u64,
    /// Failed logins in a row that lock an account...
    pub lockout_failures: u32,
    /// ...for this many minutes.
    pub lockout_minutes: u64,
    /// Login attempts one client address may make per minute.
    pub logins_per_minute: u32,
}

impl Default for ConsoleConfig {
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            idle_minutes: 60,
            session_hours: 12,
            lockout_failures: 5,
            lockout_minutes: 15,
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
    /// directory, or a PostgreSQL URL (`postgresql://...`).
    pub database: String,
    /// A repeat of an open alert (same rule, same entities) within this
    /// many minutes counts into it.
    pub dedup_window_minutes: i64,
    /// An alert joins an open incident sharing a host, user, address,
    /// hash or domain active within this many minutes.
    pub group_window_minutes: i64,
    /// Entity risk at or above this opens a risk incident.
    pub risk_threshold: f64,
    /// Hours for an entity's risk to halve.
    pub risk_half_life_hours: i64,
    /// How often SLA clocks are checked.
    pub sla_check_seconds: u64,
}

impl Default for Triage {
    fn default() -> Triage {
        let p = soc::TriagePolicy::default();
        Triage {
            enabled: true,
            database: String::new(),
            dedup_window_minutes: p.dedup_window.as_secs() / 60,
            group_window_minutes: p.group_window.as_secs() / 60,
            risk_threshold: p.risk.threshold,
            risk_half_life_hours: p.risk.half_life.as_secs() / 3600,
            sla_check_seconds: 60,
        }
    }
}

impl Triage {
    pub fn policy(&self) -> soc::TriagePolicy {
        let base = soc::TriagePolicy::default();
        soc::TriagePolicy {
            dedup_window: jiff::SignedDuration::from_mins(self.dedup_window_minutes.max(0)),
            group_window: jiff::SignedDuration::from_mins(self.group_window_minutes.max(0)),
            risk: soc::risk::RiskPolicy {
                threshold: self.risk_threshold,
                half_life: jiff::SignedDuration::from_hours(self.risk_half_life_hours.max(1)),
                ..base.risk
            },
            ..base
        }
    }

    /// Opens the state store this section names.
    pub fn open(&self, data: &Path) -> Result<state::State> {
        let policy = self.policy();
        if self.database.is_empty() || self.database.starts_with("sqlite:") {
            let path = match self.database.strip_prefix("sqlite:") {
                Some(p) if !p.is_empty() => std::path::PathBuf::from(p),
                _ => data.join("state.db"),
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            return state::State::sqlite(&path, policy)
                .with_context(|| format!("opening the state store {}", path.display()));
        }
        if self.database.starts_with("postgres") {
            let database = state::Database::Postgres(self.database.clone());
            return state::State::open(&database, policy).context("[triage] database");
        }
        anyhow::bail!(
            "[triage] database = {:?}: expected empty (SQLite in the data directory), sqlite:PATH, or a postgresql:// URL",
            self.database
        )
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantRetention {
    pub retention_days: Option<u32>,
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(default = "default_tenant")]
    pub tenant: String,
    pub name: String,
    /// Raise a source-health alert when nothing arrives for this long.
    pub silent_after_seconds: Option<u64>,
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

fn default_format() -> String {
    "auto".into()
}

impl Config {
    /// The engine's settings for a data directory: the one place the
    /// configuration becomes the pipeline's.
    pub fn engine_config(&self, data: &Path) -> Result<engine::EngineConfig> {
        let mut e = engine::EngineConfig::new(data);
        e.wal_sync = self.engine.wal_sync;
        e.max_lag_bytes = self.engine.max_lag_bytes;
        e.checkpoint_interval = Duration::from_millis(self.engine.checkpoint_interval_ms.max(10));
        e.slow_down = Duration::from_millis(self.engine.slow_down_ms);
        e.events_journal = self.engine.events_journal.unwrap_or(!self.store.enabled);
        e.correlation.lateness_micros =
            i64::try_from(self.engine.correlation_lateness_seconds).unwrap_or(i64::MAX / 2_000_000) * 1_000_000;
        e.correlation.max_groups = self.engine.correlation_max_groups.max(1);
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

    /// Reads `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut config = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("in {}", p.display()))?
            }
        };
        if config.syslog.is_empty() {
            for protocol in [Protocol::Udp, Protocol::Tcp] {
                config.syslog.push(Syslog {
                    protocol,
                    listen: "127.0.0.1:5514".into(),
                    tenant: default_tenant(),
                    source: default_syslog_source(),
                    format: default_format(),
                });
            }
            if config.tls.cert.is_some() {
                config.syslog.push(Syslog {
                    protocol: Protocol::Tls,
                    listen: "127.0.0.1:6514".into(),
                    tenant: default_tenant(),
                    source: default_syslog_source(),
                    format: default_format(),
                });
            }
        }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        for s in &self.syslog {
            s.format.parse::<normalize::Format>().map_err(anyhow::Error::msg).context("in [[syslog]]")?;
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
        if self.http.max_body_bytes < 1024 {
            bail!("[http] max_body_bytes must be at least 1024");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bind_to_loopback() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.http.listen, ["127.0.0.1:8080"]);
        let addrs: Vec<_> = c.syslog.iter().map(|s| (s.protocol, s.listen.as_str())).collect();
        assert_eq!(addrs, [(Protocol::Udp, "127.0.0.1:5514"), (Protocol::Tcp, "127.0.0.1:5514")]);
    }

    #[test]
    fn bad_settings_are_errors_that_say_where() {
        let parse = |s: &str| toml::from_str::<Config>(s).map(|_| ()).unwrap_err().to_string();
        assert!(parse("[http]\nlisten = 5").contains("invalid type"), "{}", parse("[http]\nlisten = 5"));
        assert!(parse("[engine]\nwal_synk = true").contains("unknown field `wal_synk`"));
        let c: Config = toml::from_str("[[syslog]]\nprotocol='tls'\nlisten='127.0.0.1:1'").unwrap();
        assert!(c.check().unwrap_err().to_string().contains("needs [tls] cert and key"));
        let c: Config = toml::from_str("[[syslog]]\nprotocol='udp'\nlisten='x'\nformat='xml'").unwrap();
        assert!(c.check().is_err());
    }
}
