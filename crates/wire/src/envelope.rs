//! Envelopes that carry many records in one JSON value: AWS CloudTrail
//! delivers `{"Records": [...]}` files (and shippers forward them as one
//! line), and some tools write a JSON array of events.

use serde_json::Value;

/// The records inside `value` when it is an envelope (each as JSON text),
/// or `None` when it is a single record.
pub fn unwrap(value: Value) -> Result<Vec<String>, Value> {
    match value {
        Value::Object(mut o) if o.len() == 1 && o.get("Records").is_some_and(Value::is_array) => {
            match o.remove("Records") {
                Some(Value::Array(records)) => Ok(records.into_iter().map(|r| r.to_string()).collect()),
                _ => Err(Value::Object(o)),
            }
        }
        Value::Array(items) => Ok(items.into_iter().map(|r| r.to_string()).collect()),
        other => Err(other),
    }
}

/// For one line of text: the records of the envelope it holds, if it is
/// one. Cheap for the common case: only lines that start like an envelope
/// are parsed.
pub fn unwrap_line(line: &str) -> Option<Vec<String>> {
    let t = line.trim_start();
    let looks = t.starts_with('[') || (t.starts_with('{') && t[1..].trim_start().starts_with("\"Records\""));
    if !looks {
        return None;
    }
    serde_json::from_str::<Value>(t).ok().and_then(|v| unwrap(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_single_records() {
        let trail = r#"{"Records":[{"eventName":"A"},{"eventName":"B"}]}"#;
        assert_eq!(unwrap_line(trail).unwrap(), [r#"{"eventName":"A"}"#, r#"{"eventName":"B"}"#]);
        assert_eq!(unwrap_line(r#"[{"a":1},{"b":2}]"#).unwrap().len(), 2);
        assert_eq!(unwrap_line(r#"{"Records":[1], "other": 2}"#), None);
        assert_eq!(unwrap_line(r#"{"a":1}"#), None);
        assert_eq!(unwrap_line(r#"{"Records": broken"#), None);
    }
}
