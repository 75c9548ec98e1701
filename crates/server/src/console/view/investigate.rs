//! The pages an investigation moves through: an alert with its rule and
//! the events that matched (the fields the rule looked at marked), an
//! entity with everything that names it, and the incident's attack story
//! (its alerts in event-time order, grouped by ATT&CK tactic, each step
//! with the key fields of its first event).

use std::collections::HashMap;

use jiff::Timestamp;
use maud::{Markup, html};
use state::{Alert, EntityReport};

use super::{Ctx, T, badge, empty_row, preview, table_head};
use crate::enc::{Shown, query_value};

type Row = serde_json::Map<String, serde_json::Value>;

/// Stored events by id, as the page handlers found them.
pub(crate) type Events = HashMap<String, Row>;

/// A field's value as text (arrays joined), for key fields and marks.
fn text(row: &Row, field: &str) -> Option<String> {
    match row.get(field)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        v => Some(v.to_string()),
    }
}

/// The key fields of an event, inline: `name: value` pairs.
fn key_fields(row: &Row) -> Markup {
    html! {
        span.keys {
            @for (name, value) in soc::details::key_fields(|f| text(row, f)) {
                span.kv { span.k { (name) } " " span.v { (Shown(&value)) } } " "
            }
        }
    }
}

/// A link to an entity's page.
pub(crate) fn entity_url(ctx: &Ctx, e: &soc::Entity) -> String {
    ctx.url(&format!("entities/{}?value={}", e.kind.as_str(), query_value(&e.value)))
}

/// Entities as links to their pages, the first `max` of them.
pub(crate) fn entity_links(ctx: &Ctx, list: &[soc::Entity], max: usize) -> Markup {
    html! {
        @for e in list.iter().take(max) {
            a.ent href=(entity_url(ctx, e)) { (ctx.t(T::entity(e.kind))) ": " (Shown(&e.value)) } " "
        }
    }
}

/// An event's page.
fn event_url(ctx: &Ctx, id: &str) -> String {
    ctx.url(&format!("events/{}", query_value(id)))
}

/// The ATT&CK tactic names, in kill-chain order (`soc::attack::tactic`).
const TACTICS: [T; 14] = [
    T::TacReconnaissance,
    T::TacResourceDevelopment,
    T::TacInitialAccess,
    T::TacExecution,
    T::TacPersistence,
    T::TacPrivilegeEscalation,
    T::TacDefenseEvasion,
    T::TacCredentialAccess,
    T::TacDiscovery,
    T::TacLateralMovement,
    T::TacCollection,
    T::TacCommandAndControl,
    T::TacExfiltration,
    T::TacImpact,
];

fn tactic_name(ctx: &Ctx, tags: &[String]) -> &'static str {
    soc::attack::tactic(tags).and_then(|i| TACTICS.get(i)).map_or(ctx.t(T::TacNone), |k| ctx.t(*k))
}

/// Techniques with their names, each a link to its ATT&CK page.
fn techniques(tags: &[String]) -> Markup {
    html! {
        @for (id, name) in soc::attack::techniques(tags) {
            a.technique href=(format!("https://attack.mitre.org/techniques/{}/", id.replace('.', "/"))) rel="noreferrer" {
                (id) @if let Some(n) = name { " " (n) }
            }
            " "
        }
    }
}

/// The incident's alerts as a story: event-time order, a heading where
/// the tactic changes, each step with its key fields.
pub(crate) fn story(ctx: &Ctx, alerts: &[Alert], events: &Events) -> Markup {
    let mut steps: Vec<&Alert> = alerts.iter().collect();
    steps.sort_by_key(|a| (a.first_seen, a.id));
    let mut groups: Vec<(&'static str, Vec<&Alert>)> = Vec::new();
    for a in steps {
        let tactic = tactic_name(ctx, &a.tags);
        match groups.last_mut() {
            Some((t, list)) if *t == tactic => list.push(a),
            _ => groups.push((tactic, vec![a])),
        }
    }
    html! {
        section #story {
            h2 { (ctx.t(T::AttackStory)) }
            ol.story {
                @for (tactic, list) in &groups {
                    li.tactic {
                        h3 { (tactic) }
                        ol {
                            @for a in list {
                                li.step {
                                    time { (ctx.time(a.first_seen)) } " " (badge(ctx, a.severity)) " "
                                    a.step-title href=(ctx.url(&format!("alerts/{}", a.id))) { (Shown(&a.title)) }
                                    @if a.count > 1 { " ×" (a.count) }
                                    " " (techniques(&a.tags))
                                    br;
                                    @if let Some(row) = a.evidence.first().and_then(|id| events.get(id)) {
                                        (key_fields(row))
                                    } @else {
                                        (entity_links(ctx, &a.entities, 6))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The incident's evidence, each event once, with its key fields.
pub(crate) fn evidence(ctx: &Ctx, list: &[serde_json::Value], events: &Events) -> Markup {
    let mut seen: Vec<&str> = Vec::new();
    for ev in list {
        if let Some(r) = ev["ref"].as_str()
            && !seen.contains(&r)
        {
            seen.push(r);
        }
    }
    html! {
        section {
            h2 { (ctx.t(T::Evidence)) " (" (seen.len()) ")" }
            table #evidence {
                (table_head(ctx, &[Some(T::Time), Some(T::Event), Some(T::KeyFields)]))
                tbody {
                    @for id in seen.iter().take(200) {
                        @let row = events.get(*id);
                        tr {
                            td { (row.and_then(|r| text(r, "@timestamp")).and_then(|t| t.parse::<Timestamp>().ok()).map(|t| ctx.time(t)).unwrap_or_default()) }
                            td { a.evidence-link href=(event_url(ctx, id)) { (Shown(id)) } }
                            td { @if let Some(r) = row { (key_fields(r)) } }
                        }
                    }
                    @if seen.is_empty() { (empty_row(ctx, 3)) }
                }
            }
        }
    }
}

/// What the alert page shows of the rule that raised it.
pub(crate) struct RuleInfo {
    pub(crate) description: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) references: Vec<String>,
    pub(crate) falsepositives: Vec<String>,
    pub(crate) path: String,
    /// The fields its detection looks at (marked in the events).
    pub(crate) fields: Vec<String>,
}

/// One alert, whole.
pub(crate) struct AlertView<'a> {
    pub(crate) alert: &'a Alert,
    /// `None` when the rule is no longer loaded.
    pub(crate) rule: Option<RuleInfo>,
    /// Its evidence events, as found (oldest first).
    pub(crate) events: Vec<&'a Row>,
    /// Other alerts naming one of its entities.
    pub(crate) related: &'a [Alert],
}

/// Fields an alert page's event shows before the rest: what the rule
/// matched, then the key fields.
fn ordered_fields<'r>(row: &'r Row, marked: &[String]) -> Vec<(&'r str, String, bool)> {
    let keys: Vec<&str> = soc::details::key_fields(|f| text(row, f)).into_iter().map(|(k, _)| k).collect();
    let mut out: Vec<(&str, String, bool)> = row
        .iter()
        .filter(|(k, _)| k.as_str() != "_raw")
        .map(|(k, _)| (k.as_str(), text(row, k).unwrap_or_default(), marked.iter().any(|m| m == k)))
        .collect();
    out.sort_by_key(|(k, _, m)| (!m, !keys.contains(k)));
    out
}

pub(crate) fn alert(ctx: &Ctx, v: &AlertView<'_>) -> Markup {
    let a = v.alert;
    let marked: &[String] = v.rule.as_ref().map_or(&[], |r| &r.fields);
    html! {
        dl.facts #alert-facts {
            dt { (ctx.t(T::Severity)) } dd { (badge(ctx, a.severity)) " (" (ctx.t(T::Level)) ": " (ctx.t(T::severity(a.level))) ")" }
            dt { (ctx.t(T::Status)) }
            dd {
                @match a.status.as_str() {
                    "open" => (ctx.t(T::Open)),
                    "closed" => (ctx.t(T::StClosed)),
                    "suppressed" => (ctx.t(T::Suppressed)),
                    other => (Shown(other)),
                }
            }
            dt { (ctx.t(T::Count)) } dd { (a.count) }
            dt { (ctx.t(T::FirstSeen)) } dd { (ctx.time(a.first_seen)) }
            dt { (ctx.t(T::LastSeen)) } dd { (ctx.time(a.last_seen)) }
            dt { (ctx.t(T::Incident)) }
            dd { @match a.incident_id { Some(i) => a #alert-incident href=(ctx.url(&format!("incidents/{i}"))) { "#" (i) }, None => "-" } }
            dt { (ctx.t(T::Entities)) } dd { (entity_links(ctx, &a.entities, 50)) }
        }
        section #rule {
            h2 { (ctx.t(T::Rule)) ": " (Shown(&a.title)) }
            dl.facts {
                @if let Some(r) = &v.rule {
                    @if let Some(d) = &r.description { dt { (ctx.t(T::Description)) } dd { (Shown(d)) } }
                }
                dt { "ATT&CK" } dd { (tactic_name(ctx, &a.tags)) " · " (techniques(&a.tags)) }
                @if let Some(r) = &v.rule {
                    @if !r.falsepositives.is_empty() {
                        dt { (ctx.t(T::FalsePositives)) }
                        dd { ul { @for f in &r.falsepositives { li { (Shown(f)) } } } }
                    }
                    @if !r.references.is_empty() {
                        dt { (ctx.t(T::References)) }
                        dd { ul { @for u in &r.references { li {
                            @if u.starts_with("https://") || u.starts_with("http://") {
                                a href=(u) rel="noreferrer nofollow" { (Shown(u)) }
                            } @else { (Shown(u)) }
                        } } } }
                    }
                    dt { (ctx.t(T::RuleFile)) } dd { code { (Shown(&r.path)) } @if let Some(s) = &r.status { " (" (Shown(s)) ")" } }
                } @else {
                    dt { (ctx.t(T::RuleFile)) } dd { (ctx.t(T::RuleNotLoaded)) }
                }
                dt { (ctx.t(T::Author)) } dd { (Shown(a.author.as_deref().unwrap_or("-"))) }
                dt { "id" } dd { code { (Shown(&a.rule_id)) } }
            }
        }
        section #matched {
            h2 { (ctx.t(T::MatchedEvents)) " (" (v.events.len()) "/" (a.evidence.len()) ")" }
            @if !marked.is_empty() { p.hint { (ctx.t(T::MatchedHint)) } }
            @for row in &v.events {
                @let id = text(row, "_id").unwrap_or_default();
                article.event {
                    h3 {
                        a.event-link href=(event_url(ctx, &id)) {
                            (text(row, "@timestamp").and_then(|t| t.parse::<Timestamp>().ok()).map(|t| ctx.time(t)).unwrap_or_default())
                            " · " (Shown(&id))
                        }
                    }
                    table.fields {
                        tbody {
                            @for (k, value, hit) in ordered_fields(row, marked) {
                                tr class=[hit.then_some("matched")] {
                                    th scope="row" { (Shown(k)) @if hit { " " span.mark { "✓" } } }
                                    td { @if hit { mark { (Shown(&preview(&value))) } } @else { (Shown(&preview(&value))) } }
                                }
                            }
                        }
                    }
                }
            }
            @if v.events.is_empty() { p { (ctx.t(T::NoRows)) } }
        }
        section #related {
            h2 { (ctx.t(T::RelatedAlerts)) }
            (alert_table(ctx, v.related, true))
        }
    }
}

/// Alerts as a table: severity, title (a link), entities, count, last
/// seen, and (outside an incident's page) the incident.
pub(crate) fn alert_table(ctx: &Ctx, list: &[Alert], with_incident: bool) -> Markup {
    let mut head = vec![Some(T::Severity), Some(T::Title), Some(T::Entities), Some(T::Count), Some(T::LastSeen)];
    if with_incident {
        head.push(Some(T::Incident));
    }
    html! {
        table {
            (table_head(ctx, &head))
            tbody {
                @for a in list {
                    tr {
                        td { (badge(ctx, a.severity)) }
                        td { a href=(ctx.url(&format!("alerts/{}", a.id))) { (Shown(&a.title)) } }
                        td { (entity_links(ctx, &a.entities, 6)) }
                        td { (a.count) }
                        td { (ctx.time(a.last_seen)) }
                        @if with_incident {
                            td { @if let Some(i) = a.incident_id { a href=(ctx.url(&format!("incidents/{i}"))) { "#" (i) } } }
                        }
                    }
                }
                @if list.is_empty() { (empty_row(ctx, head.len())) }
            }
        }
    }
}

/// The query that finds an entity's events in the store.
pub(crate) fn entity_query(e: &soc::Entity) -> Option<String> {
    use soc::EntityKind as K;
    let term = |f: &str| super::term(f, &e.value);
    match e.kind {
        K::Host => term("host.name"),
        K::User => term("user.name"),
        K::Ip => Some(format!("{} OR {}", term("source.ip")?, term("destination.ip")?)),
        K::Process => term("process.executable"),
        // Hashes, domains and files appear under many names: their text.
        K::Hash | K::Domain | K::File => {
            (e.value.len() <= 256).then(|| format!("\"{}\"", e.value.replace('\\', "\\\\").replace('"', "\\\"")))
        }
    }
}

/// Days the entity page's risk chart covers.
const RISK_DAYS: i64 = 30;

/// The entity's peak risk per day over the last [`RISK_DAYS`], days in
/// the user's zone, oldest first: a label every week and the day's peak.
fn risk_days(ctx: &Ctx, r: &EntityReport) -> Vec<(String, i64)> {
    let today = r.as_of.to_zoned(ctx.tz.clone()).date();
    (0..RISK_DAYS)
        .rev()
        .map(|back| {
            let day = today.checked_sub(jiff::Span::new().days(back)).unwrap_or(today);
            let peak = r
                .risk_history
                .iter()
                .filter(|(at, _)| at.to_zoned(ctx.tz.clone()).date() == day)
                .map(|(_, p)| *p)
                .fold(0.0_f64, f64::max);
            let label = if back % 7 == 0 { day.strftime("%m-%d").to_string() } else { String::new() };
            (label, peak.round() as i64)
        })
        .collect()
}

pub(crate) fn entity(ctx: &Ctx, r: &EntityReport, events: &[Row]) -> Markup {
    let e = &r.entity;
    let query = entity_query(e);
    let days = risk_days(ctx, r);
    let highest = days.iter().map(|(_, p)| *p).max().unwrap_or(0);
    let series = [(ctx.t(T::RiskPeak), "#b3261e")];
    let chart = super::super::svg::Stacked {
        title: ctx.t(T::RiskOverTime),
        series: &series,
        columns: days.into_iter().map(|(label, peak)| (label, vec![peak])).collect(),
    };
    html! {
        dl.facts #entity-facts {
            dt { (ctx.t(T::Kind)) } dd { (ctx.t(T::entity(e.kind))) }
            dt { (ctx.t(T::FirstSeen)) } dd { (r.first_seen.map(|t| ctx.time(t)).unwrap_or_else(|| "-".into())) }
            dt { (ctx.t(T::LastSeen)) } dd { (r.last_seen.map(|t| ctx.time(t)).unwrap_or_else(|| "-".into())) }
            dt { (ctx.t(T::RiskNow)) } dd #entity-risk { (format!("{:.0}", r.risk)) }
            dt { (ctx.t(T::Incidents)) } dd { (r.incidents.len()) }
            dt { (ctx.t(T::Alerts)) } dd { (r.alerts.len()) }
        }
        section #entity-risk-chart {
            h2 { (ctx.t(T::RiskOverTime)) }
            (chart.render_with(&format!("{} {highest}", ctx.t(T::RiskPeak))))
        }
        section {
            h2 { (ctx.t(T::Incidents)) }
            table {
                (table_head(ctx, &[Some(T::Severity), Some(T::Title), Some(T::Status), Some(T::LastSeen)]))
                tbody {
                    @for i in &r.incidents {
                        tr {
                            td { (badge(ctx, i.severity)) }
                            td { a href=(ctx.url(&format!("incidents/{}", i.id))) { "#" (i.id) " " (Shown(&i.title)) } }
                            td { (ctx.t(T::status(i.status))) }
                            td { (ctx.time(i.last_activity)) }
                        }
                    }
                    @if r.incidents.is_empty() { (empty_row(ctx, 4)) }
                }
            }
        }
        section #entity-alerts {
            h2 { (ctx.t(T::Alerts)) }
            (alert_table(ctx, &r.alerts, true))
        }
        section {
            h2 { (ctx.t(T::RelatedEntities)) }
            p #related-entities {
                @for (other, n) in &r.related {
                    a.ent href=(entity_url(ctx, other)) { (ctx.t(T::entity(other.kind))) ": " (Shown(&other.value)) } " ×" (n) " "
                }
                @if r.related.is_empty() { (ctx.t(T::NoRows)) }
            }
        }
        section {
            h2 { (ctx.t(T::RecentEvents)) }
            @if let Some(q) = &query {
                p { a #entity-search href=(ctx.url(&format!("search?q={}&from=-7d", query_value(q)))) { (ctx.t(T::AllInSearch)) } }
            }
            table #entity-events {
                (table_head(ctx, &[Some(T::Time), Some(T::Event), Some(T::KeyFields)]))
                tbody {
                    @for row in events {
                        @let id = text(row, "_id").unwrap_or_default();
                        tr {
                            td { (text(row, "@timestamp").and_then(|t| t.parse::<Timestamp>().ok()).map(|t| ctx.time(t)).unwrap_or_default()) }
                            td { a href=(event_url(ctx, &id)) { (Shown(&id)) } }
                            td { (key_fields(row)) }
                        }
                    }
                    @if events.is_empty() { (empty_row(ctx, 3)) }
                }
            }
        }
    }
}
