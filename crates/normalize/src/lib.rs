//! Raw records to Hinomi [`Event`]s.
//!
//! This crate turns text that a caller has received or read into events:
//! syslog lines (RFC 5424 and 3164, leniently), CEF, LEEF, key=value and
//! JSON records ([`parse_record`]), JSON files ([`read_json`]) and EVTX files
//! ([`read_evtx`]). JSON records are recognised by their keys (CloudTrail,
//! Zeek, Suricata EVE, Windows events from EVTX, Winlogbeat or NXLog) and
//! given their Sigma log sources; Windows events are flattened into the names
//! Sigma rules use and routed with `data/windows-logsources.txt`. Every
//! event keeps its original fields and gains the ECS core listed in
//! `data/ecs-fields.txt`.
//!
//! It does no IO of its own: readers are passed in, and the clock is never
//! read (the caller passes the received time). It knows nothing about rules,
//! listeners or storage.

mod auth;
pub mod cef;
mod ecs;
mod flat;
pub mod limits;
mod record;
mod routing;
mod sources;
pub mod syslog;
mod time;
pub mod windows;

use std::io::{Read, Seek};

use model::{Event, Timestamp};

pub use crate::record::{Format, ParseError, parse_record};
pub use crate::routing::{TableError, WindowsRouting};
pub use crate::sources::view;

/// A record that could not be turned into an event, and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Where in the input: a line number for JSON, a record id for EVTX.
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Converts a JSON object into an event: a Windows record when it has the
/// `Event.System` shape, otherwise a flattened object of unknown log source.
pub fn from_json_object(value: &serde_json::Value) -> Result<Event, String> {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("Event").and_then(|e| e.get("System")).is_some() {
                windows::from_json(value, WindowsRouting::builtin())
            } else {
                Ok(Event::from_json_flat(map))
            }
        }
        other => Err(format!("expected a JSON object, found {}", json_kind(other))),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Reads JSON lines, or JSON objects one after another (pretty-printed
/// `evtx_dump` output). A malformed object is reported with its line and
/// reading goes on at the next line.
pub fn read_json(text: &str) -> impl Iterator<Item = Result<Event, RecordError>> + '_ {
    JsonRecords { text, offset: 0, line: 1 }
}

struct JsonRecords<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl Iterator for JsonRecords<'_> {
    type Item = Result<Event, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.text[self.offset..];
        let skipped = rest.len() - rest.trim_start().len();
        self.line += rest[..skipped].bytes().filter(|&b| b == b'\n').count();
        self.offset += skipped;
        if self.offset >= self.text.len() {
            return None;
        }
        let start_line = self.line;
        let rest = &self.text[self.offset..];
        let checked = |mut event: Event| {
            sources::classify_json(&mut event, Timestamp::UNIX_EPOCH);
            limits::check(&event)
                .map(|()| event)
                .map_err(|message| RecordError { location: format!("line {start_line}"), message })
        };
        // Fast path: a whole object on one line, parsed straight into a flat
        // event. Anything else (Windows records, pretty-printed or
        // concatenated objects, errors) takes the general path below.
        let line_end = memchr_newline(rest);
        let line = &rest[..line_end];
        if let Err(message) = limits::depth(line) {
            self.offset += line_end;
            return Some(Err(RecordError { location: format!("line {start_line}"), message }));
        }
        if let Ok(Some(event)) = flat::parse_object(line) {
            self.offset += line_end;
            return Some(checked(event));
        }
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
        match stream.next()? {
            Ok(value) => {
                let used = stream.byte_offset();
                self.line += rest[..used].bytes().filter(|&b| b == b'\n').count();
                self.offset += used;
                match from_json_object(&value) {
                    Ok(event) => Some(checked(event)),
                    Err(message) => Some(Err(RecordError { location: format!("line {start_line}"), message })),
                }
            }
            Err(e) => {
                // Skip to the next line and go on.
                let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                self.offset += end;
                self.line += 1;
                Some(Err(RecordError {
                    location: format!("line {}", start_line + e.line().saturating_sub(1)),
                    message: format!("invalid JSON: {e}"),
                }))
            }
        }
    }
}

/// Reads every record of an EVTX file, chunk by chunk. Each item is an
/// event or the error of one record or chunk; a file whose header cannot be
/// read is one error.
pub fn read_evtx<R: Read + Seek + Send + 'static>(
    reader: R,
) -> Result<impl Iterator<Item = Result<Event, RecordError>>, RecordError> {
    evtx_records(reader, record_event)
}

/// Like [`read_evtx`], but each record as its JSON text (`{"Event": …}`),
/// for storing it as received before it is parsed.
pub fn read_evtx_json<R: Read + Seek + Send + 'static>(
    reader: R,
) -> Result<impl Iterator<Item = Result<String, RecordError>>, RecordError> {
    evtx_records(reader, record_json)
}

fn evtx_records<R: Read + Seek + Send + 'static, T>(
    reader: R,
    convert: fn(evtx::err::Result<evtx::EvtxRecord<'_>>) -> Result<T, RecordError>,
) -> Result<EvtxRecords<R, T>, RecordError> {
    let settings = std::sync::Arc::new(evtx::ParserSettings::new().num_threads(1).separate_json_attributes(false));
    let parser = evtx::EvtxParser::from_read_seek(reader)
        .map_err(|e| RecordError { location: "file header".into(), message: one_line(&e.to_string()) })?
        .with_configuration((*settings).clone());
    Ok(EvtxRecords { chunks: parser.into_chunks(), settings, buffer: Vec::new().into_iter(), chunk_no: 0, convert })
}

struct EvtxRecords<R: Read + Seek, T> {
    chunks: evtx::IntoIterChunks<R>,
    settings: std::sync::Arc<evtx::ParserSettings>,
    buffer: std::vec::IntoIter<Result<T, RecordError>>,
    chunk_no: usize,
    convert: fn(evtx::err::Result<evtx::EvtxRecord<'_>>) -> Result<T, RecordError>,
}

impl<R: Read + Seek + Send + 'static, T> Iterator for EvtxRecords<R, T> {
    type Item = Result<T, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.buffer.next() {
                return Some(item);
            }
            let chunk = self.chunks.next()?;
            self.chunk_no += 1;
            let chunk_err = |no: usize, e: &dyn std::fmt::Display| RecordError {
                location: format!("chunk {no}"),
                message: one_line(&e.to_string()),
            };
            let mut out = Vec::new();
            match chunk {
                Err(e) => out.push(Err(chunk_err(self.chunk_no, &e))),
                Ok(mut data) => match data.parse(self.settings.clone()) {
                    Err(e) => out.push(Err(chunk_err(self.chunk_no, &e))),
                    Ok(mut parsed) => {
                        for record in parsed.iter() {
                            out.push((self.convert)(record));
                        }
                    }
                },
            }
            self.buffer = out.into_iter();
        }
    }
}

fn record_json(record: evtx::err::Result<evtx::EvtxRecord<'_>>) -> Result<String, RecordError> {
    let record = record.map_err(|e| RecordError { location: "record".into(), message: one_line(&e.to_string()) })?;
    let id = record.event_record_id;
    let json = record
        .into_json_value()
        .map_err(|e| RecordError { location: format!("record {id}"), message: one_line(&e.to_string()) })?;
    Ok(json.data.to_string())
}

fn record_event(record: evtx::err::Result<evtx::EvtxRecord<'_>>) -> Result<Event, RecordError> {
    let record = record.map_err(|e| RecordError { location: "record".into(), message: one_line(&e.to_string()) })?;
    let id = record.event_record_id;
    let json = record
        .into_json_value()
        .map_err(|e| RecordError { location: format!("record {id}"), message: one_line(&e.to_string()) })?;
    let mut event = windows::from_json(&json.data, WindowsRouting::builtin())
        .map_err(|message| RecordError { location: format!("record {id}"), message })?;
    sources::classify_json(&mut event, Timestamp::UNIX_EPOCH);
    Ok(event)
}

fn memchr_newline(s: &str) -> usize {
    s.as_bytes().iter().position(|&b| b == b'\n').unwrap_or(s.len())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
