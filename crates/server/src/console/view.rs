//! The console's pages as HTML text, from data already read: no IO and
//! no clock here (the handlers pass `now`), so every page can be rendered
//! in a unit test. All text from data goes through [`esc`].

use std::fmt::Write;

use access::{Action, Scope};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use model::Level;
use state::tokens::TokenRecord;
use state::{Alert, Escalation, Incident, RuleStats, SlaReport, User};

use super::i18n::Lang;
use super::svg::Stacked;

pub(crate) use crate::handoff::esc;

/// Percent-encodes a value for a URL query.
pub(crate) fn url_enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Who looks at a page, in which tenant: what every page is rendered for.
pub(crate) struct Ctx {
    pub(crate) lang: Lang,
    pub(crate) tz: TimeZone,
    pub(crate) user: String,
    pub(crate) tenant: String,
    pub(crate) role: Scope,
    /// Every tenant the user holds a role in (the switcher).
    pub(crate) tenants: Vec<String>,
    pub(crate) csrf: String,
    /// The path and query of this page (forms come back here).
    pub(crate) here: String,
}

impl Ctx {
    pub(crate) fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
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

    /// The hidden fields every form carries.
    fn hidden(&self) -> String {
        format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(&self.csrf))
    }

    /// Opens a POST form to `action` with the anti-CSRF field.
    fn form(&self, action: &str, class: &str) -> String {
        format!(r#"<form method="post" action="{}" class="{class}">{}"#, esc(action), self.hidden())
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

fn badge(ctx: &Ctx, l: Level) -> String {
    format!(r#"<span class="sev sev-{}">{}</span>"#, l.as_str(), ctx.t(&format!("sev_{}", l.as_str())))
}

fn status_word(ctx: &Ctx, s: soc::Status) -> &'static str {
    ctx.t(&format!("st_{}", s.as_str()))
}

const NAV: &[(&str, &str)] = &[
    ("", "overview"),
    ("alerts", "alerts"),
    ("incidents", "incidents"),
    ("search", "search"),
    ("rules", "rules"),
    ("sources", "sources"),
    ("settings", "settings"),
];

/// The frame of every signed-in page.
pub(crate) fn layout(ctx: &Ctx, title: &str, active: &str, body: &str) -> String {
    let mut s = String::with_capacity(body.len() + 4096);
    let _ = write!(
        s,
        r##"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · Hinomi</title><link rel="stylesheet" href="/ui/assets/app.css"><script src="/ui/assets/app.js" defer></script></head><body><a class="skip" href="#main">{skip}</a><header><span class="brand">火の見 Hinomi</span><nav aria-label="main"><ul>"##,
        lang = ctx.lang.code(),
        title = esc(title),
        skip = ctx.t("skip"),
    );
    for (path, key) in NAV {
        let current = if *key == active { r#" aria-current="page""# } else { "" };
        let _ = write!(s, r#"<li><a href="{}"{current}>{}</a></li>"#, esc(&ctx.url(path)), ctx.t(key));
    }
    s.push_str("</ul></nav><div class=\"who\">");
    // Tenant switcher: a plain GET form, usable without script.
    if ctx.tenants.len() > 1 {
        let _ = write!(
            s,
            r#"<form method="get" action="/ui/switch"><label for="tenant-switch">{}</label> <select id="tenant-switch" name="tenant">"#,
            ctx.t("tenant")
        );
        for t in &ctx.tenants {
            let sel = if *t == ctx.tenant { " selected" } else { "" };
            let _ = write!(s, r#"<option{sel}>{}</option>"#, esc(t));
        }
        let _ = write!(s, r#"</select> <button>{}</button></form>"#, ctx.t("apply"));
    } else {
        let _ = write!(s, r#"<span>{}: {}</span>"#, ctx.t("tenant"), esc(&ctx.tenant));
    }
    let _ = write!(
        s,
        r#"<span>{} <b>{}</b> ({})</span>{}<label for="lang">{}</label> <select id="lang" name="lang">"#,
        ctx.t("signed_in_as"),
        esc(&ctx.user),
        ctx.t(&format!("role_{}", ctx.role.as_str())),
        ctx.form("/ui/prefs", "inline"),
        ctx.t("language"),
    );
    for (code, name) in [("en", "English"), ("ja", "日本語")] {
        let sel = if code == ctx.lang.code() { " selected" } else { "" };
        let _ = write!(s, r#"<option value="{code}"{sel}>{name}</option>"#);
    }
    let _ = write!(
        s,
        r#"</select> <label for="tz">{tz_label}</label> <input id="tz" name="tz" size="14" value="{tz}"> <input type="hidden" name="back" value="{back}"><button id="lang-save">{save}</button></form>{logout_form}<button id="logout">{logout}</button></form></div></header><main id="main"><h1>{title}</h1>{body}</main></body></html>"#,
        tz_label = ctx.t("time_zone"),
        tz = esc(ctx.tz.iana_name().unwrap_or("UTC")),
        back = esc(&ctx.here),
        save = ctx.t("save"),
        logout_form = ctx.form("/ui/logout", "inline"),
        logout = ctx.t("logout"),
        title = esc(title),
    );
    s
}

/// The login page (no session yet).
pub(crate) fn login(lang: Lang, error: Option<&str>, next: &str, user: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!doctype html><html lang="{l}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{login} · Hinomi</title><link rel="stylesheet" href="/ui/assets/app.css"></head><body class="login"><main id="main"><h1>火の見 Hinomi</h1>"#,
        l = lang.code(),
        login = lang.t("login"),
    );
    if let Some(e) = error {
        let _ = write!(s, r#"<p class="error" role="alert">{}</p>"#, esc(e));
    }
    let _ = write!(
        s,
        r#"<form method="post" action="/ui/login"><input type="hidden" name="next" value="{next}"><p><label for="user">{u}</label><br><input id="user" name="user" autocomplete="username" required value="{user}" autofocus></p><p><label for="password">{p}</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p><p><button id="login">{login}</button></p></form></main></body></html>"#,
        next = esc(next),
        u = lang.t("user"),
        p = lang.t("password"),
        user = esc(user),
        login = lang.t("login"),
    );
    s
}

fn table_head(ctx: &Ctx, keys: &[&str]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for k in keys {
        if k.is_empty() {
            s.push_str("<th></th>");
        } else {
            let _ = write!(s, r#"<th scope="col">{}</th>"#, ctx.t(k));
        }
    }
    s.push_str("</tr></thead><tbody>");
    s
}

fn empty_row(ctx: &Ctx, cols: usize) -> String {
    format!(r#"<tr><td colspan="{cols}">{}</td></tr>"#, ctx.t("no_rows"))
}

fn entities(list: &[soc::Entity], max: usize) -> String {
    let mut s = String::new();
    for e in list.iter().take(max) {
        let _ = write!(s, r#"<span class="ent">{}: {}</span> "#, e.kind.as_str(), esc(&e.value));
    }
    if list.len() > max {
        let _ = write!(s, "… (+{})", list.len() - max);
    }
    s
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

pub(crate) fn overview(ctx: &Ctx, o: &Overview) -> String {
    let mut s = String::from(r#"<section class="cards">"#);
    let open_alerts = o.alert_counts.iter().find(|(k, _)| k == "open").map_or(0, |(_, n)| *n);
    let open_incidents: i64 = o.open_incidents.iter().map(|(_, n)| n).sum();
    let eps = o.sources.iter().fold(0.0, |a, x| a + x.events_per_second);
    for (key, value, warn) in [
        ("alerts", open_alerts.to_string(), false),
        ("open_incidents", open_incidents.to_string(), false),
        ("near_breach", o.near_breach.to_string(), o.near_breach > 0),
        ("breached", o.breached.to_string(), o.breached > 0),
        ("eps", format!("{eps:.1}"), false),
    ] {
        let class = if warn { "card warn" } else { "card" };
        let _ = write!(s, r#"<div class="{class}"><span>{}</span><b>{}</b></div>"#, ctx.t(key), esc(&value));
    }
    s.push_str("</section>");
    // 24 hour columns, oldest first, stacked by severity.
    let mut columns: Vec<(String, Vec<i64>)> = (0..24)
        .map(|h| {
            let at = o.since + jiff::SignedDuration::from_hours(h);
            let label = at.to_zoned(ctx.tz.clone()).strftime("%H").to_string();
            (if h % 3 == 0 { label } else { String::new() }, vec![0; 5])
        })
        .collect();
    for (at, level, n) in &o.histogram {
        let h = at.duration_since(o.since).as_hours();
        if let Some(col) = usize::try_from(h).ok().and_then(|h| columns.get_mut(h)) {
            col.1[Level::ALL.iter().position(|l| l == level).unwrap_or(0)] += n;
        }
    }
    let names: Vec<(String, &str)> =
        Level::ALL.iter().map(|l| (ctx.t(&format!("sev_{}", l.as_str())).to_string(), level_colour(*l))).collect();
    let series: Vec<(&str, &str)> = names.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let chart = Stacked { title: ctx.t("alerts_over_time"), series: &series, columns };
    let _ = write!(s, r#"<section><h2>{}</h2>{}</section>"#, ctx.t("alerts_over_time"), chart.render());
    let _ = write!(s, r#"<div class="two"><section><h2>{}</h2>"#, ctx.t("open_incidents"));
    s.push_str(&table_head(ctx, &["status", "count"]));
    for (st, n) in &o.open_incidents {
        let href = ctx.url(&format!("incidents?status={}", st.as_str()));
        let _ = write!(s, r#"<tr><td><a href="{}">{}</a></td><td>{n}</td></tr>"#, esc(&href), status_word(ctx, *st));
    }
    if o.open_incidents.is_empty() {
        s.push_str(&empty_row(ctx, 2));
    }
    let _ = write!(s, r#"</tbody></table></section><section><h2>{}</h2>"#, ctx.t("top_rules"));
    s.push_str(&table_head(ctx, &["rule", "alerts"]));
    for (id, title, alerts) in o.top_rules.iter().take(10) {
        let href = ctx.url(&format!("alerts?rule={}&status=all", url_enc(id)));
        let _ = write!(s, r#"<tr><td><a href="{}">{}</a></td><td>{alerts}</td></tr>"#, esc(&href), esc(title));
    }
    if o.top_rules.is_empty() {
        s.push_str(&empty_row(ctx, 2));
    }
    s.push_str("</tbody></table></section></div>");
    let _ = write!(s, r#"<section><h2>{}</h2>"#, ctx.t("sources_health"));
    s.push_str(&sources_table(ctx, &o.sources));
    s.push_str("</section>");
    s
}

fn sources_table(ctx: &Ctx, sources: &[engine::SourceStats]) -> String {
    let mut s = table_head(ctx, &["source", "events", "eps", "parse_errors", "last_seen", "status"]);
    for x in sources {
        let state = if x.silent {
            format!(r#"<span class="bad">{}</span>"#, ctx.t("silent"))
        } else {
            ctx.t("healthy").to_string()
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{state}</td></tr>",
            esc(&x.source),
            x.events,
            x.events_per_second,
            x.parse_errors,
            x.last_seen.map_or("-".into(), |t| ctx.time(t)),
        );
    }
    if sources.is_empty() {
        s.push_str(&empty_row(ctx, 6));
    }
    s.push_str("</tbody></table>");
    s
}

/// The alert queue's filters as given.
#[derive(Default)]
pub(crate) struct AlertFilter {
    pub(crate) status: String,
    pub(crate) min_severity: String,
    pub(crate) rule: String,
}

pub(crate) fn alerts(ctx: &Ctx, f: &AlertFilter, list: &[Alert], next: Option<&str>, notice: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(n) = notice {
        let _ = write!(s, r#"<p class="notice" role="status">{}</p>"#, esc(n));
    }
    let _ = write!(
        s,
        r#"<form method="get" class="filters"><label for="f-status">{}</label> <select id="f-status" name="status">"#,
        ctx.t("status")
    );
    for (v, k) in [("open", "open"), ("all", "all")] {
        let sel = if f.status == v { " selected" } else { "" };
        let _ = write!(s, r#"<option value="{v}"{sel}>{}</option>"#, ctx.t(k));
    }
    let _ = write!(
        s,
        r#"</select> <label for="f-sev">{}</label> <select id="f-sev" name="min_severity"><option value="">-</option>"#,
        ctx.t("severity")
    );
    for l in Level::ALL {
        let sel = if f.min_severity == l.as_str() { " selected" } else { "" };
        let _ = write!(s, r#"<option value="{}"{sel}>{}</option>"#, l.as_str(), ctx.t(&format!("sev_{}", l.as_str())));
    }
    let _ = write!(
        s,
        r#"</select> <label for="f-rule">{}</label> <input id="f-rule" name="rule" value="{}"> <button>{}</button></form>"#,
        ctx.t("rule"),
        esc(&f.rule),
        ctx.t("filter")
    );
    let bulk = ctx.can(Action::Triage);
    if bulk {
        s.push_str(&ctx.form(&ctx.here, "bulk"));
    }
    s.push_str(&table_head(ctx, &["", "severity", "title", "entities", "count", "last_seen", "incident"]));
    for a in list {
        let check = if bulk {
            format!(
                r#"<input type="checkbox" name="alert" value="{id}" id="a{id}" aria-label="{} {id}">"#,
                ctx.t("select"),
                id = a.id
            )
        } else {
            String::new()
        };
        let incident = a.incident_id.map_or("-".into(), |i| {
            format!(r#"<a href="{}" class="incident-link">#{i}</a>"#, esc(&ctx.url(&format!("incidents/{i}"))))
        });
        let _ = write!(
            s,
            r#"<tr class="alert-row"><td>{check}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{incident}</td></tr>"#,
            badge(ctx, a.severity),
            esc(&a.title),
            entities(&a.entities, 4),
            a.count,
            ctx.time(a.last_seen),
        );
    }
    if list.is_empty() {
        s.push_str(&empty_row(ctx, 7));
    }
    s.push_str("</tbody></table>");
    if bulk {
        let _ = write!(
            s,
            r#"<fieldset><legend>{hint}</legend><button name="action" value="ack" id="bulk-ack">{ack}</button> <label for="b-assignee">{assignee}</label> <input id="b-assignee" name="assignee" size="12"> <button name="action" value="assign">{assign}</button> <label for="b-disp">{disp}</label> <select id="b-disp" name="disposition">"#,
            hint = ctx.t("bulk_hint"),
            ack = ctx.t("ack"),
            assignee = ctx.t("assignee"),
            assign = ctx.t("assign"),
            disp = ctx.t("disposition"),
        );
        for d in soc::Disposition::ALL {
            let _ = write!(s, r#"<option value="{}">{}</option>"#, d.as_str(), ctx.t(&format!("disp_{}", d.as_str())));
        }
        let _ =
            write!(s, r#"</select> <button name="action" value="close">{}</button></fieldset></form>"#, ctx.t("close"));
    }
    if let Some(n) = next {
        let href = format!(
            "alerts?status={}&min_severity={}&rule={}&before={}",
            url_enc(&f.status),
            url_enc(&f.min_severity),
            url_enc(&f.rule),
            url_enc(n)
        );
        let _ = write!(s, r#"<p><a href="{}" rel="next">{}</a></p>"#, esc(&ctx.url(&href)), ctx.t("next_page"));
    }
    s
}

pub(crate) fn incidents(ctx: &Ctx, status: &str, list: &[Incident], next: Option<&str>) -> String {
    let mut s = table_head(ctx, &["", "severity", "title", "status", "assignee", "alerts", "last_seen"]);
    for i in list {
        let _ = write!(
            s,
            r#"<tr><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&ctx.url(&format!("incidents/{}", i.id))),
            i.id,
            badge(ctx, i.severity),
            esc(&i.title),
            status_word(ctx, i.status),
            esc(i.assignee.as_deref().unwrap_or("-")),
            i.alert_count,
            ctx.time(i.last_activity)
        );
    }
    if list.is_empty() {
        s.push_str(&empty_row(ctx, 7));
    }
    s.push_str("</tbody></table>");
    if let Some(n) = next {
        let href = ctx.url(&format!("incidents?status={}&before={}", url_enc(status), url_enc(n)));
        let _ = write!(s, r#"<p><a href="{}" rel="next">{}</a></p>"#, esc(&href), ctx.t("next_page"));
    }
    s
}

fn clock(ctx: &Ctx, key: &str, c: &soc::sla::Clock) -> String {
    use soc::sla::SlaState as S;
    let (word, class) = match c.state {
        S::Running => ("running", "ok"),
        S::NearBreach => ("near_breach", "warn"),
        S::Breached => ("breached", "bad"),
        S::Met => ("met", "ok"),
        S::Paused => ("paused", "ok"),
    };
    format!(
        r#"<tr><th scope="row">{}</th><td class="{class}">{}</td><td>{} / {} min</td><td>{}</td></tr>"#,
        ctx.t(key),
        ctx.t(word),
        c.elapsed.as_mins(),
        c.budget.as_mins(),
        c.due.map_or("-".into(), |d| ctx.time(d))
    )
}

pub(crate) fn incident(ctx: &Ctx, e: &Escalation, sla: Option<&SlaReport>, notice: Option<&str>) -> String {
    let i = &e.incident;
    let mut s = String::new();
    if let Some(n) = notice {
        let _ = write!(s, r#"<p class="notice" role="status">{}</p>"#, esc(n));
    }
    let _ = write!(
        s,
        r#"<dl class="facts"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id="incident-status">{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id="escalated-to">{}</dd></dl>"#,
        ctx.t("severity"),
        badge(ctx, i.severity),
        ctx.t("status"),
        status_word(ctx, i.status),
        ctx.t("assignee"),
        esc(i.assignee.as_deref().unwrap_or("-")),
        ctx.t("alerts"),
        i.alert_count,
        ctx.t("escalated_to"),
        esc(i.escalated_to.as_deref().unwrap_or("-")),
    );
    if let Some(sla) = sla {
        let _ = write!(s, r#"<section><h2>{}</h2><table><tbody>"#, ctx.t("sla"));
        s.push_str(&clock(ctx, "sla_acknowledge", &sla.acknowledge));
        s.push_str(&clock(ctx, "sla_resolve", &sla.resolve));
        s.push_str("</tbody></table></section>");
    }
    let action = ctx.url(&format!("incidents/{}", i.id));
    let version = format!(r#"<input type="hidden" name="version" value="{}">"#, i.version);
    if ctx.can(Action::Triage) {
        let _ = write!(s, r#"<section class="actions"><h2>{}</h2>"#, ctx.t("action"));
        // Status.
        let _ = write!(
            s,
            r#"{}{version}<input type="hidden" name="action" value="status"><label for="to-status">{}</label> <select id="to-status" name="status">"#,
            ctx.form(&action, "inline"),
            ctx.t("status")
        );
        for st in soc::Status::ALL {
            let sel = if st == i.status { " selected" } else { "" };
            let _ = write!(s, r#"<option value="{}"{sel}>{}</option>"#, st.as_str(), status_word(ctx, st));
        }
        let _ = write!(
            s,
            r#"</select> <label for="disp">{}</label> <select id="disp" name="disposition"><option value="">-</option>"#,
            ctx.t("disposition")
        );
        for d in soc::Disposition::ALL {
            let _ = write!(s, r#"<option value="{}">{}</option>"#, d.as_str(), ctx.t(&format!("disp_{}", d.as_str())));
        }
        let _ = write!(s, r#"</select> <button>{}</button></form>"#, ctx.t("save"));
        // Assign.
        let _ = write!(
            s,
            r#"{}{version}<input type="hidden" name="action" value="assign"><label for="assignee">{}</label> <input id="assignee" name="assignee" value="{}" size="12"> <button>{}</button></form>"#,
            ctx.form(&action, "inline"),
            ctx.t("assignee"),
            esc(i.assignee.as_deref().unwrap_or("")),
            ctx.t("assign")
        );
        if ctx.can(Action::Escalate) {
            let _ = write!(
                s,
                r#"{}{version}<input type="hidden" name="action" value="escalate"><label for="escalate-to">{}</label> <input id="escalate-to" name="to" value="CSIRT" size="12"> <button id="escalate">{}</button></form>"#,
                ctx.form(&action, "inline"),
                ctx.t("escalated_to"),
                ctx.t("escalate")
            );
        }
        s.push_str("</section>");
    }
    if i.escalated.is_some() {
        let _ = write!(
            s,
            r#"<p><a href="/api/v1/incidents/{}/escalation?format=html">{}</a> (API)</p>"#,
            i.id,
            ctx.t("handoff")
        );
    }
    let _ = write!(s, r#"<section><h2>{}</h2><p>{}</p>"#, ctx.t("entities"), entities(&e.entities, 50));
    if !e.scope.spread.is_empty() {
        let _ = write!(s, "<p class=\"warn\">{}: {}</p>", ctx.t("lateral_movement"), esc(&e.scope.spread.join(", ")));
    }
    s.push_str("</section>");
    let _ = write!(s, r#"<section><h2>{}</h2><ol class="timeline" id="timeline">"#, ctx.t("timeline"));
    for t in &e.timeline {
        // A note shows its text; an action its change; an alert its title.
        let detail = match (&t.data, t.kind) {
            (serde_json::Value::String(body), "note") => format!("<q>{}</q>", esc(body)),
            (data, "action") if data.as_object().is_some_and(|o| !o.is_empty()) => {
                format!("{} <code>{}</code>", esc(&t.what), esc(&data.to_string()))
            }
            _ => esc(&t.what),
        };
        let _ = write!(
            s,
            r#"<li class="tl-{}"><time>{}</time> <b>{}</b> {detail} <span class="who">{}</span></li>"#,
            esc(t.kind),
            ctx.time(t.at),
            ctx.t(&format!("tl_{}", t.kind)),
            esc(&t.actor)
        );
    }
    s.push_str("</ol></section>");
    if ctx.can(Action::Triage) {
        let _ = write!(
            s,
            r#"<section><h2>{}</h2>{}<input type="hidden" name="action" value="note"><label for="note-body">{}</label><br><textarea id="note-body" name="body" rows="3" cols="60" required></textarea><br><button id="add-note">{}</button></form></section>"#,
            ctx.t("notes"),
            ctx.form(&action, ""),
            ctx.t("note"),
            ctx.t("add_note")
        );
    }
    let _ = write!(s, r#"<section><h2>{}</h2><ul>"#, ctx.t("open_tasks"));
    for t in &e.open_tasks {
        let _ = write!(s, "<li>{}</li>", esc(t["title"].as_str().unwrap_or("")));
    }
    s.push_str("</ul>");
    if ctx.can(Action::Triage) {
        let _ = write!(
            s,
            r#"{}<input type="hidden" name="action" value="task"><label for="task-title">{}</label> <input id="task-title" name="title" required> <button>{}</button></form>"#,
            ctx.form(&action, "inline"),
            ctx.t("title"),
            ctx.t("add_task")
        );
    }
    s.push_str("</section>");
    let _ = write!(s, r#"<section><h2>{}</h2>"#, ctx.t("alerts"));
    s.push_str(&table_head(ctx, &["severity", "title", "entities", "count", "last_seen"]));
    for a in &e.alerts {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            badge(ctx, a.severity),
            esc(&a.title),
            entities(&a.entities, 6),
            a.count,
            ctx.time(a.last_seen)
        );
    }
    s.push_str("</tbody></table></section>");
    let _ = write!(s, r#"<section><h2>{}</h2><ul>"#, ctx.t("evidence"));
    for ev in e.evidence.iter().take(100) {
        let reference = ev["ref"].as_str().unwrap_or("");
        let href = ctx.url(&format!("search?q={}", url_enc(&format!("_id:{reference}"))));
        let _ = write!(
            s,
            r#"<li>{}: <a href="{}">{}</a></li>"#,
            esc(ev["kind"].as_str().unwrap_or("")),
            esc(&href),
            esc(reference)
        );
    }
    s.push_str("</ul></section>");
    s
}

/// A search as asked and what it found.
pub(crate) struct SearchView<'a> {
    pub(crate) query: &'a str,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) rows: &'a [serde_json::Map<String, serde_json::Value>],
    pub(crate) buckets: Vec<(String, i64)>,
    pub(crate) error: Option<String>,
}

/// Fields a results table shows first, when the rows have them.
const SEARCH_COLUMNS: &[&str] = &["@timestamp", "host.name", "user.name", "source.ip", "event.action", "message"];

pub(crate) fn search(ctx: &Ctx, v: &SearchView<'_>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<form method="get" class="filters"><label for="q">{}</label> <input id="q" name="q" size="60" value="{}"> <label for="from">{}</label> <input id="from" name="from" size="8" value="{}"> <label for="to">{}</label> <input id="to" name="to" size="8" value="{}"> <button id="search-go">{}</button></form>"#,
        ctx.t("query"),
        esc(v.query),
        ctx.t("from"),
        esc(v.from),
        ctx.t("to"),
        esc(v.to),
        ctx.t("search")
    );
    if let Some(e) = &v.error {
        let _ = write!(s, r#"<p class="error" role="alert">{}</p>"#, esc(e));
    }
    if !v.buckets.is_empty() {
        let columns = v.buckets.iter().enumerate().map(|(i, (l, n))| {
            (if i % (v.buckets.len() / 8).max(1) == 0 { l.clone() } else { String::new() }, vec![*n])
        });
        let chart =
            Stacked { title: ctx.t("events"), series: &[(ctx.t("events"), "#1f5f8b")], columns: columns.collect() };
        s.push_str(&chart.render());
    }
    if v.query.is_empty() {
        return s;
    }
    let _ = write!(s, r#"<h2>{} ({})</h2>"#, ctx.t("results"), v.rows.len());
    let present: Vec<&str> =
        SEARCH_COLUMNS.iter().copied().filter(|c| v.rows.iter().any(|r| r.contains_key(*c))).collect();
    s.push_str("<table><thead><tr>");
    for c in &present {
        let _ = write!(s, r#"<th scope="col">{}</th>"#, esc(c));
    }
    s.push_str("</tr></thead><tbody>");
    for row in v.rows {
        s.push_str("<tr>");
        for c in &present {
            let value = row.get(*c).map_or(String::new(), |x| x.as_str().map_or_else(|| x.to_string(), str::to_string));
            // Pivot: every value is a search for itself.
            let pivot = if value.is_empty() || *c == "@timestamp" || *c == "message" {
                esc(&value)
            } else {
                let q = format!("{c}:\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
                format!(
                    r#"<a href="{}">{}</a>"#,
                    esc(&ctx.url(&format!("search?q={}&from={}", url_enc(&q), url_enc(v.from)))),
                    esc(&value)
                )
            };
            let _ = write!(s, "<td>{pivot}</td>");
        }
        s.push_str("</tr>");
    }
    if v.rows.is_empty() {
        s.push_str(&empty_row(ctx, present.len().max(1)));
    }
    s.push_str("</tbody></table>");
    s
}

/// A rule test as asked, and its answer: the matching event lines.
pub(crate) struct RuleTest {
    pub(crate) yaml: String,
    pub(crate) events: String,
    pub(crate) result: Result<Vec<usize>, String>,
}

/// A rule the engine runs: id, title, level.
pub(crate) type LoadedRule = (String, String, Level);

pub(crate) fn rules(ctx: &Ctx, loaded: &[LoadedRule], stats: &[RuleStats], test: Option<&RuleTest>) -> String {
    let mut s = format!(r#"<section><h2>{}</h2>"#, ctx.t("rule_test"));
    let (yaml, events) = test.map_or(("", ""), |t| (t.yaml.as_str(), t.events.as_str()));
    let _ = write!(
        s,
        r#"{}<p><label for="rule-yaml">{}</label><br><textarea id="rule-yaml" name="rule" rows="10" cols="80">{}</textarea></p><p><label for="rule-events">{}</label><br><textarea id="rule-events" name="events" rows="6" cols="80">{}</textarea></p><button id="rule-test">{}</button></form>"#,
        ctx.form(&ctx.url("rules"), ""),
        ctx.t("rule_yaml"),
        esc(yaml),
        ctx.t("sample_events"),
        esc(events),
        ctx.t("rule_test")
    );
    match test.map(|t| &t.result) {
        Some(Ok(lines)) => {
            let list: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let _ = write!(
                s,
                r#"<p class="notice" role="status" id="rule-result">{}: {} ({})</p>"#,
                ctx.t("matches"),
                lines.len(),
                list.join(", ")
            );
        }
        Some(Err(e)) => {
            let _ = write!(s, r#"<p class="error" role="alert" id="rule-result">{}</p>"#, esc(e));
        }
        None => {}
    }
    s.push_str("</section>");
    let _ = write!(s, r#"<section><h2>{} ({})</h2>"#, ctx.t("rules"), loaded.len());
    s.push_str(&table_head(ctx, &["rule", "level", "alerts", "detections", "false_positive_rate"]));
    for (id, title, level) in loaded.iter().take(2000) {
        let st = stats.iter().find(|r| &r.rule_id == id);
        let _ = write!(
            s,
            r#"<tr><td title="{}">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(id),
            esc(title),
            badge(ctx, *level),
            st.map_or(0, |r| r.alerts),
            st.map_or(0, |r| r.detections),
            st.and_then(|r| r.false_positive_rate).map_or("-".into(), |x| format!("{:.0}%", x * 100.0)),
        );
    }
    if loaded.is_empty() {
        s.push_str(&empty_row(ctx, 5));
    }
    s.push_str("</tbody></table></section>");
    s
}

pub(crate) fn sources(ctx: &Ctx, list: &[engine::SourceStats], dead: &[serde_json::Value]) -> String {
    let mut s = sources_table(ctx, list);
    let _ = write!(s, r#"<h2>{}</h2>"#, ctx.t("dead_letters"));
    s.push_str(&table_head(ctx, &["time", "source", "reason"]));
    for d in dead {
        let field = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&field("received")),
            esc(&field("source")),
            esc(&field("reason"))
        );
    }
    if dead.is_empty() {
        s.push_str(&empty_row(ctx, 3));
    }
    s.push_str("</tbody></table>");
    s
}

/// What a tenant has configured: SLA targets and the asset inventory.
#[derive(Default)]
pub(crate) struct TenantConfig {
    pub(crate) sla: Vec<(Level, jiff::SignedDuration, jiff::SignedDuration)>,
    pub(crate) assets: Vec<soc::assets::Asset>,
}

pub(crate) fn settings(
    ctx: &Ctx,
    users: &[User],
    tokens: &[TokenRecord],
    config: &TenantConfig,
    new_token: Option<&str>,
    notice: Option<&str>,
) -> String {
    let mut s = String::new();
    if let Some(n) = notice {
        let _ = write!(s, r#"<p class="notice" role="status">{}</p>"#, esc(n));
    }
    if let Some(t) = new_token {
        let _ = write!(
            s,
            r#"<p class="notice" role="status">{}: <code id="new-token">{}</code></p>"#,
            ctx.t("new_token"),
            esc(t)
        );
    }
    let admin = ctx.can(Action::Administer);
    let _ = write!(s, r#"<section><h2>{}</h2>"#, ctx.t("users"));
    s.push_str(&table_head(ctx, &["user", "role", "language", "time_zone"]));
    for u in users {
        let role = u.role(&ctx.tenant).map_or("-", |r| ctx.t(&format!("role_{}", r.as_str())));
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{role}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.name),
            esc(&u.lang),
            esc(&u.tz)
        );
    }
    s.push_str("</tbody></table>");
    let roles = |s: &mut String| {
        for r in [Scope::Read, Scope::Analyst, Scope::Responder, Scope::Lead, Scope::Admin] {
            let _ = write!(s, r#"<option value="{}">{}</option>"#, r.as_str(), ctx.t(&format!("role_{}", r.as_str())));
        }
    };
    if admin {
        let _ = write!(
            s,
            r#"{}<input type="hidden" name="action" value="grant"><label for="g-user">{}</label> <input id="g-user" name="user" required size="12"> <label for="g-role">{}</label> <select id="g-role" name="role"><option value="none">-</option>"#,
            ctx.form(&ctx.url("settings"), "inline"),
            ctx.t("user"),
            ctx.t("role")
        );
        roles(&mut s);
        let _ = write!(s, r#"</select> <button>{}</button></form>"#, ctx.t("save"));
        let _ = write!(
            s,
            r#"{}<input type="hidden" name="action" value="user_add"><label for="n-user">{}</label> <input id="n-user" name="user" required size="12"> <label for="n-pass">{}</label> <input id="n-pass" name="password" type="password" autocomplete="new-password" required minlength="12"> <label for="n-role">{}</label> <select id="n-role" name="role">"#,
            ctx.form(&ctx.url("settings"), "inline"),
            ctx.t("user"),
            ctx.t("password"),
            ctx.t("role")
        );
        roles(&mut s);
        let _ = write!(s, r#"</select> <button>{}</button></form>"#, ctx.t("add_user"));
    }
    s.push_str("</section>");
    let _ = write!(s, r#"<section><h2>{}</h2>"#, ctx.t("tokens"));
    s.push_str(&table_head(ctx, &["name", "scope", "source", "created", ""]));
    for t in tokens {
        let revoke = if admin && t.revoked.is_none() {
            format!(
                r#"{}<input type="hidden" name="action" value="token_revoke"><input type="hidden" name="token" value="{}"><button>{}</button></form>"#,
                ctx.form(&ctx.url("settings"), "inline"),
                esc(&t.id),
                ctx.t("revoke")
            )
        } else {
            t.revoked.as_deref().map_or(String::new(), |r| format!("{} {}", ctx.t("revoked"), esc(r)))
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{revoke}</td></tr>",
            esc(&t.id),
            t.scope.as_str(),
            esc(t.source.as_deref().unwrap_or("-")),
            esc(&t.created)
        );
    }
    if tokens.is_empty() {
        s.push_str(&empty_row(ctx, 5));
    }
    s.push_str("</tbody></table>");
    if admin {
        let _ = write!(
            s,
            r#"{}<input type="hidden" name="action" value="token_create"><label for="t-scope">{}</label> <select id="t-scope" name="scope"><option value="ingest">ingest</option>"#,
            ctx.form(&ctx.url("settings"), "inline"),
            ctx.t("scope")
        );
        for r in [Scope::Read, Scope::Analyst, Scope::Responder, Scope::Lead, Scope::Admin] {
            let _ = write!(s, r#"<option value="{}">{}</option>"#, r.as_str(), r.as_str());
        }
        let _ = write!(s, r#"</select> <button>{}</button></form>"#, ctx.t("add"));
    }
    s.push_str("</section>");
    // SLA targets and assets are set through the API (`PUT /api/v1/sla-policies`,
    // `/api/v1/assets`) or `hinomi assets import`; shown here.
    let _ = write!(s, r#"<section><h2>{}</h2>"#, ctx.t("sla_policies"));
    s.push_str(&table_head(ctx, &["severity", "sla_acknowledge", "sla_resolve"]));
    for (level, ack, resolve) in &config.sla {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{} min</td><td>{} min</td></tr>",
            badge(ctx, *level),
            ack.as_mins(),
            resolve.as_mins()
        );
    }
    if config.sla.is_empty() {
        s.push_str(&empty_row(ctx, 3));
    }
    let _ = write!(s, r#"</tbody></table></section><section><h2>{}</h2>"#, ctx.t("assets"));
    s.push_str(&table_head(ctx, &["name", "criticality", "owner", "business_unit"]));
    for a in &config.assets {
        let name = match &a.matches {
            soc::assets::AssetMatch::Host(h) => format!("host {h}"),
            soc::assets::AssetMatch::User(u) => format!("user {u}"),
            soc::assets::AssetMatch::Ip(net) => format!("ip {net}"),
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            a.criticality.as_str(),
            esc(a.owner.as_deref().unwrap_or("-")),
            esc(a.business_unit.as_deref().unwrap_or("-"))
        );
    }
    if config.assets.is_empty() {
        s.push_str(&empty_row(ctx, 4));
    }
    s.push_str("</tbody></table></section>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(lang: Lang, role: Scope) -> Ctx {
        Ctx {
            lang,
            tz: TimeZone::get("Asia/Tokyo").unwrap(),
            user: "erin<script>".into(),
            tenant: "acme".into(),
            role,
            tenants: vec!["acme".into(), "globex".into()],
            csrf: "c5rf".into(),
            here: "/ui/acme/alerts?status=open".into(),
        }
    }

    fn alert() -> Alert {
        let at: Timestamp = "2026-11-20T01:00:00Z".parse().unwrap();
        Alert {
            id: 7,
            tenant: "acme".into(),
            rule_id: "r1".into(),
            title: "Brute <b>force</b>".into(),
            level: Level::High,
            severity: Level::Critical,
            tags: vec![],
            author: None,
            entities: vec![soc::Entity::new(soc::EntityKind::User, "alice").unwrap()],
            evidence: vec![],
            first_seen: at,
            last_seen: at,
            count: 8,
            status: "open".into(),
            suppression_id: None,
            incident_id: Some(3),
            origin: None,
            version: 1,
        }
    }

    /// Every page in both languages: every word translated, data escaped,
    /// every form carrying the anti-CSRF token.
    #[test]
    fn pages_are_complete_escaped_and_protected() {
        for lang in [Lang::En, Lang::Ja] {
            let c = ctx(lang, Scope::Admin);
            let stats = RuleStats {
                rule_id: "r1".into(),
                title: "Brute <b>force</b>".into(),
                alerts: 1,
                detections: 8,
                true_positive: 0,
                benign_true_positive: 0,
                false_positive: 1,
                duplicate: 0,
                false_positive_rate: Some(1.0),
                mean_time_to_triage_secs: None,
            };
            let since: Timestamp = "2026-11-19T02:00:00Z".parse().unwrap();
            let o = Overview {
                alert_counts: vec![("open".into(), 1)],
                open_incidents: vec![(soc::Status::New, 1)],
                near_breach: 1,
                breached: 0,
                histogram: vec![(since, Level::High, 3)],
                since,
                top_rules: vec![("r1".into(), "Brute <b>force</b>".into(), 1)],
                sources: vec![],
            };
            let rows = vec![
                serde_json::json!({"@timestamp": "2026-11-20T01:00:00Z", "user.name": "a\"<x>"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ];
            let search_view = SearchView {
                query: "user.name:alice",
                from: "-24h",
                to: "",
                rows: &rows,
                buckets: vec![("01:00".into(), 2)],
                error: None,
            };
            let test = RuleTest { yaml: "x".into(), events: "{}".into(), result: Ok(vec![1]) };
            let user = User {
                name: "bob".into(),
                lang: "".into(),
                tz: "UTC".into(),
                disabled: false,
                failures: 0,
                locked_until: None,
                created: since,
                grants: vec![("acme".into(), Scope::Analyst)],
            };
            let a = alert();
            let worked = Incident {
                id: 3,
                tenant: "acme".into(),
                kind: "alerts".into(),
                title: "Brute <b>force</b> on ws-042".into(),
                severity: Level::High,
                status: soc::Status::Acknowledged,
                disposition: None,
                assignee: Some("erin".into()),
                created: since,
                updated: since,
                last_activity: since,
                first_seen: since,
                acknowledged: Some(since),
                resolved: None,
                pauses: vec![],
                escalated_to: Some("CSIRT".into()),
                escalated: Some(since),
                alert_count: 1,
                entities: a.entities.clone(),
                version: 4,
            };
            let entry = |kind: &'static str, data: serde_json::Value| state::TimelineEntry {
                at: since,
                kind,
                actor: "erin".into(),
                what: kind.into(),
                data,
            };
            let package = Escalation {
                incident: worked,
                summary: "s".into(),
                alerts: vec![a.clone()],
                timeline: vec![
                    entry("alert", serde_json::json!({})),
                    entry("action", serde_json::json!({"to": "<x>"})),
                    entry("note", serde_json::json!("called <script>")),
                ],
                entities: a.entities.clone(),
                scope: state::ImpactScope {
                    hosts: vec![],
                    users: vec![],
                    addresses: vec![],
                    first_sign: since,
                    spread: vec!["user:alice<x>".into()],
                },
                evidence: vec![serde_json::json!({"kind": "event", "ref": "1.0"})],
                actions_taken: vec![],
                open_tasks: vec![serde_json::json!({"title": "reset <b>password</b>"})],
                open_questions: vec![],
            };
            let pages = [
                layout(&c, "t", "incidents", &incident(&c, &package, None, Some("conflict"))),
                layout(
                    &c,
                    "t",
                    "incidents",
                    &incidents(&c, "open", std::slice::from_ref(&package.incident), Some("x,1")),
                ),
                layout(&c, "t", "overview", &overview(&c, &o)),
                layout(&c, "t", "alerts", &alerts(&c, &AlertFilter::default(), &[alert()], Some("x,1"), Some("n"))),
                layout(&c, "t", "search", &search(&c, &search_view)),
                layout(
                    &c,
                    "t",
                    "rules",
                    &rules(&c, &[("r1".into(), "R <1>".into(), Level::Low)], &[stats], Some(&test)),
                ),
                layout(&c, "t", "sources", &sources(&c, &[], &[serde_json::json!({"reason": "<bad>"})])),
                layout(&c, "t", "settings", &settings(&c, &[user], &[], &TenantConfig::default(), Some("tok"), None)),
                login(lang, Some("<e>"), "/ui/", "u\"x"),
            ];
            for page in &pages {
                assert!(!page.contains("⟦"), "untranslated word in {lang:?}: {page}");
                assert!(!page.contains("<script>") && !page.contains("<b>force") && !page.contains("<bad>"), "{page}");
                assert!(!page.contains("<x>") && !page.contains("<e>"), "{page}");
                let forms = page.matches("<form method=\"post\"").count();
                let tokens = page.matches("name=\"csrf\" value=\"c5rf\"").count();
                // The login form is the one POST without a session.
                assert_eq!(forms, tokens + usize::from(page.contains("action=\"/ui/login\"")), "{page}");
            }
            for page in &pages {
                every_control_has_a_label(page);
            }
            assert!(pages[3].contains("rel=\"next\""));
            assert!(pages[2].contains("<svg"));
            assert!(pages[0].contains("id=\"escalate\"") && pages[0].contains("id=\"add-note\""));
        }
    }

    /// Every visible form control is named for screen readers: a
    /// `<label for>` pointing at its id, or an `aria-label`.
    fn every_control_has_a_label(page: &str) {
        for tag in ["<input", "<select", "<textarea"] {
            for (at, _) in page.match_indices(tag) {
                let end = page[at..].find('>').map_or(page.len(), |e| at + e);
                let control = &page[at..end];
                if control.contains("type=\"hidden\"") || control.contains("aria-label=") {
                    continue;
                }
                let id = control.split("id=\"").nth(1).and_then(|r| r.split('"').next());
                let labelled = id.is_some_and(|id| page.contains(&format!("<label for=\"{id}\">")));
                assert!(labelled, "no label for {control}");
            }
        }
    }

    #[test]
    fn a_viewer_gets_no_forms_that_change_things() {
        let c = ctx(Lang::En, Scope::Read);
        let page = alerts(&c, &AlertFilter::default(), &[alert()], None, None);
        assert!(!page.contains("method=\"post\""), "{page}");
        let page = settings(&c, &[], &[], &TenantConfig::default(), None, None);
        assert!(!page.contains("method=\"post\""), "{page}");
    }

    #[test]
    fn times_are_shown_in_the_users_zone() {
        let c = ctx(Lang::En, Scope::Read);
        assert_eq!(c.time("2026-11-20T01:00:00Z".parse().unwrap()), "2026-11-20 10:00:00");
    }
}
