//! The responder: loads response playbooks from their directory, starts
//! the runs their triggers call for, and drives each run step by step
//! from the state store (docs/respond.md).
//!
//! One claimer thread follows the incident log (a cursor: each incident
//! touched is offered to its tenant's playbooks; a trigger's run has a
//! key, so one incident starts one run per playbook), expires requests
//! for approval, and claims due runs with a lease for a few workers. A
//! worker writes each step's row before acting on it: an action's row
//! says `running` before the call is made, so a worker killed during the
//! call leaves a row that says the call may have happened, and the next
//! worker makes it again with the same idempotency key. Steps recorded
//! done are never made again. Every call has a timeout; a receiver that
//! fails or hangs holds one worker for at most that long, is tried again
//! with backoff, and ends in the dead letter (a dead step fails its run
//! and tells people).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use playbook::{ActionKind, Call, Decision, EnrichSource, Facts, Next, Playbook, Step, StepKind};
use state::{NewRun, NewStep, State};

use crate::config::RespondConfig;

/// A playbook file that did not load: the file and the error (with its
/// line and column when it has them).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadFailure {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
    }
}

/// Whether a file is a playbook's test file (`NAME.test.yml`).
pub fn is_test_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".test.yml") || n.ends_with(".test.yaml"))
}

/// The playbook files under `paths` (files, or directories walked), in
/// name order; test files are not playbooks.
pub fn playbook_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            for entry in std::fs::read_dir(&p)? {
                todo.push(entry?.path());
            }
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") && !is_test_file(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Playbooks that loaded, each with its file.
pub type Loaded = Vec<(String, Playbook)>;

/// Loads every playbook under `paths`: the ones that load, and what was
/// wrong with the others (two playbooks of one tenant with one id: the
/// second is refused).
pub fn load_playbooks(paths: &[PathBuf]) -> std::io::Result<(Loaded, Vec<LoadFailure>)> {
    let (mut loaded, mut failed): (Loaded, Vec<LoadFailure>) = (Vec::new(), Vec::new());
    for path in playbook_files(paths)? {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                failed.push(LoadFailure { file, line: 0, col: 0, message: format!("reading it: {e}") });
                continue;
            }
        };
        match playbook::load(&text) {
            Ok(p) => {
                if let Some((other, _)) = loaded.iter().find(|(_, o)| o.tenant == p.tenant && o.id == p.id) {
                    let message = format!("playbook {:?} of tenant {:?} is also in {other}", p.id, p.tenant);
                    failed.push(LoadFailure { file, line: 1, col: 1, message });
                } else {
                    loaded.push((file, p));
                }
            }
            Err(e) => failed.push(LoadFailure { file, line: e.line, col: e.col, message: e.message }),
        }
    }
    Ok((loaded, failed))
}

/// The cursor over the incident log that automatic runs start from.
const CURSOR: &str = "respond.log";

/// Runs driven at once.
const WORKERS: usize = 16;

/// Calls to one destination at once (a host and port, or a program).
const PER_DESTINATION: usize = 4;

/// The most output of a call kept with its step.
const MAX_OUTPUT: usize = 64 << 10;

/// Why a step failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) why: String,
    pub(crate) permanent: bool,
}

fn failed(why: impl Into<String>) -> Failed {
    Failed { why: why.into(), permanent: false }
}

fn refused(why: impl Into<String>) -> Failed {
    Failed { why: why.into(), permanent: true }
}

/// The responder: starts the runs triggers call for, drives runs step by
/// step, and makes their calls. Shared with the API (runs by hand, dry
/// runs, rollbacks).
pub struct Responder {
    state: Arc<State>,
    config: RespondConfig,
    playbooks: Vec<(String, Playbook)>,
    store: Option<Arc<eventstore::EventStore>>,
    geo: Option<Arc<geo::Geo>>,
    http: ureq::Agent,
    lease: SignedDuration,
    lanes: crate::lanes::Lanes,
}

impl Responder {
    /// A responder over the playbooks that loaded (the others are logged
    /// with file, line and column).
    pub fn new(
        state: Arc<State>,
        config: &RespondConfig,
        data: &Path,
        store: Option<Arc<eventstore::EventStore>>,
        geo: Option<Arc<geo::Geo>>,
    ) -> std::io::Result<Responder> {
        let dir = config.playbook_dir(data);
        let (playbooks, failures) = if dir.exists() { load_playbooks(&[dir])? } else { (Vec::new(), Vec::new()) };
        for f in &failures {
            tracing::error!(playbook = %f, "a playbook did not load; the others run");
        }
        tracing::info!(playbooks = playbooks.len(), refused = failures.len(), "response playbooks loaded");
        let http = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout.0))
            .http_status_as_error(false)
            .build()
            .into();
        let lease = SignedDuration::try_from(config.lease.0).unwrap_or(SignedDuration::from_mins(5));
        let lanes = crate::lanes::Lanes::new(PER_DESTINATION);
        Ok(Responder { state, config: config.clone(), playbooks, store, geo, http, lease, lanes })
    }

    /// The playbooks of a tenant.
    pub fn playbooks(&self, tenant: &str) -> impl Iterator<Item = &Playbook> {
        self.playbooks.iter().map(|(_, p)| p).filter(move |p| p.tenant == tenant)
    }

    fn playbook(&self, tenant: &str, id: &str) -> Option<&(String, Playbook)> {
        self.playbooks.iter().find(|(_, p)| p.tenant == tenant && p.id == id)
    }

    /// What a playbook knows of an incident.
    pub fn facts(&self, tenant: &str, incident: i64) -> Result<Facts, state::StateError> {
        let e = self.state.escalation(tenant, incident)?;
        let assets = self.state.assets(tenant)?;
        let mut tags: Vec<String> =
            e.alerts.iter().flat_map(|a| a.tags.iter().map(|t| t.to_ascii_lowercase())).collect();
        tags.sort();
        tags.dedup();
        Ok(Facts {
            tenant: tenant.to_string(),
            incident,
            title: e.incident.title.clone(),
            severity: e.incident.severity,
            rules: e.alerts.iter().map(|a| a.rule_id.clone()).collect(),
            tags,
            entities: e.entities.iter().map(|x| (x.kind, x.value.clone())).collect(),
            asset_criticality: assets.most_critical(&e.entities).map(|a| a.criticality),
        })
    }

    /// Starts `playbook` on an incident by hand (or, with `key`, for a
    /// trigger). The inputs are checked first; a refusal says why.
    pub fn start(
        &self,
        tenant: &str,
        incident: i64,
        playbook: &str,
        given: &BTreeMap<String, String>,
        by: &str,
        key: Option<String>,
    ) -> Result<Option<state::Run>, StartError> {
        let (file, p) = self
            .playbook(tenant, playbook)
            .ok_or_else(|| StartError::Unknown(format!("tenant {tenant} has no playbook {playbook:?}")))?;
        let facts = self.facts(tenant, incident).map_err(StartError::State)?;
        let inputs = playbook::inputs(p, &facts, given).map_err(StartError::Refused)?;
        let source = std::fs::read_to_string(file).map_err(|e| StartError::Unknown(format!("reading {file}: {e}")))?;
        let new = NewRun {
            tenant: tenant.to_string(),
            incident,
            playbook: p.id.clone(),
            version: i64::from(p.version),
            source,
            inputs: serde_json::Value::Object(
                inputs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.as_str().to_string()))).collect(),
            ),
            started_by: by.to_string(),
            key,
        };
        self.state.start_run(&new, Timestamp::now()).map_err(StartError::State)
    }

    /// A dry run: the steps, decisions and exact calls, nothing stored.
    pub fn dry_run(
        &self,
        tenant: &str,
        incident: i64,
        playbook: &str,
        given: &BTreeMap<String, String>,
    ) -> Result<Vec<playbook::Planned>, StartError> {
        let (_, p) = self
            .playbook(tenant, playbook)
            .ok_or_else(|| StartError::Unknown(format!("tenant {tenant} has no playbook {playbook:?}")))?;
        let facts = self.facts(tenant, incident).map_err(StartError::State)?;
        playbook::dry_run(p, &facts, given, &BTreeMap::new(), &self.config.actions, &self.config.authority)
            .map_err(StartError::Refused)
    }

    /// Starts the runs triggers call for on the incidents the log touched.
    fn trigger(&self) -> Result<(), state::StateError> {
        let (touched, last) = self.state.touched_incidents(CURSOR, 2000)?;
        for (tenant, incident) in touched {
            // A closed incident starts nothing (closing it touched it too).
            match self.state.incident(&tenant, incident) {
                Ok(i) if i.status.is_done() => continue,
                Ok(_) => {}
                Err(state::StateError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
            let facts = self.facts(&tenant, incident)?;
            for p in self.playbooks(&tenant).filter(|p| p.trigger.fits(&facts)) {
                let key = format!("auto:{tenant}:{incident}:{}", p.id);
                match self.start(&tenant, incident, &p.id, &BTreeMap::new(), "hinomi", Some(key.clone())) {
                    Ok(_) => {}
                    Err(StartError::Refused(why)) => {
                        // Kept and told: a stopped run with the reason.
                        tracing::warn!(tenant = %tenant, incident, playbook = %p.id, reason = %why, "a playbook's inputs were refused");
                        let new = NewRun {
                            tenant: tenant.clone(),
                            incident,
                            playbook: p.id.clone(),
                            version: i64::from(p.version),
                            source: String::new(),
                            inputs: serde_json::json!({}),
                            started_by: "hinomi".into(),
                            key: Some(key),
                        };
                        let now = Timestamp::now();
                        if let Some(run) = self.state.start_run(&new, now)? {
                            let by = state::By { tenant: &tenant, actor: "hinomi", now };
                            self.state.stop_run(&by, run.id, &format!("inputs refused: {why}"))?;
                        }
                    }
                    Err(StartError::State(e)) => return Err(e),
                    Err(StartError::Unknown(why)) => tracing::error!(reason = %why, "starting a playbook"),
                }
            }
        }
        self.state.move_cursor(CURSOR, last)
    }

    /// Tells people about requests that expired (on-call escalates them).
    fn expire(&self) -> Result<(), state::StateError> {
        let now = Timestamp::now();
        for (run, step) in self.state.expire_approvals(now)? {
            self.notice(&run, &step, notify::Trigger::ApprovalExpired, "the request expired unanswered")?;
        }
        Ok(())
    }

    /// A notice about a run's step (its key names the step: one each).
    fn notice(
        &self,
        run: &state::Run,
        step: &state::RunStep,
        trigger: notify::Trigger,
        detail: &str,
    ) -> Result<(), state::StateError> {
        let incident = self.state.incident(&run.tenant, run.incident)?;
        let n = notify::Notice {
            tenant: run.tenant.clone(),
            trigger,
            incident: Some(run.incident),
            severity: incident.severity,
            title: incident.title.clone(),
            at: Timestamp::now(),
            facts: vec![
                ("playbook".into(), run.playbook.clone()),
                ("step".into(), step.step.clone()),
                ("detail".into(), detail.to_string()),
            ],
            subject: Some(format!("run:{}:step:{}", run.id, step.seq)),
        };
        self.state.add_notice(&n, Timestamp::now()).map(drop)
    }

    /// The step row a run writes when it reaches `step`: the policy's
    /// decision and the call it would make.
    fn new_step(&self, run: &state::Run, facts: &Facts, step: &Step, values: &BTreeMap<String, String>) -> NewStep {
        let (kind, destructive, call) = match &step.kind {
            StepKind::Action { action, with } => {
                let with: BTreeMap<String, String> =
                    with.iter().map(|(k, v)| (k.clone(), playbook::render_text(v, values))).collect();
                match self.config.actions.iter().find(|a| a.name == *action) {
                    Some(def) => {
                        let mut call = match playbook::render_call(def, &with, false) {
                            Ok(Some(c)) => playbook::describe(&c),
                            Ok(None) => serde_json::json!({}),
                            Err(e) => serde_json::json!({"refused": e}),
                        };
                        call["action"] = serde_json::json!(action);
                        call["with"] = serde_json::json!(with);
                        (def.kind, def.destructive, Some(call))
                    }
                    None => (ActionKind::Other, false, Some(serde_json::json!({"action": action, "missing": true}))),
                }
            }
            StepKind::Enrich { .. } => (ActionKind::Enrich, false, None),
            StepKind::Notify { .. } => (ActionKind::Notify, false, None),
            StepKind::Wait { .. } | StepKind::Branch { .. } => (ActionKind::Enrich, false, None),
        };
        let decision = playbook::decide(&self.config.authority, &run.tenant, kind, facts.severity, destructive);
        let (decision, need) = match decision {
            Decision::Auto => ("auto", None),
            Decision::Propose => ("propose", None),
            Decision::Approve { role, approvers, expires } => {
                let until = Timestamp::now().checked_add(expires).unwrap_or(Timestamp::MAX);
                ("approve", Some((role, i64::from(approvers), until)))
            }
        };
        let kind = match &step.kind {
            StepKind::Enrich { .. } => "enrich",
            StepKind::Notify { .. } => "notify",
            StepKind::Action { .. } => "action",
            StepKind::Wait { .. } => "wait",
            StepKind::Branch { .. } => "branch",
        };
        NewStep { step: step.id.clone(), kind: kind.into(), decision: decision.into(), call, need }
    }

    /// Drives a claimed run until it waits, ends, or has had its lease's
    /// half; then lets it go.
    fn drive(&self, mut run: state::Run) -> Result<(), state::StateError> {
        let started = std::time::Instant::now();
        let budget = self.lease.unsigned_abs() / 2;
        let p = match playbook::load(&run.source) {
            Ok(p) => p,
            Err(e) => {
                let by = state::By { tenant: &run.tenant, actor: "hinomi", now: Timestamp::now() };
                return self.state.stop_run(&by, run.id, &format!("its playbook text does not load: {e}"));
            }
        };
        let facts = self.facts(&run.tenant, run.incident)?;
        let mut inputs = BTreeMap::new();
        for (name, kind) in &p.inputs {
            let text = run.inputs.get(name).and_then(serde_json::Value::as_str).unwrap_or("");
            if let Ok(v) = playbook::Value::new(*kind, text) {
                inputs.insert(name.clone(), v);
            }
        }
        while started.elapsed() < budget {
            let now = Timestamp::now();
            let index = usize::try_from(run.step).unwrap_or(usize::MAX);
            let Some(step) = p.steps.get(index) else {
                self.state.advance(&run, None, None, now, now)?;
                return Ok(());
            };
            let outputs: BTreeMap<String, serde_json::Value> =
                run.outputs.as_object().map(|m| m.clone().into_iter().collect()).unwrap_or_default();
            let values = playbook::context(&facts, &inputs, &outputs);
            let row = self.state.current_step(&run, &|| self.new_step(&run, &facts, step, &values), now)?;
            let next = match playbook::next(&p, index, &values) {
                Next::Step(i) => Some(i as i64),
                Next::End => None,
            };
            match row.status.as_str() {
                "ready" | "running" => {}
                "failed" if row.until.is_none_or(|u| u <= now) => {}
                "waiting" if row.until.is_some_and(|u| u <= now) => {
                    self.state.step_outcome(&run, &row, Ok(&serde_json::json!({})), now)?;
                    run = self.state.advance(&run, None, next, now, self.hold(now))?;
                    continue;
                }
                "proposed" => {
                    run = self.state.advance(&run, None, next, now, self.hold(now))?;
                    continue;
                }
                "done" => {
                    let output = row.response.clone().unwrap_or_default();
                    run = self.state.advance(&run, Some((&row.step, &output)), next, now, self.hold(now))?;
                    continue;
                }
                "approval" => {
                    return self.notice(&run, &row, notify::Trigger::ApprovalWaiting, "waiting for approval");
                }
                // Waiting for its time, or ended.
                _ => return Ok(()),
            }
            if let StepKind::Wait { duration } = &step.kind {
                return self.state.step_wait(&run, &row, now.checked_add(*duration).unwrap_or(now), now);
            }
            // An action waits for a place in its destination's lane: a
            // receiver that hangs holds a few workers, not all.
            let _lane = match self.destination(&row) {
                Some(d) => match self.lanes.take_within(&d, Duration::from_millis(100)) {
                    Some(lane) => Some(lane),
                    None => {
                        return self
                            .state
                            .defer_run(&run, now.checked_add(SignedDuration::from_secs(1)).unwrap_or(now));
                    }
                },
                None => None,
            };
            // Committed before the work: a restart knows it may have
            // happened (an action's call), and every try counts.
            self.state.step_running(&row, now)?;
            let outcome = self.execute(&run, &row, step, &values);
            let now = Timestamp::now();
            match outcome {
                Ok(output) => {
                    self.state.step_outcome(&run, &row, Ok(&output), now)?;
                    run = self.state.advance(&run, Some((&row.step, &output)), next, now, self.hold(now))?;
                }
                Err(f) => {
                    let tried = row.attempts + 1;
                    let again = (!f.permanent && tried < i64::from(self.config.attempts)).then(|| {
                        let wait = SignedDuration::from_secs(
                            2_i64.saturating_pow(u32::try_from(tried).unwrap_or(10)).min(300),
                        );
                        now.checked_add(wait).unwrap_or(now)
                    });
                    tracing::warn!(run = run.id, step = %row.step, error = %f.why, retry = again.is_some(), "a playbook step failed");
                    self.state.step_outcome(&run, &row, Err((&f.why, again)), now)?;
                    if again.is_none() {
                        self.notice(&run, &row, notify::Trigger::ActionFailed, &f.why)?;
                    }
                    return Ok(());
                }
            }
            if run.status != "running" {
                return Ok(());
            }
        }
        // Out of time for now: another turn soon, by whoever claims it.
        self.state.release_run(&run)
    }

    /// Where an action step's call goes: its URL's host and port, or its
    /// program.
    fn destination(&self, row: &state::RunStep) -> Option<String> {
        let call = row.call.as_ref()?;
        if let Some(url) = call.get("http").and_then(|h| h.get("url")).and_then(serde_json::Value::as_str) {
            return Some(crate::lanes::destination(url));
        }
        call.get("command").and_then(|c| c.get(0)).and_then(serde_json::Value::as_str).map(str::to_string)
    }

    /// The lease kept while a worker goes on driving a run.
    fn hold(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.lease).unwrap_or(now)
    }

    /// Does one step's work: its output, or why not.
    fn execute(
        &self,
        run: &state::Run,
        row: &state::RunStep,
        step: &Step,
        values: &BTreeMap<String, String>,
    ) -> Result<serde_json::Value, Failed> {
        match &step.kind {
            StepKind::Branch { value, .. } => Ok(serde_json::json!({"value": playbook::render_text(value, values)})),
            StepKind::Wait { .. } => Ok(serde_json::json!({})),
            StepKind::Notify { channel, text } => {
                let incident = self.state.incident(&run.tenant, run.incident).map_err(|e| failed(e.to_string()))?;
                let n = notify::Notice {
                    tenant: run.tenant.clone(),
                    trigger: notify::Trigger::PlaybookMessage,
                    incident: Some(run.incident),
                    severity: incident.severity,
                    title: playbook::render_text(text, values),
                    at: Timestamp::now(),
                    facts: vec![("playbook".into(), run.playbook.clone())],
                    subject: Some(format!("run:{}:step:{}", run.id, row.seq)),
                };
                self.state.add_notice_for(&n, channel, Timestamp::now()).map_err(|e| failed(e.to_string()))?;
                Ok(serde_json::json!({"channel": channel}))
            }
            StepKind::Enrich { source, with } => {
                let with: BTreeMap<String, String> =
                    with.iter().map(|(k, v)| (k.clone(), playbook::render_text(v, values))).collect();
                self.enrich(&run.tenant, *source, &with)
            }
            StepKind::Action { action, .. } => {
                let def = self
                    .config
                    .actions
                    .iter()
                    .find(|a| a.name == *action)
                    .ok_or_else(|| refused(format!("action {action:?} is no longer configured")))?;
                let with: BTreeMap<String, String> = row
                    .call
                    .as_ref()
                    .and_then(|c| c.get("with"))
                    .and_then(|w| serde_json::from_value(w.clone()).ok())
                    .unwrap_or_default();
                let call = playbook::render_call(def, &with, false).map_err(refused)?;
                let call = call.ok_or_else(|| refused(format!("action {action:?} makes no call")))?;
                self.call(&call, &format!("hinomi-run-{}-step-{}", run.id, row.seq))
            }
        }
    }

    fn enrich(
        &self,
        tenant: &str,
        source: EnrichSource,
        with: &BTreeMap<String, String>,
    ) -> Result<serde_json::Value, Failed> {
        let get = |k: &str| with.get(k).map(String::as_str).unwrap_or("");
        match source {
            EnrichSource::Asset => {
                let inventory = self.state.assets(tenant).map_err(|e| failed(e.to_string()))?;
                let host = soc::Entity { kind: soc::EntityKind::Host, value: get("host").to_ascii_lowercase() };
                Ok(match inventory.most_critical(std::slice::from_ref(&host)) {
                    Some(a) => serde_json::json!({
                        "criticality": a.criticality.as_str(),
                        "owner": a.owner,
                        "business_unit": a.business_unit,
                    }),
                    None => serde_json::json!({"criticality": "unknown"}),
                })
            }
            EnrichSource::Geoip => {
                let ip: std::net::IpAddr =
                    get("ip").parse().map_err(|_| refused(format!("{:?} is not an address", get("ip"))))?;
                let place = self.geo.as_ref().and_then(|g| g.lookup(ip));
                Ok(match place {
                    Some(p) => {
                        serde_json::json!({"country": p.country_iso_code, "country_name": p.country_name, "city": p.city_name})
                    }
                    None => serde_json::json!({"country": null}),
                })
            }
            EnrichSource::Search => {
                let store = self.store.as_ref().ok_or_else(|| refused("the event store is off"))?;
                let query = query::parse(get("query")).map_err(|e| refused(format!("the search query: {e}")))?;
                let now = Timestamp::now();
                let search = crate::search::Search {
                    tenant: tenant.to_string(),
                    from: now.checked_sub(SignedDuration::from_hours(24)).ok(),
                    to: None,
                    now,
                    timeout: self.config.timeout.0,
                };
                let mut count = 0_u64;
                search
                    .run(store, &query, 1000, &mut |_| {
                        count += 1;
                        true
                    })
                    .map_err(|e| failed(e.message()))?;
                Ok(serde_json::json!({"count": count}))
            }
        }
    }

    /// Makes a call: an HTTP request with the idempotency key, or a
    /// command without a shell, both within the timeout.
    fn call(&self, call: &Call, key: &str) -> Result<serde_json::Value, Failed> {
        match call {
            Call::Http { method, url, headers, body, token_env } => {
                let token = match token_env {
                    Some(env) => Some(
                        std::env::var(env).map_err(|_| refused(format!("environment variable {env} is not set")))?,
                    ),
                    None => None,
                };
                let host = url.split("://").nth(1).and_then(|r| r.split(['/', '?']).next()).unwrap_or("?").to_string();
                let mut request = ureq::http::Request::builder().method(method.as_str()).uri(url.as_str());
                request = request.header("Idempotency-Key", key).header("Content-Type", "application/json");
                for (k, v) in headers {
                    request = request.header(k.as_str(), v.as_str());
                }
                if let Some(t) = token {
                    request = request.header("Authorization", format!("Bearer {t}"));
                }
                let text = body.as_ref().map(|b| b.to_string()).unwrap_or_default();
                let request = request.body(text).map_err(|e| refused(format!("the request to {host}: {e}")))?;
                let mut response = self.http.run(request).map_err(|e| failed(format!("calling {host}: {e}")))?;
                let status = response.status().as_u16();
                let raw =
                    response.body_mut().with_config().limit(MAX_OUTPUT as u64).read_to_string().unwrap_or_default();
                let body: serde_json::Value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw));
                if (200..300).contains(&status) {
                    return Ok(serde_json::json!({"status": status, "body": body}));
                }
                let why = format!("{host} answered {status}");
                if matches!(status, 408 | 429) || status >= 500 { Err(failed(why)) } else { Err(refused(why)) }
            }
            Call::Command { argv } => command(argv, self.config.timeout.0),
        }
    }

    /// Rolls back a done action step: its rollback call, recorded beside it.
    pub fn rollback(&self, by: &state::By<'_>, step_id: i64) -> Result<serde_json::Value, StartError> {
        let (run, step) = self.state.run_step(by.tenant, step_id).map_err(StartError::State)?;
        if step.kind != "action" || step.status != "done" {
            return Err(StartError::Refused(format!("step {:?} is not an action that was executed", step.step)));
        }
        let action = step.call.as_ref().and_then(|c| c["action"].as_str()).unwrap_or("").to_string();
        let def = self
            .config
            .actions
            .iter()
            .find(|a| a.name == action)
            .ok_or_else(|| StartError::Refused(format!("action {action:?} is no longer configured")))?;
        let with: BTreeMap<String, String> = step
            .call
            .as_ref()
            .and_then(|c| c.get("with"))
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .unwrap_or_default();
        let call = playbook::render_call(def, &with, true)
            .map_err(StartError::Refused)?
            .ok_or_else(|| StartError::Refused(format!("action {action:?} has no rollback")))?;
        let key = format!("hinomi-run-{}-step-{}-rollback", run.id, step.seq);
        let response =
            self.call(&call, &key).map_err(|f| StartError::Refused(format!("the rollback failed: {}", f.why)))?;
        let described = playbook::describe(&call);
        self.state.rolled_back(by, &step, &described, &response).map_err(StartError::State)?;
        Ok(response)
    }
}

/// Why a run could not start (or a rollback not be made).
#[derive(Debug)]
pub enum StartError {
    /// No such playbook (or its file is gone).
    Unknown(String),
    /// Its inputs, or the call, were refused; the reason says which.
    Refused(String),
    State(state::StateError),
}

/// Runs a command: no shell, no inherited environment but `PATH`, stdin
/// closed, at most `timeout`; exit 0 is success. Its output is read while
/// it runs (a full pipe would stall it), the first 64 KiB of each kept.
fn command(argv: &[String], timeout: std::time::Duration) -> Result<serde_json::Value, Failed> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let (program, args) = argv.split_first().ok_or_else(|| refused("an empty command"))?;
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| refused(format!("starting {program}: {e}")))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.by_ref().take(MAX_OUTPUT as u64).read_to_end(&mut kept);
                let _ = std::io::copy(&mut p, &mut std::io::sink());
            }
            String::from_utf8_lossy(&kept).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!("{program} took longer than {} s", timeout.as_secs())));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(failed(format!("waiting for {program}: {e}"))),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let code = status.code();
    if status.success() {
        Ok(serde_json::json!({"exit": code, "stdout": stdout}))
    } else {
        Err(failed(format!(
            "{program} exited with {}: {}",
            code.map_or("a signal".into(), |c| c.to_string()),
            stderr.trim()
        )))
    }
}

/// Starts the responder's threads; they stop when `stop` is set.
pub(crate) fn start(responder: Arc<Responder>, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("respond".into()).spawn(move || run(&responder, &stop))
}

fn run(r: &Arc<Responder>, stop: &AtomicBool) {
    let (tx, rx) = sync_channel::<state::Run>(WORKERS);
    let rx = Arc::new(Mutex::new(rx));
    let workers: Vec<JoinHandle<()>> = (0..WORKERS)
        .filter_map(|i| {
            let (r, rx) = (r.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("respond-{i}"))
                .spawn(move || {
                    loop {
                        let next = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(run) = next else { return };
                        let id = run.id;
                        if let Err(e) = r.drive(run) {
                            tracing::error!(run = id, error = %e, "driving a playbook run");
                        }
                    }
                })
                .ok()
        })
        .collect();
    let mut last_error = String::new();
    while !stop.load(Ordering::Acquire) {
        let work =
            r.trigger().and_then(|()| r.expire()).and_then(|()| r.state.claim_runs(Timestamp::now(), r.lease, WORKERS));
        match work {
            Ok(runs) if !runs.is_empty() => {
                for run in runs {
                    if tx.send(run).is_err() {
                        return;
                    }
                }
            }
            Ok(_) => {
                last_error.clear();
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => {
                let e = e.to_string();
                if e != last_error {
                    tracing::error!(error = %e, "the playbook runs; retrying");
                    last_error = e;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    drop(tx);
    for w in workers {
        let _ = w.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_command_s_output_is_read_while_it_runs_and_it_has_a_deadline() {
        let timeout = std::time::Duration::from_secs(10);
        // Far more than a pipe holds: read while it runs, the start kept.
        let out = command(&argv(&["/bin/sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"]), timeout).unwrap();
        assert_eq!(out["stdout"].as_str().unwrap().len(), MAX_OUTPUT);
        let err = command(&argv(&["/bin/sh", "-c", "echo no >&2; exit 3"]), timeout).unwrap_err();
        assert!(err.why.contains("exited with 3: no") && !err.permanent, "{err:?}");
        let slow = command(&argv(&["/bin/sleep", "5"]), std::time::Duration::from_millis(200)).unwrap_err();
        assert!(slow.why.contains("took longer"), "{slow:?}");
        assert!(command(&argv(&["/nonexistent/program"]), timeout).unwrap_err().permanent);
    }
}
