//! Which observables an event carries: its fields that hold addresses,
//! host names, URLs, hashes, e-mail addresses and TLS fingerprints, read
//! into the canonical form indicators are kept in.
//!
//! The fields are data (`data/observables.txt`): ECS names, which the
//! normalizer fills from most sources, and the source fields that have no
//! ECS copy (Sysmon's `Hashes`, Zeek's `ja3`). Work per event is bounded by
//! [`MAX_SEEN`] observables, whatever the sender puts in its arrays.

use std::collections::HashMap;
use std::net::IpAddr;

use model::{Event, Value};

use crate::{Kind, Observable, canonical_ip};

/// Observables taken from one event at most.
pub const MAX_SEEN: usize = 256;

/// One observable of an event, and the field it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub field: Box<str>,
    pub kind: Kind,
    /// Canonical, as [`Observable::value`].
    pub value: Box<str>,
    /// The address, for [`Kind::Ip`].
    pub ip: Option<IpAddr>,
}

/// How a field's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Ip,
    Host,
    Url,
    Hash,
    Hashes,
    Email,
    Ja3,
    Ja4,
}

/// The table of fields that carry observables.
#[derive(Debug, Clone)]
pub struct Fields {
    by_name: HashMap<Box<str>, Reading>,
}

impl Default for Fields {
    fn default() -> Fields {
        Fields::parse(include_str!("../data/observables.txt")).unwrap_or_else(|_| Fields { by_name: HashMap::new() })
    }
}

impl Fields {
    /// Reads a table in the format of `data/observables.txt`.
    pub fn parse(text: &str) -> Result<Fields, String> {
        let mut by_name = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (field, kind) =
                line.split_once('|').ok_or_else(|| format!("line {}: expected `field | kind`", n + 1))?;
            let reading = match kind.trim() {
                "ip" => Reading::Ip,
                "host" => Reading::Host,
                "url" => Reading::Url,
                "hash" => Reading::Hash,
                "hashes" => Reading::Hashes,
                "email" => Reading::Email,
                "ja3" => Reading::Ja3,
                "ja4" => Reading::Ja4,
                other => return Err(format!("line {}: unknown kind {other:?}", n + 1)),
            };
            by_name.insert(field.trim().into(), reading);
        }
        Ok(Fields { by_name })
    }

    /// The observables of `event`, appended to `out` (at most
    /// [`MAX_SEEN`] in all, each once).
    pub fn observe(&self, event: &Event, out: &mut Vec<Seen>) {
        for (name, value) in event.first_fields() {
            let Some(&reading) = self.by_name.get(&**name) else { continue };
            match value {
                Value::Array(items) => {
                    for item in items {
                        read(name, reading, item, out);
                    }
                }
                value => read(name, reading, value, out),
            }
            if out.len() >= MAX_SEEN {
                out.truncate(MAX_SEEN);
                return;
            }
        }
    }
}

fn read(field: &str, reading: Reading, value: &Value, out: &mut Vec<Seen>) {
    if out.len() >= MAX_SEEN {
        return;
    }
    let Some(text) = value.as_text() else { return };
    let text = text.trim();
    if text.is_empty() || text.len() > crate::MAX_VALUE {
        return;
    }
    match reading {
        Reading::Ip => push_ip(field, text, out),
        Reading::Host => push_host(field, text, out),
        Reading::Url => {
            if let Ok(url) = Observable::new(Kind::Url, text) {
                push(field, url, out);
            }
            let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
            let authority = &after_scheme[..after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len())];
            if let Some(host) = crate::url_host(authority) {
                push_host(field, host, out);
            }
        }
        Reading::Hash => {
            if let Some(kind) = Kind::hash_of_len(text.len()) {
                push_as(field, kind, text, out);
            }
        }
        Reading::Hashes => {
            for part in text.split([',', ';', ' ']) {
                let (algorithm, digest) = part.split_once('=').unwrap_or(("", part));
                let kind = match algorithm.trim().to_ascii_uppercase().as_str() {
                    "MD5" => Some(Kind::Md5),
                    "SHA1" | "SHA-1" => Some(Kind::Sha1),
                    "SHA256" | "SHA-256" => Some(Kind::Sha256),
                    "" => Kind::hash_of_len(digest.trim().len()),
                    _ => None,
                };
                if let Some(kind) = kind {
                    push_as(field, kind, digest, out);
                }
            }
        }
        Reading::Email => {
            // `Name <user@example.com>`: the address inside the brackets.
            let address = match (text.rfind('<'), text.rfind('>')) {
                (Some(open), Some(close)) if open < close => &text[open + 1..close],
                _ => text,
            };
            push_as(field, Kind::Email, address, out);
        }
        Reading::Ja3 => push_as(field, Kind::Ja3, text, out),
        Reading::Ja4 => push_as(field, Kind::Ja4, text, out),
    }
}

fn push_ip(field: &str, text: &str, out: &mut Vec<Seen>) {
    if let Some(ip) = canonical_ip(text) {
        out.push(Seen { field: field.into(), kind: Kind::Ip, value: ip.to_string().into(), ip: Some(ip) });
    }
}

/// A host name or an address.
fn push_host(field: &str, text: &str, out: &mut Vec<Seen>) {
    if canonical_ip(text).is_some() {
        push_ip(field, text, out);
    } else {
        push_as(field, Kind::Domain, text, out);
    }
}

fn push_as(field: &str, kind: Kind, text: &str, out: &mut Vec<Seen>) {
    if let Ok(o) = Observable::new(kind, text) {
        push(field, o, out);
    }
}

fn push(field: &str, o: Observable, out: &mut Vec<Seen>) {
    if out.len() < MAX_SEEN && !out.iter().any(|s| s.kind == o.kind && s.value == o.value && &*s.field == field) {
        out.push(Seen { field: field.into(), kind: o.kind, value: o.value, ip: None });
    }
}
