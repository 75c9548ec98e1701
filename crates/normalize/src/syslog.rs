//! Syslog headers, RFC 5424 and RFC 3164, read leniently.
//!
//! Real devices break both RFCs: 3164 senders put ISO timestamps, years or
//! no host name in the header, and some send no `<PRI>` at all. The reader
//! takes what it can recognise and leaves the rest in the message; the only
//! records it refuses are empty ones and ones whose `<PRI>` is present but
//! wrong, because those are not syslog at all.

use jiff::Timestamp;

use crate::time;

/// One structured-data element: its SD-ID and its parameters.
pub type SdElement<'a> = (&'a str, Vec<(&'a str, String)>);

/// A syslog header and its message, borrowed from the line.
#[derive(Debug, Default, PartialEq)]
pub struct Syslog<'a> {
    pub priority: Option<u8>,
    /// `1` for RFC 5424; `None` for RFC 3164 and headerless lines.
    pub version: Option<u8>,
    pub timestamp: Option<Timestamp>,
    pub hostname: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    /// RFC 5424 structured data: `(SD-ID, [(name, value)])`.
    pub structured: Vec<SdElement<'a>>,
    pub message: &'a str,
}

/// Parses one syslog line. `received` gives the year of RFC 3164 timestamps,
/// which have none.
pub fn parse(line: &str, received: Timestamp) -> Result<Syslog<'_>, String> {
    let line = line.trim_end_matches(['\n', '\r', '\0']).trim_start_matches('\u{feff}');
    if line.trim().is_empty() {
        return Err("empty record".into());
    }
    let mut out = Syslog::default();
    let mut rest = line;
    if let Some(after) = rest.strip_prefix('<') {
        let end =
            after.find('>').filter(|&i| (1..=3).contains(&i)).ok_or("malformed priority: expected `<0>`..`<191>`")?;
        let digits = &after[..end];
        let pri: u16 = digits.parse().map_err(|_| format!("malformed priority `<{digits}>`"))?;
        if pri > 191 {
            return Err(format!("priority {pri} is out of range 0-191"));
        }
        out.priority = Some(pri as u8);
        rest = &after[end + 1..];
    }
    // RFC 5424: a version digit and a space right after the priority.
    if out.priority.is_some()
        && let Some((v, after)) = rest.split_once(' ')
        && !v.is_empty()
        && v.len() <= 2
        && v.bytes().all(|b| b.is_ascii_digit())
    {
        out.version = v.parse().ok();
        parse_5424(after, &mut out);
        return Ok(out);
    }
    parse_3164(rest, received, &mut out);
    Ok(out)
}

fn nil(s: &str) -> Option<&str> {
    (s != "-" && !s.is_empty()).then_some(s)
}

fn parse_5424<'a>(text: &'a str, out: &mut Syslog<'a>) {
    let mut rest = text;
    let mut next = || {
        let (tok, after) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = after;
        tok
    };
    out.timestamp = nil(next()).and_then(|t| t.parse::<Timestamp>().ok());
    out.hostname = nil(next());
    out.app_name = nil(next());
    out.proc_id = nil(next());
    out.msg_id = nil(next());
    let (structured, message) = structured_data(rest);
    out.structured = structured;
    out.message = message.strip_prefix('\u{feff}').unwrap_or(message);
}

/// Reads `-` or `[id k="v" ...]...` and returns it with the message after it.
/// Malformed structured data is left in the message.
fn structured_data(text: &str) -> (Vec<SdElement<'_>>, &str) {
    if let Some(msg) = text.strip_prefix('-') {
        return (Vec::new(), msg.strip_prefix(' ').unwrap_or(msg));
    }
    let mut elements = Vec::new();
    let mut rest = text;
    while let Some(body) = rest.strip_prefix('[') {
        let Some((element, after)) = sd_element(body) else {
            return (Vec::new(), text);
        };
        elements.push(element);
        rest = after;
    }
    if elements.is_empty() {
        return (elements, text);
    }
    (elements, rest.strip_prefix(' ').unwrap_or(rest))
}

/// One element after its `[`; returns it and the text after its `]`.
fn sd_element(body: &str) -> Option<(SdElement<'_>, &str)> {
    let id_end = body.find([' ', ']'])?;
    let id = &body[..id_end];
    let mut rest = &body[id_end..];
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if let Some(after) = rest.strip_prefix(']') {
            return Some(((id, params), after));
        }
        let eq = rest.find('=')?;
        let name = &rest[..eq];
        let quoted = rest[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()? {
                    (_, c @ ('"' | '\\' | ']')) => value.push(c),
                    (_, c) => {
                        value.push('\\');
                        value.push(c);
                    }
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        params.push((name, value));
        rest = &quoted[end + 1..];
    }
}

fn parse_3164<'a>(text: &'a str, received: Timestamp, out: &mut Syslog<'a>) {
    let mut rest = text.trim_start_matches(' ');
    if let Some((ts, after)) = time::syslog_prefix(rest, received) {
        out.timestamp = Some(ts);
        rest = after.trim_start_matches(' ');
    } else if out.priority.is_none() {
        // No priority and no timestamp: a bare message.
        out.message = rest;
        return;
    }
    // HOSTNAME, unless the first word is already the tag. Without a
    // timestamp the first word is only taken as a tag: `<13>hello world`
    // is a message, not host `hello`.
    if out.timestamp.is_some()
        && let Some((word, after)) = rest.split_once(' ')
        && !is_tag(word)
        && !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:%".contains(&b))
    {
        out.hostname = Some(word);
        rest = after.trim_start_matches(' ');
    }
    if let Some((app, pid, after)) = tag_of(rest) {
        out.app_name = Some(app);
        out.proc_id = pid;
        rest = after;
    }
    out.message = rest;
}

fn is_tag(word: &str) -> bool {
    word.ends_with(':') || (word.contains('[') && word.ends_with("]:"))
}

/// `app[pid]: rest` or `app: rest`.
fn tag_of(text: &str) -> Option<(&str, Option<&str>, &str)> {
    let colon = text.find(": ").or_else(|| text.strip_suffix(':').map(|t| t.len()))?;
    let tag = &text[..colon];
    if tag.is_empty() || tag.len() > 64 || tag.contains(' ') {
        return None;
    }
    let after = text.get(colon + 2..).unwrap_or("");
    match tag.split_once('[') {
        Some((app, pid)) => {
            let pid = pid.strip_suffix(']')?;
            (!app.is_empty()).then_some((app, Some(pid), after))
        }
        None => Some((tag, None, after)),
    }
}

/// Facility names by code (RFC 5424 table 1), as ECS `log.syslog.facility.name`.
pub fn facility_name(code: u8) -> &'static str {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("unknown")
}

/// Severity names by code, as ECS `log.syslog.severity.name`.
pub fn severity_name(code: u8) -> &'static str {
    const NAMES: [&str; 8] = ["emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"];
    NAMES.get(usize::from(code)).copied().unwrap_or("unknown")
}
