//! Timestamps as devices write them. Times without a zone are taken as UTC
//! (documented in `docs/ingest.md`); the received time only supplies the
//! year that BSD syslog leaves out.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// A syslog header timestamp at the start of `text` and the text after it:
/// RFC 3339 (`2026-11-22T10:00:00.123+09:00`), BSD (`Nov 22 10:00:00`,
/// optionally with fractions) or BSD with a year (`Nov 22 2026 10:00:00`).
pub(crate) fn syslog_prefix(text: &str, received: Timestamp) -> Option<(Timestamp, &str)> {
    let first = text.split(' ').next().unwrap_or("");
    if first.len() >= 19 && first.as_bytes()[4] == b'-' {
        let ts = iso(first)?;
        return Some((ts, &text[first.len()..]));
    }
    let month = month(text.get(..3)?)?;
    let rest = text.get(3..)?.strip_prefix(' ')?.trim_start_matches(' ');
    let (day, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(' ')?;
    let (year, rest) = match digits(rest, 4) {
        Some((y, after)) if after.starts_with(' ') && y >= 1970 => (Some(y), &after[1..]),
        _ => (None, rest),
    };
    let (h, m, s, nanos, rest) = clock(rest)?;
    let build = |y: i64| civil(y, month, day, h, m, s, nanos);
    let ts = match year {
        Some(y) => build(y)?,
        None => {
            // No year: the received year, or the one before when that puts
            // the event more than a month in the future (sent on Dec 31,
            // received on Jan 1).
            let year = i64::from(received.to_zoned(TimeZone::UTC).year());
            let ts = build(year)?;
            if ts.as_second() > received.as_second() + 31 * 86_400 { build(year - 1)? } else { ts }
        }
    };
    Some((ts, rest))
}

/// Any timestamp a device field may hold: epoch seconds or milliseconds,
/// RFC 3339 with or without a zone, or BSD with a year.
pub(crate) fn loose(text: &str, received: Timestamp) -> Option<Timestamp> {
    let text = text.trim();
    if let Some(epoch) = epoch(text) {
        return Some(epoch);
    }
    if let Some(ts) = iso(text) {
        return Some(ts);
    }
    syslog_prefix(text, received).filter(|(_, rest)| rest.trim().is_empty()).map(|(ts, _)| ts)
}

/// Epoch seconds (`1700000000.123`) or milliseconds (13 digits).
pub(crate) fn epoch(text: &str) -> Option<Timestamp> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: i64 = int.parse().ok()?;
    if frac.is_empty() && int > 100_000_000_000 {
        return Timestamp::from_millisecond(int).ok();
    }
    let mut nanos: i64 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
    }
    Timestamp::new(int, nanos as i32).ok()
}

fn iso(text: &str) -> Option<Timestamp> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    // No offset: UTC. Accept a space between date and time too.
    let dt: DateTime = text.replacen(' ', "T", 1).parse().ok()?;
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

fn month(name: &str) -> Option<i8> {
    MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name)).map(|i| i as i8 + 1)
}

/// Up to `max` leading digits (at least one) and the rest.
fn digits(text: &str, max: usize) -> Option<(i64, &str)> {
    let n = text.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((text[..n].parse().ok()?, &text[n..]))
}

/// `hh:mm:ss[.fraction]`.
fn clock(text: &str) -> Option<(i64, i64, i64, i64, &str)> {
    let (h, rest) = digits(text, 2)?;
    let (m, rest) = digits(rest.strip_prefix(':')?, 2)?;
    let (s, mut rest) = digits(rest.strip_prefix(':')?, 2)?;
    let mut nanos = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        for (i, b) in frac.bytes().take(n.min(9)).enumerate() {
            nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
        }
        rest = &frac[n..];
    }
    Some((h, m, s, nanos, rest))
}

fn civil(y: i64, mo: i8, d: i64, h: i64, mi: i64, s: i64, nanos: i64) -> Option<Timestamp> {
    let narrow = |v: i64| i8::try_from(v).ok();
    let dt = DateTime::new(
        i16::try_from(y).ok()?,
        mo,
        narrow(d)?,
        narrow(h)?,
        narrow(mi)?,
        narrow(s)?,
        i32::try_from(nanos).ok()?,
    )
    .ok()?;
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}
