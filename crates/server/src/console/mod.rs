//! The web console under `/ui`: server-rendered pages for analysts, signed
//! in with a console user (Argon2id password, server-side session).
//!
//! Every page lives under `/ui/{tenant}/…` and is allowed by the user's
//! role in that tenant (`Scope::allows`, the same table as API tokens).
//! Sessions are a random cookie (HTTP-only, SameSite=Lax, Secure behind
//! TLS) whose SHA-256 is the key in the state store; a new one is issued
//! at every login, so a cookie planted before login opens nothing. Every
//! POST carries the session's anti-CSRF token and, when the browser sends
//! one, an `Origin` of this host. Logins are limited per client address
//! and lock an account after repeated failures.

mod i18n;
mod pages;
mod svg;
pub(crate) mod view;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use access::{Action, Scope};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;
use state::{By, Lockout, LoginOutcome, SessionLimits, State as SocState, StateError};

use self::i18n::Lang;
use self::view::{Ctx, esc};
use super::http::AppState;

type AppRef = State<Arc<AppState>>;

const COOKIE: &str = "hinomi_session";

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

impl Console {
    pub(crate) fn new(c: &crate::config::ConsoleConfig, secure: bool) -> Console {
        Console {
            sessions: SessionLimits {
                idle: jiff::SignedDuration::from_mins(c.idle_minutes.max(1) as i64),
                absolute: jiff::SignedDuration::from_hours(c.session_hours.max(1) as i64),
            },
            lockout: Lockout {
                failures: c.lockout_failures.max(1) as i64,
                duration: jiff::SignedDuration::from_mins(c.lockout_minutes as i64),
            },
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

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/prefs", post(prefs))
        .route("/ui/switch", get(switch))
        .route("/ui/assets/app.css", get(css))
        .route("/ui/assets/app.js", get(js))
        .route("/ui/{tenant}", get(pages::overview))
        .route("/ui/{tenant}/", get(pages::overview))
        .route("/ui/{tenant}/alerts", get(pages::alerts).post(pages::alerts_bulk))
        .route("/ui/{tenant}/incidents", get(pages::incidents))
        .route("/ui/{tenant}/incidents/{id}", get(pages::incident).post(pages::incident_act))
        .route("/ui/{tenant}/search", get(pages::search))
        .route("/ui/{tenant}/rules", get(pages::rules).post(pages::rule_test))
        .route("/ui/{tenant}/sources", get(pages::sources))
        .route("/ui/{tenant}/settings", get(pages::settings).post(pages::settings_act))
}

/// Headers every console answer carries: no caching of tenant data, no
/// framing, no inline script, nothing loaded from elsewhere.
fn secure_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

pub(crate) fn html(code: StatusCode, body: String) -> Response {
    secure_headers((code, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(r)
}

/// A plain page for a refusal or an error, in the viewer's language.
fn problem(code: StatusCode, lang: Lang, text: &str) -> Response {
    let body = format!(
        r#"<!doctype html><html lang="{}"><head><meta charset="utf-8"><title>{}</title><link rel="stylesheet" href="/ui/assets/app.css"></head><body><main id="main"><h1>{}</h1><p class="error" role="alert">{}</p><p><a href="/ui/">Hinomi</a></p></main></body></html>"#,
        lang.code(),
        code.as_u16(),
        lang.t("error"),
        esc(text)
    );
    html(code, body)
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE && !v.is_empty()).then(|| v.to_string())
    })
}

/// Random bytes as hex.
fn random_hex(n: usize) -> Result<String, StateError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| StateError::Invalid(format!("no OS randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) use wire::form::{field, fields as form_fields};

/// Whether a same-site `next` or `back` path is safe to redirect to.
fn local_path(p: &str) -> bool {
    p.starts_with("/ui/") && !p.starts_with("//") && !p.contains('\\') && !p.contains("://")
}

/// Runs a state-store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StateError::Invalid(format!("console task failed: {e}")))?
}

fn soc_of(app: &AppState, lang: Lang) -> Result<Arc<SocState>, Box<Response>> {
    app.soc.clone().ok_or_else(|| {
        Box::new(problem(StatusCode::SERVICE_UNAVAILABLE, lang, "the console needs triage ([triage] enabled = true)"))
    })
}

/// The signed-in user behind the request's cookie, if any.
async fn session_of(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(state::Session, Arc<SocState>)>, Box<Response>> {
    let lang = Lang::choose("", headers);
    let soc = soc_of(app, lang)?;
    let Some(cookie) = cookie_value(headers) else { return Ok(None) };
    let limits = app.console.sessions;
    let s = soc.clone();
    match blocking(move || s.session(&cookie, Timestamp::now(), limits)).await {
        Ok(found) => Ok(found.map(|f| (f, soc))),
        Err(e) => Err(Box::new(problem(StatusCode::INTERNAL_SERVER_ERROR, lang, &e.to_string()))),
    }
}

/// What a page handler works with once the request is allowed.
pub(crate) struct Viewer {
    pub(crate) ctx: Ctx,
    pub(crate) soc: Arc<SocState>,
}

/// Signs the request in and checks `need` in `tenant`. Without a session:
/// to the login page (GET) or 401. Without the role: 403. A POST must
/// carry the session's anti-CSRF token (`csrf` field) and a same-host
/// `Origin` when there is one.
pub(crate) async fn viewer(
    app: &AppState,
    headers: &HeaderMap,
    tenant: &str,
    here: String,
    need: Action,
    post: Option<&[(String, String)]>,
) -> Result<Viewer, Box<Response>> {
    let Some((session, soc)) = session_of(app, headers).await? else {
        let lang = Lang::choose("", headers);
        return Err(Box::new(if post.is_some() {
            problem(StatusCode::UNAUTHORIZED, lang, lang.t("login"))
        } else {
            redirect(&format!("/ui/login?next={}", view::url_enc(&here)))
        }));
    };
    let lang = Lang::choose(&session.user.lang, headers);
    if let Some(fields) = post {
        check_post(headers, fields, &session.csrf, lang)?;
    }
    let Some(role) = session.user.role(tenant) else {
        return Err(Box::new(problem(StatusCode::FORBIDDEN, lang, "no access to this tenant")));
    };
    if !role.allows(need) {
        return Err(Box::new(problem(StatusCode::FORBIDDEN, lang, "your role does not allow this")));
    }
    let tz = jiff::tz::TimeZone::get(&session.user.tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let ctx = Ctx {
        lang,
        tz,
        user: session.user.name.clone(),
        tenant: tenant.to_string(),
        role,
        tenants: session.user.grants.iter().map(|(t, _)| t.clone()).collect(),
        csrf: session.csrf,
        here,
    };
    Ok(Viewer { ctx, soc })
}

/// The anti-CSRF checks of a state-changing request.
fn check_post(headers: &HeaderMap, fields: &[(String, String)], csrf: &str, lang: Lang) -> Result<(), Box<Response>> {
    let sent = field(fields, "csrf").unwrap_or("");
    let same = sent.len() == csrf.len() && sent.bytes().zip(csrf.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    if !same || csrf.is_empty() {
        return Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            lang,
            "the form is stale or forged (CSRF check failed); reload the page",
        )));
    }
    if !same_origin(headers) {
        return Err(Box::new(problem(StatusCode::FORBIDDEN, lang, "cross-site request refused")));
    }
    Ok(())
}

/// `Origin`, when sent, names this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let bare = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !host.is_empty() && bare == host
}

async fn home(State(app): AppRef, headers: HeaderMap) -> Response {
    match session_of(&app, &headers).await {
        Err(r) => *r,
        Ok(None) => redirect("/ui/login"),
        Ok(Some((s, _))) => match s.user.grants.first() {
            Some((t, _)) => redirect(&format!("/ui/{t}/")),
            None => {
                problem(StatusCode::FORBIDDEN, Lang::choose(&s.user.lang, &headers), "no tenant is granted to you yet")
            }
        },
    }
}

#[derive(Deserialize)]
pub(crate) struct SwitchParams {
    tenant: String,
}

async fn switch(Query(p): Query<SwitchParams>) -> Response {
    match access::check_name("tenant", &p.tenant) {
        Ok(()) => redirect(&format!("/ui/{}/", p.tenant)),
        Err(e) => problem(StatusCode::BAD_REQUEST, Lang::En, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginParams {
    next: Option<String>,
}

async fn login_page(headers: HeaderMap, Query(p): Query<LoginParams>) -> Response {
    let next = p.next.filter(|n| local_path(n)).unwrap_or_else(|| "/ui/".into());
    html(StatusCode::OK, view::login(Lang::choose("", &headers), None, &next, ""))
}

async fn login(
    State(app): AppRef,
    ConnectInfo(peer): ConnectInfo<super::https::Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = Lang::choose("", &headers);
    let fields = form_fields(&body);
    let user = field(&fields, "user").unwrap_or("").trim().to_string();
    let password = field(&fields, "password").unwrap_or("").to_string();
    let next = field(&fields, "next").filter(|n| local_path(n)).unwrap_or("/ui/").to_string();
    if !same_origin(&headers) {
        return problem(StatusCode::FORBIDDEN, lang, "cross-site request refused");
    }
    if !app.console.allow_attempt(peer.0.ip()) {
        let mut r =
            problem(StatusCode::TOO_MANY_REQUESTS, lang, "too many login attempts from your address; wait a minute");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return r;
    }
    let soc = match soc_of(&app, lang) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (lock, old) = (app.console.lockout, cookie_value(&headers));
    let name = user.clone();
    let outcome = blocking(move || {
        let stored = soc.password_of(&name)?;
        // Unknown users cost one Argon2 run too: timing tells nothing.
        let ok = state::password::verify(&password, stored.as_deref().unwrap_or(state::password::decoy()))
            && stored.is_some();
        let now = Timestamp::now();
        let outcome = soc.record_login(&By { tenant: "", actor: &name, now }, ok, lock)?;
        if !matches!(outcome, LoginOutcome::Ok(_)) {
            return Ok((outcome, None));
        }
        // Always a new session id: a cookie set before login opens nothing.
        if let Some(old) = old {
            soc.end_session(&By { tenant: "", actor: &name, now }, &old)?;
        }
        let (cookie, csrf) = (random_hex(32)?, random_hex(16)?);
        soc.start_session(&By { tenant: "", actor: &name, now }, &cookie, &csrf)?;
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
        Ok((LoginOutcome::Locked(until), _)) => {
            let text = format!("{} {until}", lang.t("locked"));
            html(StatusCode::FORBIDDEN, view::login(lang, Some(&text), &next, &user))
        }
        Ok(_) => html(StatusCode::UNAUTHORIZED, view::login(lang, Some(lang.t("login_failed")), &next, &user)),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, lang, &e.to_string()),
    }
}

fn clear_cookie(mut r: Response) -> Response {
    let value = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// A POST outside a tenant (logout, preferences): session and CSRF only.
async fn signed_post(
    app: &AppState,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Result<(state::Session, Arc<SocState>), Box<Response>> {
    let lang = Lang::choose("", headers);
    let Some((session, soc)) = session_of(app, headers).await? else {
        return Err(Box::new(clear_cookie(redirect("/ui/login"))));
    };
    check_post(headers, fields, &session.csrf, lang)?;
    Ok((session, soc))
}

async fn logout(State(app): AppRef, headers: HeaderMap, body: Bytes) -> Response {
    let fields = form_fields(&body);
    let (session, soc) = match signed_post(&app, &headers, &fields).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let cookie = cookie_value(&headers).unwrap_or_default();
    let name = session.user.name;
    match blocking(move || soc.end_session(&By { tenant: "", actor: &name, now: Timestamp::now() }, &cookie)).await {
        Ok(()) => clear_cookie(redirect("/ui/login")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, Lang::En, &e.to_string()),
    }
}

async fn prefs(State(app): AppRef, headers: HeaderMap, body: Bytes) -> Response {
    let fields = form_fields(&body);
    let (session, soc) = match signed_post(&app, &headers, &fields).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let lang = field(&fields, "lang").unwrap_or(&session.user.lang).to_string();
    let tz = field(&fields, "tz").unwrap_or(&session.user.tz).to_string();
    let back = field(&fields, "back").filter(|b| local_path(b)).unwrap_or("/ui/").to_string();
    let name = session.user.name;
    match blocking(move || soc.set_prefs(&name, &lang, &tz)).await {
        Ok(()) => redirect(&back),
        Err(e) => problem(StatusCode::BAD_REQUEST, Lang::choose("", &headers), &e.to_string()),
    }
}

async fn css() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("app.css")).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    secure_headers(r)
}

async fn js() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("app.js")).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    secure_headers(r)
}

/// The first console user on a new state store: `admin`, holding the
/// admin role in `default`, with a generated password printed once.
pub fn first_user(soc: &SocState) -> anyhow::Result<()> {
    if soc.user_count()? > 0 {
        return Ok(());
    }
    let password = random_hex(12)?;
    let hash = state::password::hash(&password).map_err(anyhow::Error::msg)?;
    let by = By { tenant: "default", actor: "hinomi", now: Timestamp::now() };
    soc.add_user(&by, "admin", &hash, "", "UTC")?;
    soc.grant(&by, "admin", Some(Scope::Admin))?;
    eprintln!("hinomi: console user `admin` created; password (shown only now): {password}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_console() {
        assert!(local_path("/ui/default/alerts?x=1"));
        for bad in ["//evil.example/ui/", "https://evil.example/ui/", "/api/v1/alerts", "/ui\\..", "ui/"] {
            assert!(!local_path(bad), "{bad}");
        }
    }

    #[test]
    fn origin_check() {
        let h = |origin: Option<&str>, host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, host.parse().unwrap());
            if let Some(o) = origin {
                h.insert(header::ORIGIN, o.parse().unwrap());
            }
            h
        };
        assert!(same_origin(&h(None, "127.0.0.1:8080")));
        assert!(same_origin(&h(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")));
        assert!(!same_origin(&h(Some("http://evil.example"), "127.0.0.1:8080")));
        assert!(!same_origin(&h(Some("null"), "127.0.0.1:8080")));
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; hinomi_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie_value(&h).as_deref(), Some("abc"));
        h.insert(header::COOKIE, "hinomi_session=".parse().unwrap());
        assert_eq!(cookie_value(&h), None);
    }
}
