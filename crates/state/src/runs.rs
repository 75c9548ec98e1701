//! Playbook runs, durable: each run and each of its steps is a row, and
//! every change of either is committed before the responder acts on it.
//!
//! A run holds its playbook's text as it was when it started (a later
//! edit does not change a run under way), its inputs, the index of its
//! current step and the outputs of the steps done. A step row is written
//! when the run reaches the step, with what the authority policy decided
//! (`auto`, `approve`, `propose`), and moves through `ready` (may run),
//! `approval` (waits for people), `running` (its call is being made:
//! committed before the call, so a restart knows it may have been made
//! and makes it again with the same idempotency key), `done`, `failed`
//! (tried again later), `dead`, `denied`, `expired`, `proposed`,
//! `waiting` (a wait step). The responder claims due runs with a lease,
//! as the notification worker claims deliveries.
//!
//! Every proposal, request, approval, denial, execution, failure and
//! rollback is on the incident's timeline and in the audit trail.

use access::Scope;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::db::{Db, Val};
use super::row::{Json, Row};
use super::triage::log;
use super::{By, Result, State, StateError, micros};

/// A run as the responder and the console see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: i64,
    pub tenant: String,
    pub incident: i64,
    pub playbook: String,
    pub version: i64,
    /// The playbook's text when the run started.
    pub source: String,
    pub inputs: Value,
    pub started_by: String,
    /// `running`, `waiting` (on approval), `done`, `failed`, `stopped`.
    pub status: String,
    /// Index of the current step in the playbook.
    pub step: i64,
    /// Number of the current step row (1 for the first step reached).
    pub seq: i64,
    /// Outputs of the steps done, by step id.
    pub outputs: Value,
    pub reason: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStep {
    pub id: i64,
    pub run: i64,
    pub seq: i64,
    pub step: String,
    pub kind: String,
    pub decision: String,
    pub status: String,
    pub attempts: i64,
    /// The call it makes (or would make), as shown to people.
    pub call: Option<Value>,
    pub response: Option<Value>,
    pub error: Option<String>,
    /// Who must approve: the lowest role, how many people, until when.
    pub need_role: Option<Scope>,
    pub need_count: i64,
    pub expires: Option<Timestamp>,
    /// Until when a wait step waits, or when a failed step is tried again.
    pub until: Option<Timestamp>,
    pub rolled_back: Option<Timestamp>,
    pub rollback: Option<Value>,
    /// Who approved or denied, with their reasons.
    pub verdicts: Vec<Verdict>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub user: String,
    pub approve: bool,
    pub reason: String,
    pub at: Timestamp,
}

/// A run to start.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub tenant: String,
    pub incident: i64,
    pub playbook: String,
    pub version: i64,
    pub source: String,
    pub inputs: Value,
    pub started_by: String,
    /// Runs a trigger starts carry a key (one run per incident and
    /// playbook); runs started by hand none.
    pub key: Option<String>,
}

/// A step as the responder first writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStep {
    pub step: String,
    pub kind: String,
    /// `auto`, `approve` or `propose`.
    pub decision: String,
    pub call: Option<Value>,
    pub need: Option<(Scope, i64, Timestamp)>,
}

/// What a person's verdict on a step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    /// Counted; this many more approvals are needed.
    Waiting(i64),
    /// Enough approvals: the step may run.
    Approved,
    Denied,
}

fn run_of(r: &Row) -> Result<Run> {
    Ok(Run {
        id: r.get("id")?,
        tenant: r.get("tenant")?,
        incident: r.get("incident")?,
        playbook: r.get("playbook")?,
        version: r.get("version")?,
        source: r.get("source")?,
        inputs: r.get::<Json<Value>>("inputs")?.0,
        started_by: r.get("started_by")?,
        status: r.get("status")?,
        step: r.get("step")?,
        seq: r.get("seq")?,
        outputs: r.get::<Json<Value>>("outputs")?.0,
        reason: r.get("reason")?,
        created: r.get("created")?,
        updated: r.get("updated")?,
    })
}

const RUN_COLUMNS: &str = "id, tenant, incident, playbook, version, source, inputs, started_by, status, step, seq, \
                           outputs, reason, created, updated";

const STEP_COLUMNS: &str = "id, run_id, seq, step, kind, decision, status, attempts, call, response, error, need_role, \
                            need_count, expires, until, rolled_back, rollback";

fn json_val(v: &Value) -> Val {
    Val::Text(v.to_string())
}

fn opt_json(r: &Row, column: &str) -> Result<Option<Value>> {
    Ok(r.get::<Option<String>>(column)?.and_then(|t| serde_json::from_str(&t).ok()))
}

fn step_of(db: &mut dyn Db, r: &Row) -> Result<RunStep> {
    let id: i64 = r.get("id")?;
    let verdicts = db
        .rows("SELECT user_name, approve, reason, at FROM approvals WHERE run_step = $1 ORDER BY id", &[Val::Int(id)])?
        .iter()
        .map(|v| {
            Ok(Verdict {
                user: v.get("user_name")?,
                approve: v.get::<i64>("approve")? == 1,
                reason: v.get("reason")?,
                at: v.get("at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RunStep {
        id,
        run: r.get("run_id")?,
        seq: r.get("seq")?,
        step: r.get("step")?,
        kind: r.get("kind")?,
        decision: r.get("decision")?,
        status: r.get("status")?,
        attempts: r.get("attempts")?,
        call: opt_json(r, "call")?,
        response: opt_json(r, "response")?,
        error: r.get("error")?,
        need_role: r.get::<Option<String>>("need_role")?.and_then(|s| Scope::parse(&s).ok()),
        need_count: r.get("need_count")?,
        expires: r.get("expires")?,
        until: r.get("until")?,
        rolled_back: r.get("rolled_back")?,
        rollback: opt_json(r, "rollback")?,
        verdicts,
    })
}

fn load_run(db: &mut dyn Db, id: i64) -> Result<Run> {
    let rows = db.rows(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"), &[Val::Int(id)])?;
    rows.first().map(run_of).unwrap_or_else(|| Err(StateError::NotFound(format!("run {id}"))))
}

fn load_step(db: &mut dyn Db, id: i64) -> Result<RunStep> {
    let rows = db.rows(&format!("SELECT {STEP_COLUMNS} FROM run_steps WHERE id = $1"), &[Val::Int(id)])?;
    match rows.first() {
        Some(r) => step_of(db, r),
        None => Err(StateError::NotFound(format!("run step {id}"))),
    }
}

/// Notes a happening of a run on its incident's timeline and in the
/// audit trail.
fn tell(db: &mut dyn Db, run: &Run, by: &By<'_>, what: &str, data: &Value) -> Result<()> {
    let mut data = data.clone();
    data["run"] = json!(run.id);
    data["playbook"] = json!(run.playbook);
    log(db, run.incident, by.now, by.actor, what, &data)?;
    super::audit::append(db, by, &format!("playbook.{what}"), &format!("run:{}", run.id), &data)
}

impl State {
    /// Starts a run; `None` when a run with its key exists (a trigger
    /// seen twice starts one run).
    pub fn start_run(&self, new: &NewRun, now: Timestamp) -> Result<Option<Run>> {
        self.tx(|db| {
            let added = db.exec(
                "INSERT INTO runs (tenant, incident, playbook, version, source, inputs, started_by, key, status, step, seq, \
                 outputs, due, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', 0, 1, '{}', $9, $9, $9) \
                 ON CONFLICT (key) DO NOTHING",
                &[
                    new.tenant.as_str().into(),
                    Val::Int(new.incident),
                    new.playbook.as_str().into(),
                    Val::Int(new.version),
                    new.source.as_str().into(),
                    json_val(&new.inputs),
                    new.started_by.as_str().into(),
                    new.key.clone().into(),
                    micros(now),
                ],
            )?;
            if added == 0 {
                return Ok(None);
            }
            let id: i64 = db
                .rows("SELECT MAX(id) AS id FROM runs WHERE tenant = $1 AND incident = $2", &[
                    new.tenant.as_str().into(),
                    Val::Int(new.incident),
                ])?
                .first()
                .map_or(Ok(0), |r| r.get("id"))?;
            let run = load_run(db, id)?;
            let by = By { tenant: &run.tenant, actor: &new.started_by, now };
            tell(db, &run, &by, "started", &json!({"version": new.version, "inputs": new.inputs}))?;
            Ok(Some(run))
        })
    }

    /// Claims up to `limit` runs that are due, for `lease`.
    pub fn claim_runs(&self, now: Timestamp, lease: SignedDuration, limit: usize) -> Result<Vec<Run>> {
        let until = now.checked_add(lease).unwrap_or(now);
        self.tx(|db| {
            let claimed = db.rows(
                &format!(
                    "UPDATE runs SET due = $1 WHERE id IN (SELECT id FROM runs WHERE status = 'running' AND due <= $2 \
                     ORDER BY due, id LIMIT {limit}) AND status = 'running' AND due <= $2 RETURNING id"
                ),
                &[micros(until), micros(now)],
            )?;
            let mut runs = Vec::new();
            for r in claimed {
                runs.push(load_run(db, r.get("id")?)?);
            }
            runs.sort_by_key(|r| r.id);
            Ok(runs)
        })
    }

    /// The run's row for its current step, written with `new` if it has
    /// none yet (and then on the timeline: a proposal, a request for
    /// approval).
    pub fn current_step(&self, run: &Run, new: &dyn Fn() -> NewStep, now: Timestamp) -> Result<RunStep> {
        self.tx(|db| {
            let rows = db.rows("SELECT id FROM run_steps WHERE run_id = $1 AND seq = $2", &[
                Val::Int(run.id),
                Val::Int(run.seq),
            ])?;
            if let Some(r) = rows.first() {
                return load_step(db, r.get("id")?);
            }
            let n = new();
            let status = match n.decision.as_str() {
                "approve" => "approval",
                "propose" => "proposed",
                _ => "ready",
            };
            let (role, count, expires) = match n.need {
                Some((role, count, expires)) => (Some(role.as_str()), count, Some(expires)),
                None => (None, 0, None),
            };
            db.exec(
                "INSERT INTO run_steps (run_id, seq, step, kind, decision, status, attempts, call, need_role, need_count, \
                 expires, started) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11)",
                &[
                    Val::Int(run.id),
                    Val::Int(run.seq),
                    n.step.as_str().into(),
                    n.kind.as_str().into(),
                    n.decision.as_str().into(),
                    status.into(),
                    n.call.as_ref().map(json_val).unwrap_or(Val::Null),
                    role.into(),
                    Val::Int(count),
                    expires.map(|e| e.as_microsecond()).into(),
                    micros(now),
                ],
            )?;
            let id: i64 = db
                .rows("SELECT id FROM run_steps WHERE run_id = $1 AND seq = $2", &[Val::Int(run.id), Val::Int(run.seq)])?
                .first()
                .map_or(Ok(0), |r| r.get("id"))?;
            let by = By { tenant: &run.tenant, actor: "hinomi", now };
            let data = json!({"step": n.step, "call": n.call});
            match status {
                "approval" => {
                    db.exec("UPDATE runs SET status = 'waiting', updated = $2 WHERE id = $1", &[
                        Val::Int(run.id),
                        micros(now),
                    ])?;
                    let mut data = data;
                    data["role"] = json!(role);
                    data["approvers"] = json!(count);
                    tell(db, run, &by, "approval_requested", &data)?;
                }
                "proposed" => tell(db, run, &by, "proposed", &data)?,
                _ => {}
            }
            load_step(db, id)
        })
    }

    /// Marks a step as being executed now (committed before the call).
    pub fn step_running(&self, step: &RunStep, now: Timestamp) -> Result<()> {
        self.tx(|db| {
            db.exec(
                "UPDATE run_steps SET status = 'running', attempts = attempts + 1, started = $2 WHERE id = $1",
                &[Val::Int(step.id), micros(now)],
            )?;
            Ok(())
        })
    }

    /// Records a step's outcome. `Ok(response)` is done; `Err` with a
    /// time is tried again then, without one it is dead (and so is the
    /// run).
    pub fn step_outcome(
        &self,
        run: &Run,
        step: &RunStep,
        outcome: std::result::Result<&Value, (&str, Option<Timestamp>)>,
        now: Timestamp,
    ) -> Result<()> {
        let by = By { tenant: &run.tenant, actor: "hinomi", now };
        self.tx(|db| {
            match outcome {
                Ok(response) => {
                    db.exec(
                        "UPDATE run_steps SET status = 'done', response = $2, error = NULL, finished = $3 WHERE id = $1",
                        &[Val::Int(step.id), json_val(response), micros(now)],
                    )?;
                    if step.kind == "action" {
                        let data = json!({"step": step.step, "call": step.call, "response": response});
                        tell(db, run, &by, "executed", &data)?;
                    }
                }
                Err((error, Some(again))) => {
                    db.exec("UPDATE run_steps SET status = 'failed', error = $2, until = $3 WHERE id = $1", &[
                        Val::Int(step.id),
                        error.into(),
                        micros(again),
                    ])?;
                    db.exec("UPDATE runs SET due = $2, updated = $3 WHERE id = $1", &[
                        Val::Int(run.id),
                        micros(again),
                        micros(now),
                    ])?;
                }
                Err((error, None)) => {
                    db.exec("UPDATE run_steps SET status = 'dead', error = $2, finished = $3 WHERE id = $1", &[
                        Val::Int(step.id),
                        error.into(),
                        micros(now),
                    ])?;
                    db.exec("UPDATE runs SET status = 'failed', reason = $2, updated = $3 WHERE id = $1", &[
                        Val::Int(run.id),
                        format!("step {}: {error}", step.step).into(),
                        micros(now),
                    ])?;
                    tell(db, run, &by, "failed", &json!({"step": step.step, "call": step.call, "error": error}))?;
                }
            }
            Ok(())
        })
    }

    /// A wait step: the run sleeps until `until`.
    pub fn step_wait(&self, run: &Run, step: &RunStep, until: Timestamp, now: Timestamp) -> Result<()> {
        self.tx(|db| {
            db.exec(
                "UPDATE run_steps SET status = 'waiting', until = $2 WHERE id = $1",
                &[Val::Int(step.id), micros(until)],
            )?;
            db.exec(
                "UPDATE runs SET due = $2, updated = $3 WHERE id = $1",
                &[Val::Int(run.id), micros(until), micros(now)],
            )?;
            Ok(())
        })
    }

    /// Moves a run past its current step: to step `next` (`None`: the run
    /// is done), keeping `output` as the step's. The worker driving it
    /// keeps it until `hold`.
    pub fn advance(
        &self,
        run: &Run,
        output: Option<(&str, &Value)>,
        next: Option<i64>,
        now: Timestamp,
        hold: Timestamp,
    ) -> Result<Run> {
        self.tx(|db| {
            let mut outputs = run.outputs.clone();
            if let (Some((step, value)), Some(map)) = (output, outputs.as_object_mut()) {
                map.insert(step.to_string(), value.clone());
            }
            let status = if next.is_some() { "running" } else { "done" };
            db.exec(
                "UPDATE runs SET step = $2, seq = seq + 1, outputs = $3, status = $4, due = $7, updated = $5 \
                 WHERE id = $1 AND seq = $6",
                &[
                    Val::Int(run.id),
                    Val::Int(next.unwrap_or(run.step)),
                    json_val(&outputs),
                    status.into(),
                    micros(now),
                    Val::Int(run.seq),
                    micros(hold),
                ],
            )?;
            if next.is_none() {
                let by = By { tenant: &run.tenant, actor: "hinomi", now };
                tell(db, run, &by, "finished", &json!({}))?;
            }
            load_run(db, run.id)
        })
    }

    /// Lets a run go before its lease ends: it is due at once.
    pub fn release_run(&self, run: &Run) -> Result<()> {
        self.tx(|db| {
            db.exec("UPDATE runs SET due = updated WHERE id = $1 AND status = 'running'", &[Val::Int(run.id)])?;
            Ok(())
        })
    }

    /// Lets a run go until `until` (its next step waits for room).
    pub fn defer_run(&self, run: &Run, until: Timestamp) -> Result<()> {
        self.tx(|db| {
            db.exec(
                "UPDATE runs SET due = $2 WHERE id = $1 AND status = 'running'",
                &[Val::Int(run.id), micros(until)],
            )?;
            Ok(())
        })
    }

    /// A person's verdict on a step waiting for approval. `role` is the
    /// role they hold in the run's tenant. Refused: a role below the
    /// step's, a second verdict of the same person, the person who
    /// started the run (nobody approves their own request), a step not
    /// waiting, or one past its time.
    pub fn judge_step(&self, by: &By<'_>, role: Scope, step_id: i64, approve: bool, reason: &str) -> Result<Judged> {
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 2000 {
            return Err(StateError::Invalid("a verdict needs a reason (at most 2,000 characters)".into()));
        }
        self.tx(|db| {
            let step = load_step(db, step_id)?;
            let run = load_run(db, step.run)?;
            if run.tenant != by.tenant {
                return Err(StateError::NotFound(format!("run step {step_id}")));
            }
            if step.status != "approval" {
                return Err(StateError::Invalid(format!("step {:?} is not waiting for approval ({})", step.step, step.status)));
            }
            if step.expires.is_some_and(|e| e <= by.now) {
                return Err(StateError::Invalid(format!("the request for step {:?} has expired", step.step)));
            }
            let need = step.need_role.unwrap_or(Scope::Admin);
            if role < need {
                return Err(StateError::Invalid(format!(
                    "step {:?} needs the {} role or higher to approve or deny",
                    step.step,
                    need.as_str()
                )));
            }
            if by.actor == run.started_by {
                return Err(StateError::Invalid("the person who started a run does not approve its steps".into()));
            }
            if step.verdicts.iter().any(|v| v.user == by.actor) {
                return Err(StateError::Invalid(format!("{} has given a verdict on this step already", by.actor)));
            }
            db.exec(
                "INSERT INTO approvals (run_step, tenant, user_name, approve, reason, at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    Val::Int(step.id),
                    by.tenant.into(),
                    by.actor.into(),
                    Val::Int(i64::from(approve)),
                    reason.into(),
                    micros(by.now),
                ],
            )?;
            let data = json!({"step": step.step, "reason": reason});
            if !approve {
                db.exec("UPDATE run_steps SET status = 'denied', finished = $2 WHERE id = $1", &[
                    Val::Int(step.id),
                    micros(by.now),
                ])?;
                db.exec("UPDATE runs SET status = 'stopped', reason = $2, updated = $3 WHERE id = $1", &[
                    Val::Int(run.id),
                    format!("step {} denied by {}: {reason}", step.step, by.actor).into(),
                    micros(by.now),
                ])?;
                tell(db, &run, by, "denied", &data)?;
                return Ok(Judged::Denied);
            }
            tell(db, &run, by, "approved", &data)?;
            let approvals = step.verdicts.iter().filter(|v| v.approve).count() as i64 + 1;
            if approvals < step.need_count {
                return Ok(Judged::Waiting(step.need_count - approvals));
            }
            db.exec("UPDATE run_steps SET status = 'ready' WHERE id = $1", &[Val::Int(step.id)])?;
            db.exec("UPDATE runs SET status = 'running', due = $2, updated = $2 WHERE id = $1", &[
                Val::Int(run.id),
                micros(by.now),
            ])?;
            Ok(Judged::Approved)
        })
    }

    /// Requests for approval past their time: each expires, its run
    /// stops, and the timeline says so. Returns the expired steps with
    /// their runs, for the caller to escalate.
    pub fn expire_approvals(&self, now: Timestamp) -> Result<Vec<(Run, RunStep)>> {
        self.tx(|db| {
            let rows = db.rows(
                "SELECT id FROM run_steps WHERE status = 'approval' AND expires <= $1 ORDER BY id LIMIT 100",
                &[micros(now)],
            )?;
            let mut out = Vec::new();
            for r in rows {
                let step = load_step(db, r.get("id")?)?;
                let run = load_run(db, step.run)?;
                db.exec(
                    "UPDATE run_steps SET status = 'expired', finished = $2 WHERE id = $1",
                    &[Val::Int(step.id), micros(now)],
                )?;
                db.exec(
                    "UPDATE runs SET status = 'stopped', reason = $2, updated = $3 WHERE id = $1",
                    &[
                        Val::Int(run.id),
                        format!("the request for step {} expired unanswered", step.step).into(),
                        micros(now),
                    ],
                )?;
                let by = By { tenant: &run.tenant, actor: "hinomi", now };
                tell(db, &run, &by, "approval_expired", &json!({"step": step.step}))?;
                out.push((run, step));
            }
            Ok(out)
        })
    }

    /// Records an action's rollback beside it.
    pub fn rolled_back(&self, by: &By<'_>, step: &RunStep, call: &Value, response: &Value) -> Result<()> {
        self.tx(|db| {
            let run = load_run(db, step.run)?;
            let n = db.exec(
                "UPDATE run_steps SET rolled_back = $2, rollback = $3 WHERE id = $1 AND rolled_back IS NULL",
                &[Val::Int(step.id), micros(by.now), json_val(&json!({"call": call, "response": response}))],
            )?;
            if n == 0 {
                return Err(StateError::Invalid(format!("step {:?} was rolled back already", step.step)));
            }
            tell(db, &run, by, "rolled_back", &json!({"step": step.step, "call": call, "response": response}))
        })
    }

    /// Stops a run by hand.
    pub fn stop_run(&self, by: &By<'_>, id: i64, reason: &str) -> Result<()> {
        self.tx(|db| {
            let run = load_run(db, id)?;
            if run.tenant != by.tenant {
                return Err(StateError::NotFound(format!("run {id}")));
            }
            if matches!(run.status.as_str(), "done" | "failed" | "stopped") {
                return Err(StateError::Invalid(format!("run {id} has ended ({})", run.status)));
            }
            db.exec("UPDATE runs SET status = 'stopped', reason = $2, updated = $3 WHERE id = $1", &[
                Val::Int(id),
                format!("stopped by {}: {reason}", by.actor).into(),
                micros(by.now),
            ])?;
            db.exec(
                "UPDATE run_steps SET status = 'stopped' WHERE run_id = $1 AND status IN ('approval', 'ready', 'failed', 'waiting')",
                &[Val::Int(id)],
            )?;
            tell(db, &run, by, "stopped", &json!({"reason": reason}))
        })
    }

    /// The incidents the incident log touched past cursor `name`, each
    /// once, as `(tenant, incident)`, and the position to move the cursor
    /// to once they are handled ([`State::move_cursor`]). A cursor that
    /// does not exist yet starts at the log's end: an upgrade does not act
    /// on every incident there was.
    pub fn touched_incidents(&self, name: &str, limit: usize) -> Result<(Vec<(String, i64)>, i64)> {
        self.tx(|db| {
            let rows = db.rows("SELECT position FROM positions WHERE name = $1", &[name.into()])?;
            let cursor: i64 = match rows.first() {
                Some(r) => r.get("position")?,
                None => {
                    let end: i64 = db
                        .rows("SELECT COALESCE(MAX(id), 0) AS id FROM incident_log", &[])?
                        .first()
                        .map_or(Ok(0), |r| r.get("id"))?;
                    db.exec("INSERT INTO positions (name, position) VALUES ($1, $2)", &[name.into(), Val::Int(end)])?;
                    return Ok((Vec::new(), end));
                }
            };
            let entries = db.rows(
                &format!(
                    "SELECT l.id AS id, l.incident_id AS incident, i.tenant AS tenant FROM incident_log l \
                     JOIN incidents i ON i.id = l.incident_id WHERE l.id > $1 ORDER BY l.id LIMIT {limit}"
                ),
                &[Val::Int(cursor)],
            )?;
            let mut out: Vec<(String, i64)> = Vec::new();
            let mut last = cursor;
            for e in &entries {
                last = e.get("id")?;
                let touched = (e.get::<String>("tenant")?, e.get::<i64>("incident")?);
                if !out.contains(&touched) {
                    out.push(touched);
                }
            }
            Ok((out, last))
        })
    }

    /// Moves cursor `name` to `position`.
    pub fn move_cursor(&self, name: &str, position: i64) -> Result<()> {
        self.tx(|db| {
            db.exec(
                "INSERT INTO positions (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = $2",
                &[name.into(), Val::Int(position)],
            )?;
            Ok(())
        })
    }

    /// One run of a tenant.
    pub fn run(&self, tenant: &str, id: i64) -> Result<Run> {
        let run = load_run(&mut **self.reader()?, id)?;
        if run.tenant != tenant {
            return Err(StateError::NotFound(format!("run {id}")));
        }
        Ok(run)
    }

    /// A tenant's runs, newest first; `incident` narrows, `status` too
    /// (`waiting` lists the ones that wait for approval).
    pub fn runs(&self, tenant: &str, incident: Option<i64>, status: Option<&str>, limit: usize) -> Result<Vec<Run>> {
        let limit = limit.min(1000);
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1 AND ($2 = 0 OR incident = $2) AND ($3 = '' OR status = $3) \
             ORDER BY id DESC LIMIT {limit}"
        );
        let rows = self
            .reader()?
            .rows(&sql, &[tenant.into(), Val::Int(incident.unwrap_or(0)), status.unwrap_or("").into()])?;
        rows.iter().map(run_of).collect()
    }

    /// A run's steps, in order.
    pub fn run_steps(&self, run: i64) -> Result<Vec<RunStep>> {
        let mut db = self.reader()?;
        let rows =
            db.rows(&format!("SELECT {STEP_COLUMNS} FROM run_steps WHERE run_id = $1 ORDER BY seq"), &[Val::Int(run)])?;
        rows.iter().map(|r| step_of(&mut **db, r)).collect()
    }

    /// One step of a tenant's runs.
    pub fn run_step(&self, tenant: &str, id: i64) -> Result<(Run, RunStep)> {
        let mut db = self.reader()?;
        let step = load_step(&mut **db, id)?;
        let run = load_run(&mut **db, step.run)?;
        if run.tenant != tenant {
            return Err(StateError::NotFound(format!("run step {id}")));
        }
        Ok((run, step))
    }
}
