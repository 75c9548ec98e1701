//! `/api/v1/playbooks` and `/api/v1/runs`: a tenant's playbooks, starting
//! one on an incident (or a dry run), runs with their steps, and the
//! verdicts, rollbacks and stops people give them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Soc;
use crate::app::App;
use crate::error::{ApiError, blocking};
use crate::respond::{Responder, StartError};

fn responder(app: &App) -> Result<Arc<Responder>, ApiError> {
    app.responder.get().cloned().ok_or_else(|| ApiError::Unavailable("the playbook responder is not running".into()))
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> ApiError {
        match e {
            StartError::Unknown(why) => ApiError::NotFound(why),
            StartError::Refused(why) => ApiError::Invalid(why),
            StartError::State(e) => e.into(),
        }
    }
}

/// A step as the API shows it.
pub(crate) fn step_json(s: &state::RunStep) -> Value {
    json!({
        "id": s.id,
        "seq": s.seq,
        "step": s.step,
        "kind": s.kind,
        "decision": s.decision,
        "status": s.status,
        "attempts": s.attempts,
        "call": s.call,
        "response": s.response,
        "error": s.error,
        "approval": s.need_role.map(|r| json!({
            "role": r.as_str(),
            "approvers": s.need_count,
            "expires": s.expires.map(|e| e.to_string()),
        })),
        "verdicts": s.verdicts.iter().map(|v| json!({
            "user": v.user, "approve": v.approve, "reason": v.reason, "at": v.at.to_string(),
        })).collect::<Vec<_>>(),
        "rolled_back": s.rolled_back.map(|t| t.to_string()),
        "rollback": s.rollback,
    })
}

/// A run as the API shows it, with its steps.
pub(crate) fn run_json(r: &state::Run, steps: &[state::RunStep]) -> Value {
    json!({
        "id": r.id,
        "incident": r.incident,
        "playbook": r.playbook,
        "version": r.version,
        "inputs": r.inputs,
        "started_by": r.started_by,
        "status": r.status,
        "reason": r.reason,
        "created": r.created.to_string(),
        "updated": r.updated.to_string(),
        "steps": steps.iter().map(step_json).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/playbooks`: the tenant's playbooks.
pub(crate) async fn playbooks(State(app): State<Arc<App>>, soc: Soc) -> Result<Json<Value>, ApiError> {
    let r = responder(&app)?;
    let list: Vec<Value> = r
        .playbooks(&soc.caller.tenant)
        .map(|p| {
            json!({
                "id": p.id,
                "title": p.title,
                "version": p.version,
                "manual": p.trigger.manual,
                "automatic": p.trigger.automatic(),
                "inputs": p.inputs.iter().map(|(k, v)| (k.clone(), json!(v.as_str()))).collect::<serde_json::Map<_, _>>(),
                "steps": p.steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({"tenant": soc.caller.tenant, "playbooks": list})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    inputs: BTreeMap<String, String>,
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/incidents/{id}/playbooks/{playbook}`: starts a playbook
/// by hand, or with `dry_run` shows the steps and exact calls it would
/// make, storing nothing.
pub(crate) async fn start(
    State(app): State<Arc<App>>,
    soc: Soc,
    Path((incident, playbook)): Path<(i64, String)>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let r = responder(&app)?;
    let body: StartBody = if bytes.is_empty() { StartBody::default() } else { super::body(&bytes)? };
    blocking(move || {
        let tenant = &soc.caller.tenant;
        if body.dry_run {
            let plan = r.dry_run(tenant, incident, &playbook, &body.inputs)?;
            let steps: Vec<Value> = plan
                .iter()
                .map(|p| {
                    let decision = match p.decision {
                        playbook::Decision::Auto => json!({"decide": "auto"}),
                        playbook::Decision::Propose => json!({"decide": "propose"}),
                        playbook::Decision::Approve { role, approvers, expires } => json!({
                            "decide": "approve", "role": role.as_str(), "approvers": approvers, "expires_secs": expires.as_secs(),
                        }),
                    };
                    json!({"step": p.step, "decision": decision, "call": p.call.as_ref().map(playbook::describe)})
                })
                .collect();
            return Ok(Json(json!({"dry_run": true, "playbook": playbook, "steps": steps})));
        }
        let run = r.start(tenant, incident, &playbook, &body.inputs, &soc.caller.id, None)?;
        let run = run.ok_or_else(|| ApiError::Internal("the run was not recorded".into()))?;
        Ok(Json(run_json(&run, &[])))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct RunParams {
    incident: Option<i64>,
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/runs`: the tenant's runs, newest first, with their steps;
/// `?status=waiting` is the approvals inbox.
pub(crate) async fn runs(soc: Soc, Query(p): Query<RunParams>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let runs = soc.state.runs(&soc.caller.tenant, p.incident, p.status.as_deref(), p.limit.unwrap_or(50))?;
        let mut list = Vec::new();
        for run in &runs {
            list.push(run_json(run, &soc.state.run_steps(run.id)?));
        }
        Ok(Json(json!({"tenant": soc.caller.tenant, "runs": list})))
    })
    .await
}

/// `GET /api/v1/runs/{run}`.
pub(crate) async fn run(soc: Soc, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let run = soc.state.run(&soc.caller.tenant, id)?;
        Ok(Json(run_json(&run, &soc.state.run_steps(id)?)))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

/// The step `step` of run `run`, in the caller's tenant.
fn step_of(soc: &Soc, run: i64, step: i64) -> Result<state::RunStep, ApiError> {
    let (r, s) = soc.state.run_step(&soc.caller.tenant, step)?;
    if r.id != run {
        return Err(ApiError::NotFound(format!("run {run} has no step {step}")));
    }
    Ok(s)
}

/// `POST /api/v1/runs/{run}/steps/{step}/{verdict}`: approve, deny, or
/// roll back a step.
pub(crate) async fn step_act(
    State(app): State<Arc<App>>,
    soc: Soc,
    Path((run, step, verdict)): Path<(i64, i64, String)>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ReasonBody = if bytes.is_empty() { ReasonBody::default() } else { super::body(&bytes)? };
    let responder = responder(&app)?;
    blocking(move || {
        step_of(&soc, run, step)?;
        let by = soc.caller.by();
        let answer = match verdict.as_str() {
            "approve" | "deny" => {
                let judged = soc.state.judge_step(&by, soc.caller.scope, step, verdict == "approve", &body.reason)?;
                match judged {
                    state::Judged::Waiting(more) => json!({"status": "approval", "approvals_needed": more}),
                    state::Judged::Approved => json!({"status": "ready"}),
                    state::Judged::Denied => json!({"status": "denied"}),
                }
            }
            "rollback" => json!({"rolled_back": true, "response": responder.rollback(&by, step)?}),
            other => return Err(ApiError::NotFound(format!("step action {other:?}"))),
        };
        Ok(Json(answer))
    })
    .await
}

/// `POST /api/v1/runs/{run}/stop`.
pub(crate) async fn stop(soc: Soc, Path(id): Path<i64>, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let body: ReasonBody = if bytes.is_empty() { ReasonBody::default() } else { super::body(&bytes)? };
    blocking(move || {
        let reason = if body.reason.trim().is_empty() { "no reason given" } else { body.reason.trim() };
        soc.state.stop_run(&soc.caller.by(), id, reason)?;
        Ok(Json(json!({"status": "stopped"})))
    })
    .await
}
