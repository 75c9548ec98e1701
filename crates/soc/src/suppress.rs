//! Suppressions: an analyst's "not this, for now". Each names a rule (or
//! every rule), field values that must all match, an owner, a reason and
//! an expiry. A suppressed detection is still recorded and counted, so
//! nothing is invisible; it just does not reach the queue.

use jiff::Timestamp;

use crate::Detection;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Suppression {
    pub id: i64,
    pub tenant: String,
    /// A rule id, or `*` for every rule.
    pub rule: String,
    /// Field (dotted event field, or `host`, `user`, ... for an entity)
    /// and value, compared ignoring case; all must match.
    pub conditions: Vec<(String, String)>,
    pub owner: String,
    pub reason: String,
    pub expires: Timestamp,
    pub created: Timestamp,
}

impl Suppression {
    /// Checks what an analyst asks for; errors say what is missing.
    pub fn validate(&self, now: Timestamp) -> Result<(), String> {
        if self.owner.trim().is_empty() {
            return Err("a suppression needs an owner".into());
        }
        if self.reason.trim().is_empty() {
            return Err("a suppression needs a reason".into());
        }
        if self.expires <= now {
            return Err(format!("the expiry {} is not in the future", self.expires));
        }
        if self.rule.trim().is_empty() {
            return Err("a suppression needs a rule id (or * for every rule)".into());
        }
        if self.rule == "*" && self.conditions.is_empty() {
            return Err("a suppression of every rule needs at least one field condition".into());
        }
        Ok(())
    }

    pub fn applies(&self, d: &Detection, now: Timestamp) -> bool {
        now < self.expires
            && self.tenant == d.tenant
            && (self.rule == "*" || self.rule == d.rule_id)
            && self.conditions.iter().all(|(field, want)| d.has_value(field, want))
    }
}
