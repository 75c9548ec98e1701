//! What analysts keep per tenant beside the incidents: saved searches (a
//! query with its time range and columns under a name, kept for the
//! analyst who saved it or shared with the whole tenant; saving under a
//! name one already has replaces it; only the owner deletes one), and the
//! rules the tenant switched off.

use jiff::Timestamp;
use serde_json::json;

use super::db::{Db, Val};
use super::row::{Row, returned_id};
use super::{By, Result, State, StateError, micros};

/// One saved search as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSearch {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub query: String,
    /// The range as written (`-24h`, a date, empty for open).
    pub from: String,
    pub to: String,
    /// The columns chosen, comma-separated; empty for the defaults.
    pub columns: String,
    /// Seen by everyone in the tenant, not only the owner.
    pub shared: bool,
    pub saved: Timestamp,
}

/// What is saved: everything but who, when and the id.
#[derive(Debug, Clone, Default)]
pub struct NewSearch {
    pub name: String,
    pub query: String,
    pub from: String,
    pub to: String,
    pub columns: String,
    pub shared: bool,
}

/// Sizes a saved search may have, and how many one analyst keeps.
const MAX_NAME: usize = 120;
const MAX_TEXT: usize = 16 * 1024;
const MAX_PER_OWNER: i64 = 500;

const COLS: &str = "id, owner, name, query, range_from, range_to, columns, shared, saved";

fn from_row(r: &Row) -> Result<SavedSearch> {
    Ok(SavedSearch {
        id: r.get("id")?,
        owner: r.get("owner")?,
        name: r.get("name")?,
        query: r.get("query")?,
        from: r.get("range_from")?,
        to: r.get("range_to")?,
        columns: r.get("columns")?,
        shared: r.get("shared")?,
        saved: r.get("saved")?,
    })
}

impl NewSearch {
    fn check(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(StateError::Invalid(format!(
                "a saved search needs a name of 1 to {MAX_NAME} characters without control characters"
            )));
        }
        if self.query.trim().is_empty() {
            return Err(StateError::Invalid("a saved search needs a query".into()));
        }
        for (what, text) in
            [("query", &self.query), ("range", &self.from), ("range", &self.to), ("columns", &self.columns)]
        {
            if text.len() > MAX_TEXT {
                return Err(StateError::Invalid(format!("the saved search's {what} is over {MAX_TEXT} bytes")));
            }
        }
        Ok(())
    }
}

fn count_owned(db: &mut dyn Db, tenant: &str, owner: &str) -> Result<i64> {
    let rows = db.rows(
        "SELECT COUNT(*) AS n FROM saved_searches WHERE tenant = $1 AND owner = $2",
        &[tenant.into(), owner.into()],
    )?;
    rows.first().map_or(Ok(0), |r| r.get("n"))
}

impl State {
    /// Saves `s` for `by.actor`, replacing their search of the same name.
    pub fn save_search(&self, by: &By<'_>, s: &NewSearch) -> Result<SavedSearch> {
        s.check()?;
        let name = s.name.trim();
        self.tx(|db| {
            db.exec(
                "DELETE FROM saved_searches WHERE tenant = $1 AND owner = $2 AND name = $3",
                &[by.tenant.into(), by.actor.into(), name.into()],
            )?;
            if count_owned(db, by.tenant, by.actor)? >= MAX_PER_OWNER {
                return Err(StateError::Invalid(format!(
                    "{MAX_PER_OWNER} saved searches is the most one analyst keeps; delete some first"
                )));
            }
            let rows = db.rows(
                "INSERT INTO saved_searches (tenant, owner, name, query, range_from, range_to, columns, shared, saved) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    by.tenant.into(),
                    by.actor.into(),
                    name.into(),
                    s.query.as_str().into(),
                    s.from.as_str().into(),
                    s.to.as_str().into(),
                    s.columns.as_str().into(),
                    Val::Int(i64::from(s.shared)),
                    micros(by.now),
                ],
            )?;
            let id = returned_id(&rows)?;
            super::audit::append(
                db,
                by,
                "search.save",
                &format!("search:{id}"),
                &json!({"name": name, "shared": s.shared}),
            )?;
            Ok(SavedSearch {
                id,
                owner: by.actor.to_string(),
                name: name.to_string(),
                query: s.query.clone(),
                from: s.from.clone(),
                to: s.to.clone(),
                columns: s.columns.clone(),
                shared: s.shared,
                saved: by.now,
            })
        })
    }

    /// The searches `user` sees in `tenant`: their own and the shared
    /// ones, by name.
    pub fn saved_searches(&self, tenant: &str, user: &str) -> Result<Vec<SavedSearch>> {
        let rows = self.reader()?.rows(
            &format!(
                "SELECT {COLS} FROM saved_searches WHERE tenant = $1 AND (owner = $2 OR shared = 1) ORDER BY name, id LIMIT 1000"
            ),
            &[tenant.into(), user.into()],
        )?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes one of `by.actor`'s saved searches.
    pub fn delete_search(&self, by: &By<'_>, id: i64) -> Result<()> {
        self.tx(|db| {
            let n = db.exec(
                "DELETE FROM saved_searches WHERE tenant = $1 AND owner = $2 AND id = $3",
                &[by.tenant.into(), by.actor.into(), Val::Int(id)],
            )?;
            if n == 0 {
                return Err(StateError::NotFound(format!("saved search {id} of {}", by.actor)));
            }
            super::audit::append(db, by, "search.delete", &format!("search:{id}"), &json!({}))
        })
    }
}

impl State {
    /// Switches rule `rule_id` off or on for `by.tenant`; audited.
    pub fn set_rule_enabled(&self, by: &By<'_>, rule_id: &str, enabled: bool) -> Result<()> {
        if rule_id.is_empty() || rule_id.len() > 256 {
            return Err(StateError::Invalid("which rule? (its id, at most 256 bytes)".into()));
        }
        self.tx(|db| {
            db.exec(
                "DELETE FROM rule_settings WHERE tenant = $1 AND rule_id = $2",
                &[by.tenant.into(), rule_id.into()],
            )?;
            db.exec(
                "INSERT INTO rule_settings (tenant, rule_id, enabled, changed_by, changed) VALUES ($1, $2, $3, $4, $5)",
                &[by.tenant.into(), rule_id.into(), Val::Int(i64::from(enabled)), by.actor.into(), micros(by.now)],
            )?;
            let action = if enabled { "rule.enable" } else { "rule.disable" };
            super::audit::append(db, by, action, &format!("rule:{rule_id}"), &json!({}))
        })
    }

    /// `(tenant, rule id)` of every rule switched off: one tenant's, or
    /// all (what the pipeline starts with).
    pub fn disabled_rules(&self, tenant: Option<&str>) -> Result<Vec<(String, String)>> {
        let rows = match tenant {
            Some(t) => self.reader()?.rows(
                "SELECT tenant, rule_id FROM rule_settings WHERE enabled = 0 AND tenant = $1 ORDER BY rule_id",
                &[t.into()],
            )?,
            None => self
                .reader()?
                .rows("SELECT tenant, rule_id FROM rule_settings WHERE enabled = 0 ORDER BY tenant, rule_id", &[])?,
        };
        rows.iter().map(|r| Ok((r.get("tenant")?, r.get("rule_id")?))).collect()
    }
}
