//! Who is told what, and how each channel wants it said: the triggers a
//! notification has ([`Trigger`]), the facts it carries ([`Notice`]), the
//! routes that pick channels for it per tenant, trigger and severity
//! ([`Route`]), the channels' settings ([`Channel`]), each channel's
//! payload ([`render`]) and the retry schedule ([`RetryPolicy`]).
//!
//! Pure: no IO, no clock, no secrets. The state store keeps notices and
//! deliveries (the outbox); the server's delivery worker reads secrets
//! from the environment, sends, and records the outcome. Every text in a
//! notice may come from log data an attacker wrote, so each payload is
//! built as data (JSON values, escaped CEF, header-safe subjects) and
//! chat texts are escaped against mentions and markup.

use jiff::{SignedDuration, Timestamp};
use model::Level;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod oncall;
mod render;
#[cfg(test)]
mod tests;

pub use oncall::{Person, Rota, RotaSpec, Shift, Step};
pub use render::{PageView, Payload, render, render_page};

/// What happened that someone should hear of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A new incident.
    IncidentOpened,
    /// An open incident's severity went up (more alerts, or an SLA breach).
    IncidentRaised,
    /// An incident was handed to the CSIRT.
    IncidentEscalated,
    /// An SLA clock is near its target.
    SlaNearBreach,
    /// An SLA clock passed its target.
    SlaBreached,
    /// A log source stopped sending.
    SourceSilent,
    /// A playbook step waits for people to approve it.
    ApprovalWaiting,
    /// A request for approval expired unanswered.
    ApprovalExpired,
    /// A playbook action failed for good.
    ActionFailed,
    /// A playbook's notify step.
    PlaybookMessage,
}

impl Trigger {
    pub const ALL: [Trigger; 10] = [
        Trigger::IncidentOpened,
        Trigger::IncidentRaised,
        Trigger::IncidentEscalated,
        Trigger::SlaNearBreach,
        Trigger::SlaBreached,
        Trigger::SourceSilent,
        Trigger::ApprovalWaiting,
        Trigger::ApprovalExpired,
        Trigger::ActionFailed,
        Trigger::PlaybookMessage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::IncidentOpened => "incident_opened",
            Trigger::IncidentRaised => "incident_raised",
            Trigger::IncidentEscalated => "incident_escalated",
            Trigger::SlaNearBreach => "sla_near_breach",
            Trigger::SlaBreached => "sla_breached",
            Trigger::SourceSilent => "source_silent",
            Trigger::ApprovalWaiting => "approval_waiting",
            Trigger::ApprovalExpired => "approval_expired",
            Trigger::ActionFailed => "action_failed",
            Trigger::PlaybookMessage => "playbook_message",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// What a message says happened, in English (messages leave the
    /// console; their reader's language is not known).
    pub fn phrase(self) -> &'static str {
        match self {
            Trigger::IncidentOpened => "New incident",
            Trigger::IncidentRaised => "Incident raised",
            Trigger::IncidentEscalated => "Incident escalated to the CSIRT",
            Trigger::SlaNearBreach => "SLA target near",
            Trigger::SlaBreached => "SLA target breached",
            Trigger::SourceSilent => "Log source silent",
            Trigger::ApprovalWaiting => "Approval needed",
            Trigger::ApprovalExpired => "Approval request expired",
            Trigger::ActionFailed => "Response action failed",
            Trigger::PlaybookMessage => "Playbook",
        }
    }
}

/// What happened, as facts: the state store keeps it, every channel's
/// message is made from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub tenant: String,
    pub trigger: Trigger,
    #[serde(default)]
    pub incident: Option<i64>,
    pub severity: Level,
    /// The incident's title, or the silent source's name.
    pub title: String,
    pub at: Timestamp,
    /// Lines of detail: key fields, the SLA target, the silence.
    #[serde(default)]
    pub facts: Vec<(String, String)>,
    /// What within the incident it is about, when an incident has many
    /// of its kind (a playbook run's step): part of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Notice {
    /// The key that makes one message of many: per incident, trigger and
    /// severity (an alert storm on one incident is one message; the same
    /// incident raised to critical is another), per source and time for
    /// silence.
    pub fn key(&self) -> String {
        let key = match self.incident {
            Some(id) => format!("{}:incident:{id}:{}:{}", self.tenant, self.trigger.as_str(), self.severity.as_str()),
            None => format!("{}:{}:{}:{}", self.tenant, self.trigger.as_str(), self.title, self.at.as_second()),
        };
        match &self.subject {
            Some(s) => format!("{key}:{s}"),
            None => key,
        }
    }
}

/// How a mail server is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartTls {
    /// STARTTLS or nothing is sent (the default).
    #[default]
    Required,
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// Plain text: only for a relay on loopback.
    Never,
}

/// A channel's settings. Secrets are never here: fields ending in `_env`
/// name the environment variable that holds them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelKind {
    Email {
        /// `host:port` of the SMTP server.
        server: String,
        from: String,
        to: Vec<String>,
        #[serde(default)]
        starttls: StartTls,
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        password_env: Option<String>,
    },
    /// A POST of JSON: the notice, or `body` with `{{name}}` placeholders
    /// in its strings.
    Webhook {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        url_env: Option<String>,
        #[serde(default)]
        body: Option<Value>,
        /// Sent as `Authorization: Bearer`.
        #[serde(default)]
        token_env: Option<String>,
    },
    /// A Slack incoming webhook (its URL is the secret).
    Slack {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        url_env: Option<String>,
    },
    /// A Microsoft Teams incoming webhook.
    Teams {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        url_env: Option<String>,
    },
    /// PagerDuty Events API v2.
    Pagerduty {
        #[serde(default = "pagerduty_url")]
        url: String,
        routing_key_env: String,
    },
    /// RFC 5424 syslog with a CEF message, to another SIEM.
    Syslog {
        /// `host:port`.
        address: String,
        #[serde(default)]
        tcp: bool,
    },
}

fn pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

/// A named channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Channel {
    pub name: String,
    /// Messages a minute at most (Slack takes about one a second): a
    /// burst of a tenth of it goes at once, the rest as the minute allows.
    #[serde(default)]
    pub max_per_minute: Option<u32>,
    #[serde(flatten)]
    pub kind: ChannelKind,
}

/// A token bucket: `per_minute` messages a minute, a tenth of them (at
/// least one) at once. Pure: the caller passes the instant.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    per_minute: f64,
    burst: f64,
    tokens: f64,
    at: Timestamp,
}

impl RateLimit {
    pub fn new(per_minute: u32, now: Timestamp) -> RateLimit {
        let per_minute = f64::from(per_minute.max(1));
        let burst = (per_minute / 10.0).max(1.0);
        RateLimit { per_minute, burst, tokens: burst, at: now }
    }

    /// Takes a message's place now, or says how long until there is one.
    pub fn take(&mut self, now: Timestamp) -> Result<(), SignedDuration> {
        let elapsed = now.duration_since(self.at).as_secs_f64().max(0.0);
        self.tokens = (self.tokens + elapsed * self.per_minute / 60.0).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) * 60.0 / self.per_minute;
        Err(SignedDuration::from_secs_f64(wait.max(0.001)))
    }
}

/// Which channels hear of which notices.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Tenants it applies to; empty or `*`: every tenant.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Triggers it applies to; empty: every trigger.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// The lowest severity it applies to.
    #[serde(default)]
    pub min_severity: Level,
    pub channels: Vec<String>,
    /// Notices below this severity wait for the tenant's business hours
    /// (its SLA calendar).
    #[serde(default)]
    pub quiet_below: Option<Level>,
}

impl Route {
    pub fn applies(&self, n: &Notice) -> bool {
        let tenant = self.tenants.is_empty() || self.tenants.iter().any(|t| t == "*" || *t == n.tenant);
        let trigger = self.triggers.is_empty() || self.triggers.contains(&n.trigger);
        tenant && trigger && n.severity >= self.min_severity
    }
}

/// The channels `n` goes to, each once, in route order, each with
/// whether it waits for business hours (only if every route that names
/// it says so).
pub fn channels_for<'a>(routes: &'a [Route], n: &Notice) -> Vec<(&'a str, bool)> {
    let mut out: Vec<(&str, bool)> = Vec::new();
    for r in routes.iter().filter(|r| r.applies(n)) {
        let quiet = r.quiet_below.is_some_and(|q| n.severity < q);
        for c in &r.channels {
            match out.iter_mut().find(|(name, _)| name == c) {
                Some((_, q)) => *q &= quiet,
                None => out.push((c, quiet)),
            }
        }
    }
    out
}

/// Checks channels and routes together: names unique and known, every
/// channel able to send.
pub fn check(channels: &[Channel], routes: &[Route]) -> Result<(), String> {
    for (i, c) in channels.iter().enumerate() {
        if c.name.is_empty() || channels[..i].iter().any(|o| o.name == c.name) {
            return Err(format!("notification channel {:?}: names must be unique and not empty", c.name));
        }
        if c.max_per_minute == Some(0) {
            return Err(format!("notification channel {:?}: max_per_minute must be at least 1", c.name));
        }
        let why = match &c.kind {
            ChannelKind::Email { to, from, server, .. } => {
                if to.is_empty() {
                    Some("needs at least one address in `to`".to_string())
                } else if let Some(bad) = to.iter().chain([from]).find(|a| !plausible_address(a)) {
                    Some(format!("{bad:?} is not an email address"))
                } else if !server.contains(':') {
                    Some(format!("server {server:?} needs a port (`host:port`)"))
                } else {
                    None
                }
            }
            ChannelKind::Webhook { url, url_env, .. }
            | ChannelKind::Slack { url, url_env }
            | ChannelKind::Teams { url, url_env } => match (url, url_env) {
                (Some(_), Some(_)) | (None, None) => Some("needs one of `url` and `url_env`".to_string()),
                (Some(u), None) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                    Some(format!("url {u:?} is not http(s)"))
                }
                _ => None,
            },
            ChannelKind::Pagerduty { .. } => None,
            ChannelKind::Syslog { address, .. } => {
                (!address.contains(':')).then(|| format!("address {address:?} needs a port (`host:port`)"))
            }
        };
        if let Some(why) = why {
            return Err(format!("notification channel {:?}: {why}", c.name));
        }
    }
    for r in routes {
        if let Some(unknown) = r.channels.iter().find(|n| !channels.iter().any(|c| c.name == **n)) {
            return Err(format!("a notification route names channel {unknown:?}, which is not configured"));
        }
    }
    Ok(())
}

/// Checks rotas against the channels: names unique, each channel an
/// email channel that is configured.
pub fn check_rotas(channels: &[Channel], specs: &[RotaSpec]) -> Result<Vec<Rota>, String> {
    let mut rotas: Vec<Rota> = Vec::new();
    for spec in specs {
        let rota = Rota::new(spec)?;
        if rotas.iter().any(|r| r.name == rota.name) {
            return Err(format!("on-call rota {:?}: names must be unique", rota.name));
        }
        match channels.iter().find(|c| c.name == rota.channel) {
            Some(Channel { kind: ChannelKind::Email { .. }, .. }) => {}
            Some(_) => {
                return Err(format!(
                    "on-call rota {:?}: channel {:?} is not an email channel",
                    rota.name, rota.channel
                ));
            }
            None => return Err(format!("on-call rota {:?}: channel {:?} is not configured", rota.name, rota.channel)),
        }
        rotas.push(rota);
    }
    Ok(rotas)
}

/// One `@`, something on each side, no spaces or angle brackets.
fn plausible_address(a: &str) -> bool {
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';');
    matches!(a.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@')) && !a.contains(bad)
}

/// When a failed delivery is tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each.
    pub first: SignedDuration,
    pub longest: SignedDuration,
    /// Tries in all; then the delivery is dead.
    pub attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { first: SignedDuration::from_secs(15), longest: SignedDuration::from_mins(30), attempts: 8 }
    }
}

impl RetryPolicy {
    /// The wait after failed try number `tried` (1 for the first), or
    /// `None` when the delivery is dead.
    pub fn after(&self, tried: u32) -> Option<SignedDuration> {
        if tried >= self.attempts {
            return None;
        }
        let factor = 1_i32.checked_shl(tried.saturating_sub(1).min(30)).unwrap_or(i32::MAX);
        Some(self.first.checked_mul(factor).unwrap_or(self.longest).min(self.longest))
    }
}

/// The notice as JSON, for a webhook without a template and for the
/// placeholders of one with.
fn facts_json(n: &Notice, link: Option<&str>) -> Value {
    json!({
        "tenant": n.tenant,
        "trigger": n.trigger.as_str(),
        "incident": n.incident,
        "severity": n.severity.as_str(),
        "title": n.title,
        "at": n.at.to_string(),
        "facts": n.facts.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "link": link,
        "key": n.key(),
    })
}
