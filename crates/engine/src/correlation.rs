//! Correlation rules in the stream: the journal writer feeds every match of
//! a rule a correlation uses, in log order, to one `correlate::Correlator`,
//! and writes what fires to the alert journal like any alert.
//!
//! The correlator's state is saved with each checkpoint and stamped with
//! its log position: `correlation-next.json` is written before the
//! checkpoint and renamed to `correlation.json` after it, so whichever
//! file carries the checkpoint's position is the state at that position.
//! An unchanged state is not written again; `correlation-valid.json` says
//! up to which position the current file still holds.
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
    valid: PathBuf,
    /// Changed since the state was last written.
    dirty: bool,
    /// The position the current file was written at.
    saved_at: Option<u64>,
    /// A written `correlation-next.json` waiting for its checkpoint.
    pending: Option<u64>,
}

/// The saved state is written only when it changed: while nothing
/// changes, `correlation-valid.json` records that the current file (made
/// at `from`) is still the state at `to`, so a restart from any checkpoint
/// in between restores it. A server with many groups does not rewrite them
/// every second.
#[derive(serde::Serialize, serde::Deserialize)]
struct Valid {
    from: u64,
    to: u64,
}

impl Correlations {
    /// The correlator for `rules`, restored to the state saved at log
    /// position `position` when there is one.
    pub(crate) fn open(data: &Path, rules: &RuleSet, config: correlate::Config, position: u64) -> Correlations {
        let mut c = Correlations {
            correlator: Correlator::new(rules, config),
            current: data.join("correlation.json"),
            next: data.join("correlation-next.json"),
            valid: data.join("correlation-valid.json"),
            dirty: false,
            saved_at: None,
            pending: None,
        };
        if c.correlator.is_empty() {
            return c;
        }
        let valid: Option<Valid> = std::fs::read(&c.valid).ok().and_then(|b| serde_json::from_slice(&b).ok());
        // The next file, made for exactly this checkpoint (a crash came
        // before it became current), then the current one.
        let candidates = [(&c.next, true), (&c.current, false)];
        let mut restored = None;
        for (path, is_next) in candidates {
            let Ok(bytes) = std::fs::read(path) else { continue };
            let (at, state) = match read_state(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "correlation state unreadable");
                    continue;
                }
            };
            let fits = at == position
                || (!is_next && valid.as_ref().is_some_and(|v| v.from == at && at <= position && position <= v.to));
            if !fits {
                continue;
            }
            match c.correlator.restore(state.as_bytes()) {
                Ok(()) => {
                    restored = Some((at, is_next));
                    break;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "correlation state unreadable; correlations start empty")
                }
            }
        }
        match restored {
            Some((at, true)) => {
                // It belongs to the checkpoint: make it current now.
                if std::fs::rename(&c.next, &c.current).is_ok() {
                    c.saved_at = Some(at);
                } else {
                    c.dirty = true;
                }
            }
            Some((at, false)) => c.saved_at = Some(at),
            None => {
                c.dirty = true;
                if position > 0 && (c.current.exists() || c.next.exists()) {
                    tracing::warn!(position, "no correlation state for this log position; correlations start empty");
                }
            }
        }
        c
    }

    pub(crate) fn needs(&self) -> Needs {
        self.correlator.needs()
    }

    pub(crate) fn stats(&self) -> correlate::Stats {
        self.correlator.stats()
    }

    /// Feeds matches in log order; returns the alert lines of what fired.
    /// Feeds matches in log order; returns the alert lines of the
    /// correlations that fired, but for those `off` says the tenant
    /// switched off (their state still runs: a chain built on one still
    /// sees it fire).
    pub(crate) fn feed(&mut self, inputs: &[Input], rules: &RuleSet, off: &dyn Fn(&str, &str) -> bool) -> Vec<Vec<u8>> {
        if inputs.is_empty() {
            return Vec::new();
        }
        self.dirty = true;
        let mut fired = Vec::new();
        for i in inputs {
            let read = |name: &str| i.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            self.correlator.observe(&i.tenant, i.rule, i.at.as_microsecond(), &i.event, &read, &mut fired);
        }
        fired
            .iter()
            .filter(|f| f.alerts && !rules.correlations().get(f.correlation).is_some_and(|c| off(&f.tenant, &c.def.id)))
            .map(|f| alert_line(rules, f, None))
            .collect()
    }

    /// Before the checkpoint at log position `position`: a changed state
    /// goes to `correlation-next.json`; an unchanged one only extends the
    /// current file's validity to `position`.
    pub(crate) fn save_next(&mut self, position: u64) -> std::io::Result<()> {
        if self.correlator.is_empty() {
            return Ok(());
        }
        match self.saved_at {
            Some(from) if !self.dirty => {
                let valid = serde_json::to_vec(&Valid { from, to: position }).map_err(std::io::Error::other)?;
                write_atomic(&self.valid, &valid)?;
                self.pending = None;
            }
            _ => {
                let mut bytes = format!("{{\"position\":{position},\"state\":").into_bytes();
                bytes.extend_from_slice(&self.correlator.snapshot());
                bytes.push(b'}');
                write_atomic(&self.next, &bytes)?;
                self.pending = Some(position);
            }
        }
        Ok(())
    }

    /// After the checkpoint is saved: a new state becomes the current one.
    pub(crate) fn commit(&mut self) -> std::io::Result<()> {
        if let Some(at) = self.pending.take() {
            std::fs::rename(&self.next, &self.current)?;
            self.saved_at = Some(at);
            self.dirty = false;
        }
        Ok(())
    }
}

/// Writes a file whole or not at all: a temporary file, synced, renamed.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// `(position, raw state JSON)` of a saved file.
fn read_state(bytes: &[u8]) -> Result<(u64, String), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("unreadable correlation state: {e}"))?;
    let position = v.get("position").and_then(Value::as_u64).ok_or("correlation state without a position")?;
    let state = v.get("state").ok_or("correlation state without a state")?;
    Ok((position, state.to_string()))
}

/// Runs a correlator over matches gathered elsewhere (a retro-hunt), in
/// the order given, judging every window still open at the end; the alert
/// lines of what fired, marked with `origin`.
pub(crate) fn replay(
    mut correlator: Correlator,
    rules: &RuleSet,
    inputs: &[Input],
    origin: Option<&str>,
) -> Vec<Vec<u8>> {
    if correlator.is_empty() {
        return Vec::new();
    }
    let mut fired = Vec::new();
    for i in inputs {
        let read = |name: &str| i.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        correlator.observe(&i.tenant, i.rule, i.at.as_microsecond(), &i.event, &read, &mut fired);
    }
    correlator.advance(i64::MAX / 2, &mut fired);
    fired.iter().filter(|f| f.alerts).map(|f| alert_line(rules, f, origin)).collect()
}

/// The alert line of a correlation result: the group's values as the
/// event (so triage finds its entities) and every contributing event as
/// evidence.
fn alert_line(rules: &RuleSet, f: &Fired, origin: Option<&str>) -> Vec<u8> {
    let c = &rules.correlations()[f.correlation].def;
    let at = Timestamp::from_microsecond(f.last).unwrap_or(Timestamp::UNIX_EPOCH);
    let first = Timestamp::from_microsecond(f.first).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut event = Map::new();
    for (k, v) in &f.group {
        event.insert(k.clone(), Value::String(v.clone()));
    }
    event.insert("correlation.type".into(), json!(c.kind.as_str()));
    event.insert("correlation.value".into(), json!(f.value));
    if let Some(b) = f.baseline {
        event.insert("correlation.baseline".into(), json!(b));
    }
    event.insert("correlation.event_count".into(), json!(f.event_count));
    event.insert("correlation.first".into(), json!(first.to_string()));
    let id = format!("{}.{}", f.events.first().map_or("none", String::as_str), c.id);
    let mut line = json!({
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
    if let (Some(o), Some(map)) = (origin, line.as_object_mut()) {
        map.insert("origin".into(), json!(o));
    }
    serde_json::to_vec(&line).unwrap_or_default()
}
