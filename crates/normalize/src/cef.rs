//! ArcSight Common Event Format and IBM QRadar LEEF 1.0/2.0 records.
//!
//! Both are a `|`-separated header and then attributes. CEF escapes `\|` and
//! `\\` in the header and `\=`, `\\`, `\n`, `\r` in extension values, whose
//! ends are found by the next ` key=`; LEEF separates attributes with a tab
//! (1.0) or the delimiter its header names (2.0) and escapes nothing.

use std::borrow::Cow;

/// A parsed CEF or LEEF record.
#[derive(Debug, PartialEq)]
pub struct Record<'a> {
    /// `cef` or `leef`.
    pub kind: &'static str,
    pub version: Cow<'a, str>,
    /// Header fields by their standard attribute names.
    pub header: Vec<(&'static str, Cow<'a, str>)>,
    pub attrs: Vec<(&'a str, Cow<'a, str>)>,
}

const CEF_HEADER: [&str; 6] =
    ["deviceVendor", "deviceProduct", "deviceVersion", "deviceEventClassId", "name", "severity"];
const LEEF_HEADER: [&str; 4] = ["deviceVendor", "deviceProduct", "deviceVersion", "eventId"];

/// Parses `CEF:0|Vendor|Product|Version|ClassId|Name|Severity|k=v ...`.
pub fn parse_cef(text: &str) -> Result<Record<'_>, String> {
    let body = text.trim_end_matches(['\r', '\n']).strip_prefix("CEF:").ok_or("missing `CEF:` prefix")?;
    let mut fields = Vec::with_capacity(8);
    let mut rest = body;
    for _ in 0..7 {
        let end = unescaped(rest, b'|').ok_or_else(|| {
            format!("header has {} of 7 `|`-separated fields", fields.len() + usize::from(!rest.is_empty()))
        })?;
        fields.push(unescape_header(&rest[..end]));
        rest = &rest[end + 1..];
    }
    let mut fields = fields.into_iter();
    let version = fields.next().unwrap_or_default();
    if version.trim().is_empty() || !version.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("version `{version}` is not a number"));
    }
    let header = CEF_HEADER.iter().copied().zip(fields).collect();
    Ok(Record { kind: "cef", version, header, attrs: cef_extension(rest) })
}

/// The index of the first `sep` not escaped by a backslash.
fn unescaped(text: &str, sep: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == sep => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Header fields escape `\|` and `\\`.
fn unescape_header(text: &str) -> Cow<'_, str> {
    unescape(text, |c| matches!(c, '|' | '\\').then_some(c))
}

/// Extension values escape `\=`, `\\`, `\|` (tolerated) and `\n`, `\r`.
fn unescape_value(text: &str) -> Cow<'_, str> {
    unescape(text, |c| match c {
        'n' => Some('\n'),
        'r' => Some('\r'),
        '=' | '\\' | '|' => Some(c),
        _ => None,
    })
}

/// Replaces `\c` by `escape(c)`; an unknown escape stays as written.
fn unescape(text: &str, escape: impl Fn(char) -> Option<char>) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(n) => match escape(n) {
                Some(e) => out.push(e),
                None => {
                    out.push('\\');
                    out.push(n);
                }
            },
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn is_key(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 64
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']'))
}

/// `k1=v1 k2=value with spaces k3=v3`: a key starts after a space and ends at
/// an unescaped `=`; an `=` whose left word is not a key stays in the value.
fn cef_extension(text: &str) -> Vec<(&str, Cow<'_, str>)> {
    // (key start, `=` position) of every key.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'=' => {
                // Keys are short: look back at most 65 bytes for the space,
                // so a long run of `=` cannot make this quadratic.
                let lo = i.saturating_sub(65);
                let start = bytes[lo..i].iter().rposition(|&b| b == b' ').map_or(lo, |s| lo + s + 1);
                let after_prev = keys.last().map_or(0, |&(_, eq)| eq + 1);
                if start >= after_prev && text.is_char_boundary(start) && is_key(&text[start..i]) {
                    keys.push((start, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = Vec::with_capacity(keys.len());
    for (n, &(start, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(text.len(), |&(next, _)| next);
        let value = text[eq + 1..end].trim_end_matches([' ', '\r', '\n']);
        out.push((&text[start..eq], unescape_value(value)));
    }
    out
}

/// Parses `LEEF:1.0|Vendor|Product|Version|EventID|k=v<TAB>k=v` and the 2.0
/// form with a delimiter field (`^`, `x09`, `0x5E`) before the attributes.
pub fn parse_leef(text: &str) -> Result<Record<'_>, String> {
    let body = text.trim_end_matches(['\r', '\n']).strip_prefix("LEEF:").ok_or("missing `LEEF:` prefix")?;
    let mut parts = body.splitn(6, '|');
    let version = parts.next().unwrap_or_default();
    let two = match version.trim() {
        "1.0" | "1" => false,
        "2.0" | "2" => true,
        other => return Err(format!("unknown LEEF version `{other}`")),
    };
    let mut header = Vec::with_capacity(4);
    for name in LEEF_HEADER {
        let value = parts.next().ok_or_else(|| format!("header has {} of 5 `|`-separated fields", header.len() + 1))?;
        header.push((name, Cow::Borrowed(value)));
    }
    let mut attrs_text = parts.next().unwrap_or("");
    let mut delimiter = '\t';
    if two {
        // `delim|attrs`; the delimiter field is one character or its hex code.
        let (delim, rest) = attrs_text.split_once('|').ok_or("LEEF 2.0 header has no delimiter field")?;
        delimiter = leef_delimiter(delim)?;
        attrs_text = rest;
    }
    let mut attrs = Vec::new();
    let pieces: Vec<&str> = attrs_text.split(delimiter).collect();
    if pieces.len() == 1 && attrs_text.matches('=').count() > 1 {
        // Senders that separate with spaces despite the spec.
        attrs = cef_extension(attrs_text);
    } else {
        for piece in pieces {
            if let Some((k, v)) = piece.split_once('=')
                && is_key(k.trim())
            {
                attrs.push((k.trim(), Cow::Borrowed(v)));
            }
        }
    }
    Ok(Record { kind: "leef", version: Cow::Borrowed(version), header, attrs })
}

fn leef_delimiter(text: &str) -> Result<char, String> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        (None, _) => Ok('\t'),
        _ => {
            let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix(['x', 'X']));
            hex.and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .ok_or_else(|| format!("delimiter `{text}` is neither one character nor a hex code"))
        }
    }
}

/// `key=value key2="quoted value"` pairs anywhere in a text, with the
/// number of words that were not pairs.
pub fn parse_kv(text: &str) -> (Vec<(&str, Cow<'_, str>)>, usize) {
    let mut pairs = Vec::new();
    let mut other = 0;
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        match rest[..word_end].find('=') {
            Some(eq) if is_key(&rest[..eq]) => {
                let key = &rest[..eq];
                let after = &rest[eq + 1..];
                if let Some(quoted) = after.strip_prefix('"') {
                    let (value, used) = quoted_value(quoted);
                    pairs.push((key, value));
                    rest = &quoted[used..];
                } else {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    pairs.push((key, Cow::Borrowed(after[..end].trim_end_matches(','))));
                    rest = &after[end..];
                }
            }
            _ => {
                other += 1;
                rest = &rest[word_end..];
            }
        }
        rest = rest.trim_start();
    }
    (pairs, other)
}

/// A `"`-quoted value after its opening quote: the value and the bytes used
/// including the closing quote (all of it when the quote is not closed).
fn quoted_value(text: &str) -> (Cow<'_, str>, usize) {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                let raw = &text[..i];
                let value = if raw.contains('\\') { Cow::Owned(raw.replace("\\\"", "\"")) } else { Cow::Borrowed(raw) };
                return (value, i + 1);
            }
            _ => escaped = false,
        }
    }
    (Cow::Borrowed(text), text.len())
}
