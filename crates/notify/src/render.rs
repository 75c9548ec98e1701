//! Each channel's message, made from a notice.

use jiff::{SignedDuration, Timestamp};
use model::Level;
use serde_json::{Value, json};

use super::{ChannelKind, Notice, facts_json};

/// What a channel sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A mail: subject (one line) and plain-text body.
    Email { subject: String, body: String },
    /// A JSON body for an HTTP POST.
    Json(Value),
    /// One syslog line.
    Line(String),
}

/// Text for one line of a header or a title: control characters (line
/// breaks among them) become spaces, and it is cut at `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// The subject of a message: severity, what happened, title, tenant.
fn subject(n: &Notice) -> String {
    let incident = n.incident.map(|i| format!(" #{i}")).unwrap_or_default();
    one_line(
        &format!(
            "[Hinomi] {} {}{incident}: {} ({})",
            n.severity.as_str().to_uppercase(),
            n.trigger.phrase(),
            n.title,
            n.tenant
        ),
        200,
    )
}

/// The plain-text lines of a message.
fn lines(n: &Notice, link: Option<&str>) -> Vec<String> {
    let mut out = vec![
        format!("{}: {}", n.trigger.phrase(), one_line(&n.title, 500)),
        format!("Tenant: {}", n.tenant),
        format!("Severity: {}", n.severity.as_str()),
        format!("At: {}", n.at),
    ];
    if let Some(i) = n.incident {
        out.push(format!("Incident: #{i}"));
    }
    for (k, v) in &n.facts {
        out.push(format!("{}: {}", one_line(k, 100), one_line(v, 500)));
    }
    if let Some(l) = link {
        out.push(format!("Open: {l}"));
    }
    out
}

/// Slack's mrkdwn: `&`, `<` and `>` escaped, so no text from a log can
/// mention `@channel` or make a link.
fn slack_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Teams' Markdown: its special characters escaped with a backslash, and
/// angle brackets as entities.
fn teams_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '`' | '#' | '~' | '|' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

fn colour(level: Level) -> &'static str {
    match level {
        Level::Critical => "6B1F8F",
        Level::High => "B3261E",
        Level::Medium => "8A5300",
        Level::Low => "2F6F3E",
        Level::Informational => "4B5563",
    }
}

fn pagerduty_severity(level: Level) -> &'static str {
    match level {
        Level::Critical => "critical",
        Level::High => "error",
        Level::Medium => "warning",
        Level::Low | Level::Informational => "info",
    }
}

/// A CEF header field: `\` and `|` escaped, one line.
fn cef_header(text: &str) -> String {
    one_line(text, 512).replace('\\', "\\\\").replace('|', "\\|")
}

/// A CEF extension value: `\`, `=` and line breaks escaped.
fn cef_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The notice as an RFC 5424 line whose message is CEF, facility local4.
fn syslog_line(n: &Notice, link: Option<&str>) -> String {
    let (syslog_severity, cef_severity) = match n.severity {
        Level::Critical => (2, 10),
        Level::High => (3, 8),
        Level::Medium => (4, 5),
        Level::Low => (5, 3),
        Level::Informational => (6, 1),
    };
    let mut ext =
        vec![format!("rt={}", n.at.as_millisecond()), format!("cs1Label=tenant cs1={}", cef_value(&n.tenant))];
    if let Some(i) = n.incident {
        ext.push(format!("cn1Label=incident cn1={i}"));
    }
    if let Some(l) = link {
        ext.push(format!("request={}", cef_value(l)));
    }
    let facts: Vec<String> = n.facts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    if !facts.is_empty() {
        ext.push(format!("msg={}", cef_value(&facts.join("; "))));
    }
    format!(
        "<{}>1 {} - hinomi - notice - CEF:0|Hinomi|Hinomi|1|{}|{}|{cef_severity}|{}",
        20 * 8 + syslog_severity,
        n.at,
        n.trigger.as_str(),
        cef_header(&format!("{}: {}", n.trigger.phrase(), n.title)),
        ext.join(" ")
    )
}

/// Replaces `{{name}}` in every string of a webhook's body template with
/// the notice's value of that name; a string that is only a placeholder
/// takes the value's JSON type. The result is JSON by construction.
pub(crate) fn fill_values(template: &Value, values: &Value) -> Value {
    match template {
        Value::String(s) => {
            let whole = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")).map(str::trim);
            if let Some(v) = whole.and_then(|name| values.get(name)) {
                return v.clone();
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(len) = rest[start + 2..].find("}}") else { break };
                out.push_str(&rest[..start]);
                let name = rest[start + 2..start + 2 + len].trim();
                match values.get(name) {
                    Some(Value::String(v)) => out.push_str(v),
                    Some(Value::Null) | None => {}
                    Some(v) => out.push_str(&v.to_string()),
                }
                rest = &rest[start + 2 + len + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| fill_values(i, values)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), fill_values(v, values))).collect()),
        other => other.clone(),
    }
}

/// The message `kind` sends for `n`. `link` is the console's page of the
/// incident; `secret` the PagerDuty routing key, read by the caller.
pub fn render(kind: &ChannelKind, n: &Notice, link: Option<&str>, secret: Option<&str>) -> Payload {
    match kind {
        ChannelKind::Email { .. } => {
            let mut body = lines(n, link).join("\r\n");
            body.push_str("\r\n");
            Payload::Email { subject: subject(n), body }
        }
        ChannelKind::Webhook { body, .. } => {
            let values = facts_json(n, link);
            Payload::Json(match body {
                Some(template) => fill_values(template, &values),
                None => values,
            })
        }
        ChannelKind::Slack { .. } => {
            let text = slack_text(&lines(n, link).join("\n"));
            Payload::Json(json!({
                "text": slack_text(&subject(n)),
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            }))
        }
        ChannelKind::Teams { .. } => Payload::Json(json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": one_line(&subject(n), 200),
            "themeColor": colour(n.severity),
            "title": teams_text(&subject(n)),
            "text": lines(n, link).iter().map(|l| teams_text(l)).collect::<Vec<_>>().join("\n\n"),
        })),
        ChannelKind::Pagerduty { .. } => {
            let details: serde_json::Map<String, Value> =
                n.facts.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let mut event = json!({
                "routing_key": secret.unwrap_or(""),
                "event_action": "trigger",
                "dedup_key": n.incident.map_or_else(|| n.key(), |i| format!("hinomi:{}:incident:{i}", n.tenant)),
                "payload": {
                    "summary": one_line(&subject(n), 1000),
                    "source": format!("hinomi/{}", n.tenant),
                    "severity": pagerduty_severity(n.severity),
                    "timestamp": n.at.to_string(),
                    "component": n.trigger.as_str(),
                    "custom_details": details,
                },
            });
            if let Some(l) = link {
                event["links"] = json!([{"href": l, "text": "Open in Hinomi"}]);
            }
            Payload::Json(event)
        }
        ChannelKind::Syslog { .. } => Payload::Line(syslog_line(n, link)),
    }
}

/// What a page says beside the notice: whom it is for, where it stands
/// in the chain, and the link that acknowledges it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageView<'a> {
    pub person: &'a str,
    pub rota: &'a str,
    /// 1 for the person on call.
    pub step: usize,
    pub steps: usize,
    pub ack: Option<&'a str>,
    pub ack_until: Timestamp,
    pub next_after: Option<SignedDuration>,
}

/// A page's mail: the notice's, addressed to one person, with the
/// acknowledge link and what happens without it.
pub fn render_page(n: &Notice, link: Option<&str>, page: &PageView<'_>) -> Payload {
    let mut out = vec![
        format!(
            "{}, you are paged as on call for {} ({} of {}).",
            one_line(page.person, 100),
            one_line(page.rota, 100),
            page.step,
            page.steps
        ),
        String::new(),
    ];
    out.extend(lines(n, link));
    out.push(String::new());
    match page.ack {
        Some(ack) => out.push(format!("Acknowledge: {ack} (once, until {})", page.ack_until)),
        None => out.push("Acknowledge the incident in the console.".into()),
    }
    match page.next_after {
        Some(wait) => out.push(format!("Without an acknowledgement the next person is paged in {wait:#}.")),
        None => out.push("You are the last in the chain.".into()),
    }
    let mut body = out.join("\r\n");
    body.push_str("\r\n");
    Payload::Email { subject: one_line(&format!("[PAGE] {}", subject(n)), 200), body }
}
