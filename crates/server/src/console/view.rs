//! The console's pages as HTML, from data already read: no IO and no
//! clock here (the handlers pass what the page shows), so every page is
//! rendered in a unit test and compared with its golden file.
//!
//! The pages are maud templates: every interpolated value is escaped, in
//! text and in attributes, by construction. Log data is written by
//! attackers; an unescaped value would need `PreEscaped`, which this file
//! uses only for the constant chart markup `svg.rs` builds the same way.

use access::{Action, Scope};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{DOCTYPE, Markup, html};
use model::Level;
use state::tokens::TokenRecord;
use state::{Alert, Escalation, Incident, SlaReport, User};

use super::i18n::{Lang, T};
use super::svg::Stacked;
use crate::enc::{Shown, query_value};

mod investigate;
mod response;
mod rules;
mod search;
pub(crate) use self::investigate::{AlertView, Events, RuleInfo, alert, entity, entity_query};
use self::investigate::{entity_links, evidence, story};
pub(crate) use self::response::{RotaShifts, plan, response, start_form};
pub(crate) use self::rules::{LoadedRule, RuleTest, RulesFilter, rule_rows, rules};
pub(crate) use self::search::{SearchView, event, pipes_at, search, term};

/// The time zones the header offers (any other IANA name, or a city of
/// one, is taken by the preferences form too): where SOCs and the people
/// they watch over work.
pub(crate) const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Australia/Sydney",
    "Australia/Perth",
    "Pacific/Auckland",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Johannesburg",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
];

/// Who looks at a page, in which tenant: what every page is rendered for.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) lang: Lang,
    pub(crate) tz: TimeZone,
    pub(crate) user: String,
    pub(crate) tenant: String,
    pub(crate) role: Scope,
    /// Every tenant the user holds a role in (the switcher): name and
    /// display name.
    pub(crate) tenants: Vec<(String, String)>,
    /// This tenant is switched off (only its admins see it, to switch it on).
    pub(crate) tenant_off: bool,
    pub(crate) csrf: String,
    /// The path and query of this page (forms come back here).
    pub(crate) here: String,
    /// Why processing is paused, when it is: every page says so, since
    /// until it resumes nothing new is detected and ingest refuses records.
    pub(crate) paused: Option<String>,
}

impl Ctx {
    pub(crate) fn t(&self, key: T) -> &'static str {
        self.lang.t(key)
    }

    /// This tenant's display name.
    pub(crate) fn tenant_display(&self) -> &str {
        self.tenants.iter().find(|(t, _)| *t == self.tenant).map_or(self.tenant.as_str(), |(_, d)| d.as_str())
    }

    pub(crate) fn can(&self, action: Action) -> bool {
        self.role.allows(action)
    }

    /// A time in the user's zone, to the second.
    pub(crate) fn time(&self, at: Timestamp) -> String {
        at.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// `/ui/{tenant}/{rest}`.
    pub(crate) fn url(&self, rest: &str) -> String {
        format!("/ui/{}/{rest}", self.tenant)
    }

    /// The anti-CSRF field every POST form carries.
    fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

pub(crate) fn level_colour(l: Level) -> &'static str {
    match l {
        Level::Informational => "#4b5563",
        Level::Low => "#2f6f3e",
        Level::Medium => "#8a5300",
        Level::High => "#b3261e",
        Level::Critical => "#6b1f8f",
    }
}

fn badge(ctx: &Ctx, l: Level) -> Markup {
    html! { span class={ "sev sev-" (l.as_str()) } { (ctx.t(T::severity(l))) } }
}

const NAV: &[(&str, T)] = &[
    ("", T::Overview),
    ("alerts", T::Alerts),
    ("incidents", T::Incidents),
    ("search", T::Search),
    ("rules", T::Rules),
    ("sources", T::Sources),
    ("response", T::Response),
    ("settings", T::Settings),
];

fn head(title: &str, script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (Shown(title)) " · Hinomi" }
            link rel="stylesheet" href="/ui/assets/app.css";
            @if script { script src="/ui/assets/app.js" defer {} }
        }
    }
}

/// The frame of every signed-in page.
pub(crate) fn layout(ctx: &Ctx, title: &str, active: T, body: Markup) -> Markup {
    let roles_here = T::role(ctx.role);
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            (head(title, true))
            body {
                a.skip href="#main" { (ctx.t(T::Skip)) }
                header {
                    span.brand { "火の見 Hinomi" }
                    nav aria-label="main" {
                        ul {
                            @for (path, key) in NAV {
                                li { a href=(ctx.url(path)) aria-current=[(*key == active).then_some("page")] { (ctx.t(*key)) } }
                            }
                        }
                    }
                    div.who {
                        // Tenant switcher: a plain GET form, usable without script.
                        @if ctx.tenants.len() > 1 {
                            form method="get" action="/ui/switch" {
                                label for="tenant-switch" { (ctx.t(T::Tenant)) } " "
                                select #tenant-switch name="tenant" {
                                    @for (t, shown) in &ctx.tenants { option value=(t) selected[*t == ctx.tenant] { (Shown(shown)) } }
                                }
                                " " button { (ctx.t(T::Apply)) }
                            }
                        } @else {
                            span { (ctx.t(T::Tenant)) ": " (Shown(ctx.tenant_display())) }
                        }
                        span { (ctx.t(T::SignedInAs)) " " b { (ctx.user) } " (" (ctx.t(roles_here)) ")" }
                        form method="post" action="/ui/prefs" class="inline" {
                            (ctx.csrf_field())
                            label for="lang" { (ctx.t(T::Language)) } " "
                            select #lang name="lang" {
                                @for (code, name) in [("en", "English"), ("ja", "日本語")] {
                                    option value=(code) selected[code == ctx.lang.code()] { (name) }
                                }
                            }
                            " " label for="tz" { (ctx.t(T::TimeZone)) } " "
                            @let current = ctx.tz.iana_name().unwrap_or("UTC");
                            select #tz name="tz" {
                                @if !COMMON_ZONES.contains(&current) { option value=(current) selected { (current) } }
                                @for z in COMMON_ZONES { option value=(z) selected[*z == current] { (z) } }
                            }
                            " " input type="hidden" name="back" value=(ctx.here);
                            button #lang-save { (ctx.t(T::Save)) }
                        }
                        form method="post" action="/ui/logout" class="inline" {
                            (ctx.csrf_field())
                            button #logout { (ctx.t(T::Logout)) }
                        }
                    }
                }
                main #main {
                    @if ctx.tenant_off {
                        p.alarm role="alert" { (ctx.t(T::TenantOffBanner)) }
                    }
                    @if let Some(why) = &ctx.paused {
                        p.alarm role="alert" { (ctx.t(T::ProcessingPaused)) " " (Shown(why)) }
                    }
                    h1 { (Shown(title)) }
                    (body)
                }
            }
        }
    }
}

/// The login page (no session yet).
pub(crate) fn login(lang: Lang, error: Option<&str>, next: &str, user: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang.t(T::Login), false))
            body.login {
                main #main {
                    h1 { "火の見 Hinomi" }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    form method="post" action="/ui/login" {
                        input type="hidden" name="next" value=(next);
                        p {
                            label for="user" { (lang.t(T::User)) } br;
                            input #user name="user" autocomplete="username" required value=(user) autofocus;
                        }
                        p {
                            label for="password" { (lang.t(T::Password)) } br;
                            input #password name="password" type="password" autocomplete="current-password" required;
                        }
                        p { button #login { (lang.t(T::Login)) } }
                    }
                }
            }
        }
    }
}

/// The page an on-call acknowledge link opens: a question and a button
/// (mail scanners open links; only the button's POST acknowledges), or
/// the outcome of pressing it.
pub(crate) fn ack(lang: Lang, token: Option<&str>, outcome: Option<(bool, String)>, link: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang.t(T::AckTitle), false))
            body.login {
                main #main {
                    h1 { (lang.t(T::AckTitle)) }
                    @match (&outcome, token) {
                        (Some((ok, text)), _) => {
                            p #ack-outcome class=(if *ok { "ok" } else { "error" }) role="alert" { (text) }
                            @if let Some(l) = link { p { a #ack-incident href=(l) { (lang.t(T::Incident)) } } }
                        },
                        (None, Some(t)) => {
                            p { (lang.t(T::AckAsk)) }
                            form method="post" action="/ui/ack" {
                                input type="hidden" name="t" value=(t);
                                button #ack { (lang.t(T::AckButton)) }
                            }
                        },
                        (None, None) => p.error role="alert" { (lang.t(T::AckInvalid)) },
                    }
                }
            }
        }
    }
}

/// A page for a refusal or an error, outside the signed-in frame.
pub(crate) fn problem(lang: Lang, code: u16, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(&code.to_string(), false))
            body {
                main #main {
                    h1 { (lang.t(T::Error)) }
                    p.error role="alert" { (text) }
                    p { a href="/ui/" { "Hinomi" } }
                }
            }
        }
    }
}

fn table_head(ctx: &Ctx, keys: &[Option<T>]) -> Markup {
    html! {
        thead { tr { @for k in keys { @match k { Some(k) => th scope="col" { (ctx.t(*k)) }, None => th {} } } } }
    }
}

fn empty_row(ctx: &Ctx, cols: usize) -> Markup {
    html! { tr { td colspan=(cols) { (ctx.t(T::NoRows)) } } }
}

fn notice(text: Option<&str>) -> Markup {
    html! { @if let Some(n) = text { p.notice role="status" { (n) } } }
}

/// What the overview shows.
pub(crate) struct Overview {
    pub(crate) alert_counts: Vec<(String, i64)>,
    pub(crate) open_incidents: Vec<(soc::Status, i64)>,
    pub(crate) near_breach: i64,
    pub(crate) breached: i64,
    /// Hour buckets (start, severity, count) over the last 24 hours.
    pub(crate) histogram: Vec<(Timestamp, Level, i64)>,
    pub(crate) since: Timestamp,
    /// Rules by alerts active in the chart's window: id, title, alerts.
    pub(crate) top_rules: Vec<(String, String, i64)>,
    pub(crate) sources: Vec<engine::SourceStats>,
}

pub(crate) fn overview(ctx: &Ctx, o: &Overview) -> Markup {
    let open_alerts = o.alert_counts.iter().find(|(k, _)| k == "open").map_or(0, |(_, n)| *n);
    let open_incidents: i64 = o.open_incidents.iter().map(|(_, n)| n).sum();
    let eps = o.sources.iter().fold(0.0, |a, x| a + x.events_per_second);
    let cards = [
        (T::Alerts, open_alerts.to_string(), false),
        (T::OpenIncidents, open_incidents.to_string(), false),
        (T::NearBreach, o.near_breach.to_string(), o.near_breach > 0),
        (T::Breached, o.breached.to_string(), o.breached > 0),
        (T::Eps, format!("{eps:.1}"), false),
    ];
    // 24 hour columns, oldest first, stacked by severity.
    let mut columns: Vec<(String, Vec<i64>)> = (0..24)
        .map(|h| {
            let at = o.since + jiff::SignedDuration::from_hours(h);
            let label = at.to_zoned(ctx.tz.clone()).strftime("%H").to_string();
            (if h % 3 == 0 { label } else { String::new() }, vec![0; Level::ALL.len()])
        })
        .collect();
    for (at, level, n) in &o.histogram {
        let h = at.duration_since(o.since).as_hours();
        if let Some(col) = usize::try_from(h).ok().and_then(|h| columns.get_mut(h)) {
            col.1[Level::ALL.iter().position(|l| l == level).unwrap_or(0)] += n;
        }
    }
    let series: Vec<(&str, &str)> = Level::ALL.iter().map(|l| (ctx.t(T::severity(*l)), level_colour(*l))).collect();
    let chart = Stacked { title: ctx.t(T::AlertsOverTime), series: &series, columns };
    html! {
        section.cards {
            @for (key, value, warn) in &cards {
                div class=(if *warn { "card warn" } else { "card" }) { span { (ctx.t(*key)) } b { (value) } }
            }
        }
        section { h2 { (ctx.t(T::AlertsOverTime)) } (chart.render()) }
        div.two {
            section {
                h2 { (ctx.t(T::OpenIncidents)) }
                table {
                    (table_head(ctx, &[Some(T::Status), Some(T::Count)]))
                    tbody {
                        @for (st, n) in &o.open_incidents {
                            tr {
                                td { a href=(ctx.url(&format!("incidents?status={}", st.as_str()))) { (ctx.t(T::status(*st))) } }
                                td { (n) }
                            }
                        }
                        @if o.open_incidents.is_empty() { (empty_row(ctx, 2)) }
                    }
                }
            }
            section {
                h2 { (ctx.t(T::TopRules)) }
                table {
                    (table_head(ctx, &[Some(T::Rule), Some(T::Alerts)]))
                    tbody {
                        @for (id, title, alerts) in o.top_rules.iter().take(10) {
                            tr {
                                td { a href=(ctx.url(&format!("alerts?rule={}&status=all", query_value(id)))) { (Shown(title)) } }
                                td { (alerts) }
                            }
                        }
                        @if o.top_rules.is_empty() { (empty_row(ctx, 2)) }
                    }
                }
            }
        }
        section { h2 { (ctx.t(T::SourcesHealth)) } (sources_table(ctx, &o.sources)) }
    }
}

fn sources_table(ctx: &Ctx, sources: &[engine::SourceStats]) -> Markup {
    let keys = [T::Source, T::Events, T::Eps, T::ParseErrors, T::LastSeen, T::Status].map(Some);
    html! {
        table {
            (table_head(ctx, &keys))
            tbody {
                @for x in sources {
                    tr {
                        td { (Shown(&x.source)) }
                        td { (x.events) }
                        td { (format!("{:.1}", x.events_per_second)) }
                        td { (x.parse_errors) }
                        td { (x.last_seen.map_or("-".into(), |t| ctx.time(t))) }
                        td { @if x.silent { span.bad { (ctx.t(T::Silent)) } } @else { (ctx.t(T::Healthy)) } }
                    }
                }
                @if sources.is_empty() { (empty_row(ctx, 6)) }
            }
        }
    }
}

/// The alert queue's filters as given.
#[derive(Default)]
pub(crate) struct AlertFilter {
    pub(crate) status: String,
    pub(crate) min_severity: String,
    /// Part of a rule's title (or its id).
    pub(crate) rule: String,
    /// Most severe first instead of newest first.
    pub(crate) by_severity: bool,
}

impl AlertFilter {
    /// The queue with this filter, in `order` (`severity` or newest), from
    /// the cursor `before`.
    fn url(&self, ctx: &Ctx, by_severity: bool, before: Option<&str>) -> String {
        let mut url = format!(
            "alerts?status={}&min_severity={}&rule={}",
            query_value(&self.status),
            query_value(&self.min_severity),
            query_value(&self.rule)
        );
        if by_severity {
            url.push_str("&sort=severity");
        }
        if let Some(b) = before {
            url.push_str(&format!("&before={}", query_value(b)));
        }
        ctx.url(&url)
    }
}

/// One page of the alert queue, with what its forms offer.
pub(crate) struct AlertPage<'a> {
    pub(crate) list: &'a [Alert],
    /// The cursor of the next page, when there is one.
    pub(crate) next: Option<&'a str>,
    /// People an incident can be assigned to.
    pub(crate) users: &'a [String],
    /// Rule titles the filter suggests.
    pub(crate) titles: &'a [String],
    /// When the page was made: the queue's script counts news after it.
    pub(crate) now: Timestamp,
}

/// A column heading that sorts the queue: the current order is marked
/// for screen readers (`aria-sort`).
fn sort_head(ctx: &Ctx, f: &AlertFilter, key: T, by_severity: bool) -> Markup {
    let current = f.by_severity == by_severity;
    html! {
        th scope="col" aria-sort=(if current { "descending" } else { "none" }) {
            a.sort href=(f.url(ctx, by_severity, None)) { (ctx.t(key)) @if current { " ▼" } }
        }
    }
}

/// A select of the tenant's people (assignees).
fn user_select(ctx: &Ctx, id: &str, current: Option<&str>, users: &[String]) -> Markup {
    html! {
        select id=(id) name="assignee" {
            option value="" { (ctx.t(T::Nobody)) }
            @for u in users { option value=(u) selected[current == Some(u.as_str())] { (Shown(u)) } }
            // Someone no longer among the tenant's people keeps the incident.
            @if let Some(c) = current.filter(|c| !users.iter().any(|u| u == c)) { option value=(c) selected { (Shown(c)) } }
        }
    }
}

pub(crate) fn alerts(ctx: &Ctx, f: &AlertFilter, p: &AlertPage<'_>, note: Option<&str>) -> Markup {
    let bulk = ctx.can(Action::Triage);
    let list = p.list;
    let rows = html! {
        table #alert-queue {
            thead {
                tr {
                    th {}
                    (sort_head(ctx, f, T::Severity, true))
                    th scope="col" { (ctx.t(T::Title)) }
                    th scope="col" { (ctx.t(T::Entities)) }
                    th scope="col" { (ctx.t(T::Count)) }
                    (sort_head(ctx, f, T::LastSeen, false))
                    th scope="col" { (ctx.t(T::Incident)) }
                }
            }
            tbody {
                @for a in list {
                    tr.alert-row {
                        td {
                            @if bulk {
                                input type="checkbox" name="alert" value=(a.id) id={ "a" (a.id) }
                                    aria-label={ (ctx.t(T::Select)) " " (a.id) };
                            }
                        }
                        td { (badge(ctx, a.severity)) }
                        td { a.alert-link href=(ctx.url(&format!("alerts/{}", a.id))) { (Shown(&a.title)) } }
                        td { (entity_links(ctx, &a.entities, 4)) }
                        td { (a.count) }
                        td { (ctx.time(a.last_seen)) }
                        td {
                            @match a.incident_id {
                                Some(i) => a.incident-link href=(ctx.url(&format!("incidents/{i}"))) { "#" (i) },
                                None => "-",
                            }
                        }
                    }
                }
                @if list.is_empty() { (empty_row(ctx, 7)) }
            }
        }
    };
    html! {
        (notice(note))
        p #new-alerts hidden data-since=(p.now.to_string()) data-url=(ctx.url("alerts/news")) role="status" {
            span #new-alerts-count {} " " (ctx.t(T::NewAlerts)) " "
            a href=(f.url(ctx, f.by_severity, None)) { (ctx.t(T::ShowThem)) }
        }
        form method="get" class="filters" {
            label for="f-status" { (ctx.t(T::Status)) } " "
            select #f-status name="status" {
                @for (v, k) in [("open", T::Open), ("suppressed", T::Suppressed), ("closed", T::StClosed), ("all", T::All)] {
                    option value=(v) selected[f.status == v] { (ctx.t(k)) }
                }
            }
            " " label for="f-sev" { (ctx.t(T::Severity)) } " "
            select #f-sev name="min_severity" {
                option value="" { "-" }
                @for l in Level::ALL {
                    option value=(l.as_str()) selected[f.min_severity == l.as_str()] { (ctx.t(T::severity(l))) }
                }
            }
            " " label for="f-rule" { (ctx.t(T::RuleTitle)) } " "
            input #f-rule name="rule" value=(f.rule) list="rule-titles" size="30";
            datalist #rule-titles { @for t in p.titles { option value=(t) {} } }
            @if f.by_severity { input type="hidden" name="sort" value="severity"; }
            " " button { (ctx.t(T::Filter)) }
        }
        @if bulk {
            form method="post" action=(ctx.here) class="bulk" {
                (ctx.csrf_field())
                (rows)
                fieldset {
                    legend { (ctx.t(T::BulkHint)) }
                    button name="action" value="ack" #bulk-ack { (ctx.t(T::Ack)) } " "
                    button name="action" value="assign_me" #bulk-mine { (ctx.t(T::AssignToMe)) } " "
                    label for="b-assignee" { (ctx.t(T::Assignee)) } " "
                    (user_select(ctx, "b-assignee", None, p.users))
                    " " button name="action" value="assign" { (ctx.t(T::Assign)) } " "
                    label for="b-disp" { (ctx.t(T::Disposition)) } " "
                    // No disposition is chosen for the analyst: closing asks for one.
                    select #b-disp name="disposition" {
                        option value="" { "-" }
                        @for d in soc::Disposition::ALL { option value=(d.as_str()) { (ctx.t(T::disposition(d))) } }
                    }
                    " " button name="action" value="close" { (ctx.t(T::Close)) }
                }
            }
        } @else {
            (rows)
        }
        @if let Some(n) = p.next {
            p { a rel="next" href=(f.url(ctx, f.by_severity, Some(n))) { (ctx.t(T::NextPage)) } }
        }
    }
}

/// Which incidents the list shows.
pub(crate) struct IncidentFilter {
    /// `open`, `all`, or one status.
    pub(crate) status: String,
    /// Only the signed-in analyst's.
    pub(crate) mine: bool,
}

pub(crate) fn incidents(ctx: &Ctx, f: &IncidentFilter, list: &[Incident], next: Option<&str>) -> Markup {
    let keys = [
        None,
        Some(T::Severity),
        Some(T::Title),
        Some(T::Status),
        Some(T::Assignee),
        Some(T::Alerts),
        Some(T::LastSeen),
    ];
    let mine = if f.mine { "&assignee=me" } else { "" };
    html! {
        form method="get" class="filters" {
            label for="i-status" { (ctx.t(T::Status)) } " "
            select #i-status name="status" {
                option value="open" selected[f.status == "open"] { (ctx.t(T::Open)) }
                @for st in soc::Status::ALL {
                    option value=(st.as_str()) selected[f.status == st.as_str()] { (ctx.t(T::status(st))) }
                }
                option value="all" selected[f.status == "all"] { (ctx.t(T::All)) }
            }
            " " input #i-mine type="checkbox" name="assignee" value="me" checked[f.mine];
            " " label for="i-mine" { (ctx.t(T::Mine)) }
            " " button { (ctx.t(T::Filter)) }
        }
        table #incident-list {
            (table_head(ctx, &keys))
            tbody {
                @for i in list {
                    tr {
                        td { a href=(ctx.url(&format!("incidents/{}", i.id))) { "#" (i.id) } }
                        td { (badge(ctx, i.severity)) }
                        td { a href=(ctx.url(&format!("incidents/{}", i.id))) { (Shown(&i.title)) } }
                        td { (ctx.t(T::status(i.status))) }
                        td { (Shown(i.assignee.as_deref().unwrap_or("-"))) }
                        td { (i.alert_count) }
                        td { (ctx.time(i.last_activity)) }
                    }
                }
                @if list.is_empty() { (empty_row(ctx, 7)) }
            }
        }
        @if let Some(n) = next {
            p {
                a rel="next" href=(ctx.url(&format!("incidents?status={}{mine}&before={}", query_value(&f.status), query_value(n)))) {
                    (ctx.t(T::NextPage))
                }
            }
        }
    }
}

fn clock(ctx: &Ctx, key: T, c: &soc::sla::Clock) -> Markup {
    use soc::sla::SlaState as S;
    let (word, class) = match c.state {
        S::Running => (T::Running, "ok"),
        S::NearBreach => (T::NearBreach, "warn"),
        S::Breached => (T::Breached, "bad"),
        S::Met => (T::Met, "ok"),
        S::Paused => (T::Paused, "ok"),
    };
    html! {
        tr {
            th scope="row" { (ctx.t(key)) }
            td class=(class) { (ctx.t(word)) }
            td { (c.elapsed.as_mins()) " / " (c.budget.as_mins()) " min" }
            td { (c.due.map_or("-".into(), |d| ctx.time(d))) }
        }
    }
}

/// A timeline entry's detail: a note's text, an action as a sentence in
/// the reader's language, an alert's title.
fn detail(ctx: &Ctx, t: &state::TimelineEntry) -> Markup {
    html! {
        @match (&t.data, t.kind) {
            (serde_json::Value::String(body), "note") => q { (Shown(body)) },
            (data, "action") => (action(ctx, &t.what, data)),
            _ => (Shown(&t.what)),
        }
    }
}

/// An incident log entry as a sentence: what was done, with its values
/// translated where they are words of the console (statuses, severities,
/// dispositions). An action this version does not know shows its name
/// and data.
fn action(ctx: &Ctx, what: &str, data: &serde_json::Value) -> Markup {
    let text = |key: &str| data.get(key).and_then(serde_json::Value::as_str);
    let number = |key: &str| data.get(key).and_then(serde_json::Value::as_i64);
    let status = |key: &str| match text(key).and_then(|s| s.parse::<soc::Status>().ok()) {
        Some(s) => ctx.t(T::status(s)),
        None => "-",
    };
    let incident = |id: Option<i64>| {
        html! {
            @if let Some(id) = id { a href=(ctx.url(&format!("incidents/{id}"))) { "#" (id) } }
        }
    };
    html! {
        @match what {
            "opened" => (ctx.t(T::TlOpened)),
            "alert" => {
                (ctx.t(T::TlAlertJoined)) " " (Shown(text("title").unwrap_or("")))
                @if let Some(sev) = text("severity").and_then(model::Level::parse) { " " (badge(ctx, sev)) }
            },
            "status" => {
                (ctx.t(T::TlStatus)) " " (status("from")) " → " (status("to"))
                @if let Some(d) = text("disposition").and_then(|d| d.parse::<soc::Disposition>().ok()) {
                    " (" (ctx.t(T::disposition(d))) ")"
                }
            },
            "assign" => @match text("to") {
                Some(to) => { (ctx.t(T::TlAssigned)) " " (Shown(to)) },
                None => (ctx.t(T::TlUnassigned)),
            },
            "edit" => {
                (ctx.t(T::TlEdited))
                @if let Some(title) = text("title") { " " q { (Shown(title)) } }
                @if let Some(sev) = text("severity").and_then(model::Level::parse) { " " (badge(ctx, sev)) }
            },
            "waiting" => @if data.get("waiting").and_then(serde_json::Value::as_bool) == Some(false) {
                (ctx.t(T::TlWaitingEnd))
            } @else {
                (ctx.t(T::TlWaiting))
            },
            "escalate" => { (ctx.t(T::TlEscalated)) " " (Shown(text("to").unwrap_or("-"))) },
            "task" => { (ctx.t(T::TlTaskAdded)) " " (Shown(text("title").unwrap_or(""))) },
            "task_done" => { (ctx.t(T::TlTaskDone)) (number("task").unwrap_or(0)) },
            "merged_into" => { (ctx.t(T::TlMergedInto)) " " (incident(number("into"))) },
            "split" => { (ctx.t(T::TlSplitInto)) " " (incident(number("into"))) },
            "split_from" => { (ctx.t(T::TlSplitFrom)) " " (incident(number("from"))) },
            "risk" => {
                (ctx.t(T::TlRisk)) " "
                // Scores are sums of fading weights: whole points are what
                // an analyst compares.
                (data.get("score").and_then(serde_json::Value::as_f64).map_or(0, |s| s.round() as i64))
                @if let Some(value) = data.get("entity").and_then(|e| e.get("value")).and_then(serde_json::Value::as_str) {
                    " (" (Shown(value)) ")"
                }
            },
            "sla" => { (ctx.t(T::TlSla)) " " (Shown(text("kind").unwrap_or("-"))) },
            "notified" => { (ctx.t(T::TlNotified)) " " (Shown(text("channel").unwrap_or("-"))) },
            "notify_failed" => {
                (ctx.t(T::TlNotifyFailed)) " " (Shown(text("channel").unwrap_or("-")))
                ": " (Shown(text("error").unwrap_or("")))
            },
            "paged" => {
                (ctx.t(T::TlPaged)) " " (Shown(text("person").unwrap_or("-")))
                " (" (Shown(text("rota").unwrap_or(""))) " " (number("step").unwrap_or(0)) "/" (number("steps").unwrap_or(0)) ")"
            },
            "page_failed" => {
                (ctx.t(T::TlPageFailed)) " " (Shown(text("person").unwrap_or("-")))
                ": " (Shown(text("error").unwrap_or("")))
            },
            "page_acknowledged" => { (ctx.t(T::TlPageAcked)) " " (Shown(text("person").unwrap_or("-"))) },
            // A playbook run's happenings: the playbook, what, the step,
            // and for executions the call's answer.
            "started" | "proposed" | "approval_requested" | "approved" | "denied" | "approval_expired" | "executed"
            | "failed" | "rolled_back" | "stopped" | "finished" if data.get("run").is_some() => {
                (ctx.t(T::Playbook)) " " (Shown(text("playbook").unwrap_or("-"))) ": "
                (ctx.t(match what {
                    "started" => T::PbStarted,
                    "proposed" => T::PbProposed,
                    "approval_requested" => T::PbApprovalRequested,
                    "approved" => T::PbApproved,
                    "denied" => T::PbDenied,
                    "approval_expired" => T::PbApprovalExpired,
                    "executed" => T::PbExecuted,
                    "failed" => T::PbFailed,
                    "rolled_back" => T::PbRolledBack,
                    "stopped" => T::PbStopped,
                    _ => T::PbFinished,
                }))
                @if let Some(step) = text("step") { " " (Shown(step)) }
                @if let Some(reason) = text("reason") { " (" (Shown(reason)) ")" }
                @if let Some(status) = data.get("response").and_then(|r| r.get("status")).and_then(serde_json::Value::as_i64) {
                    " → " (status)
                }
                @if let Some(e) = text("error") { ": " (Shown(e)) }
            },
            _ => {
                (Shown(what))
                @if data.as_object().is_some_and(|o| !o.is_empty()) { " " code { (Shown(&data.to_string())) } }
            },
        }
    }
}

/// The incident page: what it is, its clocks, what can be done, what
/// happened, and the evidence.
pub(crate) fn incident(
    ctx: &Ctx,
    e: &Escalation,
    events: &Events,
    users: &[String],
    sla: Option<&SlaReport>,
    pages: &[state::PageRow],
    note: Option<&str>,
) -> Markup {
    let i = &e.incident;
    let base = ctx.url(&format!("incidents/{}", i.id));
    let act = |name: &str| format!("{base}/{name}");
    html! {
        (notice(note))
        dl.facts {
            dt { (ctx.t(T::Severity)) } dd { (badge(ctx, i.severity)) }
            dt { (ctx.t(T::Status)) } dd #incident-status { (ctx.t(T::status(i.status))) }
            dt { (ctx.t(T::Assignee)) } dd { (Shown(i.assignee.as_deref().unwrap_or("-"))) }
            dt { (ctx.t(T::Alerts)) } dd { (i.alert_count) }
            dt { (ctx.t(T::EscalatedTo)) } dd #escalated-to { (Shown(i.escalated_to.as_deref().unwrap_or("-"))) }
        }
        @if let Some(sla) = sla {
            section {
                h2 { (ctx.t(T::Sla)) }
                table { tbody { (clock(ctx, T::SlaAcknowledge, &sla.acknowledge)) (clock(ctx, T::SlaResolve, &sla.resolve)) } }
            }
        }
        @if ctx.can(Action::Triage) {
            section.actions {
                h2 { (ctx.t(T::Action)) }
                form method="post" action=(act("status")) class="inline" {
                    (ctx.csrf_field())
                    input type="hidden" name="version" value=(i.version);
                    label for="to-status" { (ctx.t(T::Status)) } " "
                    // Only the moves the life cycle allows (a closed
                    // incident can only be reopened).
                    select #to-status name="status" {
                        @for st in soc::Status::ALL.into_iter().filter(|&st| {
                            st == i.status || soc::lifecycle::check_move(i.status, st, Some(soc::Disposition::TruePositive)).is_ok()
                        }) {
                            option value=(st.as_str()) selected[st == i.status] { (ctx.t(T::status(st))) }
                        }
                    }
                    " " label for="disp" { (ctx.t(T::Disposition)) } " "
                    select #disp name="disposition" {
                        option value="" { "-" }
                        @for d in soc::Disposition::ALL { option value=(d.as_str()) { (ctx.t(T::disposition(d))) } }
                    }
                    " " button { (ctx.t(T::Save)) }
                }
                @if !i.status.is_done() {
                    form method="post" action=(act("assign")) class="inline" {
                        (ctx.csrf_field())
                        input type="hidden" name="version" value=(i.version);
                        label for="assignee" { (ctx.t(T::Assignee)) } " "
                        (user_select(ctx, "assignee", i.assignee.as_deref(), users))
                        " " button { (ctx.t(T::Assign)) }
                    }
                    form method="post" action=(act("assign")) class="inline" {
                        (ctx.csrf_field())
                        input type="hidden" name="version" value=(i.version);
                        input type="hidden" name="assignee" value=(ctx.user);
                        button #assign-me { (ctx.t(T::AssignToMe)) }
                    }
                }
                @if ctx.can(Action::Escalate) && !i.status.is_done() {
                    form method="post" action=(act("escalate")) class="inline" {
                        (ctx.csrf_field())
                        input type="hidden" name="version" value=(i.version);
                        label for="escalate-to" { (ctx.t(T::EscalatedTo)) } " "
                        input #escalate-to name="to" value="CSIRT" size="12";
                        " " button #escalate { (ctx.t(T::Escalate)) }
                    }
                }
            }
        }
        @if i.escalated.is_some() {
            p { a #handoff href=(act("handoff")) { (ctx.t(T::Handoff)) } }
        }
        @if !pages.is_empty() {
            (incident_pages(ctx, pages, &act("pages")))
        }
        (story(ctx, &e.alerts, events))
        section {
            h2 { (ctx.t(T::Entities)) }
            p { (entity_links(ctx, &e.entities, 50)) }
            @if !e.scope.spread.is_empty() {
                p.warn { (ctx.t(T::LateralMovement)) ": " (Shown(&e.scope.spread.join(", "))) }
            }
        }
        section {
            h2 { (ctx.t(T::Timeline)) }
            ol.timeline #timeline {
                // Each alert is on the timeline at its first event's time;
                // the log's note of triage adding it (at processing time)
                // would show it twice.
                @for t in e.timeline.iter().filter(|t| !(t.kind == "action" && t.what == "alert")) {
                    li class={ "tl-" (t.kind) } {
                        time { (ctx.time(t.at)) } " " b { (ctx.t(T::timeline_kind(t.kind))) } " " (detail(ctx, t)) " "
                        span.who { (Shown(&t.actor)) }
                    }
                }
            }
        }
        section {
            h2 { (ctx.t(T::Notes)) }
            // Notes are Markdown, rendered from a closed set of elements
            // with every text escaped (`markdown`); line breaks kept.
            ul.notes #notes {
                @for t in e.timeline.iter().filter(|t| t.kind == "note") {
                    li {
                        div.note-body { (super::markdown::note(t.data.as_str().unwrap_or(&t.what))) }
                        span.who { (Shown(&t.actor)) " · " (ctx.time(t.at)) }
                    }
                }
            }
            @if ctx.can(Action::Triage) {
                form method="post" action=(act("note")) {
                    (ctx.csrf_field())
                    label for="note-body" { (ctx.t(T::Note)) } br;
                    textarea #note-body name="body" rows="3" cols="60" required {} br;
                    button #add-note { (ctx.t(T::AddNote)) }
                }
            }
        }
        section {
            h2 { (ctx.t(T::OpenTasks)) }
            ul { @for t in &e.open_tasks { li { (Shown(t["title"].as_str().unwrap_or(""))) } } }
            @if ctx.can(Action::Triage) {
                form method="post" action=(act("task")) class="inline" {
                    (ctx.csrf_field())
                    label for="task-title" { (ctx.t(T::Title)) } " "
                    input #task-title name="title" required;
                    " " button { (ctx.t(T::AddTask)) }
                }
            }
        }
        section {
            h2 { (ctx.t(T::Alerts)) }
            (investigate::alert_table(ctx, &e.alerts, false))
        }
        (evidence(ctx, &e.evidence, events))
    }
}

/// Who was paged for an incident, and the button that stops the chain
/// while someone is still to be paged.
fn incident_pages(ctx: &Ctx, pages: &[state::PageRow], action: &str) -> Markup {
    let status = |s: &str| match s {
        "pending" => ctx.t(T::PagePending),
        "sent" => ctx.t(T::PageSent),
        "stopped" => ctx.t(T::PageStopped),
        _ => ctx.t(T::PageDead),
    };
    html! {
        section #pages {
            h2 { (ctx.t(T::Pages)) }
            table {
                (table_head(ctx, &[Some(T::Rota), Some(T::OnCall), Some(T::Status), Some(T::Time)]))
                tbody {
                    // Oldest first: the chain's order.
                    @for p in pages.iter().rev() {
                        tr {
                            td { (Shown(&p.rota)) " " (p.step) "/" (p.steps) }
                            td { (Shown(&p.person)) }
                            td class={ "page-" (p.status) } { (status(&p.status)) }
                            td { (ctx.time(p.sent.unwrap_or(p.due))) }
                        }
                    }
                }
            }
            @if ctx.can(Action::Triage) && pages.iter().any(|p| p.status == "pending") {
                form method="post" action=(action) {
                    (ctx.csrf_field())
                    button #ack-pages { (ctx.t(T::AckPages)) }
                }
            }
        }
    }
}

/// How far each reader of the log is behind, and the log's size: what
/// an operator looks at when senders are slowed.
pub(crate) struct Pipeline {
    pub(crate) behind: Vec<engine::Behind>,
    pub(crate) log_bytes: u64,
    pub(crate) max_log_bytes: u64,
}

impl Pipeline {
    pub(crate) fn of(status: &engine::Status) -> Pipeline {
        Pipeline { behind: status.behind.clone(), log_bytes: status.log_bytes, max_log_bytes: status.max_log_bytes }
    }
}

/// Bytes in the binary unit that keeps the number short.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn pipeline(ctx: &Ctx, p: &Pipeline) -> Markup {
    html! {
        section #pipeline {
            h2 { (ctx.t(T::Pipeline)) }
            table {
                (table_head(ctx, &[Some(T::Reader), Some(T::Behind), Some(T::Bound)]))
                tbody {
                    @for b in &p.behind {
                        tr class=[(b.lag_bytes > b.max_bytes).then_some("over")] {
                            td { (b.name) }
                            td { (size(b.lag_bytes)) }
                            td { (size(b.max_bytes)) }
                        }
                    }
                    tr class=[(p.log_bytes >= p.max_log_bytes).then_some("over")] {
                        td { (ctx.t(T::LogOnDisk)) }
                        td { (size(p.log_bytes)) }
                        td { (size(p.max_log_bytes)) }
                    }
                }
            }
        }
    }
}

pub(crate) fn sources(ctx: &Ctx, list: &[engine::SourceStats], pipe: &Pipeline, dead: &[serde_json::Value]) -> Markup {
    let field = |d: &serde_json::Value, k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    html! {
        (sources_table(ctx, list))
        (pipeline(ctx, pipe))
        h2 { (ctx.t(T::DeadLetters)) }
        table {
            (table_head(ctx, &[Some(T::Time), Some(T::Source), Some(T::Reason), Some(T::Event)]))
            tbody {
                @for d in dead {
                    tr {
                        td { (field(d, "received")) }
                        td { (Shown(&field(d, "source"))) }
                        td { (Shown(&field(d, "reason"))) }
                        td { (record(&field(d, "raw"))) }
                    }
                }
                @if dead.is_empty() { (empty_row(ctx, 4)) }
            }
        }
    }
}

/// The first `max` characters of a text, and a mark when there is more.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The first characters of a value, for a table cell: a megabyte value
/// must not make a megabyte page.
fn preview(text: &str) -> String {
    clip(text, 300)
}

/// A record as it came, in a cell: its beginning, and the rest (up to
/// 64 KiB of characters) one click away, without script.
fn record(text: &str) -> Markup {
    html! {
        details.raw {
            summary { code.raw { (Shown(&preview(text))) } }
            code.raw { (Shown(&clip(text, 64 << 10))) }
        }
    }
}

/// What a tenant has configured: SLA targets, the asset inventory, its
/// own notification routes (and the channels they may name).
#[derive(Default)]
pub(crate) struct TenantConfig {
    pub(crate) sla: Vec<(Level, jiff::SignedDuration, jiff::SignedDuration)>,
    pub(crate) assets: Vec<soc::assets::Asset>,
    pub(crate) routes: Vec<(i64, notify::Route)>,
    pub(crate) channels: Vec<String>,
}

/// The tenant's own notification routes: which triggers, from which
/// severity, to which channels; leads add and remove them.
fn routes(ctx: &Ctx, config: &TenantConfig, configure: bool) -> Markup {
    let level = |l: Option<Level>| l.map_or_else(|| "-".to_string(), |l| ctx.t(T::severity(l)).to_string());
    html! {
        section #notify-routes {
            h2 { (ctx.t(T::NotifyRoutes)) }
            table {
                (table_head(ctx, &[Some(T::Triggers), Some(T::Severity), Some(T::Channels), Some(T::QuietBelow), None]))
                tbody {
                    @if config.routes.is_empty() { (empty_row(ctx, 5)) }
                    @for (id, r) in &config.routes {
                        tr {
                            td {
                                @if r.triggers.is_empty() { (ctx.t(T::All)) }
                                (r.triggers.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "))
                            }
                            td { (level(Some(r.min_severity))) }
                            td { (Shown(&r.channels.join(", "))) }
                            td { (level(r.quiet_below)) }
                            td {
                                @if configure {
                                    form method="post" action=(ctx.url("settings/config")) class="inline" {
                                        (ctx.csrf_field())
                                        input type="hidden" name="action" value="route_remove";
                                        input type="hidden" name="route" value=(id);
                                        button { (ctx.t(T::Delete)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if configure && !config.channels.is_empty() {
                form method="post" action=(ctx.url("settings/config")) {
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="route_add";
                    fieldset {
                        legend { (ctx.t(T::Triggers)) }
                        @for t in notify::Trigger::ALL {
                            input type="checkbox" name="trigger" value=(t.as_str()) id={ "route-trigger-" (t.as_str()) };
                            " " label for={ "route-trigger-" (t.as_str()) } { (t.as_str()) } " "
                        }
                    }
                    fieldset {
                        legend { (ctx.t(T::Channels)) }
                        @for (i, c) in config.channels.iter().enumerate() {
                            input type="checkbox" name="channel" value=(c) id={ "route-channel-" (i) };
                            " " label for={ "route-channel-" (i) } { (Shown(c)) } " "
                        }
                    }
                    label for="route-sev" { (ctx.t(T::Severity)) } " "
                    select #route-sev name="min_severity" {
                        @for l in Level::ALL.iter().rev() { option value=(l.as_str()) { (ctx.t(T::severity(*l))) } }
                    }
                    " " label for="route-quiet" { (ctx.t(T::QuietBelow)) } " "
                    select #route-quiet name="quiet_below" {
                        option value="" { "-" }
                        @for l in Level::ALL.iter().rev() { option value=(l.as_str()) { (ctx.t(T::severity(*l))) } }
                    }
                    " " button #route-save { (ctx.t(T::Add)) }
                }
                p.hint { (ctx.t(T::NotifyRoutesHint)) }
            }
        }
    }
}

/// The roles people can hold.
const ROLES: [Scope; 5] = [Scope::Read, Scope::Analyst, Scope::Responder, Scope::Lead, Scope::Admin];

/// The tenant itself: its display name, on or off, and new tenants.
fn tenant_admin(ctx: &Ctx) -> Markup {
    let form = |action: &str, body: Markup| {
        html! {
            form method="post" action=(ctx.url("settings")) class="inline" {
                (ctx.csrf_field())
                input type="hidden" name="action" value=(action);
                (body)
            }
        }
    };
    html! {
        section #tenant {
            h2 { (ctx.t(T::Tenant)) ": " code { (ctx.tenant) } }
            p { (ctx.t(if ctx.tenant_off { T::TenantOff } else { T::TenantOn })) }
            (form("tenant_rename", html! {
                label for="t-display" { (ctx.t(T::DisplayName)) } " "
                input #t-display name="display" required maxlength="100" value=(ctx.tenant_display());
                " " button { (ctx.t(T::Rename)) }
            }))
            @if ctx.tenant_off {
                (form("tenant_enable", html! { button #tenant-enable { (ctx.t(T::EnableTenant)) } }))
            } @else {
                (form("tenant_disable", html! { button #tenant-disable { (ctx.t(T::DisableTenant)) } }))
            }
            h3 { (ctx.t(T::NewTenant)) }
            p.hint { (ctx.t(T::NewTenantHelp)) }
            (form("tenant_create", html! {
                label for="nt-name" { (ctx.t(T::Name)) } " "
                input #nt-name name="name" required size="16" maxlength="64" pattern="[a-z0-9_-]+";
                " " label for="nt-display" { (ctx.t(T::DisplayName)) } " "
                input #nt-display name="display" size="24" maxlength="100";
                " " button #tenant-create { (ctx.t(T::CreateTenant)) }
            }))
        }
    }
}

pub(crate) fn settings(
    ctx: &Ctx,
    users: &[User],
    tokens: &[TokenRecord],
    config: &TenantConfig,
    new_token: Option<&str>,
    note: Option<&str>,
) -> Markup {
    let admin = ctx.can(Action::Administer);
    let configure = ctx.can(Action::Configure);
    let roles = html! { @for r in ROLES { option value=(r.as_str()) { (ctx.t(T::role(r))) } } };
    let asset_name = |a: &soc::assets::Asset| match &a.matches {
        soc::assets::AssetMatch::Host(h) => format!("host {h}"),
        soc::assets::AssetMatch::User(u) => format!("user {u}"),
        soc::assets::AssetMatch::Ip(net) => format!("ip {net}"),
    };
    html! {
        (notice(note))
        @if let Some(t) = new_token {
            p.notice role="status" { (ctx.t(T::NewToken)) ": " code #new-token { (t) } }
        }
        @if admin { (tenant_admin(ctx)) }
        section {
            h2 { (ctx.t(T::Users)) }
            table {
                (table_head(ctx, &[Some(T::User), Some(T::Role), Some(T::Language), Some(T::TimeZone)]))
                tbody {
                    @for u in users {
                        tr {
                            td { (u.name) }
                            td { (u.role(&ctx.tenant).map_or("-", |r| ctx.t(T::role(r)))) }
                            td { (u.lang) }
                            td { (u.tz) }
                        }
                    }
                }
            }
            @if admin {
                form method="post" action=(ctx.url("settings")) class="inline" {
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="grant";
                    label for="g-user" { (ctx.t(T::User)) } " " input #g-user name="user" required size="12";
                    " " label for="g-role" { (ctx.t(T::Role)) } " "
                    select #g-role name="role" { option value="none" { "-" } (roles) }
                    " " button { (ctx.t(T::Save)) }
                }
                form method="post" action=(ctx.url("settings")) class="inline" {
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="user_add";
                    label for="n-user" { (ctx.t(T::User)) } " " input #n-user name="user" required size="12";
                    " " label for="n-pass" { (ctx.t(T::Password)) } " "
                    input #n-pass name="password" type="password" autocomplete="new-password" required minlength="12";
                    " " label for="n-role" { (ctx.t(T::Role)) } " "
                    select #n-role name="role" { (roles) }
                    " " button { (ctx.t(T::AddUser)) }
                }
            }
        }
        section {
            h2 { (ctx.t(T::Tokens)) }
            table {
                (table_head(ctx, &[Some(T::Name), Some(T::Scope), Some(T::Source), Some(T::Created), None]))
                tbody {
                    @for t in tokens {
                        tr {
                            td { (t.id) }
                            td { (ctx.t(T::role(t.scope))) }
                            td { (t.source.as_deref().unwrap_or("-")) }
                            td { (t.created) }
                            td {
                                @if admin && t.revoked.is_none() {
                                    form method="post" action=(ctx.url("settings")) class="inline" {
                                        (ctx.csrf_field())
                                        input type="hidden" name="action" value="token_revoke";
                                        input type="hidden" name="token" value=(t.id);
                                        button { (ctx.t(T::Revoke)) }
                                    }
                                } @else if let Some(r) = &t.revoked {
                                    (ctx.t(T::Revoked)) " " (r)
                                }
                            }
                        }
                    }
                    @if tokens.is_empty() { (empty_row(ctx, 5)) }
                }
            }
            @if admin {
                form method="post" action=(ctx.url("settings")) class="inline" {
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="token_create";
                    label for="t-scope" { (ctx.t(T::Scope)) } " "
                    select #t-scope name="scope" {
                        option value="ingest" { (ctx.t(T::RoleIngest)) }
                        @for r in ROLES { option value=(r.as_str()) { (ctx.t(T::role(r))) } }
                    }
                    " " button { (ctx.t(T::Add)) }
                }
            }
        }
        // SLA targets and the asset inventory: leads edit them here (or
        // through the API, `PUT /api/v1/sla-policies`, `/api/v1/assets`).
        section {
            h2 { (ctx.t(T::SlaPolicies)) }
            table #sla-policies {
                (table_head(ctx, &[Some(T::Severity), Some(T::SlaAcknowledge), Some(T::SlaResolve)]))
                tbody {
                    @for (level, ack, resolve) in &config.sla {
                        tr { td { (badge(ctx, *level)) } td { (ack.as_mins()) " " (ctx.t(T::Minutes)) } td { (resolve.as_mins()) " " (ctx.t(T::Minutes)) } }
                    }
                    @if config.sla.is_empty() { (empty_row(ctx, 3)) }
                }
            }
            @if configure {
                form method="post" action=(ctx.url("settings/config")) class="inline" {
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="sla";
                    label for="sla-sev" { (ctx.t(T::Severity)) } " "
                    select #sla-sev name="severity" {
                        @for l in Level::ALL.iter().rev() { option value=(l.as_str()) { (ctx.t(T::severity(*l))) } }
                    }
                    " " label for="sla-ack" { (ctx.t(T::SlaAcknowledge)) } " "
                    input #sla-ack name="ack" type="number" min="1" max="525600" required size="6";
                    " " label for="sla-resolve" { (ctx.t(T::SlaResolve)) } " "
                    input #sla-resolve name="resolve" type="number" min="1" max="5256000" required size="7";
                    " " (ctx.t(T::Minutes)) " " button #sla-save { (ctx.t(T::Save)) }
                }
                p.hint { (ctx.t(T::SlaHint)) }
            }
        }
        (routes(ctx, config, configure))
        section {
            h2 { (ctx.t(T::Assets)) }
            table #assets {
                (table_head(ctx, &[Some(T::Name), Some(T::Criticality), Some(T::Owner), Some(T::BusinessUnit)]))
                tbody {
                    @for a in &config.assets {
                        tr {
                            td { (Shown(&asset_name(a))) }
                            td { (a.criticality.as_str()) }
                            td { (Shown(a.owner.as_deref().unwrap_or("-"))) }
                            td { (Shown(a.business_unit.as_deref().unwrap_or("-"))) }
                        }
                    }
                    @if config.assets.is_empty() { (empty_row(ctx, 4)) }
                }
            }
            @if configure {
                form method="post" action=(ctx.url("settings/config")) {
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="assets";
                    p {
                        label for="assets-csv" { (ctx.t(T::AssetsCsv)) } br;
                        textarea #assets-csv name="csv" rows="8" cols="90" {
                            (soc::assets::Inventory { assets: config.assets.clone() }.to_csv())
                        }
                    }
                    button #assets-save { (ctx.t(T::Save)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
