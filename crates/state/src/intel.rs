//! Threat intelligence as the SOC keeps it: feeds (where indicators came
//! from, when they were last read, with what outcome) and their
//! indicators, per tenant or in the shared set every tenant matches
//! against (an MSSP's). The engine matches against a [`intel::Set`] built
//! from [`State::indicators`]; a change bumps a generation counter, which
//! tells a running server to build it again.
//!
//! An indicator is identified by its scope, feed and the feed's own id, so
//! reading a feed again updates what it said before (`first_seen` stays).
//! A read of a whole feed (a file, a MISP feed) removes what the feed no
//! longer carries; a poll of new entries (TAXII `added_after`) removes
//! only what the feed revoked.

use jiff::Timestamp;
use serde_json::json;

use super::db::{Db, Val};
use super::row::{Json, Row};
use super::{By, Result, State, StateError, json, micros};

/// The scope of the shared set in the tables (no tenant name can be `*`).
const SHARED: &str = "*";

/// Problems kept per feed, from its last read.
const MAX_PROBLEMS: usize = 100;

fn scope_val(scope: Option<&str>) -> Val {
    scope.unwrap_or(SHARED).into()
}

fn scope_of(text: String) -> Option<String> {
    (text != SHARED).then_some(text)
}

/// One feed and the outcome of its last read.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The tenant it belongs to; `None` for the shared set.
    pub scope: Option<String>,
    pub name: String,
    /// `stix`, `misp`, `csv`, `list` or `taxii`.
    pub kind: String,
    /// Where it is read from, as given (a file name or a URL).
    pub source: String,
    pub created: Timestamp,
    pub last_read: Option<Timestamp>,
    pub last_ok: Option<Timestamp>,
    /// Why the last read failed; `None` after a read that worked.
    pub last_error: Option<String>,
    /// Indicators held from it.
    pub indicators: i64,
    /// Entries of the last read that could not be read (at most 100).
    pub problems: Vec<String>,
    /// Where the next poll starts (TAXII's `added_after`).
    pub cursor: Option<String>,
}

/// Where a read came from.
#[derive(Debug, Clone, Copy)]
pub struct FeedSource<'a> {
    pub scope: Option<&'a str>,
    pub name: &'a str,
    pub kind: &'a str,
    pub source: &'a str,
}

/// What storing a read changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub added: u64,
    pub updated: u64,
    /// Revoked, or no longer in a whole feed.
    pub removed: u64,
    pub problems: u64,
}

/// One indicator as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIndicator {
    pub scope: Option<String>,
    pub feed: String,
    pub indicator: intel::Indicator,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// Which indicators a listing shows, by feed and id.
#[derive(Debug, Clone, Default)]
pub struct IndicatorQuery {
    pub feed: Option<String>,
    pub kind: Option<intel::Kind>,
    /// Only those whose observable contains this text.
    pub contains: Option<String>,
    pub tlp: Option<intel::Tlp>,
    /// Only those matching at this time.
    pub active_at: Option<Timestamp>,
    pub limit: usize,
}

const FEED_COLS: &str =
    "scope, name, kind, source, created, last_read, last_ok, last_error, indicators, problems, cursor";
const COLS: &str = "scope, feed, id, value, pattern, name, confidence, tlp, valid_from, valid_until, modified, \
                    tags, attack, decay, first_seen, last_seen";

fn feed_row(r: &Row) -> Result<Feed> {
    Ok(Feed {
        scope: scope_of(r.get("scope")?),
        name: r.get("name")?,
        kind: r.get("kind")?,
        source: r.get("source")?,
        created: r.get("created")?,
        last_read: r.get("last_read")?,
        last_ok: r.get("last_ok")?,
        last_error: r.get("last_error")?,
        indicators: r.get("indicators")?,
        problems: r.get::<Json<Vec<String>>>("problems")?.0,
        cursor: r.get("cursor")?,
    })
}

fn indicator_row(r: &Row) -> Result<StoredIndicator> {
    let pattern: String = r.get("pattern")?;
    let pattern = intel::pattern::parse(&pattern)
        .map_err(|e| StateError::Internal(format!("corrupt row in intel_indicators: pattern {pattern:?}: {e}")))?;
    let tlp = match r.get::<Option<String>>("tlp")? {
        Some(t) => Some(
            intel::Tlp::parse(&t)
                .ok_or_else(|| StateError::Internal(format!("corrupt row in intel_indicators: TLP {t:?}")))?,
        ),
        None => None,
    };
    let confidence = r
        .get::<Option<i64>>("confidence")?
        .map(|c| u8::try_from(c).map_err(|_| StateError::Internal(format!("corrupt row: confidence {c}"))))
        .transpose()?;
    let decay = r
        .get::<Option<Json<(u32, u8)>>>("decay")?
        .map(|Json((half_life_days, floor))| intel::Decay { half_life_days, floor });
    let first_seen: Timestamp = r.get("first_seen")?;
    // Decay counts from `valid_from`; an entry of a list has none, so it
    // counts from when the store first had it (a re-read keeps that).
    let valid_from: Option<Timestamp> = r.get("valid_from")?;
    let valid_from = valid_from.or(decay.map(|_| first_seen));
    Ok(StoredIndicator {
        scope: scope_of(r.get("scope")?),
        feed: r.get("feed")?,
        indicator: intel::Indicator {
            id: r.get("id")?,
            name: r.get("name")?,
            pattern,
            confidence,
            tlp,
            valid_from,
            valid_until: r.get("valid_until")?,
            revoked: false,
            modified: r.get("modified")?,
            tags: r.get::<Json<Vec<String>>>("tags")?.0,
            attack: r.get::<Json<Vec<String>>>("attack")?.0,
            decay,
        },
        first_seen,
        last_seen: r.get("last_seen")?,
    })
}

fn opt_micros(t: Option<Timestamp>) -> Val {
    t.map_or(Val::Null, micros)
}

fn bump(db: &mut dyn Db) -> Result<()> {
    db.exec("UPDATE intel_generation SET generation = generation + 1 WHERE id = 1", &[])?;
    Ok(())
}

fn count(db: &mut dyn Db, scope: &Val, feed: &str) -> Result<i64> {
    let rows = db.rows(
        "SELECT COUNT(*) AS n FROM intel_indicators WHERE scope = $1 AND feed = $2",
        &[scope.clone(), feed.into()],
    )?;
    rows.first().map_or(Ok(0), |r| r.get("n"))
}

fn check_feed_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(StateError::Invalid(format!(
            "a feed name needs 1 to 100 letters, digits, '-', '_', '.' or ':', not {name:?}"
        )))
    }
}

impl State {
    /// Stores what one read of a feed gave, in one transaction. With
    /// `whole`, the read is the whole feed: indicators it no longer
    /// carries are removed. `cursor` is where the next poll starts.
    pub fn store_indicators(
        &self,
        by: &By<'_>,
        feed: FeedSource<'_>,
        read: &intel::Read,
        whole: bool,
        cursor: Option<&str>,
    ) -> Result<Stored> {
        check_feed_name(feed.name)?;
        let scope = scope_val(feed.scope);
        let now = micros(by.now);
        self.tx(|db| {
            let mut stored = Stored { problems: read.problems.len() as u64, ..Stored::default() };
            for i in &read.indicators {
                let observables = i.pattern.observables();
                let value = observables.first().map(|o| o.to_string()).unwrap_or_default();
                let existed = db.rows(
                    "SELECT 1 AS x FROM intel_indicators WHERE scope = $1 AND feed = $2 AND id = $3",
                    &[scope.clone(), feed.name.into(), i.id.as_str().into()],
                )?;
                let values = vec![
                    scope.clone(),
                    feed.name.into(),
                    i.id.as_str().into(),
                    value.into(),
                    i.pattern.to_stix().into(),
                    i.name.as_str().into(),
                    i.confidence.map_or(Val::Null, |c| Val::Int(i64::from(c))),
                    i.tlp.map_or(Val::Null, |t| t.as_str().into()),
                    opt_micros(i.valid_from),
                    opt_micros(i.valid_until),
                    opt_micros(i.modified),
                    json(&i.tags),
                    json(&i.attack),
                    i.decay.map_or(Val::Null, |d| json(&(d.half_life_days, d.floor))),
                    now.clone(),
                ];
                if existed.is_empty() {
                    db.exec(
                        &format!(
                            "INSERT INTO intel_indicators ({COLS}) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)"
                        ),
                        &values,
                    )?;
                    stored.added += 1;
                } else {
                    db.exec(
                        "UPDATE intel_indicators SET value = $4, pattern = $5, name = $6, confidence = $7, tlp = $8, \
                         valid_from = $9, valid_until = $10, modified = $11, tags = $12, attack = $13, decay = $14, \
                         last_seen = $15 WHERE scope = $1 AND feed = $2 AND id = $3",
                        &values,
                    )?;
                    stored.updated += 1;
                }
            }
            for id in &read.revoked {
                stored.removed += db.exec(
                    "DELETE FROM intel_indicators WHERE scope = $1 AND feed = $2 AND id = $3",
                    &[scope.clone(), feed.name.into(), id.as_str().into()],
                )?;
            }
            if whole {
                stored.removed += db.exec(
                    "DELETE FROM intel_indicators WHERE scope = $1 AND feed = $2 AND last_seen < $3",
                    &[scope.clone(), feed.name.into(), now.clone()],
                )?;
            }
            let held = count(db, &scope, feed.name)?;
            let problems: Vec<String> = read.problems.iter().take(MAX_PROBLEMS).map(|p| p.to_string()).collect();
            upsert_feed(db, feed, &scope, &now, None, held, &problems, cursor)?;
            bump(db)?;
            let data = json!({
                "feed": feed.name, "scope": feed.scope.unwrap_or(SHARED), "kind": feed.kind, "source": feed.source,
                "added": stored.added, "updated": stored.updated, "removed": stored.removed,
                "problems": stored.problems,
            });
            super::audit::append(db, by, "intel.import", &format!("feed:{}", feed.name), &data)?;
            Ok(stored)
        })
    }

    /// Records a read of a feed that failed as a whole (unreachable,
    /// not the format it should be): its indicators stay as they were.
    pub fn feed_failed(&self, by: &By<'_>, feed: FeedSource<'_>, reason: &str) -> Result<()> {
        check_feed_name(feed.name)?;
        let scope = scope_val(feed.scope);
        let now = micros(by.now);
        self.tx(|db| {
            let held = count(db, &scope, feed.name)?;
            upsert_feed(db, feed, &scope, &now, Some(reason), held, &[], None)?;
            let data = json!({"feed": feed.name, "scope": feed.scope.unwrap_or(SHARED), "error": reason});
            super::audit::append(db, by, "intel.import_failed", &format!("feed:{}", feed.name), &data)
        })
    }

    /// Every stored indicator, to build the matcher from.
    pub fn indicators(&self) -> Result<Vec<StoredIndicator>> {
        let rows = self.reader()?.rows(&format!("SELECT {COLS} FROM intel_indicators"), &[])?;
        rows.iter().map(indicator_row).collect()
    }

    /// The indicator an intel alert's rule id names (`intel:<feed>:<id>`),
    /// the tenant's own before the shared set's; `None` when it is no
    /// longer held. Feed names and ids may hold `:`, so each split is tried.
    pub fn indicator_of_rule(&self, tenant: &str, rule_id: &str) -> Result<Option<StoredIndicator>> {
        let Some(rest) = rule_id.strip_prefix("intel:") else { return Ok(None) };
        let mut db = self.reader()?;
        for (at, _) in rest.match_indices(':') {
            let (feed, id) = (&rest[..at], &rest[at + 1..]);
            let rows = db.rows(
                &format!(
                    "SELECT {COLS} FROM intel_indicators WHERE scope IN ($1, $2) AND feed = $3 AND id = $4 \
                     ORDER BY CASE WHEN scope = $1 THEN 0 ELSE 1 END"
                ),
                &[tenant.into(), SHARED.into(), feed.into(), id.into()],
            )?;
            if let Some(r) = rows.first() {
                return indicator_row(r).map(Some);
            }
        }
        Ok(None)
    }

    /// The indicators `tenant` matches against (its own and the shared
    /// ones), by feed and id.
    pub fn list_indicators(&self, tenant: &str, q: &IndicatorQuery) -> Result<Vec<StoredIndicator>> {
        let mut sql = format!("SELECT {COLS} FROM intel_indicators WHERE scope IN ($1, $2)");
        let mut args: Vec<Val> = vec![tenant.into(), SHARED.into()];
        if let Some(feed) = &q.feed {
            args.push(feed.as_str().into());
            sql.push_str(&format!(" AND feed = ${}", args.len()));
        }
        if let Some(kind) = q.kind {
            args.push(format!("{kind}:%").into());
            sql.push_str(&format!(" AND value LIKE ${}", args.len()));
        }
        if let Some(text) = &q.contains {
            // LIKE's wildcards in the text are matched as themselves.
            let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
            sql.push_str(&format!(" AND value LIKE ${} ESCAPE '\\'", args.len()));
        }
        if let Some(tlp) = q.tlp {
            args.push(tlp.as_str().into());
            sql.push_str(&format!(" AND tlp = ${}", args.len()));
        }
        if let Some(at) = q.active_at {
            args.push(micros(at));
            let n = args.len();
            sql.push_str(&format!(
                " AND (valid_until IS NULL OR valid_until > ${n}) AND (valid_from IS NULL OR valid_from <= ${n})"
            ));
        }
        sql.push_str(&format!(" ORDER BY feed, id LIMIT {}", q.limit.clamp(1, 10_000)));
        let rows = self.reader()?.rows(&sql, &args)?;
        let mut out: Vec<StoredIndicator> = rows.iter().map(indicator_row).collect::<Result<_>>()?;
        if let Some(at) = q.active_at {
            out.retain(|s| s.indicator.active_at(at));
        }
        Ok(out)
    }

    /// Ends an indicator's validity now (an analyst's "expire"); it stops
    /// matching once the server has the new generation.
    pub fn expire_indicator(&self, by: &By<'_>, scope: Option<&str>, feed: &str, id: &str) -> Result<()> {
        self.tx(|db| {
            let n = db.exec(
                "UPDATE intel_indicators SET valid_until = $4 WHERE scope = $1 AND feed = $2 AND id = $3",
                &[scope_val(scope), feed.into(), id.into(), micros(by.now)],
            )?;
            if n == 0 {
                return Err(StateError::NotFound(format!("indicator {id:?} of feed {feed:?}")));
            }
            bump(db)?;
            let data = json!({"feed": feed, "scope": scope.unwrap_or(SHARED), "id": id});
            super::audit::append(db, by, "intel.expire", &format!("indicator:{id}"), &data)
        })
    }

    /// The feeds `tenant` sees (its own and the shared ones), by name.
    pub fn intel_feeds(&self, tenant: &str) -> Result<Vec<Feed>> {
        let rows = self.reader()?.rows(
            &format!("SELECT {FEED_COLS} FROM intel_feeds WHERE scope IN ($1, $2) ORDER BY name, scope"),
            &[tenant.into(), SHARED.into()],
        )?;
        rows.iter().map(feed_row).collect()
    }

    /// A number that changes whenever the indicators do.
    pub fn intel_generation(&self) -> Result<i64> {
        let rows = self.reader()?.rows("SELECT generation FROM intel_generation WHERE id = 1", &[])?;
        rows.first().map_or(Ok(0), |r| r.get("generation"))
    }
}

#[allow(clippy::too_many_arguments)]
fn upsert_feed(
    db: &mut dyn Db,
    feed: FeedSource<'_>,
    scope: &Val,
    now: &Val,
    error: Option<&str>,
    held: i64,
    problems: &[String],
    cursor: Option<&str>,
) -> Result<()> {
    let existing = db.rows(
        &format!("SELECT {FEED_COLS} FROM intel_feeds WHERE scope = $1 AND name = $2"),
        &[scope.clone(), feed.name.into()],
    )?;
    let before = existing.first().map(feed_row).transpose()?;
    let last_ok = if error.is_none() { now.clone() } else { opt_micros(before.as_ref().and_then(|f| f.last_ok)) };
    let cursor = cursor.map(str::to_string).or_else(|| before.as_ref().and_then(|f| f.cursor.clone()));
    let problems = if error.is_some() {
        before.as_ref().map(|f| f.problems.clone()).unwrap_or_default()
    } else {
        problems.to_vec()
    };
    db.exec("DELETE FROM intel_feeds WHERE scope = $1 AND name = $2", &[scope.clone(), feed.name.into()])?;
    db.exec(
        &format!("INSERT INTO intel_feeds ({FEED_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        &[
            scope.clone(),
            feed.name.into(),
            feed.kind.into(),
            feed.source.into(),
            before.as_ref().map_or_else(|| now.clone(), |f| micros(f.created)),
            now.clone(),
            last_ok,
            error.map_or(Val::Null, Into::into),
            Val::Int(held),
            json(&problems),
            cursor.map_or(Val::Null, Into::into),
        ],
    )?;
    Ok(())
}
