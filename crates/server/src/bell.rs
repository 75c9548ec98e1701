//! The bell: makes notices from the incident log, routes them to
//! channels, and sends them (SMTP, webhooks, Slack, Teams, PagerDuty,
//! syslog/CEF) from the state store's outbox.
//!
//! One claimer thread takes due deliveries from the outbox with a lease
//! and hands them to a few sender threads; each send has a timeout, so a
//! receiver that hangs holds one sender for at most that long and the
//! others go on. A failure is retried on `notify::RetryPolicy`'s schedule;
//! a refusal that will not change (a 4xx other than 408 and 429, a secret
//! that is not set) and the last try make the delivery dead, which the
//! incident's timeline and `GET /api/v1/deliveries?status=dead` show.
//! Secrets are read from the environment at each send and never logged.

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use notify::{Channel, ChannelKind, PageView, Payload, RateLimit, RetryPolicy, Rota, StartTls};
use state::{Delivery, State};

use crate::config::NotifyConfig;
use crate::lanes::Lanes;

/// Sends running at once.
const SENDERS: usize = 8;

/// Sends to one channel at once.
const PER_CHANNEL: usize = 3;

/// How long a claimed delivery is its claimer's: longer than a send's
/// timeout and the wait in the queue before it.
const LEASE: SignedDuration = SignedDuration::from_secs(120);

/// Why a send failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) why: String,
    pub(crate) permanent: bool,
}

fn failed(why: impl Into<String>) -> Failed {
    Failed { why: why.into(), permanent: false }
}

fn refused(why: impl Into<String>) -> Failed {
    Failed { why: why.into(), permanent: true }
}

/// A secret from the environment variable `name`.
fn secret(name: &str) -> Result<String, Failed> {
    std::env::var(name).map_err(|_| refused(format!("environment variable {name} is not set")))
}

fn url_of(url: &Option<String>, url_env: &Option<String>) -> Result<String, Failed> {
    match (url, url_env) {
        (Some(u), _) => Ok(u.clone()),
        (None, Some(env)) => secret(env),
        (None, None) => Err(refused("no url")),
    }
}

/// The console's page of the notice's incident.
fn link(config: &NotifyConfig, d: &Delivery) -> Option<String> {
    let base = config.console_url.as_deref()?.trim_end_matches('/');
    d.notice.incident.map(|i| format!("{base}/ui/{}/incidents/{i}", d.notice.tenant))
}

/// The link that acknowledges a page.
fn ack_link(config: &NotifyConfig, token: &str) -> Option<String> {
    let base = config.console_url.as_deref()?.trim_end_matches('/');
    Some(format!("{base}/ui/ack?t={token}"))
}

/// Sends one delivery on its channel.
pub(crate) fn send(
    config: &NotifyConfig,
    http: &ureq::Agent,
    transports: &Transports,
    channel: &Channel,
    d: &Delivery,
) -> Result<(), Failed> {
    let link = link(config, d);
    let timeout = config.timeout.0;
    let routing_key = match &channel.kind {
        ChannelKind::Pagerduty { routing_key_env, .. } => Some(secret(routing_key_env)?),
        _ => None,
    };
    let (payload, page_to);
    match &d.page {
        Some(page) => {
            let ack = ack_link(config, &page.token);
            let view = PageView {
                person: &page.person,
                rota: &page.rota,
                step: usize::try_from(page.step).unwrap_or(0),
                steps: usize::try_from(page.steps).unwrap_or(0),
                ack: ack.as_deref(),
                ack_until: page.until,
                next_after: page.next_after,
            };
            payload = notify::render_page(&d.notice, link.as_deref(), &view);
            page_to = Some(vec![page.address.clone()]);
        }
        None => {
            payload = notify::render(&channel.kind, &d.notice, link.as_deref(), routing_key.as_deref());
            page_to = None;
        }
    }
    match (&channel.kind, payload) {
        (ChannelKind::Email { server, from, to, starttls, user, password_env }, Payload::Email { subject, body }) => {
            let password = password_env.as_deref().map(secret).transpose()?;
            email(
                transports,
                server,
                from,
                page_to.as_deref().unwrap_or(to),
                *starttls,
                user.as_deref().zip(password.as_deref()),
                &subject,
                &body,
                &d.key,
                timeout,
            )
        }
        (ChannelKind::Webhook { url, url_env, token_env, .. }, Payload::Json(body)) => {
            let token = token_env.as_deref().map(secret).transpose()?;
            post(http, &url_of(url, url_env)?, &body, &d.key, token.as_deref())
        }
        (ChannelKind::Slack { url, url_env } | ChannelKind::Teams { url, url_env }, Payload::Json(body)) => {
            post(http, &url_of(url, url_env)?, &body, &d.key, None)
        }
        (ChannelKind::Pagerduty { url, .. }, Payload::Json(body)) => post(http, url, &body, &d.key, None),
        (ChannelKind::Syslog { address, tcp }, Payload::Line(line)) => syslog(address, *tcp, &line, timeout),
        _ => Err(refused("the channel and its message do not fit")),
    }
}

/// Mail transports by server and login: each keeps its connections open
/// between messages (a storm of incidents is one SMTP session, not one
/// per mail). A changed password makes a new one.
#[derive(Default)]
pub(crate) struct Transports(Mutex<HashMap<String, lettre::SmtpTransport>>);

impl Transports {
    fn get(
        &self,
        server: &str,
        starttls: StartTls,
        login: Option<(&str, &str)>,
        timeout: Duration,
    ) -> Result<lettre::SmtpTransport, Failed> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Tls, TlsParameters};
        let key = format!("{server}\u{0}{starttls:?}\u{0}{}", hex_digest(&format!("{login:?}")));
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = cache.get(&key) {
            return Ok(t.clone());
        }
        let (host, port) = server.rsplit_once(':').ok_or_else(|| refused(format!("server {server:?} has no port")))?;
        let port: u16 = port.parse().map_err(|_| refused(format!("server {server:?}: bad port")))?;
        let parameters = || TlsParameters::new(host.to_string()).map_err(|e| refused(format!("TLS: {e}")));
        let tls = match starttls {
            StartTls::Required => Tls::Required(parameters()?),
            StartTls::Opportunistic => Tls::Opportunistic(parameters()?),
            StartTls::Never => Tls::None,
        };
        let mut transport = lettre::SmtpTransport::builder_dangerous(host).port(port).tls(tls).timeout(Some(timeout));
        if let Some((user, password)) = login {
            transport = transport.credentials(Credentials::new(user.to_string(), password.to_string()));
        }
        let transport = transport.build();
        cache.insert(key, transport.clone());
        Ok(transport)
    }
}

#[allow(clippy::too_many_arguments)]
fn email(
    transports: &Transports,
    server: &str,
    from: &str,
    to: &[String],
    starttls: StartTls,
    login: Option<(&str, &str)>,
    subject: &str,
    body: &str,
    key: &str,
    timeout: Duration,
) -> Result<(), Failed> {
    use lettre::message::header::ContentType;
    use lettre::{Message, Transport};
    let address = |a: &str| a.parse().map_err(|e| refused(format!("address {a:?}: {e}")));
    let mut message = Message::builder()
        .from(address(from)?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        // The same notice has the same id, so a mail sent twice (a worker
        // killed between sending and recording) is known as one.
        .message_id(Some(format!("<{}@hinomi>", hex_digest(key))));
    for t in to {
        message = message.to(address(t)?);
    }
    let message = message.body(body.to_string()).map_err(|e| refused(format!("building the mail: {e}")))?;
    match transports.get(server, starttls, login, timeout)?.send(&message) {
        Ok(_) => Ok(()),
        // A permanent SMTP answer (5xx) will not change by trying again.
        Err(e) if e.is_permanent() => Err(refused(format!("the mail server refused: {e}"))),
        Err(e) => Err(failed(format!("sending mail through {server}: {e}"))),
    }
}

fn hex_digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// One HTTP client for every sender: its connections are pooled.
fn http_client(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into()
}

fn post(http: &ureq::Agent, url: &str, body: &serde_json::Value, key: &str, token: Option<&str>) -> Result<(), Failed> {
    let mut request = http.post(url).header("Content-Type", "application/json").header("Idempotency-Key", key);
    if let Some(t) = token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    // The URL may hold a secret (Slack's does): errors name the host only.
    let host = url.split("://").nth(1).and_then(|r| r.split(['/', '?']).next()).unwrap_or("?").to_string();
    match request.send(body.to_string()) {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let status = r.status().as_u16();
            let why = format!("{host} answered {status}");
            if matches!(status, 408 | 429) || status >= 500 { Err(failed(why)) } else { Err(refused(why)) }
        }
        Err(e) => Err(failed(format!("posting to {host}: {}", scrub(&e.to_string(), url)))),
    }
}

/// `text` without `secret_url` in it.
fn scrub(text: &str, secret_url: &str) -> String {
    text.replace(secret_url, "<url>")
}

fn syslog(address: &str, tcp: bool, line: &str, timeout: Duration) -> Result<(), Failed> {
    let to = address
        .to_socket_addrs()
        .map_err(|e| failed(format!("resolving {address}: {e}")))?
        .next()
        .ok_or_else(|| failed(format!("{address} resolves to nothing")))?;
    let io = |e: std::io::Error| failed(format!("syslog to {address}: {e}"));
    if tcp {
        let mut stream = TcpStream::connect_timeout(&to, timeout).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        stream.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
    } else {
        let socket = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).map_err(io)?;
        socket.send_to(line.as_bytes(), to).map_err(io)?;
    }
    Ok(())
}

/// Records a send's outcome.
fn record(state: &State, retry: &RetryPolicy, d: &Delivery, outcome: Result<(), Failed>) {
    let now = Timestamp::now();
    let done = match outcome {
        Ok(()) => state.delivered(d, now),
        Err(f) => {
            let tried = u32::try_from(d.attempts).unwrap_or(u32::MAX);
            let again = if f.permanent { None } else { retry.after(tried) };
            tracing::warn!(channel = %d.channel, delivery = d.id, attempts = d.attempts, error = %f.why,
                retry = again.is_some(), "a notification was not delivered");
            state.delivery_failed(d, now, &f.why, again)
        }
    };
    if let Err(e) = done {
        tracing::error!(error = %e, delivery = d.id, "recording a delivery");
    }
}

/// Starts the worker; it stops when `stop` is set.
pub(crate) fn start(state: Arc<State>, config: NotifyConfig, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("notify".into()).spawn(move || run(&state, &config, &stop))
}

fn run(state: &Arc<State>, config: &NotifyConfig, stop: &AtomicBool) {
    let config = Arc::new(config.clone());
    // Checked when the configuration was read.
    let rotas: Vec<Rota> = config.rotas().unwrap_or_default();
    let ack_valid = SignedDuration::try_from(config.ack_valid.0).unwrap_or(SignedDuration::from_hours(24));
    let (tx, rx) = sync_channel::<Delivery>(SENDERS);
    let rx = Arc::new(Mutex::new(rx));
    let http = http_client(config.timeout.0);
    let lanes = Arc::new(Lanes::new(PER_CHANNEL));
    let transports = Arc::new(Transports::default());
    let limits = Arc::new(Mutex::new(HashMap::new()));
    let senders: Vec<JoinHandle<()>> = (0..SENDERS)
        .filter_map(|i| {
            let (state, config, rx, http) = (state.clone(), config.clone(), rx.clone(), http.clone());
            let (lanes, transports, limits) = (lanes.clone(), transports.clone(), limits.clone());
            std::thread::Builder::new()
                .name(format!("notify-send-{i}"))
                .spawn(move || sender(&state, &config, &http, &transports, &lanes, &limits, &rx))
                .ok()
        })
        .collect();
    // The same failure (a database away) is logged once, not every second.
    let mut last_error = String::new();
    // The configuration's routes, then the ones tenants set in the
    // console (read again every few seconds).
    let mut routes = config.routes.clone();
    let mut routes_read: Option<std::time::Instant> = None;
    while !stop.load(Ordering::Acquire) {
        let now = Timestamp::now();
        if routes_read.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            match state.tenant_routes(None) {
                Ok(theirs) => {
                    routes = config.routes.iter().cloned().chain(theirs.into_iter().map(|(_, r)| r)).collect();
                    routes_read = Some(std::time::Instant::now());
                }
                Err(e) => tracing::warn!(error = %e, "reading the tenants' notification routes"),
            }
        }
        let work = state
            .make_notices(now)
            .and_then(|_| state.route_notices(now, &routes, &rotas))
            .and_then(|_| state.claim_deliveries(now, LEASE, SENDERS, ack_valid));
        match work {
            Ok(batch) if !batch.is_empty() => {
                for d in batch {
                    if tx.send(d).is_err() {
                        return;
                    }
                }
            }
            Ok(_) => {
                last_error.clear();
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => {
                let e = e.to_string();
                if e != last_error {
                    tracing::error!(error = %e, "the notification outbox; retrying");
                    last_error = e;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    drop(tx);
    for s in senders {
        let _ = s.join();
    }
}

#[allow(clippy::too_many_arguments)]
fn sender(
    state: &State,
    config: &NotifyConfig,
    http: &ureq::Agent,
    transports: &Transports,
    lanes: &Lanes,
    limits: &Mutex<HashMap<String, RateLimit>>,
    rx: &Mutex<Receiver<Delivery>>,
) {
    let retry = config.retry();
    loop {
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(d) = next else { return };
        // A channel whose receiver hangs holds a few senders, not all; a
        // busy one frees a place within milliseconds, a hung one does not.
        let Some(_lane) = lanes.take_within(&d.channel, Duration::from_millis(100)) else {
            let later = Timestamp::now().checked_add(SignedDuration::from_secs(1)).unwrap_or(Timestamp::now());
            if let Err(e) = state.delivery_deferred(&d, later) {
                tracing::error!(error = %e, delivery = d.id, "giving a delivery back");
            }
            continue;
        };
        let channel = config.channels.iter().find(|c| c.name == d.channel);
        // A channel's pace (`max_per_minute`): over it, the delivery waits
        // for its turn (not a try).
        if let Some(per_minute) = channel.and_then(|c| c.max_per_minute) {
            let now = Timestamp::now();
            let turn = {
                let mut limits = limits.lock().unwrap_or_else(|p| p.into_inner());
                limits.entry(d.channel.clone()).or_insert_with(|| RateLimit::new(per_minute, now)).take(now)
            };
            if let Err(wait) = turn {
                if let Err(e) = state.delivery_deferred(&d, now.checked_add(wait).unwrap_or(now)) {
                    tracing::error!(error = %e, delivery = d.id, "giving a delivery back");
                }
                continue;
            }
        }
        let outcome = match channel {
            Some(channel) => send(config, http, transports, channel, &d),
            // Configured before, gone since: nothing will send it.
            None => Err(refused(format!("channel {:?} is no longer configured", d.channel))),
        };
        record(state, &retry, &d, outcome);
    }
}
