//! Acknowledging on-call pages.
//!
//! A page's mail carries a link whose token names the page and the
//! instant it stops being good, signed with a key kept in the state
//! store (so every process sharing the store accepts every link). The
//! first use acknowledges the page's notice: its pages still pending
//! stop, the incident's timeline and the audit trail say who, and an
//! incident nobody had taken up yet is acknowledged in that person's
//! name. A second use finds it acknowledged and says by whom; a token
//! past its time or with a wrong signature does nothing.

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use serde_json::json;
use sha2::Sha256;
use soc::Status;

use super::db::{Db, Val};
use super::triage::log;
use super::{By, Result, State, StateError, micros};

/// The name of the signing key in `secrets`.
const KEY: &str = "page-ack";

/// Bytes of the signature a token carries (128 bits).
const MAC_BYTES: usize = 16;

/// What using an acknowledge link did.
#[derive(Debug, Clone, PartialEq)]
pub enum PageAck {
    /// Acknowledged now, by the page's person.
    Acknowledged { tenant: String, incident: Option<i64>, person: String },
    /// Somebody acknowledged it before.
    Already { tenant: String, incident: Option<i64>, by: String, at: Timestamp },
    /// The link's time is past.
    Expired,
    /// Not a link Hinomi made (or its page is gone).
    Invalid,
}

/// One page as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRow {
    pub id: i64,
    pub incident: Option<i64>,
    pub rota: String,
    pub step: i64,
    pub steps: i64,
    pub person: String,
    pub status: String,
    pub due: Timestamp,
    pub sent: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// The signing key, made on first use (by whichever process is first;
/// the others read it).
pub(crate) fn ack_key(db: &mut dyn Db) -> Result<Vec<u8>> {
    if let Some(key) = stored_key(db)? {
        return Ok(key);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StateError::Internal(format!("no OS randomness: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    db.exec(
        "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[KEY.into(), hex.as_str().into()],
    )?;
    stored_key(db)?.ok_or_else(|| StateError::Internal("the page signing key was not kept".into()))
}

fn stored_key(db: &mut dyn Db) -> Result<Option<Vec<u8>>> {
    let rows = db.rows("SELECT value FROM secrets WHERE name = $1", &[KEY.into()])?;
    rows.first().map(|r| r.get::<String>("value").map(String::into_bytes)).transpose()
}

fn mac(key: &[u8], page: i64, until: i64) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(format!("hinomi page ack {page} {until}").as_bytes());
    Some(mac)
}

/// The token of page `page`'s acknowledge link, good until `until`:
/// `<page>.<until, unix seconds>.<signature, hex>`.
pub(crate) fn sign(key: &[u8], page: i64, until: Timestamp) -> String {
    let until = until.as_second();
    let signature: String = mac(key, page, until)
        .map(|m| m.finalize().into_bytes().iter().take(MAC_BYTES).map(|b| format!("{b:02x}")).collect())
        .unwrap_or_default();
    format!("{page}.{until}.{signature}")
}

/// The page a token names and its time, if its signature holds.
fn verify(key: &[u8], token: &str) -> Option<(i64, Timestamp)> {
    let mut parts = token.splitn(3, '.');
    let page: i64 = parts.next()?.parse().ok()?;
    let until: i64 = parts.next()?.parse().ok()?;
    let hex = parts.next()?;
    if hex.len() != MAC_BYTES * 2 || !hex.is_ascii() {
        return None;
    }
    let signature: Vec<u8> =
        (0..MAC_BYTES).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect::<Option<_>>()?;
    // Compared in constant time by the MAC.
    mac(key, page, until)?.verify_truncated_left(&signature).ok()?;
    Some((page, Timestamp::from_second(until).ok()?))
}

fn page_row(r: &super::row::Row) -> Result<PageRow> {
    Ok(PageRow {
        id: r.get("id")?,
        incident: r.get("incident")?,
        rota: r.get("rota")?,
        step: r.get("step")?,
        steps: r.get("steps")?,
        person: r.get("person")?,
        status: r.get("status")?,
        due: r.get("due")?,
        sent: r.get("sent")?,
        last_error: r.get("last_error")?,
    })
}

/// Marks notice `notice` acknowledged by `by` and stops its pending
/// pages; `false` if it was acknowledged already.
fn ack_notice(db: &mut dyn Db, notice: i64, by: &str, now: Timestamp) -> Result<bool> {
    let n = db.exec(
        "UPDATE notices SET acked = $2, acked_by = $3 WHERE id = $1 AND acked IS NULL",
        &[Val::Int(notice), micros(now), by.into()],
    )?;
    if n == 0 {
        return Ok(false);
    }
    let why = format!("acknowledged by {by}");
    db.exec(
        "UPDATE pages SET status = 'stopped', last_error = $2 WHERE notice_id = $1 AND status = 'pending'",
        &[Val::Int(notice), why.as_str().into()],
    )?;
    Ok(true)
}

impl State {
    /// Uses an acknowledge link's token.
    pub fn acknowledge_page(&self, token: &str, now: Timestamp) -> Result<PageAck> {
        let key = match stored_key(&mut **self.reader()?)? {
            Some(key) => key,
            None => return Ok(PageAck::Invalid),
        };
        let Some((page, until)) = verify(&key, token) else { return Ok(PageAck::Invalid) };
        if until < now {
            return Ok(PageAck::Expired);
        }
        let acked = self.tx(|db| {
            let rows = db.rows(
                "SELECT p.notice_id AS notice_id, p.tenant AS tenant, p.incident AS incident, p.person AS person, \
                 p.rota AS rota, n.acked AS acked, n.acked_by AS acked_by \
                 FROM pages p JOIN notices n ON n.id = p.notice_id WHERE p.id = $1",
                &[Val::Int(page)],
            )?;
            let Some(r) = rows.first() else { return Ok(PageAck::Invalid) };
            let (tenant, incident): (String, Option<i64>) = (r.get("tenant")?, r.get("incident")?);
            if let Some(at) = r.get::<Option<Timestamp>>("acked")? {
                let by = r.get::<Option<String>>("acked_by")?.unwrap_or_default();
                return Ok(PageAck::Already { tenant, incident, by, at });
            }
            let (person, rota): (String, String) = (r.get("person")?, r.get("rota")?);
            ack_notice(db, r.get("notice_id")?, &person, now)?;
            let data = json!({"person": person, "rota": rota, "via": "link"});
            if let Some(i) = incident {
                log(db, i, now, &person, "page_acknowledged", &data)?;
            }
            let by = By { tenant: &tenant, actor: &person, now };
            super::audit::append(db, &by, "page.acknowledge", &format!("page:{page}"), &data)?;
            Ok(PageAck::Acknowledged { tenant, incident, person })
        })?;
        if let PageAck::Acknowledged { tenant, incident: Some(id), person } = &acked {
            self.take_up(tenant, *id, &format!("{person} (on call)"), now)?;
        }
        Ok(acked)
    }

    /// Acknowledges, from the console, every page of incident `id` still
    /// waiting; returns how many notices that was.
    pub fn acknowledge_pages(&self, by: &By<'_>, id: i64) -> Result<usize> {
        let acked = self.tx(|db| {
            let rows = db.rows(
                "SELECT DISTINCT p.notice_id AS notice_id FROM pages p JOIN notices n ON n.id = p.notice_id \
                 WHERE p.tenant = $1 AND p.incident = $2 AND n.acked IS NULL",
                &[by.tenant.into(), Val::Int(id)],
            )?;
            let mut acked = 0;
            for r in rows {
                if ack_notice(db, r.get("notice_id")?, by.actor, by.now)? {
                    acked += 1;
                }
            }
            if acked > 0 {
                let data = json!({"person": by.actor, "via": "console"});
                log(db, id, by.now, by.actor, "page_acknowledged", &data)?;
                super::audit::append(db, by, "page.acknowledge", &format!("incident:{id}"), &data)?;
            }
            Ok(acked)
        })?;
        if acked > 0 {
            self.take_up(by.tenant, id, by.actor, by.now)?;
        }
        Ok(acked)
    }

    /// Acknowledges incident `id` in `actor`'s name if nobody has taken
    /// it up yet (its SLA acknowledge clock stops).
    fn take_up(&self, tenant: &str, id: i64, actor: &str, now: Timestamp) -> Result<()> {
        let i = self.incident(tenant, id)?;
        if i.status != Status::New {
            return Ok(());
        }
        let by = By { tenant, actor, now };
        match self.transition(&by, id, i.version, Status::Acknowledged, None) {
            // Somebody moved it meanwhile: taken up either way.
            Err(StateError::Conflict { .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// A tenant's pages, newest first; `incident` narrows to one.
    pub fn pages(&self, tenant: &str, incident: Option<i64>, limit: usize) -> Result<Vec<PageRow>> {
        let limit = limit.min(1000);
        let sql = format!(
            "SELECT id, incident, rota, step, steps, person, status, due, sent, last_error FROM pages \
             WHERE tenant = $1 AND ($2 = 0 OR incident = $2) ORDER BY id DESC LIMIT {limit}"
        );
        let rows = self.reader()?.rows(&sql, &[tenant.into(), Val::Int(incident.unwrap_or(0))])?;
        rows.iter().map(page_row).collect()
    }
}
