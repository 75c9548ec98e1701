//! Which product wrote a JSON record, by the keys it has: AWS CloudTrail,
//! Zeek, Suricata EVE, Windows events from shippers (Winlogbeat's `winlog.*`
//! or NXLog's flat `EventID`/`Channel`) and OpenTelemetry log records. Each
//! gets its Sigma log source, its timestamp and its ECS core.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jiff::Timestamp;
use model::{Event, LogSource, SourceView, Value};

use crate::{WindowsRouting, ecs, time};

/// A shared view for `product/category/service`. Views are interned so the
/// matcher's per-view caches hit by pointer; names come from input (Zeek's
/// `_path`), so the table stops growing at a fixed size.
pub fn view(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> Arc<SourceView> {
    static VIEWS: OnceLock<Mutex<HashMap<LogSource, Arc<SourceView>>>> = OnceLock::new();
    let logsource = LogSource::new(product, category, service);
    let Ok(mut map) = VIEWS.get_or_init(Default::default).lock() else {
        return Arc::new(SourceView { logsource, aliases: Vec::new() });
    };
    if let Some(v) = map.get(&logsource) {
        return v.clone();
    }
    let v = Arc::new(SourceView { logsource: logsource.clone(), aliases: Vec::new() });
    if map.len() < 4096 {
        map.insert(logsource, v.clone());
    }
    v
}

/// Recognises the product of a flattened JSON record and completes it.
/// Records that already have views (Windows `Event.System` records) only get
/// their ECS core.
pub(crate) fn classify_json(event: &mut Event, received: Timestamp) {
    if !event.views.is_empty() {
        ecs::apply(event, "windows");
        return;
    }
    let kind = {
        let has = |name: &str| event.get(name).is_some();
        if has("eventSource") && has("eventName") && has("eventVersion") {
            Kind::CloudTrail
        } else if has("_path") || (has("uid") && has("id.orig_h")) {
            Kind::Zeek
        } else if has("event_type") && (has("src_ip") || has("flow_id")) {
            Kind::Suricata
        } else if has("winlog.event_id") || has("winlog.channel") {
            Kind::Winlogbeat
        } else if has("EventID") && has("Channel") {
            Kind::FlatWindows
        } else if (has("severity_number") || has("severity_text"))
            && event.fields().iter().any(|(n, _)| n.starts_with("attributes.") || n.starts_with("resource."))
        {
            Kind::Otel
        } else {
            Kind::Other
        }
    };
    let format = match kind {
        Kind::CloudTrail => {
            event.views = vec![view(Some("aws"), None, Some("cloudtrail"))];
            let failed = event.get("errorCode").is_some();
            event.push("event.outcome", Value::Str(if failed { "failure" } else { "success" }.into()));
            "cloudtrail"
        }
        Kind::Zeek => {
            let path = event.text("_path").map(|p| p.into_owned());
            event.views = vec![view(Some("zeek"), None, path.as_deref())];
            "zeek"
        }
        Kind::Suricata => {
            event.views = vec![view(Some("suricata"), None, None)];
            "suricata"
        }
        Kind::Winlogbeat => {
            winlogbeat(event);
            "windows"
        }
        Kind::FlatWindows => {
            // NXLog writes event data beside the record's own fields, and
            // an element left empty as an empty string: read it as the
            // EVTX form's empty element is (`windows::empty_data`).
            if let Value::Null = crate::windows::empty_data(event.text("Channel").as_deref()) {
                event.map_values(|_, v| {
                    if matches!(v, Value::Str(s) if s.is_empty()) {
                        *v = Value::Null;
                    }
                });
            }
            if event.get("Provider_Name").is_none()
                && let Some(source) = event.get("SourceName").cloned()
            {
                event.push("Provider_Name", source);
            }
            route_windows(event);
            "windows"
        }
        Kind::Otel => {
            otel(event);
            "json"
        }
        Kind::Other => "json",
    };
    if event.timestamp.is_none() {
        event.timestamp = ["@timestamp", "eventTime", "timestamp", "ts", "time", "EventTime", "TimeCreated_SystemTime"]
            .iter()
            .find_map(|f| event.get(f).and_then(|v| timestamp_of(v, received)));
    }
    ecs::apply(event, format);
}

enum Kind {
    CloudTrail,
    Zeek,
    Suricata,
    Winlogbeat,
    FlatWindows,
    Otel,
    Other,
}

/// OpenTelemetry log records (as `wire::otlp` writes them): attributes and
/// resource attributes use the same dotted names as ECS (`user.name`,
/// `service.name`), so they are also given without their prefix.
fn otel(event: &mut Event) {
    let mut add = Vec::new();
    for (name, value) in event.fields() {
        if let Some(bare) = name.strip_prefix("attributes.").or_else(|| name.strip_prefix("resource.")) {
            add.push((bare.to_string(), value.clone()));
        }
    }
    for (name, value) in add {
        if event.get(&name).is_none() {
            event.push(name, value);
        }
    }
}

fn timestamp_of(value: &Value, received: Timestamp) -> Option<Timestamp> {
    match value {
        Value::Int(i) => time::epoch(&i.to_string()),
        Value::Float(f) => {
            // Zeek's `ts`: seconds with a fraction. Split before scaling so
            // `.25` stays 250 ms instead of picking up binary noise.
            let (secs, frac) = (f.trunc(), f.fract());
            Timestamp::new(secs as i64, (frac * 1e9).round() as i32).ok()
        }
        Value::Str(s) => time::loose(s, received),
        _ => None,
    }
}

/// Winlogbeat's `winlog.*` names to the names of the EVTX form.
fn winlogbeat(event: &mut Event) {
    let mut add = Vec::new();
    let empty = crate::windows::empty_data(event.text("winlog.channel").as_deref());
    for (name, value) in event.fields() {
        let sigma = match &**name {
            "winlog.event_id" => "EventID".to_string(),
            "winlog.channel" => "Channel".to_string(),
            "winlog.provider_name" => "Provider_Name".to_string(),
            "winlog.computer_name" => "Computer".to_string(),
            "winlog.record_id" => "EventRecordID".to_string(),
            other => match other.strip_prefix("winlog.event_data.").or_else(|| other.strip_prefix("winlog.user_data."))
            {
                Some(rest) if !rest.contains('.') => rest.to_string(),
                _ => continue,
            },
        };
        // Winlogbeat writes the event id as a string.
        let value = match (&*sigma, value) {
            ("EventID", Value::Str(s)) => s.parse::<i64>().map_or_else(|_| value.clone(), Value::Int),
            _ if name.starts_with("winlog.event_data.") => crate::windows::data_value(value.clone(), &empty),
            _ => value.clone(),
        };
        add.push((sigma, value));
    }
    for (name, value) in add {
        if event.get(&name).is_none() {
            event.push(name, value);
        }
    }
    route_windows(event);
}

fn route_windows(event: &mut Event) {
    let channel = event.text("Channel").map(|c| c.into_owned());
    let event_id = event.get("EventID").and_then(Value::as_f64).map(|f| f as i64);
    let views =
        WindowsRouting::builtin().views(channel.as_deref(), event_id, |f| event.text(f).map(|c| c.into_owned().into()));
    event.views = views;
}
