//! The CSIRT hand-off package as a page a person reads: summary, scope,
//! timeline, entities, evidence, actions taken and open questions. Plain
//! HTML with its style inline, so it can be mailed or archived as one file.

use std::fmt::Write;

use state::Escalation;

/// HTML-escapes text for element content and quoted attributes (the
/// console's pages use it too).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "<p>none</p>".into();
    }
    let mut out = String::from("<ul>");
    for i in items {
        let _ = write!(out, "<li>{}</li>", esc(i));
    }
    out.push_str("</ul>");
    out
}

pub fn html(e: &Escalation) -> String {
    let i = &e.incident;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Incident {id}: {title}</title>\
         <style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}}\
         th{{background:#eee}}h2{{border-bottom:2px solid #333;margin-top:2rem}}</style></head><body>\
         <h1>Incident {id}: {title}</h1><p><strong>{summary}</strong></p>\
         <table><tr><th scope=\"row\">Severity</th><td>{sev}</td></tr><tr><th scope=\"row\">Status</th><td>{status}</td></tr>\
         <tr><th scope=\"row\">Disposition</th><td>{disp}</td></tr><tr><th scope=\"row\">Assignee</th><td>{assignee}</td></tr>\
         <tr><th scope=\"row\">Escalated to</th><td>{to} at {at}</td></tr><tr><th scope=\"row\">First sign</th><td>{first}</td></tr></table>",
        id = i.id,
        title = esc(&i.title),
        summary = esc(&e.summary),
        sev = i.severity,
        status = i.status,
        disp = i.disposition.map_or("none yet".to_string(), |d| d.to_string()),
        assignee = esc(i.assignee.as_deref().unwrap_or("nobody")),
        to = esc(i.escalated_to.as_deref().unwrap_or("not escalated")),
        at = i.escalated.map(|t| t.to_string()).unwrap_or_default(),
        first = e.scope.first_sign,
    );
    out.push_str("<h2>Scope</h2>");
    let _ = write!(
        out,
        "<h3>Hosts</h3>{}<h3>Accounts</h3>{}<h3>Addresses</h3>{}",
        list(&e.scope.hosts),
        list(&e.scope.users),
        list(&e.scope.addresses)
    );
    let _ = write!(out, "<h3>Spread to more than one host</h3>{}", list(&e.scope.spread));
    out.push_str("<h2>Timeline</h2><table><tr><th>Time</th><th>Kind</th><th>Who</th><th>What</th></tr>");
    for t in &e.timeline {
        let detail = match &t.data {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            v => v.to_string(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td></tr>",
            t.at,
            t.kind,
            esc(&t.actor),
            esc(&t.what),
            esc(&detail)
        );
    }
    out.push_str("</table><h2>Alerts</h2><table><tr><th>Rule</th><th>Severity</th><th>Count</th><th>First / last seen</th><th>Author</th></tr>");
    for a in &e.alerts {
        let _ = write!(
            out,
            "<tr><td>{} <small>({})</small></td><td>{}</td><td>{}</td><td>{}<br>{}</td><td>{}</td></tr>",
            esc(&a.title),
            esc(&a.rule_id),
            a.severity,
            a.count,
            a.first_seen,
            a.last_seen,
            esc(a.author.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table><h2>Entities</h2>");
    out.push_str(&list(&e.entities.iter().map(ToString::to_string).collect::<Vec<_>>()));
    out.push_str("<h2>Evidence</h2>");
    out.push_str(&list(&e.evidence.iter().map(|v| v.to_string()).collect::<Vec<_>>()));
    out.push_str("<h2>Actions taken</h2>");
    out.push_str(&list(
        &e.actions_taken.iter().map(|a| format!("{} {}: {} {}", a.at, a.actor, a.what, a.data)).collect::<Vec<_>>(),
    ));
    out.push_str("<h2>Open questions</h2>");
    out.push_str(&list(&e.open_questions));
    out.push_str("</body></html>\n");
    out
}
