//! The CSIRT hand-off package as a page a person reads: summary, scope,
//! timeline, entities, evidence, actions taken and open questions. Plain
//! HTML with its style inline, so it can be mailed or archived as one
//! file. A maud template: everything from the incident is escaped.

use std::sync::LazyLock;

use base64::Engine as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};
use state::Escalation;

use crate::enc::Shown;

/// The page's style: a constant, the only markup not escaped.
const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#eee}h2{border-bottom:2px solid #333;margin-top:2rem}";

/// The page as an answer, with the console's headers (no caching, no
/// framing, no sniffing) and the page's own policy: the console and the
/// API serve it alike, from the same origin.
pub(crate) fn answer(package: &Escalation) -> axum::response::Response {
    use axum::response::IntoResponse;
    let page =
        (axum::http::StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], html(package));
    crate::console::with_policy(page.into_response(), csp())
}

/// The content security policy the page is served with: no script at
/// all, and only its own style, named by its hash (no `unsafe-inline`).
pub fn csp() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        )
    });
    &CSP
}

fn list(items: &[String]) -> Markup {
    html! {
        @if items.is_empty() { p { "none" } } @else { ul { @for i in items { li { (Shown(i)) } } } }
    }
}

/// A timeline entry's data as one line of text.
fn detail(data: &serde_json::Value) -> String {
    match data {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    }
}

pub fn html(e: &Escalation) -> String {
    let i = &e.incident;
    let title = format!("Incident {}: {}", i.id, i.title);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } style { (PreEscaped(STYLE)) } }
            body {
                h1 { (Shown(&title)) }
                p { strong { (Shown(&e.summary)) } }
                table {
                    tr { th scope="row" { "Severity" } td { (i.severity) } }
                    tr { th scope="row" { "Status" } td { (i.status) } }
                    tr { th scope="row" { "Disposition" } td { (i.disposition.map_or("none yet".to_string(), |d| d.to_string())) } }
                    tr { th scope="row" { "Assignee" } td { (Shown(i.assignee.as_deref().unwrap_or("nobody"))) } }
                    tr {
                        th scope="row" { "Escalated to" }
                        td { (Shown(i.escalated_to.as_deref().unwrap_or("not escalated"))) " at " (i.escalated.map(|t| t.to_string()).unwrap_or_default()) }
                    }
                    tr { th scope="row" { "First sign" } td { (e.scope.first_sign) } }
                }
                h2 { "Scope" }
                h3 { "Hosts" } (list(&e.scope.hosts))
                h3 { "Accounts" } (list(&e.scope.users))
                h3 { "Addresses" } (list(&e.scope.addresses))
                h3 { "Spread to more than one host" } (list(&e.scope.spread))
                h2 { "Timeline" }
                table {
                    tr { th { "Time" } th { "Kind" } th { "Who" } th { "What" } }
                    @for t in &e.timeline {
                        tr { td { (t.at) } td { (t.kind) } td { (Shown(&t.actor)) } td { (Shown(&t.what)) br; small { (Shown(&detail(&t.data))) } } }
                    }
                }
                h2 { "Alerts" }
                table {
                    tr { th { "Rule" } th { "Severity" } th { "Count" } th { "First / last seen" } th { "Author" } }
                    @for a in &e.alerts {
                        tr {
                            td { (Shown(&a.title)) " " small { "(" (Shown(&a.rule_id)) ")" } }
                            td { (a.severity) }
                            td { (a.count) }
                            td { (a.first_seen) br; (a.last_seen) }
                            td { (Shown(a.author.as_deref().unwrap_or(""))) }
                        }
                    }
                }
                h2 { "Entities" }
                (list(&e.entities.iter().map(ToString::to_string).collect::<Vec<_>>()))
                h2 { "Evidence" }
                (list(&e.evidence.iter().map(|v| v.to_string()).collect::<Vec<_>>()))
                h2 { "Actions taken" }
                (list(&e.actions_taken.iter().map(|a| format!("{} {}: {} {}", a.at, a.actor, a.what, a.data)).collect::<Vec<_>>()))
                h2 { "Open questions" }
                (list(&e.open_questions))
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}
