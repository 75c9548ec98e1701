//! `hinomi rules test`: each rule file may have a sibling test file
//! (`name.yml` → `name.test.yml`) of cases, each a list of events in
//! order and whether the file's rules fire on them:
//!
//! ```yaml
//! tests:
//!   - name: eight failures then a success
//!     events:
//!       - {"@timestamp": "2026-11-20T10:00:00Z", "EventID": 4625, "TargetUserName": "alice"}
//!       - {"@timestamp": "2026-11-20T10:00:30Z", "EventID": 4624, "TargetUserName": "alice"}
//!     match: true            # some alerting rule of the file fires
//!   - name: a success alone
//!     events: [{"EventID": 4624, "TargetUserName": "alice"}]
//!     match: false           # none does
//! ```
//!
//! A case may name the rules it is about (`rules: [id, ...]`) instead of
//! the file's alerting ones. Events are JSON objects as a shipper sends
//! them (nested objects become dotted names); each is matched against
//! the whole rule set, and the matches of rules correlations use go
//! through a fresh correlator per case, in event-time order (`@timestamp`,
//! else one second apart in the order written).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use correlate::Correlator;
use serde::Deserialize;
use sigma::RuleSet;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    events: Vec<serde_json::Value>,
    #[serde(rename = "match")]
    matches: bool,
    #[serde(default)]
    rules: Vec<String>,
}

/// One case's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Outcome {
    pub(crate) file: String,
    pub(crate) case: String,
    pub(crate) passed: bool,
    /// What fired, by rule or correlation id.
    pub(crate) fired: Vec<String>,
    pub(crate) problem: Option<String>,
}

/// The test file of a rule file, if it has one.
pub(crate) fn test_file_of(rule_file: &Path) -> Option<PathBuf> {
    let stem = rule_file.file_stem()?.to_str()?;
    if stem.ends_with(".test") {
        return None;
    }
    let candidate = rule_file.with_file_name(format!("{stem}.test.yml"));
    candidate.exists().then_some(candidate)
}

/// Runs the cases of `test_file` for the rules defined in `rule_file`.
pub(crate) fn run_file(set: &RuleSet, rule_file: &str, test_file: &Path) -> Result<Vec<Outcome>> {
    let text = std::fs::read_to_string(test_file).with_context(|| format!("reading {}", test_file.display()))?;
    let docs = sigma::yaml_to_json(&text).map_err(|e| anyhow::anyhow!("{}:{e}", test_file.display()))?;
    let doc = docs.into_iter().next().unwrap_or_default();
    let parsed: TestFile =
        serde_json::from_value(doc).with_context(|| format!("{}: not a rule test file", test_file.display()))?;
    // The rules and correlations this rule file defines and that alert.
    let own: BTreeSet<String> = set
        .rules()
        .iter()
        .filter(|r| r.path == rule_file && r.alerts)
        .map(|r| r.id.clone())
        .chain(set.correlations().iter().filter(|c| c.def.path == rule_file && c.alerts).map(|c| c.def.id.clone()))
        .collect();
    let mut out = Vec::new();
    for case in parsed.tests {
        let about: BTreeSet<String> =
            if case.rules.is_empty() { own.clone() } else { case.rules.iter().cloned().collect() };
        let result = fire(set, &case.events);
        let (passed, fired, problem) = match result {
            Ok(fired) => {
                let hit = fired.iter().any(|f| about.contains(f));
                let problem = match (case.matches, hit) {
                    (true, false) => Some(format!("expected {} to fire; fired: {fired:?}", list(&about))),
                    (false, true) => Some(format!("expected {} not to fire", list(&about))),
                    _ => None,
                };
                (problem.is_none(), fired, problem)
            }
            Err(e) => (false, Vec::new(), Some(e)),
        };
        out.push(Outcome { file: test_file.display().to_string(), case: case.name, passed, fired, problem });
    }
    Ok(out)
}

fn list(ids: &BTreeSet<String>) -> String {
    if ids.is_empty() {
        "(no alerting rule in the file)".into()
    } else {
        ids.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Every rule and correlation that matches or fires on `events` (matches
/// of rules that do not alert on their own included), in order of first
/// firing, each once.
fn fire(set: &RuleSet, events: &[serde_json::Value]) -> Result<Vec<String>, String> {
    let mut timed = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        if !e.is_object() {
            return Err(format!("event {} is not a JSON object", i + 1));
        }
        // Read as ingest reads a JSON record, so that it has the log source
        // the server would give it (a Windows event needs its `Channel`).
        let event = normalize::parse_record(&e.to_string(), normalize::Format::Json, jiff::Timestamp::UNIX_EPOCH)
            .map_err(|err| format!("event {}: {err}", i + 1))?;
        let at = event
            .text("@timestamp")
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(i as i64 * 1_000_000, |t| t.as_microsecond());
        timed.push((at, i, event));
    }
    timed.sort_by_key(|(at, i, _)| (*at, *i));
    let mut matcher = set.matcher();
    let mut correlator = Correlator::new(set, correlate::Config { lateness_micros: 0, ..correlate::Config::default() });
    let mut fired: Vec<String> = Vec::new();
    let mut results = Vec::new();
    let seen = |id: &str, fired: &mut Vec<String>| {
        if !fired.iter().any(|f| f == id) {
            fired.push(id.to_owned());
        }
    };
    for (at, i, event) in &timed {
        let hits = matcher.matches(event).to_vec();
        for r in hits {
            seen(&set.rules()[r].id, &mut fired);
            if correlator.wants(r) {
                let read = |name: &str| event.text(name).map(|v| v.into_owned());
                correlator.observe("test", r, *at, &format!("event {}", i + 1), &read, &mut results);
            }
        }
    }
    // The end of the case: windows still open are judged.
    correlator.advance(i64::MAX / 2, &mut results);
    for f in &results {
        seen(&set.correlations()[f.correlation].def.id, &mut fired);
    }
    Ok(fired)
}
