//! The fields that say what one event did, as an analyst reads it in a
//! line: who, from where, what ran, what was reached, how much moved.
//! The incident story and the alert page print them beside each step
//! (what Hayabusa's "details" column does for its rules).

/// Candidate fields, most telling first: where it happened, then Windows
/// names, then the
/// normalized ones, then network and web logs. The first few an event has
/// are its key fields.
const KEY_FIELDS: &[&str] = &[
    "host.name",
    "TargetUserName",
    "user.name",
    "IpAddress",
    "source.ip",
    "LogonType",
    "WorkstationName",
    "Image",
    "NewProcessName",
    "CommandLine",
    "ParentImage",
    "ServiceName",
    "ImagePath",
    "ShareName",
    "RelativeTargetName",
    "TargetFilename",
    "TargetObject",
    "process.command_line",
    "destination.ip",
    "destination.port",
    "url.full",
    "c-uri",
    "cs-host",
    "dns.question.name",
    "query",
    "sc-bytes",
    "cs-bytes",
    "network.bytes",
    "bytes_out",
    "event.action",
];

/// Key fields shown at most, and characters per value.
const MAX_FIELDS: usize = 7;
const MAX_VALUE: usize = 160;

/// The key fields of an event, through `get` (a field's value as text,
/// if it has one). A value already shown under another name (`user.name`
/// beside `TargetUserName`) is not repeated.
pub fn key_fields(get: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for name in KEY_FIELDS {
        if out.len() == MAX_FIELDS {
            break;
        }
        let Some(value) = get(name).filter(|v| !v.trim().is_empty() && v != "-") else { continue };
        let value = match value.char_indices().nth(MAX_VALUE) {
            Some((at, _)) => format!("{}…", &value[..at]),
            None => value,
        };
        if !out.iter().any(|(_, v)| v.eq_ignore_ascii_case(&value)) {
            out.push((name, value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_telling_fields_without_repeats() {
        let event = serde_json::json!({"TargetUserName": "alice", "user.name": "ALICE", "IpAddress": "203.0.113.7",
            "LogonType": 3, "WorkstationName": "-", "EventID": 4625, "CommandLine": "x".repeat(500)});
        let get = |f: &str| event.get(f).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let got = key_fields(get);
        let names: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["TargetUserName", "IpAddress", "LogonType", "CommandLine"]);
        assert_eq!(got[3].1.chars().count(), MAX_VALUE + 1);
    }
}
