//! One received record (a syslog line, an HTTP document, a file line) to an
//! [`Event`], by a configured [`Format`] or by recognising it.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use model::{Event, Value};

use crate::{cef, ecs, limits, sources, syslog, time};

/// How a source's records are parsed. `Auto` recognises each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Auto,
    /// RFC 5424 / RFC 3164 with CEF, LEEF, JSON or key=value in the message.
    Syslog,
    Cef,
    Leef,
    Kv,
    /// One JSON object: generic, ECS, CloudTrail, Zeek, Suricata, Windows.
    Json,
}

impl Format {
    pub const ALL: [Format; 6] = [Format::Auto, Format::Syslog, Format::Cef, Format::Leef, Format::Kv, Format::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Syslog => "syslog",
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::Kv => "kv",
            Format::Json => "json",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown format `{s}` (expected one of {})", names.join(", "))
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a record could not be read: the parser and what it found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub parser: &'static str,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.parser, self.message)
    }
}

fn err(parser: &'static str) -> impl FnOnce(String) -> ParseError {
    move |message| ParseError { parser, message }
}

/// Parses one record. `received` is when it arrived: the event time when the
/// record has none, and the year of BSD syslog timestamps.
pub fn parse_record(raw: &str, format: Format, received: Timestamp) -> Result<Event, ParseError> {
    let text = raw.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']);
    let format = match format {
        Format::Auto => detect(text),
        f => f,
    };
    let mut event = match format {
        Format::Json => json(text, received)?,
        Format::Cef => device(cef::parse_cef(text).map_err(err("cef"))?, received),
        Format::Leef => device(cef::parse_leef(text).map_err(err("leef"))?, received),
        Format::Kv => {
            let (pairs, _) = cef::parse_kv(text);
            if pairs.is_empty() {
                return Err(ParseError { parser: "kv", message: "no key=value pairs".into() });
            }
            let mut event = Event::new();
            push_pairs(&mut event, pairs);
            finish_kv(&mut event, received);
            event
        }
        Format::Syslog | Format::Auto => syslog_event(text, received)?,
    };
    if event.timestamp.is_none() {
        event.timestamp = Some(received);
    }
    limits::check(&event).map_err(err("limits"))?;
    Ok(event)
}

fn detect(text: &str) -> Format {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        Format::Json
    } else if t.starts_with("CEF:") {
        Format::Cef
    } else if t.starts_with("LEEF:") {
        Format::Leef
    } else if t.starts_with('<') {
        Format::Syslog
    } else if kv_like(t) {
        Format::Kv
    } else {
        Format::Syslog
    }
}

/// At least two pairs and more pairs than other words.
fn kv_like(text: &str) -> bool {
    let (pairs, other) = cef::parse_kv(text);
    pairs.len() >= 2 && pairs.len() > other
}

fn json(text: &str, received: Timestamp) -> Result<Event, ParseError> {
    limits::depth(text).map_err(err("limits"))?;
    // Straight into a flat event when the record allows it (one object,
    // not a Windows `Event.System` record): no JSON tree in between.
    if let Ok(Some(mut event)) = crate::flat::parse_object(text.trim()) {
        sources::classify_json(&mut event, received);
        return Ok(event);
    }
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| ParseError { parser: "json", message: format!("invalid JSON: {e}") })?;
    let mut event = crate::from_json_object(&value).map_err(err("json"))?;
    sources::classify_json(&mut event, received);
    Ok(event)
}

fn push_pairs(event: &mut Event, pairs: Vec<(&str, Cow<'_, str>)>) {
    for (k, v) in pairs {
        event.push(k, Value::Str(v.into_owned().into()));
    }
}

fn finish_kv(event: &mut Event, received: Timestamp) {
    ecs::apply(event, "kv");
    if event.timestamp.is_none() {
        // FortiGate and friends: `date=2026-11-22 time=10:00:00`.
        let stamp = match (event.text("date"), event.text("time")) {
            (Some(d), Some(t)) => time::loose(&format!("{d} {t}"), received),
            _ => None,
        };
        event.timestamp = stamp;
    }
}

fn device(record: cef::Record<'_>, received: Timestamp) -> Event {
    let mut event = Event::new();
    push_device(&mut event, record, received);
    event
}

fn push_device(event: &mut Event, record: cef::Record<'_>, received: Timestamp) {
    let kind = record.kind;
    event.push(format!("{kind}.version"), Value::Str(record.version.into_owned().into()));
    for (k, v) in record.header {
        event.push(k, Value::Str(v.into_owned().into()));
    }
    push_pairs(event, record.attrs);
    // Device time: CEF `rt`, LEEF `devTime`.
    let stamp =
        ["rt", "devTime", "end", "start"].iter().find_map(|f| event.text(f).and_then(|t| time::loose(&t, received)));
    if stamp.is_some() {
        event.timestamp = stamp;
    }
    ecs::apply(event, kind);
}

fn syslog_event(text: &str, received: Timestamp) -> Result<Event, ParseError> {
    let line = syslog::parse(text, received).map_err(err("syslog"))?;
    let mut event = Event::new();
    let text = |s: &str| Value::Str(s.into());
    if let Some(pri) = line.priority {
        event.push("log.syslog.priority", Value::Int(pri.into()));
        event.push("log.syslog.facility.code", Value::Int((pri >> 3).into()));
        event.push("log.syslog.facility.name", text(syslog::facility_name(pri >> 3)));
        event.push("log.syslog.severity.code", Value::Int((pri & 7).into()));
        event.push("log.syslog.severity.name", text(syslog::severity_name(pri & 7)));
    }
    if let Some(v) = line.version {
        event.push("log.syslog.version", Value::Int(v.into()));
    }
    if let Some(h) = line.hostname {
        event.push("host.name", text(h));
    }
    if let Some(app) = line.app_name {
        event.push("log.syslog.appname", text(app));
        event.push("process.name", text(app));
    }
    if let Some(pid) = line.proc_id {
        event.push("log.syslog.procid", text(pid));
        if let Ok(n) = pid.parse::<i64>() {
            event.push("process.pid", Value::Int(n));
        }
    }
    if let Some(id) = line.msg_id {
        event.push("log.syslog.msgid", text(id));
    }
    for (id, params) in &line.structured {
        for (name, value) in params {
            event.push(format!("log.syslog.structured_data.{id}.{name}"), text(value));
        }
    }
    event.push("message", text(line.message));
    event.timestamp = line.timestamp;
    event.views = linux_views(line.app_name, line.priority);
    // The message may carry a record of its own.
    let msg = line.message.trim();
    if msg.starts_with('{') {
        limits::depth(msg).map_err(err("limits"))?;
    }
    crate::auth::apply(&mut event, line.app_name, msg);
    if msg.starts_with("CEF:") {
        push_device(&mut event, cef::parse_cef(msg).map_err(err("cef"))?, received);
        event.views.clear();
    } else if msg.starts_with("LEEF:") {
        push_device(&mut event, cef::parse_leef(msg).map_err(err("leef"))?, received);
        event.views.clear();
    } else if msg.starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(msg)
    {
        let stamp = event.timestamp;
        event.views.clear();
        event.timestamp = None;
        model::flatten_into(&mut event, "", &map);
        sources::classify_json(&mut event, received);
        event.timestamp = event.timestamp.or(stamp);
    } else if kv_like(msg) {
        let (pairs, _) = cef::parse_kv(msg);
        push_pairs(&mut event, pairs);
        finish_kv(&mut event, received);
    }
    Ok(event)
}

/// Syslog from Linux programs: `product: linux` with `service: syslog`,
/// plus the program as the Sigma service when rules know it (`sshd`, `sudo`,
/// `cron`, …) and `auth` for the auth facilities.
fn linux_views(app: Option<&str>, priority: Option<u8>) -> Vec<std::sync::Arc<model::SourceView>> {
    const SERVICES: [&str; 8] = ["sshd", "sudo", "cron", "su", "vsftpd", "auditd", "clamav", "guacamole"];
    let mut out = vec![sources::view(Some("linux"), None, Some("syslog"))];
    let app = app.map(|a| a.rsplit('/').next().unwrap_or(a));
    if let Some(a) = app
        && let Some(s) = SERVICES.iter().find(|s| s.eq_ignore_ascii_case(a))
    {
        out.push(sources::view(Some("linux"), None, Some(s)));
    }
    if matches!(priority.map(|p| p >> 3), Some(4 | 10)) {
        out.push(sources::view(Some("linux"), None, Some("auth")));
    }
    out
}
