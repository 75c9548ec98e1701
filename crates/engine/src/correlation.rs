//! Correlation rules in the stream: the journal writer feeds every match of
//! a rule a correlation uses, in log order, to one `correlate::Correlator`,
//! and writes what fires to the alert journal like any alert.
//!
//! The correlator's state is saved with each checkpoint and stamped with
//! its log position: `correlation-next.json` is written before the
//! checkpoint and renamed to `correlation.json` after it, so whichever
//! file carries the checkpoint's position is the state at that position.
//! A restart restores it and replays the log from the checkpoint: a
//! sequence that spans a restart fires once, neither lost nor repeated.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use correlate::{Correlator, Fired};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use sigma::RuleSet;

/// One match a correlation uses, with the fields it reads.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub(crate) rule: usize,
    pub(crate) at: Timestamp,
    pub(crate) event: String,
    pub(crate) tenant: String,
    pub(crate) fields: Vec<(String, String)>,
}

/// The fields to read from an event for each rule correlations use.
pub(crate) type Needs = HashMap<usize, Vec<String>>;

/// The matches of `hits` that correlations use, with their fields read
/// from `event` (directly, or through a log-source alias).
pub(crate) fn inputs(
    needs: &Needs,
    hits: &[usize],
    event: &model::Event,
    at: Timestamp,
    id: &str,
    tenant: &str,
) -> Vec<Input> {
    let mut out = Vec::new();
    for &rule in hits {
        let Some(names) = needs.get(&rule) else { continue };
        let fields = names.iter().filter_map(|n| Some((n.clone(), field_text(event, n)?))).collect();
        out.push(Input { rule, at, event: id.to_owned(), tenant: tenant.to_owned(), fields });
    }
    out
}

/// A field by the name a rule uses: the event's own, else the one a log
/// source maps that name to.
fn field_text(event: &model::Event, name: &str) -> Option<String> {
    if let Some(v) = event.text(name) {
        return Some(v.into_owned());
    }
    event
        .views
        .iter()
        .find_map(|view| {
            view.aliases.iter().find(|(rule_name, _)| &**rule_name == name).and_then(|(_, ev)| event.text(ev))
        })
        .map(std::borrow::Cow::into_owned)
}

pub(crate) struct Correlations {
    correlator: Correlator,
    current: PathBuf,
    next: PathBuf,
}

impl Correlations {
    /// The correlator for `rules`, restored to the state saved at log
    /// position `position` when there is one.
    pub(crate) fn open(data: &Path, rules: &RuleSet, config: correlate::Config, position: u64) -> Correlations {
        let mut correlator = Correlator::new(rules, config);
        let (current, next) = (data.join("correlation.json"), data.join("correlation-next.json"));
        if !correlator.is_empty() {
            let mut restored = false;
            for path in [&next, &current] {
                let Ok(bytes) = std::fs::read(path) else { continue };
                match read_state(&bytes) {
                    Ok((at, state)) if at == position => match correlator.restore(state.as_bytes()) {
                        Ok(()) => {
                            restored = true;
                            break;
                        }
                        Err(e) => eprintln!("hinomi: {}: {e}; correlations start empty", path.display()),
                    },
                    Ok(_) => {}
                    Err(e) => eprintln!("hinomi: {}: {e}", path.display()),
                }
            }
            if !restored && position > 0 && (current.exists() || next.exists()) {
                eprintln!("hinomi: no correlation state for log position {position}; correlations start empty");
            }
        }
        Correlations { correlator, current, next }
    }

    pub(crate) fn needs(&self) -> Needs {
        self.correlator.needs()
    }

    pub(crate) fn stats(&self) -> correlate::Stats {
        self.correlator.stats()
    }

    /// Feeds matches in log order; returns the alert lines of what fired.
    pub(crate) fn feed(&mut self, inputs: &[Input], rules: &RuleSet) -> Vec<Vec<u8>> {
        if inputs.is_empty() {
            return Vec::new();
        }
        let mut fired = Vec::new();
        for i in inputs {
            let read = |name: &str| i.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            self.correlator.observe(&i.tenant, i.rule, i.at.as_microsecond(), &i.event, &read, &mut fired);
        }
        fired.iter().filter(|f| f.alerts).map(|f| alert_line(rules, f)).collect()
    }

    /// Writes the state as of log position `position`, before the
    /// checkpoint that records that position.
    pub(crate) fn save_next(&mut self, position: u64) -> std::io::Result<()> {
        if self.correlator.is_empty() {
            return Ok(());
        }
        let state = self.correlator.snapshot();
        let tmp = self.next.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        write!(f, "{{\"position\":{position},\"state\":")?;
        f.write_all(&state)?;
        f.write_all(b"}")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.next)
    }

    /// After the checkpoint is saved: the new state is the current one.
    pub(crate) fn commit(&mut self) -> std::io::Result<()> {
        if self.correlator.is_empty() {
            return Ok(());
        }
        std::fs::rename(&self.next, &self.current)
    }
}

/// `(position, raw state JSON)` of a saved file.
fn read_state(bytes: &[u8]) -> Result<(u64, String), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("unreadable correlation state: {e}"))?;
    let position = v.get("position").and_then(Value::as_u64).ok_or("correlation state without a position")?;
    let state = v.get("state").ok_or("correlation state without a state")?;
    Ok((position, state.to_string()))
}

/// The alert line of a correlation result: the group's values as the
/// event (so triage finds its entities) and every contributing event as
/// evidence.
fn alert_line(rules: &RuleSet, f: &Fired) -> Vec<u8> {
    let c = &rules.correlations()[f.correlation].def;
    let at = Timestamp::from_microsecond(f.last).unwrap_or(Timestamp::UNIX_EPOCH);
    let first = Timestamp::from_microsecond(f.first).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut event = Map::new();
    for (k, v) in &f.group {
        event.insert(k.clone(), Value::String(v.clone()));
    }
    event.insert("correlation.type".into(), json!(c.kind.as_str()));
    event.insert("correlation.value".into(), json!(f.value));
    event.insert("correlation.event_count".into(), json!(f.event_count));
    event.insert("correlation.first".into(), json!(first.to_string()));
    let id = format!("{}.{}", f.events.first().map_or("none", String::as_str), c.id);
    let line = json!({
        "id": id,
        "kind": "correlation",
        "events": f.events,
        "@timestamp": at.to_string(),
        "detected": Timestamp::now().to_string(),
        "tenant": f.tenant,
        "source": "correlation",
        "level": c.level.as_str(),
        "title": c.title,
        "rule": {
            "id": c.id,
            "title": c.title,
            "level": c.level.as_str(),
            "tags": c.tags,
            "author": c.author,
            "path": c.path,
        },
        "event": event,
    });
    serde_json::to_vec(&line).unwrap_or_default()
}
