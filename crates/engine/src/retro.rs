//! Retro-hunt: rules run over stored events, with the stream's matcher.
//!
//! The store narrows the events by log source (only events a rule of the
//! set could apply to are read); each is normalized again exactly as the
//! stream did ([`crate::Renormalize`]) and matched by the same `sigma`
//! matcher, so a retro-hunt over the events the stream saw finds exactly
//! the stream's alerts, with the same ids. Findings are marked
//! `"origin": "retro-hunt"`. Correlation rules run too: the matches they
//! use are gathered from every chunk and fed to one correlator in event
//! time order once the scan is done.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use eventstore::{EventStore, Rebuild, Scan, SearchError, Stored};
use jiff::Timestamp;
use rayon::prelude::*;
use sigma::RuleSet;

use crate::Renormalize;
use crate::pipeline::{Detected, alert_lines};

pub struct RetroHunt<'a> {
    pub store: &'a EventStore,
    pub rules: &'a RuleSet,
    pub tenants: &'a [String],
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RetroSummary {
    /// Events read (the candidates of the rules' log sources).
    pub events: u64,
    /// Stored records that no longer parse (the parser changed since).
    pub unparsable: u64,
    pub alerts: u64,
}

pub const ORIGIN: &str = "retro-hunt";

impl RetroHunt<'_> {
    /// Whether a rule of the set applies to events of `logsource`
    /// (`product/category/service`), by Sigma's containment rule.
    fn accepts(&self, logsource: &str) -> bool {
        let theirs = crate::indexer::logsource_of(logsource);
        self.rules.rules().iter().any(|r| r.logsource.contains(&theirs))
    }

    fn scan<'s>(&'s self, accept: &'s (dyn Fn(&str) -> bool + Sync)) -> Scan<'s> {
        Scan { tenants: self.tenants, from: self.from, to: self.to, logsource: Some(accept) }
    }

    /// How many events the hunt will read.
    pub fn count(&self) -> Result<u64, SearchError> {
        self.store.scan_count(&self.scan(&|l: &str| self.accepts(l)))
    }

    /// Runs the hunt; `found` gets each alert (a JSON line, in no
    /// particular order), `progress` the events read so far.
    pub fn run(
        &self,
        found: &(dyn Fn(Vec<u8>) + Sync),
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<RetroSummary, SearchError> {
        let unparsable = AtomicU64::new(0);
        let alerts = AtomicU64::new(0);
        let correlator =
            correlate::Correlator::new(self.rules, correlate::Config { lateness_micros: 0, ..Default::default() });
        let needs = correlator.needs();
        let inputs = Mutex::new(Vec::new());
        let each = |chunk: Vec<Stored>| {
            // One matcher per chunk, reused for its events.
            let mut matcher = self.rules.matcher();
            for stored in &chunk {
                let Some(event) = Renormalize.event(stored) else {
                    unparsable.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let hits = matcher.matches_in(&stored.tenant, &event);
                if hits.is_empty() {
                    continue;
                }
                if !needs.is_empty() {
                    let mine =
                        crate::correlation::inputs(&needs, hits, &event, stored.timestamp, &stored.id, &stored.tenant);
                    if !mine.is_empty()
                        && let Ok(mut all) = inputs.lock()
                    {
                        all.extend(mine);
                    }
                }
                let fields = serde_json::to_vec(&event).unwrap_or_else(|_| b"{}".to_vec());
                let on = Detected {
                    id: &stored.id,
                    timestamp: stored.timestamp,
                    received: stored.received,
                    tenant: &stored.tenant,
                    source: &stored.source,
                    origin: Some(ORIGIN),
                };
                for (_, line) in alert_lines(self.rules, hits, &on, &fields) {
                    alerts.fetch_add(1, Ordering::Relaxed);
                    found(line);
                }
            }
        };
        let events = self.store.scan(&self.scan(&|l: &str| self.accepts(l)), &each, progress)?;
        let mut inputs = inputs.into_inner().unwrap_or_default();
        // Event time, then the log order the ids carry.
        inputs.sort_by(|a, b| (a.at, &a.event, a.rule).cmp(&(b.at, &b.event, b.rule)));
        for line in crate::correlation::replay(correlator, self.rules, &inputs, Some(ORIGIN)) {
            alerts.fetch_add(1, Ordering::Relaxed);
            found(line);
        }
        Ok(RetroSummary { events, unparsable: unparsable.into_inner(), alerts: alerts.into_inner() })
    }
}

/// Collects findings in memory (for callers that sort them).
pub fn collect(
    hunt: &RetroHunt<'_>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Vec<Vec<u8>>, RetroSummary), SearchError> {
    let out = Mutex::new(Vec::new());
    let summary = hunt.run(
        &|line| {
            if let Ok(mut v) = out.lock() {
                v.push(line);
            }
        },
        progress,
    )?;
    let mut lines = out.into_inner().unwrap_or_default();
    lines.par_sort_unstable();
    Ok((lines, summary))
}
