//! The changes analysts make to an incident, as one typed value.
//!
//! The API, the console and the command line each build an
//! [`IncidentAction`] from what they were sent (JSON with the action's
//! name as its `action` tag, a form, arguments) and hand it to
//! [`State::act`], so an action means the same, checks the same version
//! and lands in the same log whichever way it came.

use model::Level;
use serde::Deserialize;
use soc::{Disposition, Status};

use super::{By, Escalation, Incident, Result, State};

/// One change to an incident. The changes to the incident's own fields
/// carry the `version` the analyst saw: a stale one is a conflict, never
/// a silent overwrite. Notes, tasks and evidence only add.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum IncidentAction {
    /// Moves it through its life cycle (`closed` needs a disposition).
    Status {
        version: i64,
        status: Status,
        #[serde(default)]
        disposition: Option<Disposition>,
    },
    /// Gives it to someone, or to nobody.
    Assign {
        version: i64,
        #[serde(default)]
        assignee: Option<String>,
    },
    /// Changes its title or severity.
    Edit {
        version: i64,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        severity: Option<Level>,
    },
    /// Starts (or ends) waiting on the customer: the SLA clocks pause.
    Waiting {
        version: i64,
        #[serde(default = "yes")]
        waiting: bool,
    },
    /// Hands it to the CSIRT.
    Escalate {
        version: i64,
        to: String,
    },
    Note {
        body: String,
    },
    Task {
        title: String,
        #[serde(default)]
        owner: Option<String>,
    },
    TaskDone {
        task: i64,
    },
    /// Links an event of the event store or a file.
    Evidence {
        #[serde(default)]
        kind: EvidenceKind,
        #[serde(rename = "ref")]
        reference: String,
        #[serde(default)]
        note: Option<String>,
    },
    /// Takes every alert and entity of incident `from`, which closes as a duplicate.
    Merge {
        from: i64,
    },
    /// Moves these alerts into a new incident.
    Split {
        alerts: Vec<i64>,
    },
    /// Marks an observable as an indicator of compromise of the incident
    /// (`kind` as threat intel names it: ip, domain, url, md5, sha1,
    /// sha256, email, ja3, ja4); marking it again changes its note.
    Ioc {
        kind: String,
        value: String,
        #[serde(default)]
        note: Option<String>,
    },
    /// Acknowledges the on-call pages still waiting for it: nobody else
    /// is paged, and the incident is taken up if nobody had.
    AcknowledgePages {},
}

fn yes() -> bool {
    true
}

/// What a piece of evidence points at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An event store id.
    #[default]
    Event,
    /// A path or URL.
    File,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Event => "event",
            EvidenceKind::File => "file",
        }
    }
}

/// What an action made.
#[derive(Debug, Clone, PartialEq)]
pub enum Acted {
    /// The incident as it is now (for a merge, the one merged into; for a
    /// split, the new one).
    Incident(Box<Incident>),
    /// The hand-off package of an escalation.
    Escalation(Box<Escalation>),
    Note(i64),
    Task(i64),
    TaskDone(i64),
    Evidence(i64),
    /// How many notices' pages were acknowledged.
    Pages(usize),
    /// The observable marked, in its canonical form.
    Ioc(intel::Observable),
}

impl IncidentAction {
    /// The action's name: its `action` tag.
    pub fn name(&self) -> &'static str {
        match self {
            IncidentAction::Status { .. } => "status",
            IncidentAction::Assign { .. } => "assign",
            IncidentAction::Edit { .. } => "edit",
            IncidentAction::Waiting { .. } => "waiting",
            IncidentAction::Escalate { .. } => "escalate",
            IncidentAction::Note { .. } => "note",
            IncidentAction::Task { .. } => "task",
            IncidentAction::TaskDone { .. } => "task_done",
            IncidentAction::Evidence { .. } => "evidence",
            IncidentAction::Merge { .. } => "merge",
            IncidentAction::Split { .. } => "split",
            IncidentAction::Ioc { .. } => "ioc",
            IncidentAction::AcknowledgePages {} => "acknowledge_pages",
        }
    }
}

impl State {
    /// Applies one analyst's action to incident `id` of `by.tenant`.
    pub fn act(&self, by: &By<'_>, id: i64, action: &IncidentAction) -> Result<Acted> {
        use IncidentAction as A;
        Ok(match action {
            A::Status { version, status, disposition } => {
                Acted::Incident(Box::new(self.transition(by, id, *version, *status, *disposition)?))
            }
            A::Assign { version, assignee } => {
                let assignee = assignee.as_deref().map(str::trim).filter(|a| !a.is_empty());
                Acted::Incident(Box::new(self.assign(by, id, *version, assignee)?))
            }
            A::Edit { version, title, severity } => {
                Acted::Incident(Box::new(self.edit(by, id, *version, title.as_deref(), *severity)?))
            }
            A::Waiting { version, waiting } => {
                Acted::Incident(Box::new(self.wait_on_customer(by, id, *version, *waiting)?))
            }
            A::Escalate { version, to } => Acted::Escalation(Box::new(self.escalate(by, id, *version, to)?)),
            A::Note { body } => Acted::Note(self.add_note(by, id, body)?),
            A::Task { title, owner } => Acted::Task(self.add_task(by, id, title, owner.as_deref())?),
            A::TaskDone { task } => {
                self.complete_task(by, id, *task)?;
                Acted::TaskDone(*task)
            }
            A::Evidence { kind, reference, note } => {
                Acted::Evidence(self.add_evidence(by, id, kind.as_str(), reference, note.as_deref())?)
            }
            A::Merge { from } => Acted::Incident(Box::new(self.merge(by, id, *from)?)),
            A::Split { alerts } => Acted::Incident(Box::new(self.split(by, id, alerts)?)),
            A::Ioc { kind, value, note } => Acted::Ioc(self.mark_ioc(by, id, kind, value, note.as_deref())?),
            A::AcknowledgePages {} => {
                self.incident(by.tenant, id)?;
                Acted::Pages(self.acknowledge_pages(by, id)?)
            }
        })
    }
}
