//! The console's page handlers: read what the page shows, render it
//! ([`view`]). The guard has signed the request in and checked the role
//! before any of them runs. Changes are POSTed forms answered with a
//! redirect back to the page (post/redirect/get); a refused change shows
//! the page again with the reason.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use maud::Markup;
use model::Level;
use serde::Deserialize;
use state::{AlertQuery, IncidentAction, IncidentQuery};

use super::i18n::T;
use super::view::{self, AlertFilter, Ctx, Overview, SearchView};
use super::{failed, html, redirect, url_enc as query_value};
use crate::app::App;
use crate::auth::{Fields, Viewer};
use crate::error::{ApiError, blocking};
use crate::search::{Search, at_search_priority};

/// Renders a page in the frame, or the error that stopped it.
fn page(ctx: &Ctx, title: T, body: Result<Markup, ApiError>) -> Response {
    match body {
        Ok(body) => html(StatusCode::OK, view::layout(ctx, ctx.t(title), title, body)),
        Err(e) => failed(ctx.lang, e),
    }
}

/// `TIME,ID` of a page's last row, as the queue links give it.
fn cursor(text: Option<&str>) -> Option<(Timestamp, i64)> {
    let (t, id) = text?.split_once(',')?;
    Some((t.parse().ok()?, id.parse().ok()?))
}

const PAGE: usize = 50;

/// The tenant's sources as the engine counts them.
fn sources_of(app: &App, tenant: &str) -> Vec<engine::SourceStats> {
    app.ingest.health().snapshot().into_iter().filter(|s| s.tenant == tenant).collect()
}

pub(crate) async fn overview(State(app): State<Arc<App>>, v: Viewer) -> Response {
    let sources = sources_of(&app, &v.ctx.tenant);
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let body = blocking(move || {
        let now = Timestamp::now();
        // The chart's first column starts on the hour, 23 hours back.
        let since = now.checked_sub(SignedDuration::from_hours(23)).unwrap_or(now);
        let since = Timestamp::from_second(since.as_second() - since.as_second().rem_euclid(3600)).unwrap_or(since);
        let open_incidents = soc.incident_counts(&t)?.into_iter().filter(|(s, _)| !s.is_done()).collect();
        let (near_breach, breached) = soc.sla_counts(&t)?;
        Ok(Overview {
            alert_counts: soc.alert_counts(&t)?,
            open_incidents,
            near_breach,
            breached,
            histogram: soc.alert_histogram(&t, since, SignedDuration::from_hours(1))?,
            since,
            top_rules: soc.top_rules(&t, since, 10)?,
            sources,
        })
    })
    .await;
    page(&v.ctx, T::Overview, body.map(|o| view::overview(&v.ctx, &o)))
}

#[derive(Deserialize, Default)]
pub(crate) struct AlertsParams {
    status: Option<String>,
    min_severity: Option<String>,
    rule: Option<String>,
    sort: Option<String>,
    before: Option<String>,
}

pub(crate) async fn alerts(v: Viewer, Query(p): Query<AlertsParams>) -> Response {
    alerts_page(v, p, None).await
}

/// `SEVERITY,TIME,ID` of a page's last row, when the queue is by severity.
fn severity_cursor(text: Option<&str>) -> Option<(Level, (Timestamp, i64))> {
    let (sev, rest) = text?.split_once(',')?;
    Some((Level::parse(sev)?, cursor(Some(rest))?))
}

async fn alerts_page(v: Viewer, p: AlertsParams, notice: Option<String>) -> Response {
    let f = AlertFilter {
        status: p.status.filter(|s| !s.is_empty()).unwrap_or_else(|| "open".into()),
        min_severity: p.min_severity.unwrap_or_default(),
        rule: p.rule.unwrap_or_default(),
        by_severity: p.sort.as_deref() == Some("severity"),
    };
    let (before_severity, before) = match f.by_severity {
        true => severity_cursor(p.before.as_deref()).map_or((None, None), |(s, c)| (Some(s), Some(c))),
        false => (None, cursor(p.before.as_deref())),
    };
    let q = AlertQuery {
        status: Some(f.status.clone()).filter(|s| s != "all"),
        min_severity: Level::parse(&f.min_severity),
        rule_title: Some(f.rule.clone()).filter(|r| !r.trim().is_empty()),
        by_severity: f.by_severity,
        before,
        before_severity,
        limit: PAGE,
        ..Default::default()
    };
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let found = blocking(move || {
        let list = soc.alerts(&t, &q)?;
        // The people an alert's incident can be given to, and the rule
        // titles the filter suggests.
        let users = soc.users(Some(&t))?.into_iter().filter(|u| !u.disabled).map(|u| u.name).collect::<Vec<_>>();
        Ok((list, users, soc.rule_titles(&t, 500)?))
    })
    .await;
    let body = found.map(|(list, users, titles)| {
        let next = (list.len() == PAGE)
            .then(|| {
                list.last().map(|a| match f.by_severity {
                    true => format!("{},{},{}", a.severity.as_str(), a.last_seen, a.id),
                    false => format!("{},{}", a.last_seen, a.id),
                })
            })
            .flatten();
        let page = view::AlertPage {
            list: &list,
            next: next.as_deref(),
            users: &users,
            titles: &titles,
            now: Timestamp::now(),
        };
        view::alerts(&v.ctx, &f, &page, notice.as_deref())
    });
    page(&v.ctx, T::Alerts, body)
}

#[derive(Deserialize)]
pub(crate) struct NewsParams {
    since: Option<String>,
}

/// How many open alerts saw activity since the queue was shown: the
/// queue's script asks every few seconds and offers to reload.
pub(crate) async fn alerts_news(v: Viewer, Query(p): Query<NewsParams>) -> Response {
    let Some(since) = p.since.as_deref().and_then(|s| s.parse::<Timestamp>().ok()) else {
        return ApiError::Invalid("`since` must be an RFC 3339 time".into()).into_response();
    };
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    match blocking(move || Ok(soc.alerts_since(&t, since)?)).await {
        Ok(n) => axum::Json(serde_json::json!({ "count": n })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Bulk acknowledge, assign or close: applied to the incidents of the
/// selected alerts, each at its current version.
pub(crate) async fn alerts_bulk(v: Viewer, fields: Fields) -> Response {
    let ids: Vec<i64> = fields.all("alert").filter_map(|id| id.parse().ok()).collect();
    let (action, disposition) = (fields.text("action"), fields.text("disposition"));
    // "Assign to me" names the person signed in, not a typed name.
    let assignee = if action == "assign_me" { v.ctx.user.clone() } else { fields.text("assignee") };
    let (soc, t, user) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone());
    let done = blocking(move || {
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        let mut incidents: Vec<i64> = ids.iter().filter_map(|id| soc.alert(&t, *id).ok()?.incident_id).collect();
        incidents.sort_unstable();
        incidents.dedup();
        let disposition = match action.as_str() {
            "close" if disposition.is_empty() => {
                return Err(ApiError::Invalid(
                    "closing needs a disposition (true positive, false positive, ...)".into(),
                ));
            }
            "close" => Some(disposition.parse::<soc::Disposition>().map_err(ApiError::Invalid)?),
            _ => None,
        };
        for id in incidents {
            let i = soc.incident(&t, id)?;
            let change = match action.as_str() {
                "ack" if i.status == soc::Status::New => {
                    IncidentAction::Status { version: i.version, status: soc::Status::Acknowledged, disposition: None }
                }
                "assign" | "assign_me" => IncidentAction::Assign {
                    version: i.version,
                    assignee: Some(assignee.clone()).filter(|a| !a.is_empty()),
                },
                "close" if !i.status.is_done() => {
                    IncidentAction::Status { version: i.version, status: soc::Status::Closed, disposition }
                }
                "ack" | "close" => continue,
                other => return Err(ApiError::Invalid(format!("unknown bulk action {other:?}"))),
            };
            soc.act(&by, id, &change)?;
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => redirect(&v.ctx.here),
        Err(e) => alerts_page(v, AlertsParams::default(), Some(e.message())).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct IncidentsParams {
    status: Option<String>,
    /// `me`: only the signed-in analyst's.
    assignee: Option<String>,
    before: Option<String>,
}

pub(crate) async fn incidents(v: Viewer, Query(p): Query<IncidentsParams>) -> Response {
    let status = p.status.filter(|s| !s.is_empty()).unwrap_or_else(|| "open".into());
    let mine = p.assignee.as_deref() == Some("me");
    let (soc, t, st, user) = (v.soc.clone(), v.ctx.tenant.clone(), status.clone(), v.ctx.user.clone());
    let list = blocking(move || {
        let q = IncidentQuery {
            statuses: soc::Status::filter(&st).map_err(ApiError::Invalid)?,
            assignee: mine.then_some(user),
            before: cursor(p.before.as_deref()),
            limit: PAGE,
        };
        Ok(soc.incidents(&t, &q)?)
    })
    .await;
    let body = list.map(|list| {
        let next = (list.len() == PAGE).then(|| list.last().map(|i| format!("{},{}", i.last_activity, i.id))).flatten();
        view::incidents(&v.ctx, &view::IncidentFilter { status, mine }, &list, next.as_deref())
    });
    page(&v.ctx, T::Incidents, body)
}

#[derive(Deserialize)]
pub(crate) struct DoneParams {
    /// What the form before this page did (post/redirect/get), to confirm.
    done: Option<String>,
}

/// The confirmation of an incident form's change, in the reader's words.
fn confirmation(ctx: &Ctx, done: Option<&str>) -> Option<String> {
    let key = match done? {
        "status" => T::DoneStatus,
        "assign" => T::DoneAssign,
        "note" => T::DoneNote,
        "task" => T::DoneTask,
        "escalate" => T::DoneEscalate,
        "pages" => T::DoneAckPages,
        _ => return None,
    };
    Some(ctx.t(key).to_string())
}

pub(crate) async fn incident(
    State(app): State<Arc<App>>,
    v: Viewer,
    Path((_, id)): Path<(String, i64)>,
    Query(p): Query<DoneParams>,
) -> Response {
    let notice = confirmation(&v.ctx, p.done.as_deref());
    incident_page(&app, v, id, notice, StatusCode::OK).await
}

async fn incident_page(app: &App, v: Viewer, id: i64, notice: Option<String>, code: StatusCode) -> Response {
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let data = blocking(move || {
        let users = soc.users(Some(&t))?.into_iter().filter(|u| !u.disabled).map(|u| u.name).collect::<Vec<_>>();
        Ok((soc.escalation(&t, id)?, soc.sla(&t, id, Timestamp::now())?, users, soc.pages(&t, Some(id), 50)?))
    })
    .await;
    match data {
        Ok((e, sla, users, pages)) => {
            // The story's steps and the evidence list show their events'
            // key fields: the first event of each alert, then the evidence.
            let mut ids: Vec<String> = e.alerts.iter().filter_map(|a| a.evidence.first().cloned()).collect();
            ids.extend(e.evidence.iter().filter_map(|x| x["ref"].as_str().map(str::to_string)));
            let first = e.alerts.iter().map(|a| a.first_seen).min();
            let last = e.alerts.iter().map(|a| a.last_seen).max();
            let events = events_by_id(app, &v.ctx, ids, first.zip(last)).await;
            let title = format!("{} #{id}: {}", v.ctx.t(T::Incident), e.incident.title);
            let playbooks: Vec<(String, String)> = app
                .responder
                .get()
                .map(|r| {
                    r.playbooks(&v.ctx.tenant)
                        .filter(|p| p.trigger.manual)
                        .map(|p| (p.id.clone(), p.title.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let body = maud::html! {
                (view::incident(&v.ctx, &e, &events, &users, sla.as_ref(), &pages, notice.as_deref()))
                (view::start_form(&v.ctx, id, &playbooks))
            };
            html(code, view::layout(&v.ctx, &title, T::Incidents, body))
        }
        Err(e) => failed(v.ctx.lang, e),
    }
}

/// Events a page looks up by id at most.
const MAX_LOOKUP: usize = 200;

/// Stored events by id, for pages that show an event's key fields. The
/// page is still shown when the store cannot answer (it is off, or busy):
/// without the fields, with its links.
async fn events_by_id(
    app: &App,
    ctx: &Ctx,
    mut ids: Vec<String>,
    window: Option<(Timestamp, Timestamp)>,
) -> view::Events {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    ids.truncate(MAX_LOOKUP);
    let terms: Vec<String> = ids.iter().filter_map(|id| view::term("_id", id)).collect();
    if terms.is_empty() {
        return view::Events::new();
    }
    // The events happened between the alerts' first and last sight: only
    // those partitions are opened (an hour's margin for clock skew).
    let hour = SignedDuration::from_hours(1);
    let (from, to) = window.map_or((String::new(), String::new()), |(a, b)| {
        (a.checked_sub(hour).unwrap_or(a).to_string(), b.checked_add(hour).unwrap_or(b).to_string())
    });
    match run_search(app, ctx, &terms.join(" OR "), &from, &to).await {
        Ok((_, rows, _)) => rows.into_iter().filter_map(|r| Some((r.get("_id")?.as_str()?.to_string(), r))).collect(),
        Err(e) => {
            tracing::warn!(error = %e.message(), "looking up events for a console page");
            view::Events::new()
        }
    }
}

/// One alert: its rule, its events with the rule's fields marked, and the
/// alerts that share its entities.
pub(crate) async fn alert(State(app): State<Arc<App>>, v: Viewer, Path((_, id)): Path<(String, i64)>) -> Response {
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let found = blocking(move || {
        let a = soc.alert(&t, id)?;
        // Related: the alerts triage grouped with it (they share an
        // entity), newest first.
        let related = match a.incident_id {
            Some(i) => soc
                .alerts(&t, &AlertQuery { incident_id: Some(i), limit: 51, ..Default::default() })?
                .into_iter()
                .filter(|x| x.id != a.id)
                .take(50)
                .collect(),
            None => Vec::new(),
        };
        Ok((a, related))
    })
    .await;
    let (a, related) = match found {
        Ok(found) => found,
        Err(e) => return failed(v.ctx.lang, e),
    };
    let rules = app.rules.clone();
    let rule = rules.rules().iter().position(|r| r.id == a.rule_id).map(|at| {
        let r = &rules.rules()[at];
        view::RuleInfo {
            description: r.description.clone(),
            status: r.status.clone(),
            references: r.references.clone(),
            falsepositives: r.falsepositives.clone(),
            path: r.path.clone(),
            fields: rules.fields_of(at).into_iter().map(str::to_string).collect(),
        }
    });
    let ids = a.evidence.iter().take(20).cloned().collect();
    let events = events_by_id(&app, &v.ctx, ids, Some((a.first_seen, a.last_seen))).await;
    let mut shown: Vec<&serde_json::Map<String, serde_json::Value>> =
        a.evidence.iter().filter_map(|id| events.get(id)).collect();
    shown.sort_by_key(|r| r.get("@timestamp").and_then(|t| t.as_str()).unwrap_or("").to_string());
    let view = view::AlertView { alert: &a, rule, events: shown, related: &related };
    let title = format!("{} #{id}: {}", v.ctx.t(T::Alert), a.title);
    html(StatusCode::OK, view::layout(&v.ctx, &title, T::Alerts, view::alert(&v.ctx, &view)))
}

#[derive(Deserialize)]
pub(crate) struct EntityParams {
    value: Option<String>,
}

/// Events an entity page lists.
const ENTITY_EVENTS: usize = 20;

/// One entity: its incidents and alerts, who it was seen with, its risk
/// and its recent events.
pub(crate) async fn entity(
    State(app): State<Arc<App>>,
    v: Viewer,
    Path((_, kind)): Path<(String, String)>,
    Query(p): Query<EntityParams>,
) -> Response {
    let Some(kind) = soc::EntityKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
        return failed(v.ctx.lang, ApiError::NotFound(format!("entity kind {kind:?}")));
    };
    let Some(e) = soc::Entity::new(kind, p.value.as_deref().unwrap_or("")) else {
        return failed(v.ctx.lang, ApiError::Invalid("an entity page needs a value (?value=)".into()));
    };
    let (soc, t, entity) = (v.soc.clone(), v.ctx.tenant.clone(), e.clone());
    let report = match blocking(move || Ok(soc.entity(&t, &entity, Timestamp::now())?)).await {
        Ok(r) => r,
        Err(e) => return failed(v.ctx.lang, e),
    };
    let events = match view::entity_query(&e) {
        Some(q) => match run_search(&app, &v.ctx, &format!("{q} | head {ENTITY_EVENTS}"), "-7d", "").await {
            Ok((_, rows, _)) => rows,
            Err(err) => {
                tracing::warn!(error = %err.message(), "an entity page's events");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let title = format!("{}: {}", e.kind.as_str(), e.value);
    html(StatusCode::OK, view::layout(&v.ctx, &title, T::Alerts, view::entity(&v.ctx, &report, &events)))
}

/// The CSIRT hand-off package as a page to read, print or save: the
/// console's own view of it (the API serves the same at
/// `/api/v1/incidents/{id}/escalation?format=html`, for scripts).
pub(crate) async fn handoff(v: Viewer, Path((_, id)): Path<(String, i64)>) -> Response {
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    match blocking(move || Ok(soc.escalation(&t, id)?)).await {
        Ok(package) => crate::handoff::answer(&package, v.ctx.lang),
        Err(e) => failed(v.ctx.lang, e),
    }
}

/// The action an incident page's form sends: its name is the last part
/// of the path the form posts to, its values the form's fields.
fn form_action(name: &str, f: &Fields) -> Result<IncidentAction, ApiError> {
    let version = || {
        f.text("version").parse::<i64>().map_err(|_| ApiError::Invalid("the form carries no incident version".into()))
    };
    let optional = |k: &str| Some(f.text(k)).filter(|v| !v.is_empty());
    Ok(match name {
        "status" => IncidentAction::Status {
            version: version()?,
            status: f.text("status").parse().map_err(ApiError::Invalid)?,
            disposition: optional("disposition").map(|d| d.parse()).transpose().map_err(ApiError::Invalid)?,
        },
        "assign" => IncidentAction::Assign { version: version()?, assignee: optional("assignee") },
        "escalate" => IncidentAction::Escalate { version: version()?, to: f.text("to") },
        "note" => IncidentAction::Note { body: f.text("body") },
        "task" => IncidentAction::Task { title: f.text("title"), owner: None },
        "pages" => IncidentAction::AcknowledgePages {},
        other => return Err(ApiError::NotFound(format!("incident action {other:?}"))),
    })
}

/// One change from the incident page's forms.
pub(crate) async fn incident_act(
    State(app): State<Arc<App>>,
    v: Viewer,
    fields: Fields,
    Path((_, id)): Path<(String, i64)>,
    uri: Uri,
) -> Response {
    let name = uri.path().rsplit('/').next().unwrap_or("").to_string();
    let what = query_value(&name);
    let (soc, t, user) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone());
    let done = blocking(move || {
        let action = form_action(&name, &fields)?;
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        Ok(soc.act(&by, id, &action)?)
    })
    .await;
    let back = v.ctx.url(&format!("incidents/{id}?done={what}"));
    match done {
        Ok(_) => redirect(&back),
        Err(ApiError::Conflict { .. }) => {
            let notice = v.ctx.t(T::VersionConflict).to_string();
            incident_page(&app, v, id, Some(notice), StatusCode::CONFLICT).await
        }
        Err(e @ (ApiError::NotFound(_) | ApiError::Internal(_))) => failed(v.ctx.lang, e),
        Err(e) => incident_page(&app, v, id, Some(e.message()), StatusCode::BAD_REQUEST).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cols: Option<String>,
}

/// Rows a console search shows.
const SEARCH_ROWS: usize = 200;

pub(crate) async fn search(State(app): State<Arc<App>>, v: Viewer, Query(p): Query<SearchParams>) -> Response {
    search_page(&app, v, p, None).await
}

async fn search_page(app: &App, v: Viewer, p: SearchParams, notice: Option<String>) -> Response {
    let q = p.q.unwrap_or_default();
    let from = p.from.filter(|f| !f.is_empty()).unwrap_or_else(|| "-24h".into());
    let to = p.to.unwrap_or_default();
    let columns = p.cols.unwrap_or_default();
    let (soc, t, user) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone());
    let saved = match blocking(move || Ok(soc.saved_searches(&t, &user)?)).await {
        Ok(saved) => saved,
        Err(e) => return failed(v.ctx.lang, e),
    };
    let mut out = SearchView {
        query: &q,
        from: &from,
        to: &to,
        columns: &columns,
        output: query::Output::Events,
        rows: &[],
        buckets: Vec::new(),
        histogram_skipped: false,
        error: notice,
        saved: &saved,
    };
    if q.trim().is_empty() {
        return page(&v.ctx, T::Search, Ok(view::search(&v.ctx, &out)));
    }
    let found = run_search(app, &v.ctx, &q, &from, &to).await;
    let rows;
    match found {
        Ok((output, r, buckets)) => {
            rows = r;
            out.rows = &rows;
            out.output = output;
            out.histogram_skipped = buckets.is_none();
            out.buckets = buckets.unwrap_or_default();
        }
        Err(e @ ApiError::Internal(_)) => return failed(v.ctx.lang, e),
        Err(e) => out.error = Some(e.message()),
    }
    page(&v.ctx, T::Search, Ok(view::search(&v.ctx, &out)))
}

/// Saves the search on the page, or deletes one of the user's saved
/// searches. Sharing with the tenant takes a role that may change things
/// others see (triage).
pub(crate) async fn search_act(State(app): State<Arc<App>>, v: Viewer, fields: Fields) -> Response {
    let (soc, t, user) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone());
    let may_share = v.ctx.can(access::Action::Triage);
    let f = fields.clone();
    let done = blocking(move || {
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        match f.text("action").as_str() {
            "save" => {
                let shared = f.text("shared") == "1";
                if shared && !may_share {
                    return Err(ApiError::Invalid("sharing a search with the tenant takes the analyst role".into()));
                }
                let get = |k: &str| f.get(k).unwrap_or("").to_string();
                let new = state::NewSearch {
                    name: get("name"),
                    query: get("q"),
                    from: get("from"),
                    to: get("to"),
                    columns: get("cols"),
                    shared,
                };
                query::parse(&new.query)
                    .map_err(|e| ApiError::Invalid(format!("column {}: {}", e.column, e.message)))?;
                soc.save_search(&by, &new)?;
                Ok(search_url(&new))
            }
            "delete" => {
                let id = f.text("id").parse().map_err(|_| ApiError::Invalid("which saved search?".into()))?;
                soc.delete_search(&by, id)?;
                Ok(String::new())
            }
            other => Err(ApiError::Invalid(format!("unknown search action {other:?}"))),
        }
    })
    .await;
    let back = |p: &Fields| SearchParams {
        q: p.get("q").map(str::to_string),
        from: p.get("from").map(str::to_string),
        to: p.get("to").map(str::to_string),
        cols: p.get("cols").map(str::to_string),
    };
    match done {
        Ok(rest) => redirect(&v.ctx.url(&rest)),
        Err(e @ ApiError::Internal(_)) => failed(v.ctx.lang, e),
        Err(e) => search_page(&app, v, back(&fields), Some(e.message())).await,
    }
}

/// `search?…` for a saved search, relative to the tenant's console.
fn search_url(s: &state::NewSearch) -> String {
    let enc = crate::enc::query_value;
    let mut url = format!("search?q={}&from={}", enc(&s.query), enc(&s.from));
    if !s.to.is_empty() {
        url.push_str(&format!("&to={}", enc(&s.to)));
    }
    if !s.columns.is_empty() {
        url.push_str(&format!("&cols={}", enc(&s.columns)));
    }
    url
}

/// One stored event, found by its id in any partition of the tenant.
pub(crate) async fn event(State(app): State<Arc<App>>, v: Viewer, Path((_, id)): Path<(String, String)>) -> Response {
    let q = match view::term("_id", &id) {
        Some(q) => q,
        None => return failed(v.ctx.lang, ApiError::NotFound(format!("event {id:?}"))),
    };
    let found = run_search(&app, &v.ctx, &q, "", "").await;
    match found {
        Ok((_, rows, _)) => match rows.first() {
            Some(row) => {
                let title = format!("{} {id}", v.ctx.t(T::Event));
                html(StatusCode::OK, view::layout(&v.ctx, &title, T::Search, view::event(&v.ctx, row)))
            }
            None => failed(v.ctx.lang, ApiError::NotFound(format!("event {id:?}"))),
        },
        Err(e) => failed(v.ctx.lang, e),
    }
}

type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

/// A time bound as the console takes it: an offset such as `-24h`, an
/// RFC 3339 time, or a date and time in the user's zone.
fn bound(text: &str, tz: &jiff::tz::TimeZone, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .ok()
        .or_else(|| text.parse::<jiff::civil::Date>().ok().map(|d| d.to_datetime(jiff::civil::Time::midnight())));
    // A civil time names no offset: it is the user's.
    if let Some(dt) = civil.filter(|_| text.parse::<Timestamp>().is_err())
        && let Ok(z) = dt.to_zoned(tz.clone())
    {
        return Ok(Some(z.timestamp()));
    }
    query::time_arg(text, now)
        .map(Some)
        .ok_or_else(|| ApiError::Invalid(format!("{text:?}: expected a time or an offset such as -24h")))
}

/// How long a search page's histogram may take.
const CHART_BUDGET: std::time::Duration = std::time::Duration::from_millis(80);

/// The shape of a search's rows, the rows, and its histogram (about 48
/// columns over the window) when it finds events: `None` when it was
/// over its budget.
async fn run_search(
    app: &App,
    ctx: &Ctx,
    q: &str,
    from: &str,
    to: &str,
) -> Result<(query::Output, Rows, Option<Vec<(String, i64)>>), ApiError> {
    let store = app.store()?;
    let now = Timestamp::now();
    let (start, end) = (bound(from, &ctx.tz, now)?, bound(to, &ctx.tz, now)?);
    let parsed = query::parse(q).map_err(|e| ApiError::Invalid(format!("column {}: {}", e.column, e.message)))?;
    let output = parsed.output();
    let span_secs = (end.unwrap_or(now).as_second() - start.unwrap_or(now).as_second()).max(3600) / 48;
    let span = [60, 300, 900, 1800, 3600, 10800, 21600, 86400].into_iter().find(|s| *s >= span_secs).unwrap_or(86400);
    let chart = (output == query::Output::Events && start.is_some())
        .then(|| {
            let at = view::pipes_at(q);
            query::parse(&format!("{} | timechart span={span}s count()", &q[..at])).ok()
        })
        .flatten();
    let permit = app.search_permit()?;
    let search = Search { tenant: ctx.tenant.clone(), from: start, to: end, now, timeout: app.search_timeout };
    let tz = ctx.tz.clone();
    blocking(move || {
        let _permit = permit;
        at_search_priority(|| {
            let mut rows = Vec::new();
            search.run(&store, &parsed, SEARCH_ROWS, &mut |row| {
                rows.push(row);
                true
            })?;
            let mut buckets = Some(Vec::new());
            if let Some(chart) = chart {
                // The histogram is an extra: past its budget (a filter the
                // index cannot answer reads every candidate) it is left out
                // and the page says so, rather than hold the rows back.
                let budgeted = Search { timeout: CHART_BUDGET, ..search };
                let mut got = Vec::new();
                let drawn = budgeted.run(&store, &chart, 1000, &mut |row| {
                    let at = row.get("_time").or_else(|| row.get("@timestamp")).and_then(|v| v.as_str()).unwrap_or("");
                    let label = at
                        .parse::<Timestamp>()
                        .map(|t| t.to_zoned(tz.clone()).strftime("%m-%d %H:%M").to_string())
                        .unwrap_or_else(|_| at.to_string());
                    got.push((label, row.get("count()").and_then(|v| v.as_i64()).unwrap_or(0)));
                    true
                });
                buckets = match drawn {
                    Ok(_) => Some(got),
                    Err(ApiError::Unavailable(_)) => None,
                    Err(e) => return Err(e),
                };
            }
            Ok((output, rows, buckets))
        })
    })
    .await
}

#[derive(Deserialize, Default)]
pub(crate) struct RulesParams {
    q: Option<String>,
    sort: Option<String>,
    state: Option<String>,
    page: Option<usize>,
}

pub(crate) async fn rules(State(app): State<Arc<App>>, v: Viewer, Query(p): Query<RulesParams>) -> Response {
    rules_page(&app, v, p, None).await
}

async fn rules_page(app: &App, v: Viewer, p: RulesParams, test: Option<view::RuleTest>) -> Response {
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
    let limited = app.ingest.rate_limited(&v.ctx.tenant);
    let f = view::RulesFilter {
        q: p.q.unwrap_or_default(),
        sort: p.sort.unwrap_or_default(),
        state: p.state.unwrap_or_default(),
        page: p.page.unwrap_or(0).min(100_000),
    };
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let found = blocking(move || {
        let off: Vec<String> = soc.disabled_rules(Some(&t))?.into_iter().map(|(_, r)| r).collect();
        Ok((soc.rule_stats(&t)?, off))
    })
    .await;
    let body = found.map(|(stats, off)| {
        let (rows, matching) = view::rule_rows(&loaded, &stats, &limited, &off, &f);
        view::rules(&v.ctx, &f, &rows, matching, loaded.len(), test.as_ref())
    });
    page(&v.ctx, T::Rules, body)
}

/// Switches one rule off or on for the tenant: recorded (and audited) in
/// the state store, then handed to the pipeline, which applies it from
/// its next chunk; no restart.
pub(crate) async fn rule_switch(State(app): State<Arc<App>>, v: Viewer, fields: Fields) -> Response {
    let rule = fields.text("rule");
    let enabled = fields.text("enabled") == "1";
    let known = app.rules.rules().iter().any(|r| r.id == rule && r.alerts)
        || app.rules.correlations().iter().any(|c| c.def.id == rule && c.alerts);
    if !known {
        return failed(v.ctx.lang, ApiError::NotFound(format!("rule {rule:?}")));
    }
    let (soc, t, user) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone());
    let done = blocking(move || {
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        soc.set_rule_enabled(&by, &rule, enabled)?;
        Ok(soc.disabled_rules(Some(&t))?.into_iter().map(|(_, r)| r).collect::<std::collections::HashSet<_>>())
    })
    .await;
    match done {
        Ok(off) => {
            app.ingest.set_disabled_rules(&v.ctx.tenant, off);
            let back = fields.text("back");
            let prefix = v.ctx.url("rules");
            redirect(if back.starts_with(&prefix) { &back } else { &prefix })
        }
        Err(e) => failed(v.ctx.lang, e),
    }
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
        if !value.is_object() {
            return Err(format!("event on line {}: not a JSON object", n + 1));
        }
        // Read as ingest reads a JSON record: the log source the server
        // would give the event decides which rules apply to it.
        let event = normalize::parse_record(line, normalize::Format::Json, jiff::Timestamp::UNIX_EPOCH)
            .map_err(|e| format!("event on line {}: {e}", n + 1))?;
        if !matcher.matches(&event).is_empty() {
            hits.push(n + 1);
        }
    }
    Ok(hits)
}

pub(crate) async fn rule_test(State(app): State<Arc<App>>, v: Viewer, fields: Fields) -> Response {
    let yaml = fields.get("rule").unwrap_or("").to_string();
    let events = fields.get("events").unwrap_or("").to_string();
    let (y, e) = (yaml.clone(), events.clone());
    let result = blocking(move || Ok(test_rule(&y, &e))).await.unwrap_or_else(|e| Err(e.message()));
    rules_page(&app, v, RulesParams::default(), Some(view::RuleTest { yaml, events, result })).await
}

/// Dead letters the sources page shows, and the bytes they may take (a
/// dead letter keeps its raw record, up to the body limit).
const DEAD_LETTERS: usize = 50;
const DEAD_LETTER_BYTES: usize = 8 << 20;

pub(crate) async fn sources(State(app): State<Arc<App>>, v: Viewer) -> Response {
    let list = sources_of(&app, &v.ctx.tenant);
    let pipe = view::Pipeline::of(&app.ingest.status());
    let (app, t) = (app.clone(), v.ctx.tenant.clone());
    let dead = blocking(move || {
        let (lines, _) = app.newest(crate::app::Listed::DeadLetters, &t, DEAD_LETTERS, DEAD_LETTER_BYTES)?;
        lines
            .iter()
            .map(|l| serde_json::from_str(l).map_err(|e| ApiError::Internal(format!("a dead letter is not JSON: {e}"))))
            .collect::<Result<Vec<serde_json::Value>, _>>()
    })
    .await;
    page(&v.ctx, T::Sources, dead.map(|d| view::sources(&v.ctx, &list, &pipe, &d)))
}

pub(crate) async fn settings(State(app): State<Arc<App>>, v: Viewer) -> Response {
    settings_page(&app, v, None, None).await
}

async fn settings_page(app: &App, v: Viewer, new_token: Option<String>, notice: Option<String>) -> Response {
    let (soc, t, channels) = (v.soc.clone(), v.ctx.tenant.clone(), app.channels.clone());
    let tokens = app.tokens.of_tenant(&t);
    let found = blocking(move || {
        let users = soc.users(Some(&t))?;
        let config = view::TenantConfig {
            sla: soc.sla_policies(&t)?,
            assets: soc.assets(&t)?.assets,
            routes: soc.tenant_routes(Some(&t))?,
            channels: channels.clone(),
        };
        Ok((users, config))
    })
    .await;
    let body = found.map(|(u, c)| view::settings(&v.ctx, &u, &tokens, &c, new_token.as_deref(), notice.as_deref()));
    page(&v.ctx, T::Settings, body)
}

/// A form's page shown again with why it was refused, under the
/// refusal's status: the change was not made.
fn refused(status: StatusCode, mut page: Response) -> Response {
    if page.status().is_success() {
        *page.status_mut() = status;
    }
    page
}

/// SLA targets and the asset inventory (leads and admins).
pub(crate) async fn settings_config(State(app): State<Arc<App>>, mut v: Viewer, fields: Fields) -> Response {
    // A refusal shows the settings page, whose forms come back there.
    v.ctx.here = v.ctx.url("settings");
    let (soc, t, user, channels) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone(), app.channels.clone());
    let done = blocking(move || {
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        match fields.text("action").as_str() {
            "sla" => {
                let severity = Level::parse(&fields.text("severity"))
                    .ok_or_else(|| ApiError::Invalid("which severity?".into()))?;
                let minutes = |k: &str| -> Result<SignedDuration, ApiError> {
                    let n: i64 =
                        fields.text(k).parse().map_err(|_| ApiError::Invalid(format!("{k}: a number of minutes")))?;
                    Ok(SignedDuration::from_mins(n))
                };
                let always = soc::sla::CalendarSpec { always: true, ..Default::default() };
                soc.set_sla_policy(&by, severity, minutes("ack")?, minutes("resolve")?, &always)?;
            }
            "assets" => {
                let inventory = soc::assets::Inventory::from_csv(fields.get("csv").unwrap_or(""))
                    .map_err(|e| ApiError::Invalid(format!("asset inventory: {e}")))?;
                soc.replace_assets(&by, &inventory)?;
            }
            "route_add" => {
                let triggers = fields
                    .all("trigger")
                    .map(|t| notify::Trigger::parse(t).ok_or_else(|| ApiError::Invalid(format!("trigger {t:?}"))))
                    .collect::<Result<Vec<_>, _>>()?;
                let chosen: Vec<String> = fields.all("channel").map(str::to_string).collect();
                if let Some(unknown) = chosen.iter().find(|c| !channels.contains(c)) {
                    return Err(ApiError::Invalid(format!("channel {unknown:?} is not configured")));
                }
                let level = |k: &str| -> Result<Option<Level>, ApiError> {
                    match fields.text(k).as_str() {
                        "" => Ok(None),
                        l => Level::parse(l).map(Some).ok_or_else(|| ApiError::Invalid(format!("{k}: {l:?}"))),
                    }
                };
                let route = notify::Route {
                    tenants: Vec::new(),
                    triggers,
                    min_severity: level("min_severity")?.unwrap_or_default(),
                    channels: chosen,
                    quiet_below: level("quiet_below")?,
                };
                soc.add_tenant_route(&by, &route)?;
            }
            "route_remove" => {
                let id = fields.text("route").parse().map_err(|_| ApiError::Invalid("which route?".into()))?;
                soc.remove_tenant_route(&by, id)?;
            }
            other => return Err(ApiError::Invalid(format!("unknown settings action {other:?}"))),
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => redirect(&v.ctx.url("settings")),
        Err(e @ ApiError::Internal(_)) => failed(v.ctx.lang, e),
        Err(e) => refused(e.status(), settings_page(&app, v, None, Some(e.message())).await),
    }
}

/// People and tokens of the tenant (admins only).
pub(crate) async fn settings_act(State(app): State<Arc<App>>, v: Viewer, fields: Fields) -> Response {
    let (soc, t, user, data) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone(), app.data.clone());
    let mine = app.tokens.of_tenant(&t);
    let tokens_of_new = app.tokens.all();
    let action = fields.text("action");
    let done = blocking(move || {
        let now = Timestamp::now();
        let by = state::By { tenant: &t, actor: &user, now };
        let role = |text: &str| -> Result<Option<access::Scope>, ApiError> {
            match text {
                "none" | "" => Ok(None),
                r => access::Scope::parse(r).map(Some).map_err(ApiError::Invalid),
            }
        };
        match fields.text("action").as_str() {
            "grant" => {
                soc.grant(&by, &fields.text("user"), role(&fields.text("role"))?)?;
                Ok(None)
            }
            "user_add" => {
                let password = fields.get("password").unwrap_or("");
                if password.chars().count() < 12 {
                    return Err(ApiError::Invalid("a password needs at least 12 characters".into()));
                }
                let hash = state::password::hash(password).map_err(ApiError::Internal)?;
                let name = fields.text("user");
                soc.add_user(&by, &name, &hash, "", "UTC")?;
                soc.grant(&by, &name, role(&fields.text("role"))?.or(Some(access::Scope::Read)))?;
                Ok(None)
            }
            "token_create" => {
                let scope = access::Scope::parse(&fields.text("scope")).map_err(ApiError::Invalid)?;
                let (token, record) = state::tokens::create(&data, &t, scope, None, &now.to_string())
                    .map_err(|e| ApiError::Internal(format!("creating a token: {e}")))?;
                let target = format!("token:{}", record.id);
                soc.audit(&by, "token_create", &target, &serde_json::json!({"scope": scope.as_str()}))?;
                Ok(Some(token))
            }
            "token_revoke" => {
                let id = fields.text("token");
                if !mine.iter().any(|k| k.id == id) {
                    return Err(ApiError::NotFound(format!("token {id:?}")));
                }
                state::tokens::revoke(&data, &id, &now.to_string())
                    .map_err(|e| ApiError::Internal(format!("revoking token {id}: {e}")))?;
                soc.audit(&by, "token_revoke", &format!("token:{id}"), &serde_json::json!({}))?;
                Ok(None)
            }
            "tenant_rename" => {
                soc.change_tenant(&by, Some(&fields.text("display")), None)?;
                Ok(None)
            }
            "tenant_disable" | "tenant_enable" => {
                soc.change_tenant(&by, None, Some(fields.text("action") == "tenant_disable"))?;
                Ok(None)
            }
            "tenant_create" => {
                let name = fields.text("name");
                // A tenant whose only trace is a token (an ingest-only tenant
                // made with the CLI) is taken: creating it would hand its
                // events to whoever did.
                if tokens_of_new.iter().any(|k| k.tenant == name) {
                    return Err(ApiError::Invalid(format!("tenant {name:?} exists already")));
                }
                soc.create_tenant(&by, &name, &fields.text("display"))?;
                Ok(None)
            }
            other => Err(ApiError::Invalid(format!("unknown settings action {other:?}"))),
        }
    })
    .await;
    // Every process sees a tenant change within a health check; this one now.
    if done.is_ok() && action.starts_with("tenant_") {
        let again = app.clone();
        if let Err(e) = blocking(move || again.reload_tenants()).await {
            return failed(v.ctx.lang, e);
        }
    }
    match done {
        Ok(None) => redirect(&v.ctx.here),
        // A new token is shown once, on this answer; never in a URL.
        Ok(Some(token)) => settings_page(&app, v, Some(token), None).await,
        Err(e @ ApiError::Internal(_)) => failed(v.ctx.lang, e),
        Err(e) => refused(e.status(), settings_page(&app, v, None, Some(e.message())).await),
    }
}

/// The response page: on call, the approvals inbox, the runs.
pub(crate) async fn response(State(app): State<Arc<App>>, v: Viewer, Query(p): Query<DoneParams>) -> Response {
    let note = p.done.as_deref().map(|_| v.ctx.t(T::DoneRun).to_string());
    response_page(&app, v, note, StatusCode::OK).await
}

async fn response_page(app: &App, v: Viewer, note: Option<String>, code: StatusCode) -> Response {
    let now = Timestamp::now();
    let rotas: Vec<view::RotaShifts> = app
        .rotas
        .iter()
        .filter(|r| r.tenant == v.ctx.tenant)
        .map(|r| (r.name.clone(), r.shifts(now, 4).into_iter().map(|s| (s.person.name.clone(), s.from)).collect()))
        .collect();
    let (soc, t) = (v.soc.clone(), v.ctx.tenant.clone());
    let runs = blocking(move || {
        let mut out = Vec::new();
        for run in soc.runs(&t, None, None, 50)? {
            let steps = soc.run_steps(run.id)?;
            out.push((run, steps));
        }
        Ok(out)
    })
    .await;
    match runs {
        Ok(runs) => {
            let body = view::response(&v.ctx, &runs, &rotas, note.as_deref());
            html(code, view::layout(&v.ctx, v.ctx.t(T::Response), T::Response, body))
        }
        Err(e) => failed(v.ctx.lang, e),
    }
}

/// A verdict, a rollback or a stop from the response page.
pub(crate) async fn run_act(
    State(app): State<Arc<App>>,
    v: Viewer,
    fields: Fields,
    Path((_, run)): Path<(String, i64)>,
) -> Response {
    let responder = app.responder.get().cloned();
    let (soc, t, user, role) = (v.soc.clone(), v.ctx.tenant.clone(), v.ctx.user.clone(), v.ctx.role);
    let done = blocking(move || {
        let by = state::By { tenant: &t, actor: &user, now: Timestamp::now() };
        let step = fields.text("step").parse::<i64>().ok();
        let reason = fields.text("reason");
        let of_run = |step: i64| -> Result<(), ApiError> {
            let (r, _) = soc.run_step(&t, step)?;
            if r.id == run { Ok(()) } else { Err(ApiError::NotFound(format!("run {run} has no step {step}"))) }
        };
        match (fields.text("action").as_str(), step) {
            (verdict @ ("approve" | "deny"), Some(step)) => {
                of_run(step)?;
                soc.judge_step(&by, role, step, verdict == "approve", &reason)?;
            }
            ("rollback", Some(step)) => {
                of_run(step)?;
                let r =
                    responder.ok_or_else(|| ApiError::Unavailable("the playbook responder is not running".into()))?;
                r.rollback(&by, step)?;
            }
            ("stop", _) => {
                soc.stop_run(&by, run, if reason.trim().is_empty() { "no reason given" } else { &reason })?
            }
            (other, _) => return Err(ApiError::Invalid(format!("run action {other:?}"))),
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => redirect(&v.ctx.url(&format!("response?done=1#run-{run}"))),
        Err(e @ (ApiError::NotFound(_) | ApiError::Internal(_))) => failed(v.ctx.lang, e),
        Err(e) => response_page(&app, v, Some(e.message()), StatusCode::BAD_REQUEST).await,
    }
}

/// Starts a playbook on an incident by hand, or shows its dry run.
pub(crate) async fn incident_playbook(
    State(app): State<Arc<App>>,
    v: Viewer,
    fields: Fields,
    Path((_, id)): Path<(String, i64)>,
) -> Response {
    let Some(responder) = app.responder.get().cloned() else {
        return failed(v.ctx.lang, ApiError::Unavailable("the playbook responder is not running".into()));
    };
    let (t, user, playbook) = (v.ctx.tenant.clone(), v.ctx.user.clone(), fields.text("playbook"));
    let dry = fields.text("mode") == "dry";
    let name = playbook.clone();
    let outcome = blocking(move || {
        let none = std::collections::BTreeMap::new();
        if dry {
            return Ok(Err(responder.dry_run(&t, id, &name, &none)?));
        }
        Ok(Ok(responder.start(&t, id, &name, &none, &user, None)?))
    })
    .await;
    match outcome {
        Ok(Err(plan)) => {
            let body = view::plan(&v.ctx, id, &playbook, &plan);
            html(StatusCode::OK, view::layout(&v.ctx, v.ctx.t(T::DryRun), T::Response, body))
        }
        Ok(Ok(_)) => redirect(&v.ctx.url("response?done=1")),
        Err(e @ (ApiError::NotFound(_) | ApiError::Internal(_))) => failed(v.ctx.lang, e),
        Err(e) => incident_page(&app, v, id, Some(e.message()), StatusCode::BAD_REQUEST).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_tested_against_sample_events() {
        let rule = "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: windows}\ndetection:\n  sel: {EventID: 4625}\n  condition: sel\nlevel: low\n";
        let events = "{\"EventID\": 4625, \"Channel\": \"Security\"}\n{\"EventID\": 4624, \"Channel\": \"Security\"}\n\n\
                      {\"EventID\": 4625, \"Channel\": \"Security\", \"x\": 1}\n{\"EventID\": 4625}\n";
        // The last has no channel: no log source, so no Windows rule applies.
        assert_eq!(test_rule(rule, events).unwrap(), [1, 4]);
        assert!(test_rule(rule, "[1]").unwrap_err().contains("line 1"));
        assert!(test_rule(rule, "{").unwrap_err().contains("line 1"));
        assert!(test_rule("title: [", "").unwrap_err().contains("does not load"));
        assert!(test_rule(&"x".repeat(MAX_RULE_BYTES + 1), "").is_err());
    }

    #[test]
    fn incident_forms_become_typed_actions() {
        let f = |pairs: &[(&str, &str)]| Fields(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        assert_eq!(
            form_action("status", &f(&[("version", "3"), ("status", "closed"), ("disposition", "false_positive")]))
                .unwrap(),
            IncidentAction::Status {
                version: 3,
                status: soc::Status::Closed,
                disposition: Some(soc::Disposition::FalsePositive)
            }
        );
        assert_eq!(
            form_action("assign", &f(&[("version", "2"), ("assignee", " ")])).unwrap(),
            IncidentAction::Assign { version: 2, assignee: None }
        );
        // A form without its version is refused, never taken as version 0.
        assert!(matches!(form_action("assign", &f(&[("assignee", "erin")])), Err(ApiError::Invalid(_))));
        assert!(matches!(form_action("merge", &f(&[])), Err(ApiError::NotFound(_))));
    }
}
