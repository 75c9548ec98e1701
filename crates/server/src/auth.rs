//! Who is asking, checked in one place for every route.
//!
//! Each route's entry in the table (`routes.rs`) says what it needs
//! ([`Need`]); [`guard`] runs before the handler, checks exactly that, and
//! hands the handler the principal as an extractor: [`Caller`] for an API
//! token (its tenant and scope), [`Viewer`] for a console session (the
//! user's role in the tenant of the path), [`Signed`] for a session
//! outside any tenant. A handler cannot run without its check, and cannot
//! widen it: the extractor exists only if the guard put it there.
//!
//! Tokens are read from the data directory and re-read when `hinomi token
//! create` changes the file, so new tokens work without a restart.
//! Sessions are a random cookie whose SHA-256 is the key in the state
//! store; every console POST carries the session's anti-CSRF token and,
//! when the browser sends one, an `Origin` of this host.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use access::Action;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use jiff::Timestamp;
use state::tokens::{self, TokenRecord};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::console::i18n::{Lang, T};
use crate::console::{self, Ctx};
use crate::error::blocking;
use crate::ingest::Dialect;
use crate::routes::Endpoint;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing: the login page, assets, the Elasticsearch probe, HEC health.
    Public,
    /// An API token whose scope allows the action; it acts in the token's tenant.
    Token(Action),
    /// A console session whose user's role in the path's `{tenant}` allows the action.
    Role(Action),
    /// A console session, in no tenant (the home redirect, logout, preferences).
    Session,
}

type FileStamp = Option<(SystemTime, u64)>;

/// The token file, cached until it changes.
pub(crate) struct Tokens {
    data: PathBuf,
    /// The token file's modification time and size, and what it held.
    cache: RwLock<(FileStamp, Arc<Vec<TokenRecord>>)>,
}

/// Why a request was not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No credentials: 401.
    Missing,
    /// Credentials that are not a token: 401 (HEC) / 403.
    Invalid,
    /// A token without the needed scope: 403.
    Forbidden,
    /// A token of a tenant switched off: 403.
    TenantDisabled,
}

impl Tokens {
    pub(crate) fn new(data: PathBuf) -> Tokens {
        Tokens { data, cache: RwLock::new((None, Arc::new(Vec::new()))) }
    }

    fn current(&self) -> Arc<Vec<TokenRecord>> {
        let stamp = std::fs::metadata(self.data.join("tokens.jsonl"))
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        if let Ok(cache) = self.cache.read()
            && cache.0 == stamp
        {
            return cache.1.clone();
        }
        let loaded = match tokens::load(&self.data) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                // Nothing opens while the file is unreadable; say why.
                tracing::error!(error = %e, "cannot read the token file");
                Arc::new(Vec::new())
            }
        };
        if let Ok(mut cache) = self.cache.write() {
            *cache = (stamp, loaded.clone());
        }
        loaded
    }

    /// The token presented in `headers`, if its scope allows `need`.
    pub(crate) fn check(&self, headers: &HeaderMap, need: Action) -> Result<TokenRecord, Denied> {
        let presented = presented(headers).ok_or(Denied::Missing)?;
        let all = self.current();
        let record = tokens::find(&all, &presented).ok_or(Denied::Invalid)?;
        if record.scope.allows(need) { Ok(record.clone()) } else { Err(Denied::Forbidden) }
    }

    /// Every token of every tenant.
    pub(crate) fn all(&self) -> Arc<Vec<TokenRecord>> {
        self.current()
    }

    /// The tenant's tokens (for the settings page).
    pub(crate) fn of_tenant(&self, tenant: &str) -> Vec<TokenRecord> {
        self.current().iter().filter(|t| t.tenant == tenant).cloned().collect()
    }
}

/// The secret from `Authorization: Bearer|ApiKey|Splunk <token>` or HTTP
/// Basic (the password, or the user name when the password is empty).
fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "apikey" | "splunk" => Some(rest.to_string()),
        "basic" => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
            let decoded = String::from_utf8(bytes).ok()?;
            let (user, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
            Some(if pass.is_empty() { user } else { pass }.to_string())
        }
        _ => None,
    }
}

/// An API token's holder: what an API handler acts as.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) tenant: String,
    /// The token's public id: the actor every change records.
    pub(crate) id: String,
    /// The source events sent with this token are attributed to.
    pub(crate) source: Option<String>,
    /// The token's role: what a step's approval is weighed against.
    pub(crate) scope: access::Scope,
}

impl Caller {
    /// The token acting now.
    pub(crate) fn by(&self) -> state::By<'_> {
        state::By { tenant: &self.tenant, actor: &self.id, now: Timestamp::now() }
    }
}

/// A signed-in console user within one tenant.
#[derive(Clone)]
pub(crate) struct Viewer {
    pub(crate) ctx: Ctx,
    pub(crate) soc: Arc<state::State>,
}

/// A signed-in console user outside any tenant.
#[derive(Clone)]
pub(crate) struct Signed {
    pub(crate) session: state::Session,
    pub(crate) soc: Arc<state::State>,
    /// The session cookie's value (to end it).
    pub(crate) cookie: String,
}

/// The fields of a console form, read (and CSRF-checked) by the guard.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields(pub(crate) Vec<(String, String)>);

impl Fields {
    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name` trimmed, or empty.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    /// Every value of `name` (a list of checkboxes).
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An extractor for what the guard put in the request: its absence is a
/// route whose table entry does not give it, a bug answered with 500.
macro_rules! from_guard {
    ($($t:ty),*) => {$(
        impl<S: Send + Sync> FromRequestParts<S> for $t {
            type Rejection = Response;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
                parts.extensions.get::<$t>().cloned().ok_or_else(|| {
                    tracing::error!(path = %parts.uri.path(), "a handler asked for a principal its route does not give");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                })
            }
        }
    )*};
}

from_guard!(Caller, Viewer, Signed, Fields);

/// The guard's state: the server and the route it stands before.
#[derive(Clone)]
pub(crate) struct Guarded {
    pub(crate) app: Arc<App>,
    pub(crate) endpoint: Endpoint,
}

/// How long an ingest request may wait for its turn to be read.
const BODY_WAIT: Duration = Duration::from_secs(30);

/// Largest console form (a rule and its sample events are the biggest).
const MAX_FORM: usize = 2 << 20;

/// Checks what the route needs before its handler runs.
pub(crate) async fn guard(State(g): State<Guarded>, req: Request, next: Next) -> Response {
    match g.endpoint.need() {
        Need::Public => next.run(req).await,
        Need::Token(action) => token_guard(&g, action, req, next).await,
        Need::Role(action) => console_guard(&g, Some(action), req, next).await,
        Need::Session => console_guard(&g, None, req, next).await,
    }
}

async fn token_guard(g: &Guarded, action: Action, mut req: Request, next: Next) -> Response {
    let dialect = Dialect::of(g.endpoint);
    let checked = g.app.tokens.check(req.headers(), action).and_then(|t| {
        if g.app.tenant(&t.tenant).is_some_and(|t| t.disabled) { Err(Denied::TenantDisabled) } else { Ok(t) }
    });
    let token = match checked {
        Ok(t) => t,
        // A refused sender's body is read only so far that its client
        // sees the refusal instead of a broken connection.
        Err(d) if action == Action::Ingest => return crate::ingest::drained(req, dialect.denied(d)).await,
        Err(d) => return dialect.denied(d),
    };
    req.extensions_mut().insert(Caller {
        tenant: token.tenant.clone(),
        id: token.id.clone(),
        source: token.source.clone(),
        scope: token.scope,
    });
    if action != Action::Ingest {
        return next.run(req).await;
    }
    // A request that will be refused is refused before its body is read.
    if let Some(refused) = g.app.ingest.refusal(&token.tenant) {
        return crate::ingest::drained(req, dialect.rejected(refused.into())).await;
    }
    // Only so many bodies in memory at once, and a tenant only a share of
    // them, and only so many bytes of them: later requests wait for their
    // turn with their bodies unread.
    let tenant = g.app.tenant_bodies(&token.tenant);
    let room = g.app.room_for(content_length(req.headers()), crate::ingest::gzipped(req.headers()));
    let permits = tokio::time::timeout(BODY_WAIT, async {
        let mine = tenant.acquire_owned().await?;
        let slot = g.app.bodies.clone().acquire_owned().await?;
        Ok::<_, tokio::sync::AcquireError>((mine, slot, g.app.inflight.clone().acquire_many_owned(room).await?))
    })
    .await;
    let Ok(Ok(_permits)) = permits else {
        return crate::ingest::drained(req, dialect.busy()).await;
    };
    next.run(req).await
}

/// The body length a request announces.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

async fn console_guard(g: &Guarded, action: Option<Action>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let post = parts.method == Method::POST;
    let here = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let lang = Lang::choose("", &parts.headers);
    let soc = match g.app.soc() {
        Ok(s) => s,
        Err(_) => return console::problem(StatusCode::SERVICE_UNAVAILABLE, lang, lang.t(T::NeedsTriage)),
    };
    let cookie = cookie_value(&parts.headers);
    let found = match &cookie {
        None => None,
        Some(c) => {
            let (s, c, limits) = (soc.clone(), c.clone(), g.app.console.sessions);
            match blocking(move || Ok(s.session(&c, Timestamp::now(), limits)?)).await {
                Ok(found) => found,
                Err(e) => return console::failed(lang, e),
            }
        }
    };
    let Some(session) = found else {
        return if post {
            console::clear_cookie(console::problem(StatusCode::UNAUTHORIZED, lang, lang.t(T::Login)))
        } else {
            console::redirect(&format!("/ui/login?next={}", console::url_enc(&here)))
        };
    };
    let lang = Lang::choose(&session.user.lang, &parts.headers);
    if post {
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => return console::problem(StatusCode::PAYLOAD_TOO_LARGE, lang, lang.t(T::FormTooLarge)),
        };
        let fields = Fields(wire::form::fields(&bytes));
        if let Err(why) = check_post(&parts.headers, &fields, &session.csrf) {
            return console::problem(StatusCode::FORBIDDEN, lang, lang.t(why));
        }
        parts.extensions.insert(fields);
    }
    let Some(action) = action else {
        let cookie = cookie.unwrap_or_default();
        parts.extensions.insert(Signed { session, soc, cookie });
        return next.run(Request::from_parts(parts, axum::body::Body::empty())).await;
    };
    let tenant = match Path::<HashMap<String, String>>::from_request_parts(&mut parts, &()).await {
        Ok(Path(params)) => params.get("tenant").cloned().unwrap_or_default(),
        Err(_) => String::new(),
    };
    let Some(role) = session.user.role(&tenant) else {
        return console::problem(StatusCode::FORBIDDEN, lang, lang.t(T::NoTenantAccess));
    };
    // A tenant switched off is open only to its admins, to switch it on.
    let settings = g.app.tenant(&tenant);
    let off = settings.as_ref().is_some_and(|t| t.disabled);
    if off && role != access::Scope::Admin {
        return console::problem(StatusCode::FORBIDDEN, lang, lang.t(T::TenantDisabled));
    }
    if !role.allows(action) {
        return console::problem(StatusCode::FORBIDDEN, lang, lang.t(T::RoleForbids));
    }
    let tz = jiff::tz::TimeZone::get(&session.user.tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let ctx = Ctx {
        lang,
        tz,
        user: session.user.name.clone(),
        tenant,
        role,
        tenants: session.user.grants.iter().map(|(t, _)| (t.clone(), g.app.display_name(t))).collect(),
        tenant_off: off,
        csrf: session.csrf,
        here,
        paused: g.app.ingest.paused(),
    };
    parts.extensions.insert(Viewer { ctx, soc });
    next.run(Request::from_parts(parts, axum::body::Body::empty())).await
}

/// The session cookie's value among the request's cookies.
pub(crate) fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == console::COOKIE && !v.is_empty()).then(|| v.to_string())
    })
}

/// The anti-CSRF checks of a state-changing request; the refusal's words.
fn check_post(headers: &HeaderMap, fields: &Fields, csrf: &str) -> Result<(), T> {
    let sent = fields.get("csrf").unwrap_or("");
    let same: bool = sent.as_bytes().ct_eq(csrf.as_bytes()).into();
    if !same || csrf.is_empty() {
        return Err(T::CsrfFailed);
    }
    if !same_origin(headers) {
        return Err(T::CrossSite);
    }
    Ok(())
}

/// `Origin`, when sent, names this host.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let bare = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !host.is_empty() && bare == host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn every_scheme_clients_use() {
        assert_eq!(presented(&headers("Bearer abc")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("ApiKey abc")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("Splunk abc")).as_deref(), Some("abc"));
        // "elastic:abc" and "abc:" in base64.
        assert_eq!(presented(&headers("Basic ZWxhc3RpYzphYmM=")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("Basic YWJjOg==")).as_deref(), Some("abc"));
        assert_eq!(presented(&headers("Basic !!!")), None);
        assert_eq!(presented(&headers("Digest x")), None);
        assert_eq!(presented(&HeaderMap::new()), None);
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
