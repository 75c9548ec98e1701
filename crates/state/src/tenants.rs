//! Tenants as the console administers them: created with a display name,
//! renamed, switched off and on again.
//!
//! A tenant's name is its identity: it is in every path, log record and
//! stored event, so it never changes; "rename" changes the display name.
//! A tenant that only grants or tokens name (made with the CLI before
//! this table existed, or by `hinomi user add --tenant`) has no row here
//! and counts as enabled under its own name. Every change is audited in
//! the tenant's own trail; a creation also in the creator's.

use jiff::Timestamp;
use serde_json::json;

use super::db::{Db, Val};
use super::{By, Result, State, StateError, micros};
use access::{Scope, check_name};

/// A tenant and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub name: String,
    /// What people see; the name itself unless renamed.
    pub display: String,
    pub disabled: bool,
    /// When it was created from the console or the CLI; `None` for a
    /// tenant that only grants name.
    pub created: Option<Timestamp>,
}

const MAX_DISPLAY: usize = 100;

fn check_display(display: &str) -> Result<String> {
    let display = display.trim();
    if display.is_empty() || display.chars().count() > MAX_DISPLAY || display.chars().any(char::is_control) {
        return Err(StateError::Invalid(format!(
            "a tenant's display name needs 1-{MAX_DISPLAY} characters and no control characters"
        )));
    }
    Ok(display.to_string())
}

fn tenant_row(db: &mut dyn Db, name: &str) -> Result<Option<Tenant>> {
    let rows = db.rows("SELECT name, display, disabled, created FROM tenants WHERE name = $1", &[name.into()])?;
    rows.first().map(from_row).transpose()
}

fn from_row(r: &super::Row) -> Result<Tenant> {
    Ok(Tenant {
        name: r.get("name")?,
        display: r.get("display")?,
        disabled: r.get::<i64>("disabled")? != 0,
        created: Some(r.get("created")?),
    })
}

fn implicit(name: String) -> Tenant {
    Tenant { display: name.clone(), name, disabled: false, created: None }
}

impl State {
    /// Creates tenant `name` and makes `by.actor` its admin. `by.tenant` is
    /// where the creator works; the creation is audited there and in the
    /// new tenant. A name any grant already uses is taken.
    pub fn create_tenant(&self, by: &By<'_>, name: &str, display: &str) -> Result<Tenant> {
        check_name("tenant", name).map_err(StateError::Invalid)?;
        let display = check_display(if display.trim().is_empty() { name } else { display })?;
        self.tx(|db| {
            let granted = db.rows("SELECT tenant FROM grants WHERE tenant = $1 LIMIT 1", &[name.into()])?;
            if tenant_row(db, name)?.is_some() || !granted.is_empty() {
                return Err(StateError::Invalid(format!("tenant {name:?} exists already")));
            }
            db.exec(
                "INSERT INTO tenants (name, display, disabled, created, created_by, changed, changed_by) \
                 VALUES ($1, $2, 0, $3, $4, $3, $4)",
                &[name.into(), display.as_str().into(), micros(by.now), by.actor.into()],
            )?;
            db.exec(
                "INSERT INTO grants (username, tenant, role) SELECT name, $1, $2 FROM users WHERE name = $3",
                &[name.into(), Scope::Admin.as_str().into(), by.actor.into()],
            )?;
            let data = json!({"display": display});
            super::audit::append(db, by, "tenant.create", &format!("tenant:{name}"), &data)?;
            let inside = By { tenant: name, ..*by };
            super::audit::append(db, &inside, "tenant.create", &format!("tenant:{name}"), &data)?;
            tenant_row(db, name)?.ok_or_else(|| StateError::NotFound(format!("tenant {name:?}")))
        })
    }

    /// Renames `by.tenant` (its display name) or switches it off or on.
    pub fn change_tenant(&self, by: &By<'_>, display: Option<&str>, disabled: Option<bool>) -> Result<Tenant> {
        check_name("tenant", by.tenant).map_err(StateError::Invalid)?;
        let display = display.map(check_display).transpose()?;
        self.tx(|db| {
            let before = tenant_row(db, by.tenant)?.unwrap_or_else(|| implicit(by.tenant.to_string()));
            let after = Tenant {
                display: display.clone().unwrap_or_else(|| before.display.clone()),
                disabled: disabled.unwrap_or(before.disabled),
                ..before.clone()
            };
            db.exec("DELETE FROM tenants WHERE name = $1", &[by.tenant.into()])?;
            let created = before.created.map_or_else(|| micros(by.now), micros);
            db.exec(
                "INSERT INTO tenants (name, display, disabled, created, created_by, changed, changed_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $5)",
                &[
                    by.tenant.into(),
                    after.display.as_str().into(),
                    Val::Int(i64::from(after.disabled)),
                    created,
                    by.actor.into(),
                    micros(by.now),
                ],
            )?;
            let what = format!("tenant:{}", by.tenant);
            if after.display != before.display {
                let data = json!({"from": before.display, "to": after.display});
                super::audit::append(db, by, "tenant.rename", &what, &data)?;
            }
            if after.disabled != before.disabled {
                let action = if after.disabled { "tenant.disable" } else { "tenant.enable" };
                super::audit::append(db, by, action, &what, &json!({}))?;
            }
            tenant_row(db, by.tenant)?.ok_or_else(|| StateError::NotFound(format!("tenant {:?}", by.tenant)))
        })
    }

    /// One tenant's settings (enabled under its own name if it has none).
    pub fn tenant(&self, name: &str) -> Result<Tenant> {
        Ok(tenant_row(&mut **self.reader()?, name)?.unwrap_or_else(|| implicit(name.to_string())))
    }

    /// Every tenant the state knows: those created or changed, and those
    /// only grants name; by name.
    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        let mut guard = self.reader()?;
        let db: &mut dyn Db = &mut **guard;
        let mut all: Vec<Tenant> = db
            .rows("SELECT name, display, disabled, created FROM tenants ORDER BY name", &[])?
            .iter()
            .map(from_row)
            .collect::<Result<_>>()?;
        for r in db.rows("SELECT DISTINCT tenant FROM grants ORDER BY tenant", &[])? {
            let name: String = r.get("tenant")?;
            if !all.iter().any(|t| t.name == name) {
                all.push(implicit(name));
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }
}
