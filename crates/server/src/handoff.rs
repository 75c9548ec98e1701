//! The CSIRT hand-off package as a page a person reads: summary, scope,
//! timeline, entities, evidence, actions taken and open questions, in
//! English or Japanese (the console's words). Plain HTML with its style
//! inline, so it can be mailed or archived as one file. A maud template:
//! everything from the incident is escaped.

use std::sync::LazyLock;

use base64::Engine as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};
use state::Escalation;

use crate::console::i18n::{Lang, T};
use crate::enc::Shown;

/// The page's style: a constant, the only markup not escaped.
const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#eee}h2{border-bottom:2px solid #333;margin-top:2rem}";

/// The page as an answer, with the console's headers (no caching, no
/// framing, no sniffing) and the page's own policy: the console and the
/// API serve it alike, from the same origin.
pub(crate) fn answer(package: &Escalation, lang: Lang) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = html_in(package, lang);
    let page = (axum::http::StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], body);
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

fn list(lang: Lang, items: &[String]) -> Markup {
    html! {
        @if items.is_empty() { p { (lang.t(T::NoneYet)) } } @else { ul { @for i in items { li { (Shown(i)) } } } }
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

/// The package in English (the API's default and `hinomi incident
/// escalate --html`).
pub fn html(e: &Escalation) -> String {
    html_in(e, Lang::En)
}

pub(crate) fn html_in(e: &Escalation, lang: Lang) -> String {
    let t = |k: T| lang.t(k);
    let i = &e.incident;
    let title = format!("{} {}: {}", t(T::Incident), i.id, i.title);
    let page = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head { meta charset="utf-8"; title { (title) } style { (PreEscaped(STYLE)) } }
            body {
                h1 { (Shown(&title)) }
                p { strong { (Shown(&e.summary)) } }
                table {
                    tr { th scope="row" { (t(T::Severity)) } td { (t(T::severity(i.severity))) } }
                    tr { th scope="row" { (t(T::Status)) } td { (t(T::status(i.status))) } }
                    tr { th scope="row" { (t(T::Disposition)) } td { (i.disposition.map_or(t(T::NoneYet), |d| t(T::disposition(d)))) } }
                    tr { th scope="row" { (t(T::Assignee)) } td { (Shown(i.assignee.as_deref().unwrap_or(t(T::Nobody)))) } }
                    tr {
                        th scope="row" { (t(T::EscalatedTo)) }
                        td { (Shown(i.escalated_to.as_deref().unwrap_or("-"))) " " (i.escalated.map(|t| t.to_string()).unwrap_or_default()) }
                    }
                    tr { th scope="row" { (t(T::FirstSign)) } td { (e.scope.first_sign) } }
                }
                h2 { (t(T::Scope)) }
                h3 { (t(T::Hosts)) } (list(lang, &e.scope.hosts))
                h3 { (t(T::Accounts)) } (list(lang, &e.scope.users))
                h3 { (t(T::Addresses)) } (list(lang, &e.scope.addresses))
                h3 { (t(T::LateralMovement)) } (list(lang, &e.scope.spread))
                h2 { (t(T::Timeline)) }
                table {
                    tr { th { (t(T::Time)) } th { (t(T::Kind)) } th { (t(T::Who)) } th { (t(T::What)) } }
                    @for x in &e.timeline {
                        tr { td { (x.at) } td { (t(T::timeline_kind(x.kind))) } td { (Shown(&x.actor)) } td { (Shown(&x.what)) br; small { (Shown(&detail(&x.data))) } } }
                    }
                }
                h2 { (t(T::Alerts)) }
                table {
                    tr { th { (t(T::Rule)) } th { (t(T::Severity)) } th { (t(T::Count)) } th { (t(T::FirstSeen)) " / " (t(T::LastSeen)) } th { (t(T::Author)) } }
                    @for a in &e.alerts {
                        tr {
                            td { (Shown(&a.title)) " " small { "(" (Shown(&a.rule_id)) ")" } }
                            td { (t(T::severity(a.severity))) }
                            td { (a.count) }
                            td { (a.first_seen) br; (a.last_seen) }
                            td { (Shown(a.author.as_deref().unwrap_or(""))) }
                        }
                    }
                }
                h2 { (t(T::Entities)) }
                (list(lang, &e.entities.iter().map(ToString::to_string).collect::<Vec<_>>()))
                h2 { (t(T::Evidence)) }
                (list(lang, &e.evidence.iter().map(|v| v.to_string()).collect::<Vec<_>>()))
                h2 { (t(T::ActionsTaken)) }
                (list(lang, &e.actions_taken.iter().map(|a| format!("{} {}: {} {}", a.at, a.actor, a.what, a.data)).collect::<Vec<_>>()))
                h2 { (t(T::OpenQuestions)) }
                (list(lang, &e.open_questions))
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}
