//! The response page: who is on call, the approvals inbox (steps that wait
//! for people, with approve and deny and a reason), and every playbook run
//! with its steps; on the incident page, starting a playbook by hand or
//! running it dry.

use access::Action;
use maud::{Markup, html};
use state::{Run, RunStep};

use super::{Ctx, T, empty_row, table_head};
use crate::enc::Shown;

/// One rota's coming shifts: its name, then who from when.
pub(crate) type RotaShifts = (String, Vec<(String, jiff::Timestamp)>);

fn run_status(ctx: &Ctx, status: &str) -> &'static str {
    ctx.t(match status {
        "running" => T::RunRunning,
        "waiting" | "approval" => T::RunWaiting,
        "done" => T::RunDone,
        "failed" | "dead" => T::RunFailed,
        "stopped" | "denied" | "expired" => T::RunStopped,
        "proposed" => T::RunProposed,
        "ready" => T::RunReady,
        _ => T::RunPending,
    })
}

fn decision(ctx: &Ctx, d: &str) -> &'static str {
    ctx.t(match d {
        "auto" => T::DecideAuto,
        "approve" => T::DecideApprove,
        _ => T::DecidePropose,
    })
}

/// The call a step makes, as one line: method and URL, or the command.
fn call_line(call: Option<&serde_json::Value>) -> String {
    let Some(call) = call else { return String::new() };
    if let Some(h) = call.get("http") {
        return format!("{} {}", h["method"].as_str().unwrap_or("POST"), h["url"].as_str().unwrap_or(""));
    }
    if let Some(argv) = call.get("command").and_then(|c| c.as_array()) {
        return argv.iter().filter_map(|a| a.as_str()).collect::<Vec<_>>().join(" ");
    }
    call.get("refused").and_then(|r| r.as_str()).unwrap_or("").to_string()
}

/// The response page.
pub(crate) fn response(ctx: &Ctx, runs: &[(Run, Vec<RunStep>)], rotas: &[RotaShifts], note: Option<&str>) -> Markup {
    let waiting: Vec<&(Run, Vec<RunStep>)> = runs.iter().filter(|(r, _)| r.status == "waiting").collect();
    html! {
        (super::notice(note))
        section #oncall {
            h2 { (ctx.t(T::OnCall)) }
            @if rotas.is_empty() { p { (ctx.t(T::NoRota)) } }
            @for (name, shifts) in rotas {
                h3 { (Shown(name)) }
                table {
                    (table_head(ctx, &[Some(T::OnCall), Some(T::From)]))
                    tbody {
                        @for (person, from) in shifts {
                            tr { td { (Shown(person)) } td { (ctx.time(*from)) } }
                        }
                    }
                }
            }
        }
        section #inbox {
            h2 { (ctx.t(T::ApprovalsInbox)) }
            @if waiting.is_empty() { p { (ctx.t(T::NothingWaits)) } }
            @for (run, steps) in &waiting {
                @for s in steps.iter().filter(|s| s.status == "approval") {
                    (approval(ctx, run, s))
                }
            }
        }
        section #runs {
            h2 { (ctx.t(T::Runs)) }
            table {
                (table_head(ctx, &[Some(T::Incident), Some(T::Playbook), Some(T::Status), Some(T::Steps), Some(T::Who), None]))
                tbody {
                    @if runs.is_empty() { (empty_row(ctx, 6)) }
                    @for (run, steps) in runs {
                        tr id={ "run-" (run.id) } {
                            td { a href=(ctx.url(&format!("incidents/{}", run.incident))) { "#" (run.incident) } }
                            td { (Shown(&run.playbook)) " v" (run.version) }
                            td class={ "run-" (run.status) } {
                                (run_status(ctx, &run.status))
                                @if let Some(r) = &run.reason { br; small { (Shown(r)) } }
                            }
                            td { ol.steps { @for s in steps { (step(ctx, run, s)) } } }
                            td { (Shown(&run.started_by)) br; small { (ctx.time(run.created)) } }
                            td {
                                @if ctx.can(Action::Respond) && matches!(run.status.as_str(), "running" | "waiting") {
                                    form method="post" action=(ctx.url(&format!("runs/{}", run.id))) {
                                        (ctx.csrf_field())
                                        input type="hidden" name="action" value="stop";
                                        label for={ "stop-reason-" (run.id) } { (ctx.t(T::Reason)) } " "
                                        input id={ "stop-reason-" (run.id) } name="reason" required size="16";
                                        " " button { (ctx.t(T::Stop)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn step(ctx: &Ctx, run: &Run, s: &RunStep) -> Markup {
    html! {
        li class={ "step-" (s.status) } {
            b { (Shown(&s.step)) } " · " (run_status(ctx, &s.status)) " · " (decision(ctx, &s.decision))
            @let line = call_line(s.call.as_ref());
            @if !line.is_empty() { br; code { (Shown(&line)) } }
            @if let Some(e) = &s.error { br; span.error { (Shown(e)) } }
            @for v in &s.verdicts {
                br; small { (Shown(&v.user)) ": " (ctx.t(if v.approve { T::Approve } else { T::Deny })) " — " (Shown(&v.reason)) }
            }
            @if let Some(at) = s.rolled_back { br; small { (ctx.t(T::RolledBack)) " " (ctx.time(at)) } }
            @if ctx.can(Action::Respond) && s.kind == "action" && s.status == "done" && s.rolled_back.is_none() {
                form method="post" action=(ctx.url(&format!("runs/{}", run.id))) class="inline" {
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="rollback";
                    input type="hidden" name="step" value=(s.id);
                    " " button { (ctx.t(T::Rollback)) }
                }
            }
        }
    }
}

/// One step waiting for approval: what it would do, who may decide, and
/// the approve and deny buttons with a reason.
fn approval(ctx: &Ctx, run: &Run, s: &RunStep) -> Markup {
    let approvals = s.verdicts.iter().filter(|v| v.approve).count();
    html! {
        article.approval id={ "approval-" (s.id) } {
            h3 {
                a href=(ctx.url(&format!("incidents/{}", run.incident))) { "#" (run.incident) }
                " " (Shown(&run.playbook)) " · " (Shown(&s.step))
            }
            p { code { (Shown(&call_line(s.call.as_ref()))) } }
            p {
                (ctx.t(T::NeedsRole)) " " (s.need_role.map_or("-", |r| ctx.t(T::role(r))))
                " · " (approvals) "/" (s.need_count)
                @if let Some(e) = s.expires { " · " (ctx.t(T::Expires)) " " (ctx.time(e)) }
            }
            @if ctx.can(Action::Respond) {
                form method="post" action=(ctx.url(&format!("runs/{}", run.id))) {
                    (ctx.csrf_field())
                    input type="hidden" name="step" value=(s.id);
                    label for={ "reason-" (s.id) } { (ctx.t(T::Reason)) } " "
                    input id={ "reason-" (s.id) } name="reason" required size="30";
                    " " button name="action" value="approve" id={ "approve-" (s.id) } { (ctx.t(T::Approve)) }
                    " " button name="action" value="deny" id={ "deny-" (s.id) } { (ctx.t(T::Deny)) }
                }
            }
        }
    }
}

/// The incident page's playbook form: start one by hand, or see its dry run.
pub(crate) fn start_form(ctx: &Ctx, incident: i64, playbooks: &[(String, String)]) -> Markup {
    html! {
        @if ctx.can(Action::Respond) && !playbooks.is_empty() {
            section #playbooks {
                h2 { (ctx.t(T::Playbooks)) }
                form method="post" action=(ctx.url(&format!("incidents/{incident}/playbook"))) {
                    (ctx.csrf_field())
                    label for="playbook" { (ctx.t(T::Playbook)) } " "
                    select #playbook name="playbook" {
                        @for (id, title) in playbooks { option value=(id) { (Shown(title)) } }
                    }
                    " " button name="mode" value="dry" #dry-run { (ctx.t(T::DryRun)) }
                    " " button name="mode" value="start" #start-playbook { (ctx.t(T::StartPlaybook)) }
                }
            }
        }
    }
}

/// A dry run's plan: each step, what the policy says of it, the exact call.
pub(crate) fn plan(ctx: &Ctx, incident: i64, playbook: &str, plan: &[playbook::Planned]) -> Markup {
    html! {
        p { a href=(ctx.url(&format!("incidents/{incident}"))) { "#" (incident) } " · " (Shown(playbook)) }
        table #plan {
            (table_head(ctx, &[Some(T::Steps), Some(T::Decision), None]))
            tbody {
                @for p in plan {
                    tr {
                        td { (Shown(&p.step)) }
                        td {
                            @match p.decision {
                                playbook::Decision::Auto => (ctx.t(T::DecideAuto)),
                                playbook::Decision::Propose => (ctx.t(T::DecidePropose)),
                                playbook::Decision::Approve { role, approvers, .. } => {
                                    (ctx.t(T::DecideApprove)) " (" (ctx.t(T::role(role))) " ×" (approvers) ")"
                                },
                            }
                        }
                        td { code { (Shown(&call_line(p.call.as_ref().map(playbook::describe).as_ref()))) } }
                    }
                }
            }
        }
    }
}
