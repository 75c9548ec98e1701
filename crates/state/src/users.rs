//! Console users, their role in each tenant, and their sessions.
//!
//! A user holds a role per tenant (`grants`): an MSSP analyst may hold
//! several tenants, a customer's staff only their own. Roles are the
//! token scopes (`tokens::Scope`), so one table says what each may do.
//! Passwords are Argon2id PHC strings made by `crate::password`; this
//! module never sees a password. Sessions are kept by the SHA-256 of the
//! cookie value, so a copy of the database opens no session. Logins,
//! lockouts, logouts, new users, password and grant changes are audited.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::db::{Db, Val};
use super::{By, Result, State, StateError, micros};
use access::{Scope, check_name};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    /// `en` or `ja`; empty: the browser's language.
    pub lang: String,
    /// IANA time zone for showing times.
    pub tz: String,
    pub disabled: bool,
    pub failures: i64,
    pub locked_until: Option<Timestamp>,
    pub created: Timestamp,
    /// Tenant and role, by tenant name.
    pub grants: Vec<(String, Scope)>,
}

impl User {
    /// The user's role in `tenant`, if any.
    pub fn role(&self, tenant: &str) -> Option<Scope> {
        self.grants.iter().find(|(t, _)| t == tenant).map(|(_, r)| *r)
    }
}

/// When to lock an account after failed logins.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub failures: i64,
    pub duration: SignedDuration,
}

/// What a login attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginOutcome {
    Ok(User),
    /// Wrong name or password (the two are not told apart).
    Denied,
    /// Locked until then (also when the password was right).
    Locked(Timestamp),
}

/// A live session: its user and its anti-CSRF token.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub created: Timestamp,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Without a request for this long, the session ends.
    pub idle: SignedDuration,
    /// Even in use, a session ends this long after login (a shift).
    pub absolute: SignedDuration,
}

const USER_COLS: &str = "name, lang, tz, disabled, failures, locked_until, created";

fn check_lang(lang: &str) -> Result<()> {
    if matches!(lang, "" | "en" | "ja") {
        Ok(())
    } else {
        Err(StateError::Invalid(format!("language {lang:?}: expected en or ja")))
    }
}

fn check_tz(tz: &str) -> Result<()> {
    jiff::tz::TimeZone::get(tz).map(|_| ()).map_err(|_| StateError::Invalid(format!("unknown time zone {tz:?}")))
}

fn check_role(role: Scope) -> Result<()> {
    if role == Scope::Ingest {
        return Err(StateError::Invalid("ingest is a token scope, not a role for people".into()));
    }
    Ok(())
}

fn user_row(db: &mut dyn Db, name: &str) -> Result<Option<User>> {
    let rows = db.rows(&format!("SELECT {USER_COLS} FROM users WHERE name = $1"), &[name.into()])?;
    let Some(r) = rows.first() else { return Ok(None) };
    let grants = db
        .rows("SELECT tenant, role FROM grants WHERE username = $1 ORDER BY tenant", &[name.into()])?
        .iter()
        .map(|g| Ok((g.get("tenant")?, g.get("role")?)))
        .collect::<Result<_>>()?;
    Ok(Some(User {
        name: r.get("name")?,
        lang: r.get("lang")?,
        tz: r.get("tz")?,
        disabled: r.get("disabled")?,
        failures: r.get("failures")?,
        locked_until: r.get("locked_until")?,
        created: r.get("created")?,
        grants,
    }))
}

fn hash_hex(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl State {
    /// Creates a user; `password` is a PHC string from `password::hash`.
    pub fn add_user(&self, by: &By<'_>, name: &str, password: &str, lang: &str, tz: &str) -> Result<User> {
        check_name("user", name).map_err(StateError::Invalid)?;
        check_lang(lang)?;
        check_tz(tz)?;
        self.tx(|db| {
            if user_row(db, name)?.is_some() {
                return Err(StateError::Invalid(format!("user {name:?} exists already")));
            }
            db.exec(
                "INSERT INTO users (name, password, lang, tz, failures, locked_until, disabled, created) \
                 VALUES ($1, $2, $3, $4, 0, NULL, 0, $5)",
                &[name.into(), password.into(), lang.into(), tz.into(), micros(by.now)],
            )?;
            super::audit::append(db, by, "user.create", &format!("user:{name}"), &json!({}))?;
            user_row(db, name)?.ok_or_else(|| StateError::NotFound(format!("user {name:?}")))
        })
    }

    /// Replaces a password: the user's sessions end and any lock lifts.
    pub fn set_password(&self, by: &By<'_>, name: &str, password: &str) -> Result<()> {
        self.tx(|db| {
            let n = db.exec(
                "UPDATE users SET password = $1, failures = 0, locked_until = NULL WHERE name = $2",
                &[password.into(), name.into()],
            )?;
            if n == 0 {
                return Err(StateError::NotFound(format!("user {name:?}")));
            }
            db.exec("DELETE FROM sessions WHERE username = $1", &[name.into()])?;
            super::audit::append(db, by, "user.password", &format!("user:{name}"), &json!({}))
        })
    }

    /// Gives `name` a role in `by.tenant`, or takes it away (`None`). The
    /// change is in that tenant's audit trail.
    pub fn grant(&self, by: &By<'_>, name: &str, role: Option<Scope>) -> Result<User> {
        check_name("tenant", by.tenant).map_err(StateError::Invalid)?;
        if let Some(r) = role {
            check_role(r)?;
        }
        self.tx(|db| {
            let before = user_row(db, name)?.ok_or_else(|| StateError::NotFound(format!("user {name:?}")))?;
            db.exec("DELETE FROM grants WHERE username = $1 AND tenant = $2", &[name.into(), by.tenant.into()])?;
            if let Some(r) = role {
                db.exec(
                    "INSERT INTO grants (username, tenant, role) VALUES ($1, $2, $3)",
                    &[name.into(), by.tenant.into(), r.as_str().into()],
                )?;
            }
            let data = json!({"from": before.role(by.tenant), "to": role});
            super::audit::append(db, by, "user.grant", &format!("user:{name}"), &data)?;
            user_row(db, name)?.ok_or_else(|| StateError::NotFound(format!("user {name:?}")))
        })
    }

    /// Language and time zone: the user's own choice, not audited.
    pub fn set_prefs(&self, name: &str, lang: &str, tz: &str) -> Result<()> {
        check_lang(lang)?;
        check_tz(tz)?;
        self.tx(|db| {
            db.exec("UPDATE users SET lang = $1, tz = $2 WHERE name = $3", &[lang.into(), tz.into(), name.into()])?;
            Ok(())
        })
    }

    pub fn user(&self, name: &str) -> Result<Option<User>> {
        user_row(&mut **self.reader()?, name)
    }

    /// Users holding a role in `tenant`, or every user.
    pub fn users(&self, tenant: Option<&str>) -> Result<Vec<User>> {
        let mut guard = self.reader()?;
        let db: &mut dyn Db = &mut **guard;
        let names = match tenant {
            Some(t) => {
                db.rows("SELECT username AS name FROM grants WHERE tenant = $1 ORDER BY username", &[t.into()])?
            }
            None => db.rows("SELECT name FROM users ORDER BY name", &[])?,
        };
        let mut out = Vec::with_capacity(names.len());
        for n in &names {
            out.extend(user_row(db, &n.get::<String>("name")?)?);
        }
        Ok(out)
    }

    pub fn user_count(&self) -> Result<i64> {
        let rows = self.reader()?.rows("SELECT COUNT(*) AS n FROM users", &[])?;
        rows.first().map_or(Ok(0), |r| r.get("n"))
    }

    /// The stored password hash of an enabled user, to verify outside any
    /// lock (Argon2 takes tens of milliseconds on purpose).
    pub fn password_of(&self, name: &str) -> Result<Option<String>> {
        let rows =
            self.reader()?.rows("SELECT password FROM users WHERE name = $1 AND disabled = 0", &[name.into()])?;
        rows.first().map(|r| r.get("password")).transpose()
    }

    /// Records a login attempt whose password check gave `password_ok`:
    /// failures count towards the lock, a success resets them. A locked
    /// account stays locked whatever the password. `by.actor` is the name
    /// tried.
    pub fn record_login(&self, by: &By<'_>, password_ok: bool, lock: Lockout) -> Result<LoginOutcome> {
        let name = by.actor;
        self.tx(|db| {
            let Some(user) = user_row(db, name)? else {
                super::audit::append(db, by, "login.failed", &format!("user:{name}"), &json!({"unknown": true}))?;
                return Ok(LoginOutcome::Denied);
            };
            if let Some(until) = user.locked_until.filter(|u| *u > by.now) {
                super::audit::append(db, by, "login.locked", &format!("user:{name}"), &json!({"until": until}))?;
                return Ok(LoginOutcome::Locked(until));
            }
            if password_ok && !user.disabled {
                db.exec("UPDATE users SET failures = 0, locked_until = NULL WHERE name = $1", &[name.into()])?;
                super::audit::append(db, by, "login", &format!("user:{name}"), &json!({}))?;
                return Ok(LoginOutcome::Ok(user_row(db, name)?.unwrap_or(user)));
            }
            let failures = user.failures + 1;
            let locked = (failures >= lock.failures).then(|| by.now.checked_add(lock.duration).ok()).flatten();
            db.exec(
                "UPDATE users SET failures = $1, locked_until = $2 WHERE name = $3",
                &[Val::Int(if locked.is_some() { 0 } else { failures }), locked.map(micros).into(), name.into()],
            )?;
            let data = json!({"failures": failures, "locked_until": locked});
            super::audit::append(db, by, "login.failed", &format!("user:{name}"), &data)?;
            Ok(locked.map_or(LoginOutcome::Denied, LoginOutcome::Locked))
        })
    }

    /// Starts a session for `by.actor`, keyed by the cookie value's hash.
    pub fn start_session(&self, by: &By<'_>, cookie: &str, csrf: &str) -> Result<()> {
        self.tx(|db| {
            db.exec(
                "INSERT INTO sessions (id, username, csrf, created, seen) VALUES ($1, $2, $3, $4, $4)",
                &[hash_hex(cookie).into(), by.actor.into(), csrf.into(), micros(by.now)],
            )?;
            Ok(())
        })
    }

    /// The live session behind a cookie value. An expired one is removed;
    /// a session of a disabled or removed user opens nothing.
    pub fn session(&self, cookie: &str, now: Timestamp, limits: SessionLimits) -> Result<Option<Session>> {
        let id = hash_hex(cookie);
        self.tx(|db| {
            let rows =
                db.rows("SELECT username, csrf, created, seen FROM sessions WHERE id = $1", &[id.clone().into()])?;
            let Some(r) = rows.first() else { return Ok(None) };
            let (created, seen): (Timestamp, Timestamp) = (r.get("created")?, r.get("seen")?);
            let expired = now.duration_since(seen) > limits.idle || now.duration_since(created) > limits.absolute;
            let user = user_row(db, &r.get::<String>("username")?)?.filter(|u| !u.disabled);
            let Some(user) = user.filter(|_| !expired) else {
                db.exec("DELETE FROM sessions WHERE id = $1", &[id.into()])?;
                return Ok(None);
            };
            // Write the last use only once a minute: most requests only read.
            if now.duration_since(seen) > SignedDuration::from_mins(1) {
                db.exec("UPDATE sessions SET seen = $1 WHERE id = $2", &[micros(now), id.into()])?;
            }
            Ok(Some(Session { user, csrf: r.get("csrf")?, created }))
        })
    }

    /// Ends a session (logout), audited for its user.
    pub fn end_session(&self, by: &By<'_>, cookie: &str) -> Result<()> {
        self.tx(|db| {
            let n = db.exec("DELETE FROM sessions WHERE id = $1", &[hash_hex(cookie).into()])?;
            if n > 0 {
                super::audit::append(db, by, "logout", &format!("user:{}", by.actor), &json!({}))?;
            }
            Ok(())
        })
    }
}
