//! Windows event records (the JSON form of the EVTX XML) to flat events.
//!
//! `Event.System` children become fields by name; their XML attributes become
//! `<Element>_<Attribute>` (`Provider_Name`, `TimeCreated_SystemTime`,
//! `Execution_ProcessID`), as Sigma's Windows rules expect. `EventData` items
//! become fields by their `Name` with spaces removed; `UserData` leaves become
//! fields by their element name.

use model::{Event, Value};
use serde_json::{Map, Value as Json};

use crate::WindowsRouting;

const ATTRS: &str = "#attributes";
const TEXT: &str = "#text";

/// Flattens one record (`{"Event": {"System": …, "EventData": …}}`).
pub fn from_json(record: &Json, routing: &WindowsRouting) -> Result<Event, String> {
    let event_obj = record.get("Event").and_then(Json::as_object).ok_or("record has no `Event` object")?;
    let system = event_obj.get("System").and_then(Json::as_object).ok_or("record has no `Event.System` object")?;
    let mut event = Event::new();
    for (name, value) in system {
        system_field(&mut event, name, value);
    }
    for (section, value) in event_obj {
        match section.as_str() {
            "System" | ATTRS => {}
            "EventData" => {
                let empty = empty_data(event.text("Channel").as_deref());
                event_data(&mut event, value, &empty)
            }
            // UserData, RenderingInfo, ProcessingErrorData, DebugData…:
            // their leaves by element name.
            _ => leaves(&mut event, value, section),
        }
    }
    event.timestamp = event.text("TimeCreated_SystemTime").and_then(|t| t.parse::<model::Timestamp>().ok());
    let channel = event.text("Channel").map(|c| c.into_owned());
    let event_id = event.get("EventID").and_then(|v| v.as_f64()).map(|f| f as i64);
    let views = routing.views(channel.as_deref(), event_id, |f| event.text(f).map(|c| c.into_owned().into()));
    event.views = views;
    Ok(event)
}

fn system_field(event: &mut Event, name: &str, value: &Json) {
    match value {
        Json::Object(obj) => {
            if let Some(text) = obj.get(TEXT) {
                event.push(name, scalar(text));
            }
            if let Some(Json::Object(attrs)) = obj.get(ATTRS) {
                for (attr, v) in attrs {
                    event.push(format!("{name}_{attr}"), scalar(v));
                }
            }
            for (child, v) in obj {
                if child != TEXT && child != ATTRS {
                    system_field(event, &format!("{name}_{child}"), v);
                }
            }
        }
        other => event.push(name, scalar(other)),
    }
}

/// Channels where an empty data element is a value, not "not set": the
/// firewall log writes an empty `ApplicationPath` for a rule that applies
/// to every application (SigmaHQ's firewall rules test `null` and `''`
/// apart).
const EMPTY_IS_A_VALUE: [&str; 1] = ["Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"];

/// What an empty data element of `channel` reads as. Windows logs write an
/// element for every field of an event's schema and leave those not set
/// empty (Sysmon's `StartModule` of a thread that starts outside any
/// module, Security 4688's `CommandLine` without command-line auditing):
/// that is Sigma's `null`, which `''` also matches. In the channels of
/// [`EMPTY_IS_A_VALUE`], empty is the empty string, which only `''`
/// matches. docs/sigma-semantics.md has the reasoning.
pub(crate) fn empty_data(channel: Option<&str>) -> Value {
    if channel.is_some_and(|c| EMPTY_IS_A_VALUE.iter().any(|e| e.eq_ignore_ascii_case(c))) {
        Value::Str("".into())
    } else {
        Value::Null
    }
}

/// An event-data value, with an empty one read as `empty` says.
pub(crate) fn data_value(value: Value, empty: &Value) -> Value {
    match &value {
        Value::Null => empty.clone(),
        Value::Str(s) if s.is_empty() => empty.clone(),
        _ => value,
    }
}

fn event_data(event: &mut Event, value: &Json, empty: &Value) {
    let Json::Object(obj) = value else {
        // `<EventData>text</EventData>` or null.
        if !value.is_null() {
            event.push("EventData", scalar(value));
        }
        return;
    };
    for (name, v) in obj {
        match name.as_str() {
            ATTRS => {}
            // Unnamed `<Data>` items, rendered as `Data` (a value or a list).
            "Data" => match v {
                Json::Object(inner) => match inner.get(TEXT) {
                    Some(t) => event.push("Data", data_value(scalar(t), empty)),
                    None => leaves(event, v, "Data"),
                },
                other => event.push("Data", data_value(scalar(other), empty)),
            },
            _ => {
                let field: String = name.chars().filter(|c| !c.is_whitespace()).collect();
                match v {
                    // An element with attributes and no text is empty too.
                    Json::Object(inner) if inner.keys().all(|k| k == ATTRS) => event.push(field, empty.clone()),
                    Json::Object(inner) => match inner.get(TEXT) {
                        Some(t) => event.push(field, data_value(scalar(t), empty)),
                        None => leaves(event, v, &field),
                    },
                    other => event.push(field, data_value(scalar(other), empty)),
                }
            }
        }
    }
}

/// Pushes every leaf under `value` by its own element name.
fn leaves(event: &mut Event, value: &Json, name: &str) {
    match value {
        Json::Object(obj) => leaves_of(event, obj, name),
        other => event.push(name, scalar(other)),
    }
}

fn leaves_of(event: &mut Event, obj: &Map<String, Json>, name: &str) {
    if let Some(text) = obj.get(TEXT) {
        event.push(name, scalar(text));
    }
    for (child, v) in obj {
        if child == ATTRS || child == TEXT {
            continue;
        }
        match v {
            Json::Object(inner) => leaves_of(event, inner, child),
            other => event.push(child.as_str(), scalar(other)),
        }
    }
}

fn scalar(v: &Json) -> Value {
    match v {
        Json::Array(items) => Value::Array(items.iter().map(scalar).collect()),
        other => Value::from_json(other),
    }
}
