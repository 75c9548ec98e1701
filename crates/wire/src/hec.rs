//! Splunk HTTP Event Collector bodies.
//!
//! `/services/collector/event` takes JSON objects one after another, each
//! with an `event` (a string or an object) and optional `time`, `host`,
//! `source`, `sourcetype`, `index` and `fields`. An object event becomes a
//! JSON record with the metadata added; a string event stays the log line
//! it is when it looks like one (syslog, CEF, LEEF), else it becomes a JSON
//! record with `message`. `/services/collector/raw` takes lines.
//!
//! As in Splunk, events before an invalid one are accepted and the answer
//! names the invalid one; the unreadable rest is handed over as one record
//! that the parser will refuse, so it lands in the dead letter.

use serde_json::{Map, Value};

/// A HEC status: Splunk's code, text and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub http: u16,
    pub code: u32,
    pub text: &'static str,
    /// Zero-based index of the event the error is about.
    pub invalid_event: Option<usize>,
}

pub const SUCCESS: Status = Status { http: 200, code: 0, text: "Success", invalid_event: None };
pub const TOKEN_REQUIRED: Status = Status { http: 401, code: 2, text: "Token is required", invalid_event: None };
pub const INVALID_AUTHORIZATION: Status =
    Status { http: 401, code: 3, text: "Invalid authorization", invalid_event: None };
pub const TOKEN_DISABLED: Status = Status { http: 403, code: 1, text: "Token disabled", invalid_event: None };
pub const INVALID_TOKEN: Status = Status { http: 403, code: 4, text: "Invalid token", invalid_event: None };
pub const NO_DATA: Status = Status { http: 400, code: 5, text: "No data", invalid_event: None };
pub const SERVER_BUSY: Status = Status { http: 503, code: 9, text: "Server is busy", invalid_event: None };
pub const HEALTHY: Status = Status { http: 200, code: 17, text: "HEC is healthy", invalid_event: None };

fn invalid(code: u32, text: &'static str, n: usize) -> Status {
    Status { http: 400, code, text, invalid_event: Some(n) }
}

impl Status {
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("text".into(), self.text.into());
        m.insert("code".into(), self.code.into());
        if let Some(n) = self.invalid_event {
            m.insert("invalid-event-number".into(), n.into());
        }
        Value::Object(m)
    }
}

/// A record and the parser it asks for (`auto` or `json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub text: String,
    pub format: &'static str,
}

/// Records of an event-endpoint body, and the status to answer with.
pub fn parse_events(body: &[u8]) -> (Vec<Record>, Status) {
    let mut events = Events::default();
    events.feed(body);
    events.finish()
}

/// An event-endpoint body read in parts as it arrives ([`parse_events`]
/// for one in one piece). The objects are cut apart by a scan that
/// follows only strings and brackets, so each is parsed once, alone, and
/// the work stays linear in the body however it is split.
#[derive(Default)]
pub struct Events {
    /// The bytes of the object being read (it may span parts); after an
    /// unreadable one, everything from its start.
    value: Vec<u8>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Whether anything but whitespace came.
    seen: bool,
    /// Objects read.
    n: usize,
    out: Vec<Record>,
    /// Set at the first invalid event; `true` when the rest of the body is
    /// kept (it could not be read) rather than dropped.
    ended: Option<(Status, bool)>,
}

impl Events {
    /// Takes the next part of the body.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.ended {
                Some((_, true)) => return self.value.extend_from_slice(bytes),
                Some((_, false)) => return,
                None => {}
            }
            if self.depth == 0 {
                let Some(at) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else { return };
                self.seen = true;
                bytes = &bytes[at..];
                if bytes[0] != b'{' {
                    self.ended = Some((invalid(6, "Invalid data format", self.n), true));
                    continue;
                }
            }
            let (taken, closed) = self.scan(bytes);
            self.value.extend_from_slice(&bytes[..taken]);
            bytes = &bytes[taken..];
            if closed {
                self.complete();
            }
        }
    }

    /// How many bytes of `bytes` belong to the current object, and
    /// whether they close it.
    fn scan(&mut self, bytes: &[u8]) -> (usize, bool) {
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                _ => {}
            }
        }
        (bytes.len(), false)
    }

    fn complete(&mut self) {
        let text = String::from_utf8_lossy(&self.value);
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(obj)) => match record(obj) {
                Ok(r) => {
                    self.out.push(r);
                    self.n += 1;
                    self.value.clear();
                }
                Err(status) => self.ended = Some((Status { invalid_event: Some(self.n), ..status }, false)),
            },
            _ => self.ended = Some((invalid(6, "Invalid data format", self.n), true)),
        }
    }

    /// The records, and the status to answer with, once the body is in.
    pub fn finish(mut self) -> (Vec<Record>, Status) {
        if !self.seen {
            return (Vec::new(), NO_DATA);
        }
        if self.ended.is_none() && self.depth > 0 {
            self.ended = Some((invalid(6, "Invalid data format", self.n), true));
        }
        match self.ended {
            None => (self.out, SUCCESS),
            Some((status, keep)) => {
                if keep {
                    let rest = String::from_utf8_lossy(&self.value);
                    self.out.push(Record { text: rest.trim().to_string(), format: "json" });
                }
                (self.out, status)
            }
        }
    }
}

fn record(mut obj: Map<String, Value>) -> Result<Record, Status> {
    let event = obj.remove("event").ok_or(invalid(12, "Event field is required", 0))?;
    let mut meta = Map::new();
    for key in ["time", "host", "source", "sourcetype", "index"] {
        if let Some(v) = obj.remove(key) {
            meta.insert(key.to_string(), v);
        }
    }
    if let Some(Value::Object(fields)) = obj.remove("fields") {
        meta.extend(fields);
    }
    match event {
        Value::Null => Err(invalid(13, "Event field cannot be blank", 0)),
        Value::String(s) if s.trim().is_empty() => Err(invalid(13, "Event field cannot be blank", 0)),
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('<') || t.starts_with("CEF:") || t.starts_with("LEEF:") {
                return Ok(Record { text: s, format: "auto" });
            }
            if t.starts_with('{')
                && let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(t)
            {
                return Ok(json_record(inner, meta));
            }
            let mut m = Map::new();
            m.insert("message".into(), Value::String(s));
            Ok(json_record(m, meta))
        }
        Value::Object(inner) => Ok(json_record(inner, meta)),
        other => {
            let mut m = Map::new();
            m.insert("message".into(), other);
            Ok(json_record(m, meta))
        }
    }
}

/// The event with HEC metadata added where the event has no such key.
fn json_record(mut event: Map<String, Value>, meta: Map<String, Value>) -> Record {
    for (k, v) in meta {
        event.entry(k).or_insert(v);
    }
    Record { text: Value::Object(event).to_string(), format: "json" }
}

/// Records of a raw-endpoint body: one per non-empty line.
pub fn parse_raw(body: &[u8]) -> Vec<Record> {
    body.split(|&b| b == b'\n').filter_map(raw_line).collect()
}

/// The record of one line of a raw-endpoint body (without its `\n`), if
/// it is not blank.
pub fn raw_line(line: &[u8]) -> Option<Record> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    if text.trim().is_empty() {
        return None;
    }
    Some(Record { text: text.to_string(), format: "auto" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_with_metadata() {
        let body =
            br#"{"event":"hello","host":"h1","time":1700000000.5}{"event":{"a":1},"sourcetype":"x","fields":{"f":"v"}}
{"event":"<13>Nov 22 10:00:00 h app: line"}"#;
        let (records, status) = parse_events(body);
        assert_eq!(status, SUCCESS);
        assert_eq!(records[0].text, r#"{"message":"hello","time":1700000000.5,"host":"h1"}"#);
        assert_eq!(records[1].text, r#"{"a":1,"sourcetype":"x","f":"v"}"#);
        assert_eq!(records[2], Record { text: "<13>Nov 22 10:00:00 h app: line".into(), format: "auto" });
    }

    #[test]
    fn a_body_in_parts_gives_what_it_gives_whole() {
        let body = "{\"event\":\"a }{ \\\" ]\",\"fields\":{\"k\":[1,{\"x\":\"}\"}]}}\n {\"event\":{\"b\":\"\u{3042}\"}} {\"host\":1} {\"event\":2}";
        let whole = parse_events(body.as_bytes());
        assert_eq!((whole.0.len(), whole.1.invalid_event), (2, Some(2)));
        for cut in 1..body.len() {
            let mut events = Events::default();
            for part in body.as_bytes().chunks(cut) {
                events.feed(part);
            }
            assert_eq!(events.finish(), whole, "parts of {cut} bytes");
        }
    }

    #[test]
    fn raw_lines() {
        let records: Vec<String> = parse_raw(b"a\r\n\n  \nb \xff\n").into_iter().map(|r| r.text).collect();
        assert_eq!(records, ["a", "b \u{fffd}"]);
    }

    #[test]
    fn errors_name_the_event() {
        let (records, status) = parse_events(br#"{"event":"ok"}{"host":"x"}"#);
        assert_eq!((records.len(), status.code, status.invalid_event), (1, 12, Some(1)));
        let (records, status) = parse_events(br#"{"event":"ok"} {broken"#);
        assert_eq!((status.code, status.invalid_event), (6, Some(1)));
        assert_eq!(records[1], Record { text: "{broken".into(), format: "json" });
        assert_eq!(parse_events(b"  ").1, NO_DATA);
        assert_eq!(parse_events(br#"{"event":""}"#).1.code, 13);
        assert_eq!(parse_events(br#"{"event":"ok"} [1] {"event":"x"}"#).0[1].text, r#"[1] {"event":"x"}"#);
        assert_eq!(parse_events(br#"{"event":"ok"} {"event":"#).1.invalid_event, Some(1));
        assert_eq!(SERVER_BUSY.body().to_string(), r#"{"text":"Server is busy","code":9}"#);
    }
}
