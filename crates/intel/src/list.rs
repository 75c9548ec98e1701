//! Indicator lists: CSV with a header, or one value per line.
//!
//! CSV columns are found by their header (case and spaces ignored):
//! `value` (or `indicator`, `ioc`), `type` (or `kind`), `confidence`,
//! `tlp`, `valid_until` (or `expires`), `valid_from`, `tags` (split on `;`
//! or `|`), `name` (or `description`), `id`. Without a `type` column, or
//! in a plain list (one value per line, `#` comments), each value's kind
//! is the caller's, or else read off its shape: an address or network, a
//! hex digest by its length, a URL by its scheme, an e-mail address by its
//! `@`, else a domain. A line that does not read is a [`Problem`] naming
//! its line; the others are kept.

use jiff::Timestamp;

use crate::{Indicator, Kind, Observable, Problem, Read, Tlp, canonical_ip};

/// Reads a list; `kind` is the kind of every value when the list does not
/// say.
pub fn read(text: &str, kind: Option<Kind>) -> Read {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    let header: Vec<String> = first.split(',').map(|h| h.trim().trim_matches('"').to_ascii_lowercase()).collect();
    if header.len() > 1 && header.iter().any(|h| matches!(h.as_str(), "value" | "indicator" | "ioc")) {
        read_csv(text, kind)
    } else {
        read_plain(text, kind)
    }
}

/// The kind a bare value looks like.
pub fn guess(value: &str) -> Kind {
    let value = value.trim();
    let ip_part = value.split_once('/').map_or(value, |(a, _)| a);
    if canonical_ip(ip_part).is_some() {
        return Kind::Ip;
    }
    if value.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some(kind) = Kind::hash_of_len(value.len())
    {
        return kind;
    }
    if value.contains("://") {
        Kind::Url
    } else if value.contains('@') {
        Kind::Email
    } else {
        Kind::Domain
    }
}

fn read_plain(text: &str, kind: Option<Kind>) -> Read {
    let mut read = Read::default();
    for (n, line) in text.lines().enumerate() {
        // A value, then anything after whitespace or `#` is a comment.
        let value = line.split('#').next().unwrap_or("").split_whitespace().next().unwrap_or("");
        if value.is_empty() {
            continue;
        }
        let kind = kind.unwrap_or_else(|| guess(value));
        match Observable::new(kind, value) {
            Ok(o) => read.indicators.push(Indicator::of(format!("{o}"), o)),
            Err(reason) => read.problems.push(Problem { at: format!("line {}", n + 1), reason }),
        }
    }
    read
}

fn read_csv(text: &str, default_kind: Option<Kind>) -> Read {
    let mut read = Read::default();
    // Comment lines before the header are not CSV.
    let (start, skipped_lines) = text
        .split_inclusive('\n')
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .fold((0, 0), |(bytes, lines), l| (bytes + l.len(), lines + 1));
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(&text.as_bytes()[start..]);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.to_ascii_lowercase().replace([' ', '-'], "_")).collect(),
        Err(e) => {
            read.problems
                .push(Problem { at: format!("line {}", skipped_lines + 1), reason: format!("CSV header: {e}") });
            return read;
        }
    };
    let column = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let value_at = column(&["value", "indicator", "ioc"]);
    let kind_at = column(&["type", "kind", "indicator_type"]);
    let confidence_at = column(&["confidence"]);
    let tlp_at = column(&["tlp"]);
    let until_at = column(&["valid_until", "expires", "expiry", "expiration"]);
    let from_at = column(&["valid_from", "first_seen"]);
    let tags_at = column(&["tags", "labels"]);
    let name_at = column(&["name", "description"]);
    let id_at = column(&["id", "uuid"]);
    for (n, record) in reader.records().enumerate() {
        let line = skipped_lines + n + 2;
        let at = format!("line {line}");
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                read.problems.push(Problem { at, reason: format!("CSV: {e}") });
                continue;
            }
        };
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
        let Some(value) = get(value_at) else {
            if record.iter().any(|f| !f.is_empty()) {
                read.problems.push(Problem { at, reason: "no value".into() });
            }
            continue;
        };
        let kind = match get(kind_at) {
            Some(k) => match Kind::parse(k) {
                Some(k) => k,
                None => {
                    read.problems.push(Problem { at, reason: format!("unknown type {k:?}") });
                    continue;
                }
            },
            None => default_kind.unwrap_or_else(|| guess(value)),
        };
        let result = (|| -> Result<Indicator, String> {
            let o = Observable::new(kind, value)?;
            let mut indicator = Indicator::of(get(id_at).map_or_else(|| o.to_string(), str::to_string), o);
            if let Some(c) = get(confidence_at) {
                indicator.confidence = Some(
                    c.parse::<u8>().ok().filter(|c| *c <= 100).ok_or(format!("confidence {c:?} is not 0 to 100"))?,
                );
            }
            if let Some(t) = get(tlp_at) {
                indicator.tlp = Some(Tlp::parse(t).ok_or(format!("unknown TLP {t:?}"))?);
            }
            indicator.valid_until = get(until_at).map(time).transpose()?;
            indicator.valid_from = get(from_at).map(time).transpose()?;
            if let Some(tags) = get(tags_at) {
                indicator.tags =
                    tags.split([';', '|']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
                indicator.attack = indicator.tags.iter().flat_map(|t| crate::techniques_in(t)).collect();
            }
            if let Some(name) = get(name_at) {
                indicator.name = name.to_string();
            }
            Ok(indicator)
        })();
        match result {
            Ok(i) => read.indicators.push(i),
            Err(reason) => read.problems.push(Problem { at, reason }),
        }
    }
    read
}

/// RFC 3339, or a bare date (midnight UTC).
fn time(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>()
        .or_else(|_| {
            text.parse::<jiff::civil::Date>().and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC)).map(|z| z.timestamp())
        })
        .map_err(|_| format!("{text:?} is not an RFC 3339 time or a date"))
}
