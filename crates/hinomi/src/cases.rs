//! `hinomi alerts` and `hinomi incident`: the alert and incident queues
//! and an analyst's common actions from a shell, on a data directory's
//! state store (also while `hinomi serve` runs on it).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use server::api::model::{AuditEntry, Escalation, Incident, Sla, TimelineEntry};
use state::{Acted, AlertQuery, By, IncidentAction, IncidentQuery, State};

use crate::output::Format;

#[derive(Args, Debug)]
pub(crate) struct Where {
    /// The data directory.
    #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// The configuration file (for `[triage] database`).
    #[arg(long, env = "HINOMI_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[arg(long, default_value = "default")]
    pub(crate) tenant: String,
    /// Who acts (recorded in the incident's log).
    #[arg(long = "as", env = "USER", default_value = "cli")]
    pub(crate) actor: String,
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: Format,
}

impl Where {
    /// Who acts, for the tenant, now.
    pub(crate) fn by(&self) -> By<'_> {
        By { tenant: &self.tenant, actor: &self.actor, now: Timestamp::now() }
    }

    pub(crate) fn open(&self) -> Result<State> {
        let config = server::config::Config::for_data(&self.data, self.config.as_deref())?;
        config.triage.open(&self.data)
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum AlertsCommand {
    /// The alert queue, newest first.
    List {
        #[command(flatten)]
        at: Where,
        /// open, suppressed, closed or all.
        #[arg(long, default_value = "open")]
        status: String,
        #[arg(long)]
        min_severity: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum IncidentCommand {
    /// Incidents, most recently active first.
    List {
        #[command(flatten)]
        at: Where,
        /// `open`, `all`, or statuses separated by commas.
        #[arg(long, default_value = "open")]
        status: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One incident with its SLA clocks and timeline (JSON).
    Show {
        #[command(flatten)]
        at: Where,
        id: i64,
    },
    /// Acknowledge: someone is on it.
    Ack {
        #[command(flatten)]
        at: Where,
        id: i64,
    },
    /// Move to a status (`investigating`, `contained`, ...).
    Move {
        #[command(flatten)]
        at: Where,
        id: i64,
        status: String,
        #[arg(long)]
        disposition: Option<String>,
    },
    Assign {
        #[command(flatten)]
        at: Where,
        id: i64,
        assignee: String,
    },
    /// Close with a disposition (true_positive, benign_true_positive, false_positive, duplicate).
    Close {
        #[command(flatten)]
        at: Where,
        id: i64,
        #[arg(long)]
        disposition: String,
    },
    /// Add a note (markdown).
    Note {
        #[command(flatten)]
        at: Where,
        id: i64,
        text: String,
    },
    /// Record the hand-off to the CSIRT and write the package.
    Escalate {
        #[command(flatten)]
        at: Where,
        id: i64,
        #[arg(long)]
        to: String,
        /// Also write the readable page here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Mark an observable as an indicator of compromise of the incident.
    Ioc {
        #[command(flatten)]
        at: Where,
        id: i64,
        /// ip, domain, url, md5, sha1, sha256, email, ja3 or ja4.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// The incident's indicators and sightings as a STIX 2.1 bundle (docs/intel.md).
    Stix {
        #[command(flatten)]
        at: Where,
        id: i64,
        /// Write it here instead of to standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum AssetsCommand {
    /// Replace the tenant's asset inventory with a CSV (`kind,match,criticality,owner,business_unit`) or JSON file.
    Import {
        #[command(flatten)]
        at: Where,
        file: PathBuf,
    },
    /// The tenant's asset inventory.
    List {
        #[command(flatten)]
        at: Where,
    },
}

pub(crate) fn assets(cmd: AssetsCommand) -> Result<ExitCode> {
    match cmd {
        AssetsCommand::Import { at, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let inventory =
                if json { soc::assets::Inventory::from_json(&text) } else { soc::assets::Inventory::from_csv(&text) }
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let by = at.by();
            let n = at.open()?.replace_assets(&by, &inventory)?;
            eprintln!("{n} assets for tenant {}", at.tenant);
            Ok(ExitCode::SUCCESS)
        }
        AssetsCommand::List { at } => {
            let inventory = at.open()?.assets(&at.tenant)?;
            let rows = inventory.assets.iter().map(|a| row(serde_json::to_value(a).unwrap_or_default())).collect();
            print(at.format, rows)
        }
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Check the hash chain of the audit trail; prints the head to record.
    Verify {
        #[command(flatten)]
        at: Where,
        /// A head printed by an earlier verify (`SEQ:HASH`): entries removed since are caught.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
    /// The tenant's audit entries, oldest first.
    List {
        #[command(flatten)]
        at: Where,
        /// Every tenant's entries and the server-wide ones (logins, users).
        #[arg(long)]
        all: bool,
        /// Only entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

pub(crate) fn audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { at, head } => {
            let head = match &head {
                Some(h) => {
                    let (seq, hash) = h.split_once(':').context("--head must be SEQ:HASH as verify printed it")?;
                    Some((seq.parse::<i64>().context("--head: the sequence number is not a number")?, hash))
                }
                None => None,
            };
            let report = at.open()?.audit_verify(head)?;
            let head = report.head.map(|(s, h)| format!("{s}:{h}")).unwrap_or_else(|| "none".into());
            match report.problem {
                None => {
                    println!("audit trail intact: {} entries; head {head}", report.entries);
                    Ok(ExitCode::SUCCESS)
                }
                Some(p) => {
                    println!("audit trail BROKEN: {p} ({} entries; head {head})", report.entries);
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::List { at, all, after, limit } => {
            let tenant = (!all).then_some(at.tenant.as_str());
            let entries = at.open()?.audit_entries(tenant, after, limit)?;
            let rows = entries.iter().map(|e| row(serde_json::to_value(AuditEntry(e)).unwrap_or_default())).collect();
            print(at.format, rows)
        }
    }
}

pub(crate) fn print(format: Format, rows: Vec<Map<String, Value>>) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    crate::search::print_rows(&mut out, format, &rows, false)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn row(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn entities(list: &[soc::Entity]) -> String {
    list.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

pub(crate) fn alerts(cmd: AlertsCommand) -> Result<ExitCode> {
    let AlertsCommand::List { at, status, min_severity, limit } = cmd;
    let state = at.open()?;
    let min_severity = match min_severity {
        Some(s) => Some(model::Level::parse(&s).with_context(|| format!("unknown severity {s:?}"))?),
        None => None,
    };
    let q = AlertQuery { status: Some(status).filter(|s| s != "all"), min_severity, limit, ..Default::default() };
    let list = state.alerts(&at.tenant, &q)?;
    let rows = list
        .into_iter()
        .map(|a| {
            row(json!({"id": a.id, "last_seen": a.last_seen.to_string(), "severity": a.severity, "count": a.count,
                "incident": a.incident_id, "rule": a.rule_id, "title": a.title, "entities": entities(&a.entities)}))
        })
        .collect();
    print(at.format, rows)
}

pub(crate) fn incident(cmd: IncidentCommand) -> Result<ExitCode> {
    let now = Timestamp::now();
    match cmd {
        IncidentCommand::List { at, status, limit } => {
            let state = at.open()?;
            let statuses = soc::Status::filter(&status).map_err(anyhow::Error::msg)?;
            let list = state.incidents(&at.tenant, &IncidentQuery { statuses, limit, ..Default::default() })?;
            let rows = list
                .into_iter()
                .map(|i| {
                    row(json!({"id": i.id, "last_activity": i.last_activity.to_string(), "severity": i.severity, "status": i.status,
                        "assignee": i.assignee, "alerts": i.alert_count, "title": i.title, "entities": entities(&i.entities)}))
                })
                .collect();
            print(at.format, rows)
        }
        IncidentCommand::Show { at, id } => {
            let state = at.open()?;
            let timeline = state.timeline(&at.tenant, id)?;
            let timeline: Vec<TimelineEntry> = timeline.iter().map(TimelineEntry).collect();
            let out = json!({
                "incident": Incident(&state.incident(&at.tenant, id)?),
                "sla": state.sla(&at.tenant, id, now)?.as_ref().map(Sla),
                "timeline": timeline,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        IncidentCommand::Ack { at, id } => moved(&at, id, "acknowledged", None),
        IncidentCommand::Move { at, id, status, disposition } => moved(&at, id, &status, disposition.as_deref()),
        IncidentCommand::Close { at, id, disposition } => moved(&at, id, "closed", Some(&disposition)),
        IncidentCommand::Assign { at, id, assignee } => {
            let version = at.open()?.incident(&at.tenant, id)?.version;
            let i = incident_of(act(&at, id, IncidentAction::Assign { version, assignee: Some(assignee.clone()) })?)?;
            eprintln!("incident {id} assigned to {assignee} (version {})", i.version);
            Ok(ExitCode::SUCCESS)
        }
        IncidentCommand::Note { at, id, text } => {
            if let Acted::Note(note) = act(&at, id, IncidentAction::Note { body: text })? {
                eprintln!("note {note} added to incident {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        IncidentCommand::Escalate { at, id, to, html } => {
            let version = at.open()?.incident(&at.tenant, id)?.version;
            let Acted::Escalation(package) = act(&at, id, IncidentAction::Escalate { version, to })? else {
                bail!("incident {id}: the escalation gave no package");
            };
            if let Some(path) = html {
                std::fs::write(&path, server::handoff::html(&package))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!("{}", serde_json::to_string_pretty(&Escalation(&package))?);
            Ok(ExitCode::SUCCESS)
        }
        IncidentCommand::Ioc { at, id, kind, value, note } => {
            if let Acted::Ioc(o) = act(&at, id, IncidentAction::Ioc { kind, value, note })? {
                eprintln!("{o} marked as an IOC of incident {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        IncidentCommand::Stix { at, id, out } => {
            let state = at.open()?;
            let bundle = server::intel::incident_bundle(&state, &at.tenant, id, jiff::Timestamp::now())
                .with_context(|| format!("incident {id}"))?;
            let text = serde_json::to_string_pretty(&bundle)?;
            match out {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Applies one action as the API and the console do.
fn act(at: &Where, id: i64, action: IncidentAction) -> Result<Acted> {
    at.open()?.act(&at.by(), id, &action).with_context(|| format!("incident {id}"))
}

/// The incident a change of its fields answers with.
fn incident_of(acted: Acted) -> Result<state::Incident> {
    match acted {
        Acted::Incident(i) => Ok(*i),
        other => bail!("a change of an incident answered with {other:?}"),
    }
}

fn moved(at: &Where, id: i64, status: &str, disposition: Option<&str>) -> Result<ExitCode> {
    let status: soc::Status = status.parse().map_err(anyhow::Error::msg)?;
    let disposition = disposition.map(str::parse::<soc::Disposition>).transpose().map_err(anyhow::Error::msg)?;
    let version = at.open()?.incident(&at.tenant, id)?.version;
    let i = incident_of(act(at, id, IncidentAction::Status { version, status, disposition })?)?;
    eprintln!("incident {id} is now {} (version {})", i.status, i.version);
    Ok(ExitCode::SUCCESS)
}
