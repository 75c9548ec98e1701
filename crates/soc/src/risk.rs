//! Entity risk: every alert adds points to its entities; points fade with
//! a half-life, so a burst of small alerts on one user counts and last
//! month's does not.

use jiff::{SignedDuration, Timestamp};
use model::Level;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RiskPolicy {
    /// Time for a score to halve.
    #[serde(skip)]
    pub half_life: SignedDuration,
    /// A score at or above this raises a risk incident for the entity.
    pub threshold: f64,
    /// Points an alert adds, by severity (informational first).
    pub points: [f64; 5],
}

impl Default for RiskPolicy {
    fn default() -> RiskPolicy {
        RiskPolicy { half_life: SignedDuration::from_hours(24), threshold: 100.0, points: [0.0, 5.0, 15.0, 40.0, 80.0] }
    }
}

impl RiskPolicy {
    pub fn points(&self, severity: Level) -> f64 {
        let at = Level::ALL.iter().position(|l| *l == severity).unwrap_or(0);
        self.points[at]
    }

    /// `score` (as of `since`) faded to `now`.
    pub fn decayed(&self, score: f64, since: Timestamp, now: Timestamp) -> f64 {
        let age = now.duration_since(since).as_secs_f64().max(0.0);
        let half = self.half_life.as_secs_f64();
        if half <= 0.0 {
            return score;
        }
        score * 0.5_f64.powf(age / half)
    }

    /// The score after an alert of `severity` at `now` on an entity that
    /// had `score` at `since`.
    pub fn add(&self, score: f64, since: Timestamp, now: Timestamp, severity: Level) -> f64 {
        self.decayed(score, since, now.max(since)) + self.points(severity)
    }
}
