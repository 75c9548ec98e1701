//! The console's page handlers: sign in and check the role ([`viewer`]),
//! read what the page shows, render it ([`view`]). Changes are POSTed
//! forms answered with a redirect back to the page (post/redirect/get);
//! a refused change shows the page again with the reason.

use std::sync::Arc;

use access::{Action, Scope};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use jiff::{SignedDuration, Timestamp};
use model::Level;
use serde::Deserialize;
use state::{AlertQuery, IncidentQuery, StateError};

use super::view::{self, AlertFilter, Ctx, Overview, SearchView};
use super::{Viewer, blocking, field, form_fields, html, viewer};
use crate::http::AppState;

type AppRef = State<Arc<AppState>>;

fn here(uri: &Uri) -> String {
    uri.path_and_query().map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string())
}

/// Renders a page or the error that stopped it.
fn page(ctx: &Ctx, title_key: &str, nav: &str, body: Result<String, StateError>) -> Response {
    match body {
        Ok(body) => html(StatusCode::OK, view::layout(ctx, ctx.t(title_key), nav, &body)),
        Err(e) => failed(ctx, e),
    }
}

fn failed(ctx: &Ctx, e: StateError) -> Response {
    let code = match e {
        StateError::NotFound(_) => StatusCode::NOT_FOUND,
        StateError::Conflict { .. } => StatusCode::CONFLICT,
        StateError::Invalid(_) => StatusCode::BAD_REQUEST,
        StateError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = format!(r#"<p class="error" role="alert">{}</p>"#, view::esc(&e.to_string()));
    html(code, view::layout(ctx, ctx.t("error"), "", &body))
}

macro_rules! signed_in {
    ($app:expr, $headers:expr, $tenant:expr, $uri:expr, $need:expr) => {
        match viewer(&$app, &$headers, &$tenant, here(&$uri), $need, None).await {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
    ($app:expr, $headers:expr, $tenant:expr, $uri:expr, $need:expr, $fields:expr) => {
        match viewer(&$app, &$headers, &$tenant, here(&$uri), $need, Some(&$fields)).await {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
}

pub(crate) async fn overview(State(app): AppRef, headers: HeaderMap, Path(tenant): Path<String>, uri: Uri) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Read);
    let sources: Vec<engine::SourceStats> =
        app.ingest.health().snapshot().into_iter().filter(|s| s.tenant == v.ctx.tenant).collect();
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let body = blocking(move || {
        let now = Timestamp::now();
        // The chart's first column starts on the hour, 23 hours back.
        let since = now.checked_sub(SignedDuration::from_hours(23)).unwrap_or(now);
        let since = Timestamp::from_second(since.as_second() - since.as_second().rem_euclid(3600)).unwrap_or(since);
        let open_incidents = soc.incident_counts(&t)?.into_iter().filter(|(s, _)| !s.is_done()).collect();
        let (near_breach, breached) = soc.sla_counts(&t)?;
        let top_rules = soc.top_rules(&t, since, 10)?;
        Ok(Overview {
            alert_counts: soc.alert_counts(&t)?,
            open_incidents,
            near_breach,
            breached,
            histogram: soc.alert_histogram(&t, since, SignedDuration::from_hours(1))?,
            since,
            top_rules,
            sources,
        })
    })
    .await;
    page(&v.ctx, "overview", "overview", body.map(|o| view::overview(&v.ctx, &o)))
}

#[derive(Deserialize, Default)]
pub(crate) struct AlertsParams {
    status: Option<String>,
    min_severity: Option<String>,
    rule: Option<String>,
    before: Option<String>,
}

/// `TIME,ID` of a page's last row, as the queue links give it.
fn cursor(text: Option<&str>) -> Option<(Timestamp, i64)> {
    let (t, id) = text?.split_once(',')?;
    Some((t.parse().ok()?, id.parse().ok()?))
}

const PAGE: usize = 50;

pub(crate) async fn alerts(
    State(app): AppRef,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    uri: Uri,
    Query(p): Query<AlertsParams>,
) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Read);
    alerts_page(v, p, None).await
}

async fn alerts_page(v: Viewer, p: AlertsParams, notice: Option<String>) -> Response {
    let f = AlertFilter {
        status: p.status.filter(|s| !s.is_empty()).unwrap_or_else(|| "open".into()),
        min_severity: p.min_severity.unwrap_or_default(),
        rule: p.rule.unwrap_or_default(),
    };
    let q = AlertQuery {
        status: Some(f.status.clone()).filter(|s| s != "all"),
        min_severity: Level::parse(&f.min_severity),
        rule_id: Some(f.rule.clone()).filter(|r| !r.is_empty()),
        incident_id: None,
        before: cursor(p.before.as_deref()),
        limit: PAGE,
    };
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let list = blocking(move || soc.alerts(&t, &q)).await;
    let body = list.map(|list| {
        let next = (list.len() == PAGE).then(|| list.last().map(|a| format!("{},{}", a.last_seen, a.id))).flatten();
        view::alerts(&v.ctx, &f, &list, next.as_deref(), notice.as_deref())
    });
    page(&v.ctx, "alerts", "alerts", body)
}

/// Bulk acknowledge, assign or close: applied to the incidents of the
/// selected alerts, each at its current version.
pub(crate) async fn alerts_bulk(
    State(app): AppRef,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let v = signed_in!(app, headers, tenant, uri, Action::Triage, fields);
    let ids: Vec<i64> = fields.iter().filter(|(k, _)| k == "alert").filter_map(|(_, v)| v.parse().ok()).collect();
    let action = field(&fields, "action").unwrap_or("").to_string();
    let assignee = field(&fields, "assignee").unwrap_or("").trim().to_string();
    let disposition = field(&fields, "disposition").unwrap_or("").to_string();
    let (soc, t, user) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone());
    let done = blocking(move || {
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        let mut incidents: Vec<i64> = ids.iter().filter_map(|id| soc.alert(&t, *id).ok()?.incident_id).collect();
        incidents.sort_unstable();
        incidents.dedup();
        let disposition = match action.as_str() {
            "close" => Some(disposition.parse::<soc::Disposition>().map_err(StateError::Invalid)?),
            _ => None,
        };
        let mut changed = 0;
        for id in incidents {
            let i = soc.incident(&t, id)?;
            match action.as_str() {
                "ack" if i.status == soc::Status::New => {
                    soc.transition(&by, id, i.version, soc::Status::Acknowledged, None)?;
                }
                "assign" => {
                    soc.assign(&by, id, i.version, Some(assignee.as_str()).filter(|a| !a.is_empty()))?;
                }
                "close" if !i.status.is_done() => {
                    soc.transition(&by, id, i.version, soc::Status::Closed, disposition)?;
                }
                "ack" | "close" => continue,
                other => return Err(StateError::Invalid(format!("unknown bulk action {other:?}"))),
            }
            changed += 1;
        }
        Ok(changed)
    })
    .await;
    match done {
        Ok(_) => super::redirect(&v.ctx.here),
        Err(e) => {
            let p = AlertsParams::default();
            alerts_page(v, p, Some(e.to_string())).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct IncidentsParams {
    status: Option<String>,
    before: Option<String>,
}

pub(crate) async fn incidents(
    State(app): AppRef,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    uri: Uri,
    Query(p): Query<IncidentsParams>,
) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Read);
    let status = p.status.filter(|s| !s.is_empty()).unwrap_or_else(|| "open".into());
    let (soc, t, st) = (v.soc.clone(), v.ctx.tenant.clone(), status.clone());
    let list = blocking(move || {
        let q = IncidentQuery {
            statuses: soc::Status::filter(&st).map_err(StateError::Invalid)?,
            assignee: None,
            before: cursor(p.before.as_deref()),
            limit: PAGE,
        };
        soc.incidents(&t, &q)
    })
    .await;
    let body = list.map(|list| {
        let next = (list.len() == PAGE).then(|| list.last().map(|i| format!("{},{}", i.last_activity, i.id))).flatten();
        view::incidents(&v.ctx, &status, &list, next.as_deref())
    });
    page(&v.ctx, "incidents", "incidents", body)
}

pub(crate) async fn incident(
    State(app): AppRef,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, i64)>,
    uri: Uri,
) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Read);
    incident_page(v, id, None, StatusCode::OK).await
}

async fn incident_page(v: Viewer, id: i64, notice: Option<String>, code: StatusCode) -> Response {
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let data = blocking(move || Ok((soc.escalation(&t, id)?, soc.sla(&t, id, Timestamp::now())?))).await;
    match data {
        Ok((e, sla)) => {
            let title = format!("{} #{id}: {}", v.ctx.t("incident"), e.incident.title);
            let body = view::incident(&v.ctx, &e, sla.as_ref(), notice.as_deref());
            html(code, view::layout(&v.ctx, &title, "incidents", &body))
        }
        Err(e) => failed(&v.ctx, e),
    }
}

/// One change from the incident page's forms.
pub(crate) async fn incident_act(
    State(app): AppRef,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, i64)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let action = field(&fields, "action").unwrap_or("").to_string();
    let need = if action == "escalate" { Action::Escalate } else { Action::Triage };
    let v = signed_in!(app, headers, tenant, uri, need, fields);
    let (soc, t, user) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone());
    let done = blocking(move || {
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        let get = |k: &str| field(&fields, k).unwrap_or("").trim().to_string();
        let version: i64 = get("version").parse().unwrap_or(0);
        match action.as_str() {
            "status" => {
                let to = get("status").parse::<soc::Status>().map_err(StateError::Invalid)?;
                let d = Some(get("disposition")).filter(|d| !d.is_empty());
                let d = d.map(|d| d.parse::<soc::Disposition>()).transpose().map_err(StateError::Invalid)?;
                soc.transition(&by, id, version, to, d)?;
            }
            "assign" => {
                soc.assign(&by, id, version, Some(get("assignee")).as_deref().filter(|a| !a.is_empty()))?;
            }
            "escalate" => {
                soc.escalate(&by, id, version, &get("to"))?;
            }
            "note" => {
                let body = get("body");
                if body.is_empty() {
                    return Err(StateError::Invalid("a note cannot be empty".into()));
                }
                soc.add_note(&by, id, &body)?;
            }
            "task" => {
                soc.add_task(&by, id, &get("title"), None)?;
            }
            other => return Err(StateError::Invalid(format!("unknown incident action {other:?}"))),
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => super::redirect(&v.ctx.here),
        Err(StateError::Conflict { .. }) => {
            let notice = v.ctx.t("version_conflict").to_string();
            incident_page(v, id, Some(notice), StatusCode::CONFLICT).await
        }
        Err(StateError::NotFound(what)) => failed(&v.ctx, StateError::NotFound(what)),
        Err(e) => incident_page(v, id, Some(e.to_string()), StatusCode::BAD_REQUEST).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Rows a console search shows.
const SEARCH_ROWS: usize = 200;

pub(crate) async fn search(
    State(app): AppRef,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    uri: Uri,
    Query(p): Query<SearchParams>,
) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Read);
    let q = p.q.unwrap_or_default();
    let from = p.from.filter(|f| !f.is_empty()).unwrap_or_else(|| "-24h".into());
    let to = p.to.unwrap_or_default();
    let mut out = SearchView { query: &q, from: &from, to: &to, rows: &[], buckets: Vec::new(), error: None };
    if q.trim().is_empty() {
        return page(&v.ctx, "search", "search", Ok(view::search(&v.ctx, &out)));
    }
    let Some(store) = app.store.clone() else {
        out.error = Some("the event store is off ([store] enabled = false)".into());
        return page(&v.ctx, "search", "search", Ok(view::search(&v.ctx, &out)));
    };
    let permit = match crate::search::search_permit(&app) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let (tenant, timeout, tz) = (v.ctx.tenant.clone(), app.search_timeout, v.ctx.tz.clone());
    let (qq, ff, tt) = (q.clone(), from.clone(), to.clone());
    let found = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        crate::search::at_search_priority(|| run_search(&store, &tenant, &qq, &ff, &tt, timeout, &tz))
    })
    .await
    .unwrap_or_else(|e| Err(format!("search task failed: {e}")));
    let rows;
    match found {
        Ok((r, buckets)) => {
            rows = r;
            out.rows = &rows;
            out.buckets = buckets;
        }
        Err(e) => out.error = Some(e),
    }
    page(&v.ctx, "search", "search", Ok(view::search(&v.ctx, &out)))
}

type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

/// The rows of a search, and its hourly (or finer) histogram when the
/// query has no pipes of its own.
fn run_search(
    store: &eventstore::EventStore,
    tenant: &str,
    q: &str,
    from: &str,
    to: &str,
    timeout: std::time::Duration,
    tz: &jiff::tz::TimeZone,
) -> Result<(Rows, Vec<(String, i64)>), String> {
    let now = Timestamp::now();
    let parsed = query::parse(q).map_err(|e| format!("column {}: {}", e.column, e.message))?;
    let bound = |t: &str| -> Result<Option<Timestamp>, String> {
        if t.is_empty() {
            return Ok(None);
        }
        query::time_arg(t, now).map(Some).ok_or_else(|| format!("{t:?}: expected a time or an offset such as -24h"))
    };
    let (start, end) = (bound(from)?, bound(to)?);
    let tenants = vec![tenant.to_string()];
    fn request<'a>(
        tenants: &'a [String],
        query: &'a query::Query,
        bounds: (Option<Timestamp>, Option<Timestamp>, Timestamp),
        limit: usize,
        timeout: std::time::Duration,
    ) -> eventstore::SearchRequest<'a> {
        let (from, to, now) = bounds;
        eventstore::SearchRequest { tenants, query, from, to, now, limit, limits: query::Limits::default(), timeout }
    }
    let bounds = (start, end, now);
    let mut rows = Vec::new();
    store
        .search_each(&request(&tenants, &parsed, bounds, SEARCH_ROWS, timeout), &engine::Renormalize, &mut |row| {
            rows.push(row);
            true
        })
        .map_err(|e| e.to_string())?;
    let mut buckets = Vec::new();
    if !q.contains('|') {
        let span_secs = (end.unwrap_or(now).as_second() - start.unwrap_or(now).as_second()).max(3600) / 48;
        let span =
            [60, 300, 900, 1800, 3600, 10800, 21600, 86400].into_iter().find(|s| *s >= span_secs).unwrap_or(86400);
        if let Ok(chart) = query::parse(&format!("{q} | timechart span={span}s count()")) {
            let _ = store.search_each(
                &request(&tenants, &chart, bounds, 1000, timeout),
                &engine::Renormalize,
                &mut |row| {
                    let at = row.get("_time").or_else(|| row.get("@timestamp")).and_then(|v| v.as_str()).unwrap_or("");
                    let label = at
                        .parse::<Timestamp>()
                        .map(|t| t.to_zoned(tz.clone()).strftime("%m-%d %H:%M").to_string())
                        .unwrap_or_else(|_| at.to_string());
                    let n = row.get("count()").and_then(|v| v.as_i64()).unwrap_or(0);
                    buckets.push((label, n));
                    true
                },
            );
        }
    }
    Ok((rows, buckets))
}

pub(crate) async fn rules(State(app): AppRef, headers: HeaderMap, Path(tenant): Path<String>, uri: Uri) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Read);
    rules_page(&app, v, None).await
}

async fn rules_page(app: &AppState, v: Viewer, test: Option<view::RuleTest>) -> Response {
    // Rules that alert on their own, then correlations that do.
    let loaded: Vec<view::LoadedRule> = app
        .rules
        .rules()
        .iter()
        .filter(|r| r.alerts)
        .map(|r| (r.id.clone(), r.title.clone(), r.level))
        .chain(
            app.rules
                .correlations()
                .iter()
                .filter(|c| c.alerts)
                .map(|c| (c.def.id.clone(), format!("{} ({})", c.def.title, c.def.kind.as_str()), c.def.level)),
        )
        .collect();
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let stats = blocking(move || soc.rule_stats(&t)).await;
    page(&v.ctx, "rules", "rules", stats.map(|s| view::rules(&v.ctx, &loaded, &s, test.as_ref())))
}

/// Sizes a rule test takes at most.
const MAX_RULE_BYTES: usize = 64 * 1024;
const MAX_TEST_EVENTS: usize = 1000;

/// Runs one rule over sample events (one JSON object per line): the
/// 1-based lines it matches.
fn test_rule(yaml: &str, events: &str) -> Result<Vec<usize>, String> {
    if yaml.len() > MAX_RULE_BYTES {
        return Err(format!("the rule is over {MAX_RULE_BYTES} bytes"));
    }
    let mut builder = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
    builder.add_file("console", yaml);
    let (set, errors) = builder.build();
    if let Some(e) = errors.first() {
        return Err(format!("the rule does not load: {e}"));
    }
    if set.is_empty() {
        return Err("no rule in the text".into());
    }
    let mut matcher = set.matcher();
    let mut hits = Vec::new();
    for (n, line) in events.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).take(MAX_TEST_EVENTS) {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("event on line {}: {e}", n + 1))?;
        let Some(object) = value.as_object() else { return Err(format!("event on line {}: not a JSON object", n + 1)) };
        if !matcher.matches(&model::Event::from_json_flat(object)).is_empty() {
            hits.push(n + 1);
        }
    }
    Ok(hits)
}

pub(crate) async fn rule_test(
    State(app): AppRef,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let v = signed_in!(app, headers, tenant, uri, Action::Read, fields);
    let yaml = field(&fields, "rule").unwrap_or("").to_string();
    let events = field(&fields, "events").unwrap_or("").to_string();
    let (y, e) = (yaml.clone(), events.clone());
    let result = tokio::task::spawn_blocking(move || test_rule(&y, &e))
        .await
        .unwrap_or_else(|e| Err(format!("rule test failed: {e}")));
    rules_page(&app, v, Some(view::RuleTest { yaml, events, result })).await
}

pub(crate) async fn sources(State(app): AppRef, headers: HeaderMap, Path(tenant): Path<String>, uri: Uri) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Read);
    let list: Vec<engine::SourceStats> =
        app.ingest.health().snapshot().into_iter().filter(|s| s.tenant == v.ctx.tenant).collect();
    let (dir, t) = (app.data.join("deadletter"), v.ctx.tenant.clone());
    let dead = blocking(move || {
        crate::http::tail(&dir, &t, 50).map_err(|e| StateError::Invalid(format!("reading dead letters: {e}")))
    })
    .await;
    page(&v.ctx, "sources", "sources", dead.map(|d| view::sources(&v.ctx, &list, &d)))
}

pub(crate) async fn settings(State(app): AppRef, headers: HeaderMap, Path(tenant): Path<String>, uri: Uri) -> Response {
    let v = signed_in!(app, headers, tenant, uri, Action::Configure);
    settings_page(&app, v, None, None).await
}

async fn settings_page(app: &AppState, v: Viewer, new_token: Option<String>, notice: Option<String>) -> Response {
    let (soc, t, data) = (v.soc.clone(), v.ctx.tenant.clone(), app.data.clone());
    let found = blocking(move || {
        let users = soc.users(Some(&t))?;
        let config = view::TenantConfig { sla: soc.sla_policies(&t)?, assets: soc.assets(&t)?.assets };
        let tokens = state::tokens::load(&data)
            .map_err(|e| StateError::Invalid(format!("reading tokens: {e}")))?
            .into_iter()
            .filter(|k| k.tenant == t)
            .collect::<Vec<_>>();
        Ok((users, tokens, config))
    })
    .await;
    let body = found.map(|(u, k, c)| view::settings(&v.ctx, &u, &k, &c, new_token.as_deref(), notice.as_deref()));
    page(&v.ctx, "settings", "settings", body)
}

/// People and tokens of the tenant: admins only (`Action::Administer`).
pub(crate) async fn settings_act(
    State(app): AppRef,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let v = signed_in!(app, headers, tenant, uri, Action::Administer, fields);
    let (soc, t, user, data) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone(), app.data.clone());
    let done = blocking(move || {
        let now = Timestamp::now();
        let by = state::By { tenant: &t, actor: &user, now };
        let get = |k: &str| field(&fields, k).unwrap_or("").trim().to_string();
        let role = |text: &str| -> Result<Option<Scope>, StateError> {
            match text {
                "none" | "" => Ok(None),
                r => Scope::parse(r).map(Some).map_err(StateError::Invalid),
            }
        };
        match get("action").as_str() {
            "grant" => {
                soc.grant(&by, &get("user"), role(&get("role"))?)?;
                Ok(None)
            }
            "user_add" => {
                let password = field(&fields, "password").unwrap_or("");
                if password.chars().count() < 12 {
                    return Err(StateError::Invalid("a password needs at least 12 characters".into()));
                }
                let hash = state::password::hash(password).map_err(StateError::Invalid)?;
                let name = get("user");
                soc.add_user(&by, &name, &hash, "", "UTC")?;
                soc.grant(&by, &name, role(&get("role"))?.or(Some(Scope::Read)))?;
                Ok(None)
            }
            "token_create" => {
                let scope = Scope::parse(&get("scope")).map_err(StateError::Invalid)?;
                let (token, record) = state::tokens::create(&data, &t, scope, None, &now.to_string())
                    .map_err(|e| StateError::Invalid(format!("creating a token: {e}")))?;
                let target = format!("token:{}", record.id);
                soc.audit(&by, "token_create", &target, &serde_json::json!({"scope": scope.as_str()}))?;
                Ok(Some(token))
            }
            "token_revoke" => {
                let id = get("token");
                let mine = state::tokens::load(&data)
                    .map_err(|e| StateError::Invalid(format!("reading tokens: {e}")))?
                    .into_iter()
                    .any(|k| k.id == id && k.tenant == t);
                if !mine {
                    return Err(StateError::NotFound(format!("token {id:?}")));
                }
                state::tokens::revoke(&data, &id, &now.to_string())
                    .map_err(|e| StateError::Invalid(format!("revoking token {id}: {e}")))?;
                soc.audit(&by, "token_revoke", &format!("token:{id}"), &serde_json::json!({}))?;
                Ok(None)
            }
            other => Err(StateError::Invalid(format!("unknown settings action {other:?}"))),
        }
    })
    .await;
    match done {
        Ok(None) => super::redirect(&v.ctx.here),
        // A new token is shown once, on this answer; never in a URL.
        Ok(Some(token)) => settings_page(&app, v, Some(token), None).await,
        Err(e) => settings_page(&app, v, None, Some(e.to_string())).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_tested_against_sample_events() {
        let rule = "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: windows}\ndetection:\n  sel: {EventID: 4625}\n  condition: sel\nlevel: low\n";
        let events = "{\"EventID\": 4625}\n{\"EventID\": 4624}\n\n{\"EventID\": 4625, \"x\": 1}\n";
        assert_eq!(test_rule(rule, events).unwrap(), [1, 4]);
        assert!(test_rule(rule, "[1]").unwrap_err().contains("line 1"));
        assert!(test_rule(rule, "{").unwrap_err().contains("line 1"));
        assert!(test_rule("title: [", "").unwrap_err().contains("does not load"));
        assert!(test_rule(&"x".repeat(MAX_RULE_BYTES + 1), "").is_err());
    }
}
