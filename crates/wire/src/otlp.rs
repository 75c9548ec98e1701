//! OTLP log exports (`POST /v1/logs`) to one JSON record per log record.
//!
//! The protobuf form (`application/x-protobuf`) is decoded by hand: the
//! logs part of OTLP is six small messages, and a direct decoder keeps the
//! code generator and its dependencies out of the build. The JSON form
//! (`application/json`) follows the OTLP/JSON mapping (camelCase names,
//! 64-bit integers as strings, ids as hex).
//!
//! Each record is
//! `{"@timestamp", "observed_timestamp", "severity_text", "severity_number",
//! "body", "attributes": {..}, "resource": {..}, "scope": {"name", "version"},
//! "trace_id", "span_id", "event_name"}`, with absent parts left out.

use serde_json::{Map, Value};

/// Nesting limit for AnyValue arrays and maps: deeper input is an error,
/// not a stack overflow.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, OtlpError> {
    Err(OtlpError(m.into()))
}

/// Decodes an `ExportLogsServiceRequest` in protobuf.
pub fn decode_protobuf(bytes: &[u8]) -> Result<Vec<String>, OtlpError> {
    let mut out = Vec::new();
    for field in Fields::new(bytes) {
        let (num, val) = field?;
        if num == 1 {
            resource_logs(val.bytes()?, &mut out)?;
        }
    }
    Ok(out)
}

fn resource_logs(bytes: &[u8], out: &mut Vec<String>) -> Result<(), OtlpError> {
    let mut resource = Map::new();
    let mut scopes = Vec::new();
    for field in Fields::new(bytes) {
        match field? {
            (1, v) => {
                for f in Fields::new(v.bytes()?) {
                    if let (1, kv) = f? {
                        key_value(kv.bytes()?, &mut resource, 0)?;
                    }
                }
            }
            (2, v) => scopes.push(v.bytes()?),
            _ => {}
        }
    }
    for scope in scopes {
        scope_logs(scope, &resource, out)?;
    }
    Ok(())
}

fn scope_logs(bytes: &[u8], resource: &Map<String, Value>, out: &mut Vec<String>) -> Result<(), OtlpError> {
    let mut scope = Map::new();
    let mut records = Vec::new();
    for field in Fields::new(bytes) {
        match field? {
            (1, v) => {
                for f in Fields::new(v.bytes()?) {
                    match f? {
                        (1, s) => {
                            scope.insert("name".into(), Value::String(s.string()?));
                        }
                        (2, s) => {
                            scope.insert("version".into(), Value::String(s.string()?));
                        }
                        _ => {}
                    }
                }
            }
            (2, v) => records.push(v.bytes()?),
            _ => {}
        }
    }
    for r in records {
        let mut rec = log_record(r)?;
        finish(&mut rec, resource, &scope);
        out.push(Value::Object(rec).to_string());
    }
    Ok(())
}

fn finish(rec: &mut Map<String, Value>, resource: &Map<String, Value>, scope: &Map<String, Value>) {
    if !resource.is_empty() {
        rec.insert("resource".into(), Value::Object(resource.clone()));
    }
    if !scope.is_empty() {
        rec.insert("scope".into(), Value::Object(scope.clone()));
    }
}

fn log_record(bytes: &[u8]) -> Result<Map<String, Value>, OtlpError> {
    let mut rec = Map::new();
    let mut attrs = Map::new();
    for field in Fields::new(bytes) {
        match field? {
            (1, v) => put_time(&mut rec, "@timestamp", v.fixed64()?),
            (11, v) => put_time(&mut rec, "observed_timestamp", v.fixed64()?),
            (2, v) => {
                rec.insert("severity_number".into(), Value::from(v.varint()?));
            }
            (3, v) => {
                rec.insert("severity_text".into(), Value::String(v.string()?));
            }
            (5, v) => {
                rec.insert("body".into(), any_value(v.bytes()?, 0)?);
            }
            (6, v) => key_value(v.bytes()?, &mut attrs, 0)?,
            (9, v) => put_hex(&mut rec, "trace_id", v.bytes()?),
            (10, v) => put_hex(&mut rec, "span_id", v.bytes()?),
            (12, v) => {
                rec.insert("event_name".into(), Value::String(v.string()?));
            }
            _ => {}
        }
    }
    if !attrs.is_empty() {
        rec.insert("attributes".into(), Value::Object(attrs));
    }
    Ok(rec)
}

fn put_time(rec: &mut Map<String, Value>, key: &str, nanos: u64) {
    if nanos == 0 {
        return;
    }
    if let Ok(ts) = jiff::Timestamp::from_nanosecond(i128::from(nanos)) {
        rec.insert(key.into(), Value::String(ts.to_string()));
    }
}

fn put_hex(rec: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    if bytes.iter().any(|&b| b != 0) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        rec.insert(key.into(), Value::String(hex));
    }
}

fn key_value(bytes: &[u8], into: &mut Map<String, Value>, depth: usize) -> Result<(), OtlpError> {
    let mut key = String::new();
    let mut value = Value::Null;
    for field in Fields::new(bytes) {
        match field? {
            (1, v) => key = v.string()?,
            (2, v) => value = any_value(v.bytes()?, depth + 1)?,
            _ => {}
        }
    }
    into.insert(key, value);
    Ok(())
}

fn any_value(bytes: &[u8], depth: usize) -> Result<Value, OtlpError> {
    if depth > MAX_DEPTH {
        return err("attribute values nested too deeply");
    }
    let mut out = Value::Null;
    for field in Fields::new(bytes) {
        out = match field? {
            (1, v) => Value::String(v.string()?),
            (2, v) => Value::Bool(v.varint()? != 0),
            (3, v) => Value::from(v.varint()? as i64),
            (4, v) => serde_json::Number::from_f64(f64::from_bits(v.fixed64()?)).map_or(Value::Null, Value::Number),
            (5, v) => {
                let mut items = Vec::new();
                for f in Fields::new(v.bytes()?) {
                    if let (1, item) = f? {
                        items.push(any_value(item.bytes()?, depth + 1)?);
                    }
                }
                Value::Array(items)
            }
            (6, v) => {
                let mut map = Map::new();
                for f in Fields::new(v.bytes()?) {
                    if let (1, kv) = f? {
                        key_value(kv.bytes()?, &mut map, depth + 1)?;
                    }
                }
                Value::Object(map)
            }
            (7, v) => Value::String(v.bytes()?.iter().map(|b| format!("{b:02x}")).collect()),
            _ => continue,
        };
    }
    Ok(out)
}

/// A field's value as the wire carried it.
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl<'a> Wire<'a> {
    fn bytes(self) -> Result<&'a [u8], OtlpError> {
        match self {
            Wire::Bytes(b) => Ok(b),
            _ => err("expected a length-delimited field"),
        }
    }

    fn string(self) -> Result<String, OtlpError> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    fn varint(self) -> Result<u64, OtlpError> {
        match self {
            Wire::Varint(v) => Ok(v),
            _ => err("expected a varint field"),
        }
    }

    fn fixed64(self) -> Result<u64, OtlpError> {
        match self {
            Wire::Fixed64(v) => Ok(v),
            Wire::Fixed32(v) => Ok(u64::from(v)),
            _ => err("expected a fixed64 field"),
        }
    }
}

/// Iterates `(field number, value)` over one message.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields { bytes, at: 0, failed: false }
    }

    fn varint(&mut self) -> Result<u64, OtlpError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.at) else { return err("message cut short inside a varint") };
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("varint longer than 10 bytes")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], OtlpError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else { return err("message cut short inside a field") };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn field(&mut self) -> Result<(u64, Wire<'a>), OtlpError> {
        let key = self.varint()?;
        let num = key >> 3;
        let value = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Wire::Fixed64(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            }
            2 => {
                let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                let b = self.take(4)?;
                Wire::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            t => return err(format!("unsupported wire type {t} in field {num}")),
        };
        Ok((num, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), OtlpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.bytes.len() {
            return None;
        }
        let r = self.field();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Decodes an `ExportLogsServiceRequest` in OTLP/JSON.
pub fn decode_json(bytes: &[u8]) -> Result<Vec<String>, OtlpError> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| OtlpError(format!("invalid JSON: {e}")))?;
    let mut out = Vec::new();
    for rl in array(&root, "resourceLogs") {
        let mut resource = Map::new();
        for kv in array(&rl["resource"], "attributes") {
            json_key_value(kv, &mut resource, 0)?;
        }
        for sl in array(rl, "scopeLogs") {
            let mut scope = Map::new();
            for key in ["name", "version"] {
                if let Some(s) = sl["scope"][key].as_str().filter(|s| !s.is_empty()) {
                    scope.insert(key.into(), Value::String(s.into()));
                }
            }
            for lr in array(sl, "logRecords") {
                let mut rec = Map::new();
                for (key, name) in [("timeUnixNano", "@timestamp"), ("observedTimeUnixNano", "observed_timestamp")] {
                    if let Some(n) = json_u64(&lr[key]) {
                        put_time(&mut rec, name, n);
                    }
                }
                if let Some(n) = json_u64(&lr["severityNumber"]) {
                    rec.insert("severity_number".into(), Value::from(n));
                }
                for (key, name) in [
                    ("severityText", "severity_text"),
                    ("traceId", "trace_id"),
                    ("spanId", "span_id"),
                    ("eventName", "event_name"),
                ] {
                    if let Some(s) = lr[key].as_str().filter(|s| !s.is_empty()) {
                        // Ids are hex; protobuf decoding writes them lowercase.
                        let s = if key == "severityText" { s.to_string() } else { s.to_ascii_lowercase() };
                        rec.insert(name.into(), Value::String(s));
                    }
                }
                if !lr["body"].is_null() {
                    rec.insert("body".into(), json_any(&lr["body"], 0)?);
                }
                let mut attrs = Map::new();
                for kv in array(lr, "attributes") {
                    json_key_value(kv, &mut attrs, 0)?;
                }
                if !attrs.is_empty() {
                    rec.insert("attributes".into(), Value::Object(attrs));
                }
                finish(&mut rec, &resource, &scope);
                out.push(Value::Object(rec).to_string());
            }
        }
    }
    Ok(out)
}

fn array<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn json_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn json_key_value(kv: &Value, into: &mut Map<String, Value>, depth: usize) -> Result<(), OtlpError> {
    let key = kv["key"].as_str().unwrap_or_default().to_string();
    into.insert(key, json_any(&kv["value"], depth + 1)?);
    Ok(())
}

fn json_any(v: &Value, depth: usize) -> Result<Value, OtlpError> {
    if depth > MAX_DEPTH {
        return err("attribute values nested too deeply");
    }
    let Some(obj) = v.as_object() else { return Ok(Value::Null) };
    let Some((kind, inner)) = obj.iter().next() else { return Ok(Value::Null) };
    Ok(match kind.as_str() {
        "stringValue" | "boolValue" | "doubleValue" | "bytesValue" => inner.clone(),
        "intValue" => json_u64(inner).map(|n| Value::from(n as i64)).unwrap_or_else(|| inner.clone()),
        "arrayValue" => Value::Array(array(inner, "values").map(|x| json_any(x, depth + 1)).collect::<Result<_, _>>()?),
        "kvlistValue" => {
            let mut map = Map::new();
            for kv in array(inner, "values") {
                json_key_value(kv, &mut map, depth + 1)?;
            }
            Value::Object(map)
        }
        _ => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny protobuf writer for building test messages.
    fn field(num: u64, wire: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = varint((num << 3) | wire);
        if wire == 2 {
            out.extend(varint(payload.len() as u64));
        }
        out.extend_from_slice(payload);
        out
    }

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn kv(key: &str, value: &[u8]) -> Vec<u8> {
        [field(1, 2, key.as_bytes()), field(2, 2, value)].concat()
    }

    #[test]
    fn protobuf_and_json_give_the_same_records() {
        let str_value = |s: &str| field(1, 2, s.as_bytes());
        let record = [
            field(1, 1, &1_700_000_000_000_000_000u64.to_le_bytes()),
            field(2, 0, &varint(9)),
            field(3, 2, b"INFO"),
            field(5, 2, &str_value("user alice logged in")),
            field(6, 2, &kv("user.name", &str_value("alice"))),
            field(6, 2, &kv("count", &field(3, 0, &varint(3)))),
            field(9, 2, &[0xab; 16]),
        ]
        .concat();
        let scope = [field(1, 2, &field(1, 2, b"app.logger")), field(2, 2, &record)].concat();
        let resource = field(1, 2, &kv("service.name", &str_value("shop")));
        let rl = [field(1, 2, &resource), field(2, 2, &scope)].concat();
        let req = field(1, 2, &rl);
        let got = decode_protobuf(&req).unwrap();
        let want = r#"{"@timestamp":"2023-11-14T22:13:20Z","severity_number":9,"severity_text":"INFO","body":"user alice logged in","trace_id":"abababababababababababababababab","attributes":{"user.name":"alice","count":3},"resource":{"service.name":"shop"},"scope":{"name":"app.logger"}}"#;
        assert_eq!(got, [want]);

        let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
            "scopeLogs":[{"scope":{"name":"app.logger"},"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":9,
            "severityText":"INFO","body":{"stringValue":"user alice logged in"},"traceId":"ABABABABABABABABABABABABABABABAB",
            "attributes":[{"key":"user.name","value":{"stringValue":"alice"}},{"key":"count","value":{"intValue":"3"}}]}]}]}]}"#;
        let got: Vec<Value> =
            decode_json(json.as_bytes()).unwrap().iter().map(|r| serde_json::from_str(r).unwrap()).collect();
        let want: Value = serde_json::from_str(want).unwrap();
        assert_eq!(got, [want]);
    }

    #[test]
    fn damage_is_an_error() {
        assert!(decode_protobuf(&[0x0a, 0x05, 1]).is_err());
        assert!(decode_protobuf(&[0x0b]).is_err());
        assert!(decode_json(b"{").is_err());
        // Deep nesting is refused, not followed.
        let mut v = field(1, 2, b"x");
        for _ in 0..100 {
            v = field(5, 2, &field(1, 2, &v));
        }
        let rec = field(5, 2, &v);
        let req = field(1, 2, &field(2, 2, &field(2, 2, &rec)));
        assert!(decode_protobuf(&req).is_err());
    }
}
