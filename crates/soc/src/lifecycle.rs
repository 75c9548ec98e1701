//! The life of an incident: its statuses, which moves are allowed, and
//! what closing requires.

use std::fmt;
use std::str::FromStr;

/// Where an incident is. The order is the normal course of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Acknowledged,
    Investigating,
    Contained,
    Resolved,
    Closed,
}

/// The analyst's verdict, required to resolve or close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    TruePositive,
    BenignTruePositive,
    FalsePositive,
    Duplicate,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::New, Status::Acknowledged, Status::Investigating, Status::Contained, Status::Resolved, Status::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::Investigating => "investigating",
            Status::Contained => "contained",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// Resolved or closed: no more work, the resolve clock stopped.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed)
    }

    /// The statuses a queue filter names: `open` (not resolved or closed),
    /// `all` (none given: every status), or statuses separated by commas.
    pub fn filter(text: &str) -> Result<Vec<Status>, String> {
        match text.trim() {
            "open" => Ok(Status::ALL.into_iter().filter(|s| !s.is_done()).collect()),
            "all" | "" => Ok(Vec::new()),
            list => list.split(',').map(str::parse).collect(),
        }
    }

    /// Whether someone has taken the incident (the acknowledge clock stops).
    pub fn is_acknowledged(self) -> bool {
        self != Status::New
    }
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::TruePositive,
        Disposition::BenignTruePositive,
        Disposition::FalsePositive,
        Disposition::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::TruePositive => "true_positive",
            Disposition::BenignTruePositive => "benign_true_positive",
            Disposition::FalsePositive => "false_positive",
            Disposition::Duplicate => "duplicate",
        }
    }
}

macro_rules! from_str_by_name {
    ($ty:ty, $what:literal) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let want = s.trim().replace('-', "_").to_ascii_lowercase();
                <$ty>::ALL.into_iter().find(|v| v.as_str() == want).ok_or_else(|| {
                    let names: Vec<&str> = <$ty>::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?} (expected one of {})", $what, names.join(", "))
                })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

from_str_by_name!(Status, "status");
from_str_by_name!(Disposition, "disposition");

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveError {
    Same(Status),
    Backwards { from: Status, to: Status },
    NeedsDisposition(Status),
}

impl fmt::Display for MoveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveError::Same(s) => write!(f, "the incident is already {s}"),
            MoveError::Backwards { from, to } => {
                write!(f, "cannot move an incident from {from} back to {to} (reopen it to investigating instead)")
            }
            MoveError::NeedsDisposition(s) => {
                write!(
                    f,
                    "a disposition (true_positive, benign_true_positive, false_positive, duplicate) is required to mark an incident {s}"
                )
            }
        }
    }
}

/// Checks a move. Work goes forward, skipping steps if need be (taking an
/// incident straight to investigating acknowledges it). Resolving or
/// closing needs a disposition. A resolved or closed incident can only be
/// reopened, to investigating.
pub fn check_move(from: Status, to: Status, disposition: Option<Disposition>) -> Result<(), MoveError> {
    if from == to {
        return Err(MoveError::Same(from));
    }
    let reopen = from.is_done() && to == Status::Investigating;
    if to < from && !reopen {
        return Err(MoveError::Backwards { from, to });
    }
    if to.is_done() && disposition.is_none() {
        return Err(MoveError::NeedsDisposition(to));
    }
    Ok(())
}
