//! How text is cut into searchable tokens. The store indexes exactly these
//! tokens and the evaluator compares against exactly these, so a bare word
//! means the same thing whether the index or a scan answers it.
//!
//! A major token is a maximal run of letters, digits and `.` `_` `-` `@`,
//! with those four trimmed from both ends: `C:\Windows\cmd.exe` gives
//! `c`, `windows`, `cmd.exe`; `alice@corp.example` and `10.0.0.1` stay
//! whole. A major token that contains `.` `_` `-` or `@` also gives its
//! parts (`cmd`, `exe`), so `cmd` finds `cmd.exe`, unless all its parts
//! are digits (`10.0.0.1`, `1.2.3`: found whole) or it is a hex compound
//! of four parts or more (a GUID or a MAC address: found whole). Tokens
//! are lowercased; tokens longer than [`MAX_TOKEN`] bytes are not tokens.
//!
//! Timestamps (`2026-11-01T10:00:00.123Z`, `2026-11-01 10:00`) and numbers
//! of more than five digits are not words: nearly every event has
//! different ones, so indexing them would cost more than the rest of the
//! index. Time is searched with `@timestamp` ranges ([`timestamp_len`]),
//! large numbers with field tests.
//!
//! A phrase matches where its text occurs without cutting a token in two
//! ([`phrase_in`]): `"failed password"` does not match `unfailed
//! passwords`. So every run of token characters inside a phrase is a whole
//! token of the text ([`phrase_terms`]), which is what lets the index
//! narrow a phrase search soundly.

/// Longer runs (base64 blobs, hex dumps) are left to phrase search: they
/// would fill the term dictionary with values nobody types.
pub const MAX_TOKEN: usize = 128;

/// Whether `c` belongs inside a token.
pub fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || is_minor_break(c)
}

fn is_minor_break(c: char) -> bool {
    matches!(c, '.' | '_' | '-' | '@')
}

/// The minor breaks are ASCII, so they can be found byte by byte: no byte
/// of a multi-byte UTF-8 character is below 0x80.
const fn is_minor_byte(b: u8) -> bool {
    matches!(b, b'.' | b'_' | b'-' | b'@')
}

/// [`is_token_char`] of each ASCII character.
const ASCII_TOKEN: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric() || is_minor_byte(b as u8);
        b += 1;
    }
    table
};

/// Whether the character at byte `at` (a character boundary) of `text` is
/// a token character, and its length. Logs are nearly all ASCII: a table
/// answers for those bytes, and only other characters are decoded.
#[inline]
fn token_char_at(text: &str, at: usize) -> (bool, usize) {
    let b = text.as_bytes()[at];
    if b < 0x80 {
        return (ASCII_TOKEN[usize::from(b)], 1);
    }
    match text[at..].chars().next() {
        Some(c) => (is_token_char(c), c.len_utf8()),
        None => (false, 1),
    }
}

/// Calls `emit` with each token of `text`, lowercased, until it returns
/// `true`; returns whether it did. Tokens may repeat.
pub fn tokens(text: &str, mut emit: impl FnMut(&str) -> bool) -> bool {
    let mut lower = String::new();
    let mut at = 0;
    while at < text.len() {
        let (token, len) = token_char_at(text, at);
        if !token {
            at += len;
            continue;
        }
        if let Some(n) = timestamp_len(&text[at..]) {
            at += n;
            continue;
        }
        let mut end = at + len;
        while end < text.len() {
            let (token, len) = token_char_at(text, end);
            if !token {
                break;
            }
            end += len;
        }
        let run = trim_minor(&text[at..end]);
        at = end;
        if run.is_empty() {
            continue;
        }
        lower.clear();
        lower_into(run, &mut lower);
        if lower.len() <= MAX_TOKEN && !long_number(&lower) && emit(&lower) {
            return true;
        }
        if lower.bytes().any(is_minor_byte) && !whole_only(&lower) {
            let mut from = 0;
            for (i, b) in lower.bytes().enumerate().chain(std::iter::once((lower.len(), b'.'))) {
                if !is_minor_byte(b) {
                    continue;
                }
                // Cut at ASCII bytes: character boundaries.
                let part = &lower[from..i];
                from = i + 1;
                if !part.is_empty() && part.len() <= MAX_TOKEN && !long_number(part) && emit(part) {
                    return true;
                }
            }
        }
    }
    false
}

/// `run` without the minor breaks at its ends.
fn trim_minor(run: &str) -> &str {
    let b = run.as_bytes();
    let start = b.iter().position(|&c| !is_minor_byte(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_minor_byte(c)).map_or(start, |e| e + 1);
    // Both ends are next to ASCII bytes (or the ends of `run`).
    run.get(start..end).unwrap_or("")
}

/// Whether a token with minor breaks is found only whole. Parts of numbers
/// with dots (addresses, versions: `10.0.0.1` is found whole, `10` is not)
/// and of hex compounds of four parts or more with a digit (GUIDs, MAC
/// addresses) are not worth a term each: they are nearly all distinct and
/// nobody searches for a quarter of a GUID.
fn whole_only(token: &str) -> bool {
    let parts = || token.as_bytes().split(|&b| is_minor_byte(b));
    if parts().all(|p| p.iter().all(u8::is_ascii_digit)) {
        return true;
    }
    parts().count() >= 4
        && token.bytes().any(|b| b.is_ascii_digit())
        && parts().all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_hexdigit))
}

/// Numbers of more than [`MAX_DIGITS`] digits (byte counts, sequence
/// numbers) are not words: nearly every one is different.
pub const MAX_DIGITS: usize = 5;

fn long_number(t: &str) -> bool {
    t.len() > MAX_DIGITS && t.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `word` (lowercase, wildcards allowed) is one token as
/// [`tokens`] would cut it, so it can be looked up as one.
pub fn is_single_token(word: &str) -> bool {
    !word.is_empty()
        && !long_number(word)
        && word.len() <= MAX_TOKEN
        && word.chars().all(|c| is_token_char(c) || c == '*' || c == '?')
        && !word.starts_with(is_minor_break)
        && !word.ends_with(is_minor_break)
}

/// Whether `phrase` (lowercase) occurs in `text` (lowercase) at token
/// boundaries: where the phrase begins (ends) with a token character, the
/// text character before (after) it is not one.
pub fn phrase_in(text: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let starts_token = phrase.starts_with(is_token_char);
    let ends_token = phrase.ends_with(is_token_char);
    text.match_indices(phrase).any(|(at, _)| {
        let before_ok = !starts_token || !text[..at].ends_with(is_token_char);
        let after_ok = !ends_token || !text[at + phrase.len()..].starts_with(is_token_char);
        before_ok && after_ok
    })
}

/// Major tokens of a phrase that are whole tokens of any text the phrase
/// occurs in, so a phrase can only match events that have them all. Runs
/// with digits, and single letters, are left out: in the text they may be
/// part of a timestamp, which is not a token.
pub fn phrase_terms(phrase: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in phrase.split(|c| !is_token_char(c)) {
        let t = lowercase(run.trim_matches(is_minor_break));
        let usable = t.chars().count() > 1 && t.len() <= MAX_TOKEN && !t.contains(|c: char| c.is_numeric());
        if usable && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The length of the timestamp `text` starts with, if it does: a date,
/// `T` or a space, hours and minutes, then optional seconds, fraction
/// and zone (`Z`, `+09:00`).
pub fn timestamp_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let digits = |at: usize, n: usize| b.len() >= at + n && b[at..at + n].iter().all(u8::is_ascii_digit);
    let is = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    if !(digits(0, 4) && is(4, b"-") && digits(5, 2) && is(7, b"-") && digits(8, 2) && is(10, b"Tt ") && digits(11, 2))
    {
        return None;
    }
    if !(is(13, b":") && digits(14, 2)) {
        return None;
    }
    let mut at = 16;
    if is(at, b":") && digits(at + 1, 2) {
        at += 3;
        if is(at, b".,") && digits(at + 1, 1) {
            at += 1;
            while digits(at, 1) {
                at += 1;
            }
        }
    }
    if is(at, b"Zz") {
        at += 1;
    } else if is(at, b"+-") && digits(at + 1, 2) {
        at += 3;
        if is(at, b":") && digits(at + 1, 2) {
            at += 3;
        } else if digits(at, 2) {
            at += 2;
        }
    }
    Some(at)
}

/// Lowercases the way tokens are lowercased (per character, full Unicode).
pub fn lowercase(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    lower_into(text, &mut out);
    out
}

/// Appends `text` lowercased per character to `out`. ASCII text (nearly
/// every token of a log) takes the byte-wise path: the same result, a
/// fraction of the work of decoding and re-encoding each character.
fn lower_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        let from = out.len();
        out.push_str(text);
        out[from..].make_ascii_lowercase();
        return;
    }
    for c in text.chars() {
        out.extend(c.to_lowercase());
    }
}

/// Whether `raw` looks like a JSON object (and so may have keys and
/// string escapes).
fn json_object(raw: &str) -> bool {
    let trimmed = raw.trim();
    trimmed.starts_with('{') && trimmed.ends_with('}')
}

/// The text of a raw record as search reads it: for a JSON object, its
/// string escapes decoded, so the words are those an analyst reads. Windows
/// shippers send the rendered message as JSON, where
/// `"Subject:\r\n\tAccount Name:\tbob"` would otherwise give the words
/// `r`, `n`, `taccount` and `tbob` instead of `account` and `bob`: twice
/// the index terms for every message, and its words hidden from search.
///
/// `\n` `\t` `\r` `\b` `\f` become a space, `\/` a slash and `\uXXXX`
/// its character (a space for quotes, backslashes, control characters and
/// unpaired surrogates). `\"` and `\\` are kept as they are: neither has
/// a token character, and keeping them keeps the strings' quoting for
/// [`split_json_keys`]. Anything else is left alone. Both the index and
/// the evaluator read this text, so they agree on every record, JSON or not.
pub fn search_text(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('\\') || !json_object(raw) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let b = rest.as_bytes();
        let used = match b.get(1) {
            Some(b'"' | b'\\') => {
                out.push_str(&rest[..2]);
                2
            }
            Some(b'n' | b't' | b'r' | b'b' | b'f') => {
                out.push(' ');
                2
            }
            Some(b'/') => {
                out.push('/');
                2
            }
            Some(b'u') => match hex4(&b[2..]) {
                Some(high @ 0xd800..=0xdbff) => {
                    let low = if b.get(6..8) == Some(b"\\u") { hex4(&b[8..]) } else { None };
                    match low {
                        Some(low @ 0xdc00..=0xdfff) => {
                            let c = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                            out.push(char::from_u32(c).unwrap_or(' '));
                            12
                        }
                        _ => {
                            out.push(' ');
                            6
                        }
                    }
                }
                Some(code) => {
                    let c = char::from_u32(code).filter(|c| !c.is_control() && !matches!(c, '"' | '\\'));
                    out.push(c.unwrap_or(' '));
                    6
                }
                None => {
                    out.push('\\');
                    1
                }
            },
            _ => {
                out.push('\\');
                1
            }
        };
        rest = &rest[used..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The value of four hex digits at the start of `b`.
fn hex4(b: &[u8]) -> Option<u32> {
    let digits = b.get(..4)?;
    let text = std::str::from_utf8(digits).ok()?;
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// Calls `key` with the text of each key of a raw JSON object and `other`
/// with everything else; a record that does not look like a JSON object
/// goes to `other` whole. The pieces are cut at `"` only, which no word
/// contains, so the words of the pieces are the words of the record
/// whether or not the record is valid JSON.
pub fn split_json_keys(raw: &str, key: &mut dyn FnMut(&str), other: &mut dyn FnMut(&str)) {
    if !json_object(raw) {
        other(raw);
        return;
    }
    let mut plain = 0;
    json_strings(raw, &mut |start, end, is_key| {
        if is_key {
            // Cuts are next to `"` bytes, so they are char boundaries.
            other(&raw[plain..start]);
            key(&raw[start..end]);
            plain = end;
        }
    });
    if plain < raw.len() {
        other(&raw[plain..]);
    }
}

/// Calls `value` with the text of each string of a JSON object's text that
/// is not a key (values and array items), as [`split_json_keys`] cuts them;
/// nothing for text that does not look like a JSON object. Each lies inside
/// one of the pieces `split_json_keys` gives `other`, between `"` bytes,
/// so each token of such a string is a token of that piece.
pub fn json_string_values<'a>(text: &'a str, value: &mut dyn FnMut(&'a str)) {
    if json_object(text) {
        json_strings(text, &mut |start, end, is_key| {
            if !is_key {
                value(&text[start..end]);
            }
        });
    }
}

/// Calls `string` with where each string of `raw` starts and ends (the
/// bytes after and at its quotes) and whether it is a key (a `:` follows).
fn json_strings(raw: &str, string: &mut dyn FnMut(usize, usize, bool)) {
    let b = raw.as_bytes();
    let mut at = 0;
    while at < b.len() {
        if b[at] != b'"' {
            at += 1;
            continue;
        }
        // A string from `at`: find its closing quote.
        let start = at + 1;
        let mut end = start;
        while end < b.len() && b[end] != b'"' {
            end += if b[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(b.len());
        let mut next = end + 1;
        while next < b.len() && b[next].is_ascii_whitespace() {
            next += 1;
        }
        string(start, end, b.get(next) == Some(&b':'));
        at = end + 1;
    }
}

/// A field value as [`search_text`] shows it inside a JSON string, when the
/// two have the same words: the value's control characters (which search
/// text shows as spaces) become spaces. `None` when that could change its
/// words: a control character right after a date (`2026-11-01`), where a
/// space would make a timestamp (not words) of what the value has as words;
/// or a quote or backslash, which search text keeps escaped.
pub fn as_search_text(value: &str) -> Option<std::borrow::Cow<'_, str>> {
    if value.contains(['"', '\\']) {
        return None;
    }
    if !value.contains(char::is_control) {
        return Some(std::borrow::Cow::Borrowed(value));
    }
    let b = value.as_bytes();
    let after_date = |at: usize| {
        at >= 10 && {
            let d = &b[at - 10..at];
            let digits = |r: std::ops::Range<usize>| d[r].iter().all(u8::is_ascii_digit);
            digits(0..4) && d[4] == b'-' && digits(5..7) && d[7] == b'-' && digits(8..10)
        }
    };
    let mut out = String::with_capacity(value.len());
    for (at, c) in value.char_indices() {
        if c.is_control() {
            if after_date(at) {
                return None;
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    Some(std::borrow::Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokens(text, |t| {
            out.push(t.to_string());
            false
        });
        out
    }

    #[test]
    fn the_ascii_path_lowercases_as_every_character_does() {
        for text in ["WS-042.Corp.EXAMPLE", "ÄÖÜ Straße", "İstanbul", "ΣΊΣΥΦΟΣ", "MiXeD ascii ÉTÉ", "", "123-ABC_x"]
        {
            let per_char: String = text.chars().flat_map(char::to_lowercase).collect();
            assert_eq!(lowercase(text), per_char, "{text}");
        }
    }

    #[test]
    fn cuts_paths_addresses_and_mail() {
        assert_eq!(
            all(r"C:\Windows\System32\cmd.exe /c whoami"),
            ["c", "windows", "system32", "cmd.exe", "cmd", "exe", "c", "whoami"]
        );
        assert_eq!(
            all("from 10.0.0.1:443 user=Alice@Corp.example."),
            ["from", "10.0.0.1", "443", "user", "alice@corp.example", "alice", "corp", "example"]
        );
        assert_eq!(all("--- ... -x-"), ["x"]);
        assert_eq!(all("ÄBC"), ["äbc"]);
    }

    #[test]
    fn long_numbers_are_not_tokens() {
        assert_eq!(all("port 52214 bytes 1234567 id a1234567"), ["port", "52214", "bytes", "id", "a1234567"]);
        assert_eq!(all("v-1234567-x"), ["v-1234567-x", "v", "x"]);
    }

    #[test]
    fn guids_and_macs_are_found_whole() {
        assert_eq!(all("{8A1B2C3D-1234-5678-9ABC-DEF012345678}"), ["8a1b2c3d-1234-5678-9abc-def012345678"]);
        assert_eq!(all("mac 00-1a-2b-3c-4d-5e"), ["mac", "00-1a-2b-3c-4d-5e"]);
        // Words that happen to be hex, or have too few parts, are cut.
        assert_eq!(
            all("dead-beef-cafe-face db-01"),
            ["dead-beef-cafe-face", "dead", "beef", "cafe", "face", "db-01", "db", "01"]
        );
    }

    #[test]
    fn timestamps_are_not_tokens() {
        assert_eq!(all("at 2026-11-01T10:00:12.123456Z from x"), ["at", "from", "x"]);
        assert_eq!(all("2026-11-01 10:00 y"), ["y"]);
        assert_eq!(all("t=2026-11-01T10:00:00+09:00;z"), ["t", "z"]);
        assert_eq!(all("2026-11-01 only"), ["2026-11-01", "only"]);
        assert_eq!(all("v2026-11-01T10:00"), ["v2026-11-01t10", "v2026", "11", "01t10", "00"]);
        assert_eq!(phrase_terms("at 2026-11-01T10:00 from x"), ["at", "from"]);
    }

    #[test]
    fn long_runs_are_not_tokens() {
        let blob = "a".repeat(MAX_TOKEN + 1);
        assert_eq!(all(&format!("x {blob} y")), ["x", "y"]);
        let parts = format!("{}.b", "a".repeat(MAX_TOKEN));
        assert_eq!(all(&parts), ["a".repeat(MAX_TOKEN), "b".to_string()]);
    }

    #[test]
    fn phrases_respect_token_boundaries() {
        assert!(phrase_in("failed password for root", "failed password"));
        assert!(!phrase_in("unfailed password", "failed password"));
        assert!(!phrase_in("failed passwords", "failed password"));
        assert!(phrase_in("cat /etc/shadow", "/etc/shadow"));
        assert!(phrase_in("x/etc/shadowy /etc/shadow", "/etc/shadow"));
        assert!(phrase_in("a=/etc", "=/etc"));
        assert_eq!(phrase_terms("/etc/shadow -x cmd.exe v2"), ["etc", "shadow", "cmd.exe"]);
    }

    #[test]
    fn single_tokens() {
        assert!(is_single_token("cmd.exe"));
        assert!(is_single_token("adm*"));
        assert!(!is_single_token("c:\\x"));
        assert!(!is_single_token("-x"));
        assert!(!is_single_token(""));
    }

    fn words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokens(text, |t| {
            out.push(t.to_string());
            false
        });
        out.sort();
        out.dedup();
        out
    }

    fn split(raw: &str) -> (Vec<String>, Vec<String>) {
        let (mut keys, mut other) = (String::new(), String::new());
        split_json_keys(raw, &mut |k| keys.push_str(&format!("\"{k}\"")), &mut |o| other.push_str(&format!("\"{o}\"")));
        (words(&keys), words(&other))
    }

    #[test]
    fn keys_are_cut_out_of_json_objects_only() {
        let (keys, other) = split(r#"{"EventID": 4624, "User":"bob", "a\"b":"c:d", "Msg":"x\": y"}"#);
        assert_eq!(keys, ["a", "b", "eventid", "msg", "user"]);
        assert_eq!(other, ["4624", "bob", "c", "d", "x", "y"]);
        let (keys, other) = split(r#"user="bob": failed"#);
        assert!(keys.is_empty());
        assert_eq!(other, ["bob", "failed", "user"]);
    }

    #[test]
    fn json_escapes_are_read_as_what_they_stand_for() {
        let raw = r#"{"Message":"Subject:\r\n\tAccount Name:\tbob\u00e9 caf\u00E9 \ud83d\ude00x", "p":"C:\\temp\/a \"q\" \ud800z \u0022y \uzz \q"}"#;
        assert_eq!(
            search_text(raw),
            r#"{"Message":"Subject:   Account Name: bobé café 😀x", "p":"C:\\temp/a \"q\"  z  y \uzz \q"}"#
        );
        assert_eq!(
            words(&search_text(raw)),
            ["a", "account", "bobé", "c", "café", "message", "name", "p", "q", "subject", "temp", "uzz", "x", "y", "z"]
        );
        // Not a JSON object: read as it is (a path's `\t` is a separator).
        assert_eq!(search_text(r"C:\temp\new"), r"C:\temp\new");
        assert!(matches!(search_text(r#"{"a":"plain"}"#), std::borrow::Cow::Borrowed(_)));
        // Decoding makes no new escape: a second pass changes nothing.
        assert_eq!(search_text(&search_text(raw)), search_text(raw));
        assert_eq!(search_text(r#"{"a":"x\}"#), r#"{"a":"x\}"#);
    }

    /// Whatever the input, no word is lost or made up by the cut.
    #[test]
    fn the_cut_keeps_every_word() {
        let alphabet: Vec<char> = "{}\"\\: ,.-_aZ09T\u{e9}x".chars().collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            let mut raw = String::from("{");
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            for n in 0..len {
                let r = state.rotate_left(n as u32 * 5);
                raw.push(alphabet[(r % alphabet.len() as u64) as usize]);
            }
            raw.push('}');
            let (mut keys, mut other) = (Vec::new(), Vec::new());
            split_json_keys(&raw, &mut |k| keys.push(k.to_string()), &mut |o| other.push(o.to_string()));
            let mut got: Vec<String> = keys.iter().chain(&other).flat_map(|p| words(p)).collect();
            got.sort();
            got.dedup();
            assert_eq!(got, words(&raw), "{raw:?}");
        }
    }
    /// Up to `max - 1` pieces of `alphabet`, chosen from the next state of
    /// a xorshift generator (each piece by the state turned `n * turn`).
    fn random_text(state: &mut u64, alphabet: &[&str], max: u64, turn: u32) -> String {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let mut text = String::new();
        for n in 0..(*state % max) {
            let r = state.rotate_left(n as u32 * turn).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33;
            text.push_str(alphabet[(r % alphabet.len() as u64) as usize]);
        }
        text
    }

    /// `tokens` as first written, a character at a time: the byte-wise
    /// cut must give the same tokens in the same order.
    fn tokens_by_char(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(is_token_char) {
            rest = &rest[start..];
            if let Some(n) = timestamp_len(rest) {
                rest = &rest[n..];
                continue;
            }
            let end = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
            let run = rest[..end].trim_matches(is_minor_break);
            rest = &rest[end..];
            if run.is_empty() {
                continue;
            }
            let lower = lowercase(run);
            if lower.len() <= MAX_TOKEN && !long_number(&lower) {
                out.push(lower.clone());
            }
            if lower.contains(is_minor_break) && !whole_only(&lower) {
                for part in lower.split(is_minor_break) {
                    if !part.is_empty() && part.len() <= MAX_TOKEN && !long_number(part) {
                        out.push(part.to_string());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_byte_wise_cut_is_the_character_wise_cut() {
        let alphabet: Vec<&str> = vec![
            "a",
            "Z",
            "0",
            "9",
            "f",
            "T",
            " ",
            ":",
            ".",
            "-",
            "_",
            "@",
            "\\",
            "\"",
            "\u{e9}",
            "\u{c9}",
            "\u{2003}",
            "\u{130}",
            "\u{3042}",
            "\u{1f600}",
            "\u{660}",
            "2026-11-01T10:00:00Z",
            "+09:00",
            "0x1F",
            "\t",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..50_000 {
            let text = random_text(&mut state, &alphabet, 24, 7);
            assert_eq!(all(&text), tokens_by_char(&text), "{text:?}");
        }
    }

    /// What the store relies on to cut a JSON value's words once: a value
    /// whose [`as_search_text`] is one of the strings [`json_string_values`]
    /// finds in the search text has no word that the text's non-key pieces
    /// lack.
    #[test]
    fn a_value_found_in_the_search_text_has_no_word_of_its_own() {
        let alphabet: Vec<&str> = vec![
            "a",
            "B",
            "0",
            "9",
            " ",
            ":",
            "-",
            ".",
            "\\n",
            "\\t",
            "\\r",
            "\\u0000",
            "\\u0041",
            "\\\"",
            "\\\\",
            "\\/",
            "2026-11-01",
            "10:00",
            "T",
            "\u{e9}",
            "\\u00e9",
            "\\ud83d\\ude00",
            "+09:00",
        ];
        let mut state = 0x5851_f42d_4c95_7f2d_u64;
        let mut skipped = 0;
        for _ in 0..20_000 {
            let mut items = Vec::new();
            for _ in 0..3 {
                items.push(random_text(&mut state, &alphabet, 8, 9));
            }
            let raw = format!(r#"{{"k":"{}","l":["{}",1],"m":{{"n":"{}"}}}}"#, items[0], items[1], items[2]);
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&raw) else { continue };
            let text = search_text(&raw);
            let mut strings = Vec::new();
            json_string_values(&text, &mut |s| strings.push(s.to_string()));
            let mut text_words = Vec::new();
            split_json_keys(&text, &mut |_| {}, &mut |piece| text_words.extend(words(piece)));
            let values = [&json["k"], &json["l"][0], &json["m"]["n"]];
            for value in values.iter().filter_map(|v| v.as_str()) {
                let Some(shown) = as_search_text(value) else { continue };
                if strings.iter().any(|s| *s == *shown) {
                    skipped += 1;
                    for w in words(value) {
                        assert!(text_words.contains(&w), "{raw:?}: {value:?} has {w:?}");
                    }
                }
            }
        }
        // Most values are found: the test is about something.
        assert!(skipped > 30_000, "{skipped}");
    }
}
