//! The web console under `/ui`: server-rendered pages for analysts, signed
//! in with a console user (Argon2id password, server-side session).
//!
//! Every page lives under `/ui/{tenant}/…` and is allowed by the user's
//! role in that tenant (`access::Scope::allows`, the same table as API
//! tokens); the guard in `auth.rs` checks it and the CSRF token of every
//! POST before a page handler runs. Sessions are a random cookie
//! (HTTP-only, SameSite=Lax, Secure behind TLS); a new one is issued at
//! every login, so a cookie planted before login opens nothing. Logins are
//! limited per client address and lock an account after repeated failures.
//! Pages are maud templates (`view.rs`): what they show is escaped by
//! construction.

pub(crate) mod i18n;
mod markdown;
pub(crate) mod pages;
mod svg;
mod view;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use access::Scope;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use maud::Markup;
use serde::Deserialize;
use state::{By, Lockout, LoginOutcome, PageAck, SessionLimits};

use self::i18n::{Lang, T};
pub(crate) use self::view::Ctx;
use crate::app::App;
use crate::auth::{Fields, Signed, cookie_value, same_origin};
pub(crate) use crate::enc::query_value as url_enc;
use crate::error::{ApiError, blocking};

pub(crate) const COOKIE: &str = "hinomi_session";

/// Console settings and the login limiter.
pub(crate) struct Console {
    pub(crate) sessions: SessionLimits,
    pub(crate) lockout: Lockout,
    /// Cookies get `Secure` (the console is served over TLS).
    pub(crate) secure: bool,
    /// Login attempts per client address in the current window.
    attempts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    per_minute: u32,
}

/// A configured span as the state store counts time.
fn signed(d: Duration) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX)
}

impl Console {
    pub(crate) fn new(c: &crate::config::ConsoleConfig, secure: bool) -> Console {
        Console {
            sessions: SessionLimits {
                idle: signed(c.idle.0.max(Duration::from_secs(60))),
                absolute: signed(c.session.0.max(Duration::from_secs(3600))),
            },
            lockout: Lockout { failures: c.lockout_failures.max(1) as i64, duration: signed(c.lockout.0) },
            secure,
            attempts: Mutex::new(HashMap::new()),
            per_minute: c.logins_per_minute.max(1),
        }
    }

    /// Counts a login attempt from `ip`; `false` when over the limit.
    fn allow_attempt(&self, ip: IpAddr) -> bool {
        let Ok(mut map) = self.attempts.lock() else { return false };
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

/// The content security policy of every console answer: nothing inline,
/// nothing from elsewhere, no framing.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers every console answer carries: no caching of tenant data, no
/// framing, no inline script, nothing loaded from elsewhere.
fn secure_headers(r: Response) -> Response {
    with_policy(r, CSP)
}

/// The console's headers with a content security policy of the page's own.
pub(crate) fn with_policy(mut r: Response, csp: &'static str) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

pub(crate) fn html(code: StatusCode, page: Markup) -> Response {
    secure_headers((code, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page.into_string()).into_response())
}

pub(crate) fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(r)
}

/// A plain page for a refusal or an error, in the viewer's language.
pub(crate) fn problem(code: StatusCode, lang: Lang, text: &str) -> Response {
    html(code, view::problem(lang, code.as_u16(), text))
}

/// The page of an error a handler met: what the caller got wrong is
/// said; our failure is logged and only named.
pub(crate) fn failed(lang: Lang, e: ApiError) -> Response {
    e.log();
    let text = match &e {
        ApiError::Internal(_) => lang.t(T::InternalError).to_string(),
        ApiError::NotFound(_) => lang.t(T::NotFound).to_string(),
        other => other.message(),
    };
    problem(e.status(), lang, &text)
}

pub(crate) fn clear_cookie(mut r: Response) -> Response {
    let value = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Random bytes as hex.
fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no OS randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether a same-site `next` or `back` path is safe to redirect to.
fn local_path(p: &str) -> bool {
    p.starts_with("/ui/") && !p.starts_with("//") && !p.contains('\\') && !p.contains("://")
}

/// `/ui`: to the first tenant the user holds.
pub(crate) async fn home(s: Signed, headers: HeaderMap) -> Response {
    match s.session.user.grants.first() {
        Some((t, _)) => redirect(&format!("/ui/{t}/")),
        None => {
            let lang = Lang::choose(&s.session.user.lang, &headers);
            problem(StatusCode::FORBIDDEN, lang, lang.t(T::NoTenantGranted))
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct SwitchParams {
    tenant: String,
}

/// The tenant switcher's GET form.
pub(crate) async fn switch(headers: HeaderMap, Query(p): Query<SwitchParams>) -> Response {
    match access::check_name("tenant", &p.tenant) {
        Ok(()) => redirect(&format!("/ui/{}/", p.tenant)),
        Err(e) => problem(StatusCode::BAD_REQUEST, Lang::choose("", &headers), &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginParams {
    next: Option<String>,
}

pub(crate) async fn login_page(headers: HeaderMap, Query(p): Query<LoginParams>) -> Response {
    let next = p.next.filter(|n| local_path(n)).unwrap_or_else(|| "/ui/".into());
    html(StatusCode::OK, view::login(Lang::choose("", &headers), None, &next, ""))
}

#[derive(Deserialize)]
pub(crate) struct AckParams {
    t: Option<String>,
}

/// `GET /ui/ack?t=`: an on-call page's link asks before it acknowledges
/// (mail scanners and previews open links; a GET changes nothing).
pub(crate) async fn ack_form(headers: HeaderMap, Query(p): Query<AckParams>) -> Response {
    let lang = Lang::choose("", &headers);
    let token = p.t.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN);
    html(
        if token.is_some() { StatusCode::OK } else { StatusCode::BAD_REQUEST },
        view::ack(lang, token.as_deref(), None, None),
    )
}

/// Longest acknowledge token read: `<page>.<until>.<32 hex digits>`.
const MAX_TOKEN: usize = 80;

/// `POST /ui/ack`: uses the link. Acknowledged (200), already (409, with
/// who did), past its time (410) or not a link of ours (404).
pub(crate) async fn ack(State(app): State<Arc<App>>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let lang = Lang::choose("", &headers);
    let Ok(body) = axum::body::to_bytes(body, 4 << 10).await else {
        return problem(StatusCode::PAYLOAD_TOO_LARGE, lang, lang.t(T::FormTooLarge));
    };
    let token = Fields(wire::form::fields(&body)).text("t");
    let Ok(soc) = app.soc() else {
        return problem(StatusCode::SERVICE_UNAVAILABLE, lang, lang.t(T::NeedsTriage));
    };
    if token.len() > MAX_TOKEN {
        return html(StatusCode::NOT_FOUND, view::ack(lang, None, Some((false, lang.t(T::AckInvalid).into())), None));
    }
    let outcome = blocking(move || Ok(soc.acknowledge_page(&token, Timestamp::now())?)).await;
    let incident = |tenant: &str, id: Option<i64>| id.map(|i| format!("/ui/{tenant}/incidents/{i}"));
    let (code, ok, text, link) = match outcome {
        Ok(PageAck::Acknowledged { tenant, incident: id, .. }) => {
            (StatusCode::OK, true, lang.t(T::AckDone).to_string(), incident(&tenant, id))
        }
        Ok(PageAck::Already { tenant, incident: id, by, at }) => {
            let text = format!("{} {by} ({at})", lang.t(T::AckAlready));
            (StatusCode::CONFLICT, false, text, incident(&tenant, id))
        }
        Ok(PageAck::Expired) => (StatusCode::GONE, false, lang.t(T::AckExpired).to_string(), None),
        Ok(PageAck::Invalid) => (StatusCode::NOT_FOUND, false, lang.t(T::AckInvalid).to_string(), None),
        Err(e) => return failed(lang, e),
    };
    html(code, view::ack(lang, None, Some((ok, text)), link.as_deref()))
}

/// Largest login form.
const MAX_LOGIN: usize = 16 << 10;

pub(crate) async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<crate::listen::Peer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let lang = Lang::choose("", &headers);
    let Ok(body) = axum::body::to_bytes(body, MAX_LOGIN).await else {
        return problem(StatusCode::PAYLOAD_TOO_LARGE, lang, lang.t(T::FormTooLarge));
    };
    let fields = Fields(wire::form::fields(&body));
    let user = fields.text("user");
    let password = fields.get("password").unwrap_or("").to_string();
    let next = fields.get("next").filter(|n| local_path(n)).unwrap_or("/ui/").to_string();
    if !same_origin(&headers) {
        return problem(StatusCode::FORBIDDEN, lang, lang.t(T::CrossSite));
    }
    if !app.console.allow_attempt(peer.0.ip()) {
        let mut r = problem(StatusCode::TOO_MANY_REQUESTS, lang, lang.t(T::TooManyLogins));
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return r;
    }
    let soc = match app.soc() {
        Ok(s) => s,
        Err(_) => return problem(StatusCode::SERVICE_UNAVAILABLE, lang, lang.t(T::NeedsTriage)),
    };
    let (lock, old) = (app.console.lockout, cookie_value(&headers));
    let name = user.clone();
    let outcome = blocking(move || {
        let stored = soc.password_of(&name)?;
        // Unknown users cost one Argon2 run too: timing tells nothing.
        let ok = state::password::verify(&password, stored.as_deref().unwrap_or(state::password::decoy()))
            && stored.is_some();
        let by = By { tenant: "", actor: &name, now: Timestamp::now() };
        let outcome = soc.record_login(&by, ok, lock)?;
        if !matches!(outcome, LoginOutcome::Ok(_)) {
            return Ok((outcome, None));
        }
        // Always a new session id: a cookie set before login opens nothing.
        if let Some(old) = old {
            soc.end_session(&by, &old)?;
        }
        let (cookie, csrf) = (random_hex(32)?, random_hex(16)?);
        soc.start_session(&by, &cookie, &csrf)?;
        Ok((outcome, Some(cookie)))
    })
    .await;
    match outcome {
        Ok((LoginOutcome::Ok(_), Some(cookie))) => {
            let mut r = redirect(&next);
            let secure = if app.console.secure { "; Secure" } else { "" };
            let value = format!("{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax{secure}");
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        // Locked, wrong and unknown get one answer: a different one would
        // tell a guesser which names exist (the lock is in the audit trail).
        Ok(_) => html(StatusCode::UNAUTHORIZED, view::login(lang, Some(lang.t(T::LoginFailed)), &next, &user)),
        Err(e) => failed(lang, e),
    }
}

pub(crate) async fn logout(s: Signed, headers: HeaderMap) -> Response {
    let name = s.session.user.name;
    let (soc, cookie) = (s.soc, s.cookie);
    let done =
        blocking(move || Ok(soc.end_session(&By { tenant: "", actor: &name, now: Timestamp::now() }, &cookie)?)).await;
    match done {
        Ok(()) => clear_cookie(redirect("/ui/login")),
        Err(e) => failed(Lang::choose("", &headers), e),
    }
}

/// The user's language and time zone, then back to the page.
/// An IANA time zone from what a person typed: the name in any case, or
/// its city (`tokyo`, `new york`); `None` when nothing fits.
pub(crate) fn zone_named(text: &str) -> Option<String> {
    let want = text.trim().replace(' ', "_").to_lowercase();
    if want.is_empty() {
        return None;
    }
    let names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_string()).collect();
    names
        .iter()
        .find(|n| n.to_lowercase() == want)
        .or_else(|| names.iter().find(|n| n.rsplit('/').next().is_some_and(|city| city.to_lowercase() == want)))
        .cloned()
}

pub(crate) async fn prefs(s: Signed, fields: Fields, headers: HeaderMap) -> Response {
    let lang = fields.get("lang").unwrap_or(&s.session.user.lang).to_string();
    let typed = fields.get("tz").unwrap_or(&s.session.user.tz).to_string();
    let Some(tz) = zone_named(&typed) else {
        let why = format!("unknown time zone {typed:?}: give an IANA name such as Asia/Tokyo, or its city (Tokyo)");
        return failed(Lang::choose(&lang, &headers), ApiError::Invalid(why));
    };
    let back = fields.get("back").filter(|b| local_path(b)).unwrap_or("/ui/").to_string();
    let (soc, name) = (s.soc, s.session.user.name);
    match blocking(move || Ok(soc.set_prefs(&name, &lang, &tz)?)).await {
        Ok(()) => redirect(&back),
        Err(e) => failed(Lang::choose("", &headers), e),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    secure_headers(r)
}

pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("app.css"))
}

pub(crate) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("app.js"))
}

/// The first console user on a new state store: `admin`, holding the
/// admin role in `default`, with a generated password printed once.
pub fn first_user(soc: &state::State) -> anyhow::Result<()> {
    if soc.user_count()? > 0 {
        return Ok(());
    }
    let password = random_hex(12).map_err(|e| anyhow::anyhow!(e.message()))?;
    let hash = state::password::hash(&password).map_err(anyhow::Error::msg)?;
    let by = By { tenant: "default", actor: "hinomi", now: Timestamp::now() };
    soc.add_user(&by, "admin", &hash, "", "UTC")?;
    soc.grant(&by, "admin", Some(Scope::Admin))?;
    // Printed, not logged: a log shipper must not carry it off.
    eprintln!("hinomi: console user `admin` created; password (shown only now): {password}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_taken_by_name_or_city() {
        assert_eq!(zone_named("Asia/Tokyo").as_deref(), Some("Asia/Tokyo"));
        assert_eq!(zone_named(" tokyo ").as_deref(), Some("Asia/Tokyo"));
        assert_eq!(zone_named("new york").as_deref(), Some("America/New_York"));
        assert_eq!(zone_named("utc").as_deref(), Some("UTC"));
        assert_eq!(zone_named("Atlantis"), None);
        assert_eq!(zone_named(""), None);
        for z in view::COMMON_ZONES {
            assert_eq!(zone_named(z).as_deref(), Some(*z));
        }
    }

    #[test]
    fn redirects_stay_on_the_console() {
        assert!(local_path("/ui/default/alerts?x=1"));
        for bad in ["//evil.example/ui/", "https://evil.example/ui/", "/api/v1/alerts", "/ui\\..", "ui/"] {
            assert!(!local_path(bad), "{bad}");
        }
    }
}
