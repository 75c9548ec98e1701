//! Detections in, the queue out: suppress, deduplicate, score, group.
//!
//! For each detection, in one transaction with the reader's position (so
//! a replay of the alert journal applies nothing twice):
//! 1. A live suppression that matches records it as a suppressed alert
//!    and counts a hit; nothing else happens.
//! 2. An open alert with the same dedup key seen within the dedup window
//!    counts it (and keeps the first evidence ids).
//! 3. Otherwise a new alert, with severity from the rule's level and the
//!    most critical asset among its entities. It joins the most recently
//!    active open incident sharing a grouping entity within the group
//!    window; with none, an alert of medium severity or more opens an
//!    incident (lower ones wait in the queue, and add risk). An incident
//!    holding `max_incident_alerts` takes no more by grouping: a shared
//!    address or account must not pull a whole day into one incident.
//! 4. Every detection adds risk to its grouping entities. An entity
//!    crossing the threshold is logged on the open incident about it, or,
//!    with none, opens a risk incident (once while that is open).

use std::collections::HashMap;

use jiff::Timestamp;
use model::Level;
use soc::assets::{Asset, Inventory, severity};
use soc::suppress::Suppression;
use soc::{Detection, Entity, OpenIncident};

use super::db::{Db, Val};
use super::row::{Json, Row, corrupt, returned_id};
use super::{Result, State, json, level_val, micros};

/// What one call of [`State::triage`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriageOutcome {
    pub new_alerts: u64,
    pub deduplicated: u64,
    pub suppressed: u64,
    pub incidents_opened: u64,
    pub joined_incidents: u64,
    pub risk_incidents: u64,
}

/// Hours of risk history an entity keeps: 90 days.
pub const RISK_HISTORY_HOURS: i64 = 90 * 24;

impl State {
    /// Applies detections; `position` (reader name, position) is stored in
    /// the same transaction.
    pub fn triage(
        &self,
        detections: &[Detection],
        position: Option<(&str, u64)>,
        now: Timestamp,
    ) -> Result<TriageOutcome> {
        self.tx_remembering(|db, memory| {
            // Another process's commit may have changed anything.
            let version = db.data_version()?;
            if version.is_none() || version != memory.version {
                *memory = Memory { version, ..Memory::default() };
            }
            let mut out = TriageOutcome::default();
            let mut cache = Cache::new(memory);
            for d in detections {
                // No key copied per detection: a batch holds few tenants.
                match cache.earliest.get_mut(&d.tenant) {
                    Some(earliest) => *earliest = (*earliest).min(d.at),
                    None => {
                        cache.earliest.insert(d.tenant.clone(), d.at);
                    }
                }
            }
            cache.prune(self.policy.group_window);
            for d in detections {
                self.triage_one(db, d, now, &mut cache, &mut out)?;
            }
            cache.write_rule_counts(db)?;
            if let Some((name, pos)) = position {
                db.exec(
                    "INSERT INTO positions (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = $2",
                    &[name.into(), Val::Int(pos as i64)],
                )?;
            }
            Ok(out)
        })
    }

    fn triage_one(
        &self,
        db: &mut dyn Db,
        d: &Detection,
        now: Timestamp,
        cache: &mut Cache<'_>,
        out: &mut TriageOutcome,
    ) -> Result<()> {
        let policy = &self.policy;
        if let Some(s) = cache.suppressions(db, &d.tenant, now)?.iter().find(|s| s.applies(d, now)) {
            db.exec("UPDATE suppressions SET hits = hits + 1 WHERE id = $1", &[Val::Int(s.id)])?;
            let id = s.id;
            let key = d.dedup_key();
            if count_into_alert(db, d, &key, "suppressed", policy)?.is_none() {
                insert_alert(db, d, &key, now, d.level, ("suppressed", Some(id)), None, policy)?;
            }
            out.suppressed += 1;
            return Ok(());
        }
        let inventory = cache.inventory(db, &d.tenant)?;
        let sev = severity(d.level, inventory.most_critical(&d.entities).map(|a| a.criticality));
        // Hashed once: the lookup and, for a new alert, the insert use it.
        let key = d.dedup_key();
        if let Some((_, incident)) = count_into_alert(db, d, &key, "open", policy)? {
            out.deduplicated += 1;
            cache.count_rule(d, false);
            if let Some(iid) = incident {
                let now_is = db.rows(
                    "UPDATE incidents SET last_activity = CASE WHEN last_activity < $2 THEN $2 ELSE last_activity END WHERE id = $1 \
                     RETURNING kind, status, last_activity, alert_count",
                    &[Val::Int(iid), micros(d.at)],
                )?;
                if let Some(r) = now_is.first() {
                    // The activity may bring an incident into the window.
                    cache.incident_is(&d.tenant, iid, r)?;
                }
            }
        } else {
            // The incident is chosen first, so the alert is written with
            // it: setting it afterwards moved the alert in an index again.
            let open = open_incidents(db, cache, d, policy)?;
            let joined = match soc::pick_incident(policy, &d.entities, d.at, &open) {
                Some(i) => {
                    out.joined_incidents += 1;
                    Some(i.id)
                }
                None if sev >= Level::Medium => {
                    out.incidents_opened += 1;
                    let rank = soc::attack::step_rank(sev, &d.tags);
                    let iid = open_incident(db, &d.tenant, "alerts", &incident_title(d), rank, sev, d.at, now)?;
                    cache.incident_opened(&d.tenant, iid, d.at);
                    Some(iid)
                }
                None => None,
            };
            let alert_id = insert_alert(db, d, &key, now, sev, ("open", None), joined, policy)?;
            out.new_alerts += 1;
            cache.count_rule(d, true);
            if let Some(iid) = joined {
                attach(db, iid, alert_id, d, sev, now)?;
                cache.incident_active(d, iid);
            }
        }
        self.add_risk(db, d, sev, now, cache, out)
    }

    fn add_risk(
        &self,
        db: &mut dyn Db,
        d: &Detection,
        sev: Level,
        now: Timestamp,
        cache: &mut Cache<'_>,
        out: &mut TriageOutcome,
    ) -> Result<()> {
        let risk = &self.policy.risk;
        if risk.points(sev) <= 0.0 {
            return Ok(());
        }
        // As the store keeps it: in microseconds.
        let updated = Timestamp::from_microsecond(now.as_microsecond()).map_err(|e| corrupt("entity_risk", e))?;
        for e in d.entities.iter().filter(|e| e.kind.groups()) {
            let key = [d.tenant.as_str().into(), e.kind.as_str().into(), e.value.as_str().into()];
            let remembered = entity_key(&d.tenant, e);
            let known = match cache.memory.risk.get(&remembered) {
                Some(r) => Some(*r),
                None => read_risk(db, &key)?,
            };
            let (score, since, incident, peak) = match known {
                Some(r) => (r.score, r.updated, r.incident, r.peak),
                None => (0.0, now, None, None),
            };
            let score = risk.add(score, since, now, sev);
            let hour = now.as_second().div_euclid(3600);
            let peak = match peak {
                Some((h, p)) if h == hour => p.max(score),
                Some((h, p)) => {
                    // A finished hour goes to the history, and what is
                    // older than the history keeps goes.
                    db.exec(
                        "INSERT INTO entity_risk_history (tenant, kind, value, hour, peak) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (tenant, kind, value, hour) DO UPDATE SET peak = $5",
                        &[key[0].clone(), key[1].clone(), key[2].clone(), Val::Int(h), Val::Real(p)],
                    )?;
                    db.exec(
                        "DELETE FROM entity_risk_history WHERE tenant = $1 AND kind = $2 AND value = $3 AND hour < $4",
                        &[key[0].clone(), key[1].clone(), key[2].clone(), Val::Int(hour - RISK_HISTORY_HOURS)],
                    )?;
                    score
                }
                None => score,
            };
            let mut incident = incident;
            if score >= risk.threshold && !cache.incident_open(db, incident)? {
                // An open incident already about the entity hears of it;
                // otherwise the risk is the incident.
                let iid = match incident_with(db, &d.tenant, e)? {
                    Some(iid) => iid,
                    None => {
                        let title = format!("Risk threshold crossed by {e} ({score:.0} points)");
                        let iid = open_incident(db, &d.tenant, "risk", &title, 0, Level::High, d.at, now)?;
                        add_entity(db, iid, &d.tenant, e, d.at)?;
                        out.risk_incidents += 1;
                        iid
                    }
                };
                log(db, iid, now, "hinomi", "risk", &serde_json::json!({"entity": e, "score": score}))?;
                incident = Some(iid);
            }
            db.exec(
                "INSERT INTO entity_risk (tenant, kind, value, score, updated, incident_id, peak_hour, peak) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, kind, value) \
                 DO UPDATE SET score = $4, updated = $5, incident_id = $6, peak_hour = $7, peak = $8",
                &[
                    key[0].clone(),
                    key[1].clone(),
                    key[2].clone(),
                    Val::Real(score),
                    micros(now),
                    incident.into(),
                    Val::Int(hour),
                    Val::Real(peak),
                ],
            )?;
            cache.memory.remember_risk(remembered, Risk { score, updated, incident, peak: Some((hour, peak)) });
        }
        Ok(())
    }

    /// An entity's risk over time: the peak of each hour it had alerts in
    /// (the hour as seconds since the epoch), oldest first, over the
    /// history's [`RISK_HISTORY_HOURS`].
    pub fn risk_history(&self, tenant: &str, e: &Entity) -> Result<Vec<(Timestamp, f64)>> {
        let key = [tenant.into(), e.kind.as_str().into(), e.value.as_str().into()];
        let mut db = self.reader()?;
        let mut hours: Vec<(i64, f64)> = db
            .rows(
                "SELECT hour, peak FROM entity_risk_history WHERE tenant = $1 AND kind = $2 AND value = $3 ORDER BY hour",
                &key,
            )?
            .iter()
            .map(|r| Ok((r.get("hour")?, r.get("peak")?)))
            .collect::<Result<_>>()?;
        let current =
            db.rows("SELECT peak_hour, peak FROM entity_risk WHERE tenant = $1 AND kind = $2 AND value = $3", &key)?;
        if let Some(r) = current.first()
            && let (Some(h), Some(p)) = (r.get::<Option<i64>>("peak_hour")?, r.get::<Option<f64>>("peak")?)
        {
            hours.retain(|(x, _)| *x != h);
            hours.push((h, p));
        }
        hours
            .into_iter()
            .map(|(h, p)| {
                let at = Timestamp::from_second(h.saturating_mul(3600))
                    .map_err(|e| super::row::corrupt("entity_risk_history", e))?;
                Ok((at, p))
            })
            .collect()
    }

    /// An entity's risk score at `now`.
    pub fn risk(&self, tenant: &str, e: &Entity, now: Timestamp) -> Result<f64> {
        let rows = self.reader()?.rows(
            "SELECT score, updated FROM entity_risk WHERE tenant = $1 AND kind = $2 AND value = $3",
            &[tenant.into(), e.kind.as_str().into(), e.value.as_str().into()],
        )?;
        match rows.first() {
            Some(r) => Ok(self.policy.risk.decayed(r.get("score")?, r.get("updated")?, now)),
            None => Ok(0.0),
        }
    }

    /// Adds a suppression after checking it; returns its id.
    pub fn add_suppression(&self, by: &super::By<'_>, s: &Suppression) -> Result<i64> {
        let now = by.now;
        s.validate(now).map_err(super::StateError::Invalid)?;
        if s.tenant != by.tenant {
            return Err(super::StateError::Invalid("a suppression belongs to the tenant of whoever adds it".into()));
        }
        self.tx(|db| {
        let rows = db.rows(
            "INSERT INTO suppressions (tenant, rule_id, conditions, owner, reason, expires, created, hits) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0) RETURNING id",
            &[
                s.tenant.as_str().into(),
                s.rule.as_str().into(),
                json(&s.conditions),
                s.owner.as_str().into(),
                s.reason.as_str().into(),
                micros(s.expires),
                micros(now),
            ],
        )?;
        let id = returned_id(&rows)?;
        let data = serde_json::json!({"rule": s.rule, "conditions": s.conditions, "reason": s.reason, "owner": s.owner, "expires": s.expires});
        super::audit::append(db, by, "suppression", &format!("suppression:{id}"), &data)?;
        Ok(id)
        })
    }

    /// A tenant's suppressions (expired ones too) with their hit counts.
    pub fn suppressions(&self, tenant: &str) -> Result<Vec<(Suppression, i64)>> {
        let rows = self.reader()?.rows(
            "SELECT id, tenant, rule_id, conditions, owner, reason, expires, created, hits FROM suppressions WHERE tenant = $1 ORDER BY id",
            &[tenant.into()],
        )?;
        rows.iter().map(|r| Ok((suppression(r)?, r.get("hits")?))).collect()
    }

    /// Replaces a tenant's asset inventory.
    pub fn replace_assets(&self, by: &super::By<'_>, inventory: &Inventory) -> Result<usize> {
        let tenant = by.tenant;
        self.tx(|db| {
            db.exec("DELETE FROM assets WHERE tenant = $1", &[tenant.into()])?;
            for a in &inventory.assets {
                let (kind, pattern) = match &a.matches {
                    soc::assets::AssetMatch::Host(p) => ("host", p.clone()),
                    soc::assets::AssetMatch::User(p) => ("user", p.clone()),
                    soc::assets::AssetMatch::Ip(net) => ("ip", net.to_string()),
                };
                db.exec(
                    "INSERT INTO assets (tenant, kind, pattern, criticality, owner, business_unit) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        tenant.into(),
                        kind.into(),
                        pattern.into(),
                        a.criticality.as_str().into(),
                        a.owner.clone().into(),
                        a.business_unit.clone().into(),
                    ],
                )?;
            }
            super::audit::append(db, by, "assets", "assets", &serde_json::json!({"assets": inventory.assets.len()}))?;
            Ok(inventory.assets.len())
        })
    }

    pub fn assets(&self, tenant: &str) -> Result<Inventory> {
        load_inventory(&mut **self.reader()?, tenant)
    }
}

/// What triage remembers of the store between its transactions, so that
/// what it reads for nearly every detection is not read again: entities'
/// risk rows (three per detection), the open alert incidents grouping may
/// join and the incidents each entity is in (three lookups per new
/// alert), incidents' open or done state. At a million open alerts these
/// reads were a fifth of triage's time.
///
/// It holds only while nothing else writes what it mirrors: a transaction
/// that fails forgets everything ([`State::tx_remembering`]), so does a
/// commit by another process (SQLite's data version, checked at each
/// triage transaction), and every other transaction of this process
/// forgets the incidents ([`State::tx`]): an analyst's action costs the
/// next triage transaction one reload. With PostgreSQL, where other
/// processes write, it lasts one transaction.
#[derive(Default)]
pub(crate) struct Memory {
    /// The database's data version it holds for.
    version: Option<i64>,
    /// Entities' risk rows as last written, by [`entity_key`] after the
    /// tenant: only triage writes them.
    risk: HashMap<String, Risk>,
    /// Per tenant.
    candidates: HashMap<String, Candidates>,
    /// Incidents' open or done state, as [`Cache::incident_open`] found it.
    open: HashMap<i64, bool>,
    /// Entity lists held by all tenants' candidates, at least: bounded
    /// together, so many tenants do not multiply the memory.
    entity_lists: usize,
}

/// Entries of each of the memory's maps, at most (the entity lists of all
/// tenants count together; a risk row is ~130 bytes, so ~32 MiB): a store
/// with more entities starts the map again when it is full.
const REMEMBERED: usize = 250_000;

/// An entity's risk row.
#[derive(Clone, Copy)]
struct Risk {
    score: f64,
    updated: Timestamp,
    incident: Option<i64>,
    /// The hour (seconds since the epoch / 3600) and its peak score.
    peak: Option<(i64, f64)>,
}

impl Memory {
    /// Forgets what another writer of this process may change: all but
    /// the risk rows, which only triage writes.
    pub(crate) fn forget_incidents(&mut self) {
        self.candidates.clear();
        self.open.clear();
    }

    fn remember_risk(&mut self, key: String, risk: Risk) {
        if self.risk.len() >= REMEMBERED && !self.risk.contains_key(&key) {
            self.risk.clear();
        }
        self.risk.insert(key, risk);
    }
}

/// An entity as a map key: its kind and value, after `prefix` (the tenant
/// where the map holds several).
fn entity_key(prefix: &str, e: &Entity) -> String {
    let kind = e.kind.as_str();
    let mut key = String::with_capacity(prefix.len() + kind.len() + e.value.len() + 2);
    for part in [prefix, kind] {
        key.push_str(part);
        key.push('\0');
    }
    key.push_str(&e.value);
    key
}

fn read_risk(db: &mut dyn Db, key: &[Val; 3]) -> Result<Option<Risk>> {
    let rows = db.rows(
        "SELECT score, updated, incident_id, peak_hour, peak FROM entity_risk WHERE tenant = $1 AND kind = $2 AND value = $3",
        key,
    )?;
    let Some(r) = rows.first() else { return Ok(None) };
    let peak = match (r.get::<Option<i64>>("peak_hour")?, r.get::<Option<f64>>("peak")?) {
        (Some(h), Some(p)) => Some((h, p)),
        _ => None,
    };
    Ok(Some(Risk { score: r.get("score")?, updated: r.get("updated")?, incident: r.get("incident_id")?, peak }))
}

/// Per-transaction lookups that do not change while it runs, the rule
/// statistics it adds to, and what triage remembers between transactions.
struct Cache<'m> {
    suppressions: HashMap<String, Vec<Suppression>>,
    inventories: HashMap<String, Inventory>,
    rules: std::collections::BTreeMap<(String, String), RuleCount>,
    /// The earliest detection of the transaction, per tenant: how far
    /// back [`Candidates`] are loaded.
    earliest: HashMap<String, Timestamp>,
    memory: &'m mut Memory,
}

/// A tenant's open alert incidents active since `since`: those grouping
/// may join. Loaded once and kept current by triage (which holds the
/// writer, and is the only writer while they are remembered), so finding
/// an entity's incidents reads no incident rows: an entity is in more
/// incidents the longer the store runs, and reading each incident's row
/// per entity per alert was a fifth of triage's time at a million alerts.
struct Candidates {
    since: Timestamp,
    /// Incident id: its last activity and alert count.
    open: HashMap<i64, (Timestamp, i64)>,
    /// The lowest id among them (entity entries below it are skipped).
    lowest: i64,
    /// The incidents of each entity looked up ([`entity_key`]), every one
    /// from `entities_from` on as the store's entity index has them, kept
    /// current as triage adds entities to incidents. A superset of what
    /// grouping needs: entries that are not candidates are skipped.
    entities: HashMap<String, Vec<i64>>,
    entities_from: i64,
}

impl Candidates {
    /// Takes `id` in; a lower id than the entity lists start from empties
    /// them (they would miss its entries).
    fn take(&mut self, id: i64, last: Timestamp, alerts: i64) {
        self.open.insert(id, (last, alerts));
        self.lowest = self.lowest.min(id);
        if id < self.entities_from {
            self.entities.clear();
            self.entities_from = id;
        }
    }

    /// Drops the incidents inactive since `since`, which no detection of
    /// the transaction can join.
    fn prune(&mut self, since: Timestamp) {
        if since <= self.since {
            return;
        }
        self.since = since;
        self.open.retain(|_, (last, _)| last.as_microsecond() >= since.as_microsecond());
        self.lowest = self.open.keys().copied().min().unwrap_or(i64::MAX);
        if self.lowest > self.entities_from && self.lowest != i64::MAX {
            let lowest = self.lowest;
            self.entities.retain(|_, ids| {
                ids.retain(|id| *id >= lowest);
                !ids.is_empty()
            });
            self.entities_from = lowest;
        }
    }
}

/// What a transaction adds to one rule's statistics.
#[derive(Default)]
struct RuleCount {
    title: String,
    alerts: i64,
    detections: i64,
}

impl<'m> Cache<'m> {
    fn new(memory: &'m mut Memory) -> Cache<'m> {
        Cache {
            suppressions: HashMap::new(),
            inventories: HashMap::new(),
            rules: Default::default(),
            earliest: HashMap::new(),
            memory,
        }
    }

    /// Counts a detection into its rule's statistics (suppressed ones are
    /// not counted: the statistics never showed them).
    fn count_rule(&mut self, d: &Detection, new_alert: bool) {
        let c = self.rules.entry((d.tenant.clone(), d.rule_id.clone())).or_default();
        if c.title.is_empty() {
            c.title.clone_from(&d.title);
        }
        c.detections += 1;
        c.alerts += i64::from(new_alert);
    }

    /// Adds the transaction's counts, one statement per rule rather than
    /// one per detection.
    fn write_rule_counts(&self, db: &mut dyn Db) -> Result<()> {
        for ((tenant, rule), c) in &self.rules {
            db.exec(
                "INSERT INTO rule_counts (tenant, rule_id, title, alerts, detections) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant, rule_id) DO UPDATE SET alerts = rule_counts.alerts + $4, \
                 detections = rule_counts.detections + $5",
                &[
                    tenant.as_str().into(),
                    rule.as_str().into(),
                    c.title.as_str().into(),
                    Val::Int(c.alerts),
                    Val::Int(c.detections),
                ],
            )?;
        }
        Ok(())
    }

    /// Drops from the remembered candidates what no detection of the
    /// transaction can join (the memory would otherwise grow with every
    /// incident triage opened).
    fn prune(&mut self, window: jiff::SignedDuration) {
        for (tenant, earliest) in &self.earliest {
            if let Some(c) = self.memory.candidates.get_mut(tenant) {
                c.prune(earliest.checked_sub(window).unwrap_or(Timestamp::MIN));
            }
        }
        self.memory.entity_lists = self.memory.candidates.values().map(|c| c.entities.len()).sum();
    }

    /// The tenant's [`Candidates`] for a detection at `at`: active within
    /// `window` before it at least.
    fn candidates(
        &mut self,
        db: &mut dyn Db,
        tenant: &str,
        at: Timestamp,
        window: jiff::SignedDuration,
    ) -> Result<&mut Candidates> {
        let since = |t: Timestamp| t.checked_sub(window).unwrap_or(Timestamp::MIN);
        let loaded = self.memory.candidates.get(tenant).is_some_and(|c| c.since <= since(at));
        if !loaded {
            // From the transaction's earliest detection's window on, so
            // one load serves the whole transaction.
            let from = since(self.earliest.get(tenant).map_or(at, |e| (*e).min(at)));
            let rows = db.rows(
                "SELECT id, last_activity, alert_count FROM incidents WHERE tenant = $1 AND kind = 'alerts' \
                 AND status NOT IN ('resolved', 'closed') AND last_activity >= $2",
                &[tenant.into(), micros(from)],
            )?;
            let mut open = HashMap::with_capacity(rows.len());
            for r in &rows {
                open.insert(r.get::<i64>("id")?, (r.get::<Timestamp>("last_activity")?, r.get::<i64>("alert_count")?));
            }
            let lowest = open.keys().copied().min().unwrap_or(i64::MAX);
            let c = Candidates { since: from, open, lowest, entities: HashMap::new(), entities_from: lowest };
            self.memory.candidates.insert(tenant.to_string(), c);
        }
        self.memory.candidates.get_mut(tenant).ok_or_else(|| corrupt("incidents", "candidates not loaded"))
    }

    /// The incidents entity `e` is in, from the candidates' lowest id on
    /// (a superset of the candidates that have it).
    fn entity_incidents(
        &mut self,
        db: &mut dyn Db,
        d: &Detection,
        e: &Entity,
        window: jiff::SignedDuration,
    ) -> Result<Vec<i64>> {
        if self.memory.entity_lists >= REMEMBERED {
            for c in self.memory.candidates.values_mut() {
                c.entities.clear();
            }
            self.memory.entity_lists = 0;
        }
        let c = self.candidates(db, &d.tenant, d.at, window)?;
        let key = entity_key("", e);
        if let Some(ids) = c.entities.get(&key) {
            return Ok(ids.clone());
        }
        let ids = db.ints(
            "SELECT incident_id FROM incident_entities WHERE tenant = $1 AND kind = $2 AND value = $3 AND incident_id >= $4",
            &[d.tenant.as_str().into(), e.kind.as_str().into(), e.value.as_str().into(), Val::Int(c.entities_from)],
        )?;
        c.entities.insert(key, ids.clone());
        self.memory.entity_lists += 1;
        Ok(ids)
    }

    /// A new alert incident, as [`open_incident`] wrote it.
    fn incident_opened(&mut self, tenant: &str, id: i64, at: Timestamp) {
        if let Some(c) = self.memory.candidates.get_mut(tenant) {
            c.take(id, at, 0);
        }
    }

    /// An alert at `at` attached to a candidate incident (as [`attach`]
    /// wrote it), with its entities.
    fn incident_active(&mut self, d: &Detection, id: i64) {
        let Some(c) = self.memory.candidates.get_mut(&d.tenant) else { return };
        if let Some((last, count)) = c.open.get_mut(&id) {
            *last = (*last).max(d.at);
            *count += 1;
        }
        if id >= c.entities_from {
            for e in &d.entities {
                if let Some(ids) = c.entities.get_mut(&entity_key("", e))
                    && !ids.contains(&id)
                {
                    ids.push(id);
                }
            }
        }
    }

    /// An incident as it is now (`r`: its kind, status, last activity and
    /// alert count), after a change by this transaction.
    fn incident_is(&mut self, tenant: &str, id: i64, r: &Row) -> Result<()> {
        let Some(c) = self.memory.candidates.get_mut(tenant) else { return Ok(()) };
        let last: Timestamp = r.get("last_activity")?;
        let open = r.get::<String>("kind")? == "alerts" && !r.get::<soc::Status>("status")?.is_done();
        if open && last.as_microsecond() >= c.since.as_microsecond() {
            c.take(id, last, r.get("alert_count")?);
        } else {
            c.open.remove(&id);
        }
        Ok(())
    }

    /// Whether incident `id` is open: asked for every entity over the
    /// risk threshold, of the few incidents they lead to. Triage opens
    /// incidents but never resolves or closes one, so an answer holds
    /// while it is the only writer.
    fn incident_open(&mut self, db: &mut dyn Db, id: Option<i64>) -> Result<bool> {
        let Some(id) = id else { return Ok(false) };
        if let Some(open) = self.memory.open.get(&id) {
            return Ok(*open);
        }
        let rows = db.rows("SELECT status FROM incidents WHERE id = $1", &[Val::Int(id)])?;
        let open = match rows.first() {
            Some(r) => !r.get::<soc::Status>("status")?.is_done(),
            None => false,
        };
        if self.memory.open.len() >= REMEMBERED {
            self.memory.open.clear();
        }
        self.memory.open.insert(id, open);
        Ok(open)
    }

    fn suppressions(&mut self, db: &mut dyn Db, tenant: &str, now: Timestamp) -> Result<&[Suppression]> {
        if !self.suppressions.contains_key(tenant) {
            let rows = db.rows(
                "SELECT id, tenant, rule_id, conditions, owner, reason, expires, created FROM suppressions WHERE tenant = $1 AND expires > $2",
                &[tenant.into(), micros(now)],
            )?;
            let list = rows.iter().map(suppression).collect::<Result<_>>()?;
            self.suppressions.insert(tenant.to_string(), list);
        }
        Ok(self.suppressions.get(tenant).map(Vec::as_slice).unwrap_or_default())
    }

    fn inventory(&mut self, db: &mut dyn Db, tenant: &str) -> Result<&Inventory> {
        if !self.inventories.contains_key(tenant) {
            let inv = load_inventory(db, tenant)?;
            self.inventories.insert(tenant.to_string(), inv);
        }
        Ok(self.inventories.entry(tenant.to_string()).or_default())
    }
}

fn suppression(r: &Row) -> Result<Suppression> {
    Ok(Suppression {
        id: r.get("id")?,
        tenant: r.get("tenant")?,
        rule: r.get("rule_id")?,
        conditions: r.get::<Json<_>>("conditions")?.0,
        owner: r.get("owner")?,
        reason: r.get("reason")?,
        expires: r.get("expires")?,
        created: r.get("created")?,
    })
}

fn load_inventory(db: &mut dyn Db, tenant: &str) -> Result<Inventory> {
    let rows = db.rows(
        "SELECT kind, pattern, criticality, owner, business_unit FROM assets WHERE tenant = $1 ORDER BY id",
        &[tenant.into()],
    )?;
    let assets = rows
        .iter()
        .map(|r| {
            let (kind, pattern, criticality): (String, String, String) =
                (r.get("kind")?, r.get("pattern")?, r.get("criticality")?);
            let (owner, unit): (Option<String>, Option<String>) = (r.get("owner")?, r.get("business_unit")?);
            Asset::new(&kind, &pattern, &criticality, owner.as_deref(), unit.as_deref())
                .map_err(|e| corrupt("assets", e))
        })
        .collect::<Result<_>>()?;
    Ok(Inventory { assets })
}

/// Counts `d` into the alert filed under `status` with its dedup key
/// (`key`) and seen within the dedup window, if there is one: returns its
/// id and its incident.
fn count_into_alert(
    db: &mut dyn Db,
    d: &Detection,
    key: &str,
    status: &str,
    policy: &soc::TriagePolicy,
) -> Result<Option<(i64, Option<i64>)>> {
    let since = d.at.checked_sub(policy.dedup_window).unwrap_or(Timestamp::MIN);
    let found = db.rows(
        "SELECT id, evidence, incident_id FROM alerts WHERE tenant = $1 AND dedup_key = $2 AND status = $3 AND last_seen >= $4 \
         ORDER BY last_seen DESC LIMIT 1",
        &[d.tenant.as_str().into(), key.into(), status.into(), micros(since)],
    )?;
    let Some(r) = found.first() else { return Ok(None) };
    let id: i64 = r.get("id")?;
    let mut evidence: Vec<String> = r.get::<Json<_>>("evidence")?.0;
    let before = evidence.len();
    for e in &d.events {
        if evidence.len() < policy.max_evidence && !evidence.contains(e) {
            evidence.push(e.clone());
        }
    }
    // The evidence is written only when it grew: most repeats add nothing
    // once it is full, and rewriting it cost a JSON text per repeat.
    let evidence = (evidence.len() != before).then(|| json(&evidence));
    db.exec(
        "UPDATE alerts SET count = count + 1, evidence = COALESCE($2, evidence), version = version + 1, \
         last_seen = CASE WHEN last_seen < $3 THEN $3 ELSE last_seen END, \
         first_seen = CASE WHEN first_seen > $3 THEN $3 ELSE first_seen END WHERE id = $1",
        &[Val::Int(id), evidence.unwrap_or(Val::Null), micros(d.at)],
    )?;
    Ok(Some((id, r.get("incident_id")?)))
}

/// Writes a new alert for `d`; returns its id. `filed`: the status it is
/// filed under, and the suppression that holds it back (when suppressed).
#[allow(clippy::too_many_arguments)]
fn insert_alert(
    db: &mut dyn Db,
    d: &Detection,
    key: &str,
    now: Timestamp,
    sev: Level,
    filed: (&str, Option<i64>),
    incident: Option<i64>,
    policy: &soc::TriagePolicy,
) -> Result<i64> {
    let (status, suppression) = filed;
    let evidence: Vec<&String> = d.events.iter().take(policy.max_evidence).collect();
    let rows = db.rows(
        "INSERT INTO alerts (tenant, rule_id, title, level, severity, tags, author, entities, evidence, dedup_key, \
         first_seen, last_seen, count, status, suppression_id, incident_id, origin, created, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 1, $12, $13, $14, $15, $16, 1) RETURNING id",
        &[
            d.tenant.as_str().into(),
            d.rule_id.as_str().into(),
            d.title.as_str().into(),
            level_val(d.level),
            level_val(sev),
            json(&d.tags),
            d.author.clone().into(),
            json(&d.entities),
            json(&evidence),
            key.into(),
            micros(d.at),
            status.into(),
            suppression.into(),
            incident.into(),
            d.origin.clone().into(),
            // When triage raised it (the queue's news), not the event's time.
            micros(now),
        ],
    )?;
    returned_id(&rows)
}

/// Open alert incidents sharing a grouping entity with `d`, active within
/// the group window of it and not full.
fn open_incidents(
    db: &mut dyn Db,
    cache: &mut Cache<'_>,
    d: &Detection,
    policy: &soc::TriagePolicy,
) -> Result<Vec<OpenIncident>> {
    let since = d.at.checked_sub(policy.group_window).unwrap_or(Timestamp::MIN);
    let mut out: Vec<OpenIncident> = Vec::new();
    for e in d.entities.iter().filter(|e| e.kind.groups()) {
        let ids = cache.entity_incidents(db, d, e, policy.group_window)?;
        let candidates = cache.candidates(db, &d.tenant, d.at, policy.group_window)?;
        for id in ids {
            let Some(&(last_activity, alerts)) = candidates.open.get(&id) else { continue };
            // As the store compares them: in microseconds.
            if last_activity.as_microsecond() < since.as_microsecond() || alerts >= policy.max_incident_alerts as i64 {
                continue;
            }
            match out.iter_mut().find(|i| i.id == id) {
                Some(i) => i.entities.push(e.clone()),
                None => out.push(OpenIncident { id, last_activity, entities: vec![e.clone()] }),
            }
        }
    }
    Ok(out)
}

/// An open incident that has entity `e`, the most recently active.
fn incident_with(db: &mut dyn Db, tenant: &str, e: &Entity) -> Result<Option<i64>> {
    let rows = db.rows(
        "SELECT i.id AS id FROM incident_entities e JOIN incidents i ON i.id = e.incident_id \
         WHERE e.tenant = $1 AND e.kind = $2 AND e.value = $3 AND i.status NOT IN ('resolved', 'closed') \
         ORDER BY i.last_activity DESC, i.id DESC LIMIT 1",
        &[tenant.into(), e.kind.as_str().into(), e.value.as_str().into()],
    )?;
    rows.first().map(|r| r.get("id")).transpose()
}

/// Opens an incident titled `title`, the name of a step of rank `rank`
/// (see [`soc::attack::step_rank`]; a higher-ranked step renames it).
#[allow(clippy::too_many_arguments)]
pub(super) fn open_incident(
    db: &mut dyn Db,
    tenant: &str,
    kind: &str,
    title: &str,
    rank: i64,
    sev: Level,
    first_seen: Timestamp,
    now: Timestamp,
) -> Result<i64> {
    let rows = db.rows(
        "INSERT INTO incidents (tenant, kind, title, auto_title, title_rank, severity, status, created, updated, last_activity, first_seen, pauses, alert_count, version) \
         VALUES ($1, $2, $3, $3, $7, $4, 'new', $5, $5, $6, $6, '[]', 0, 1) RETURNING id",
        &[tenant.into(), kind.into(), title.into(), level_val(sev), micros(now), micros(first_seen), Val::Int(rank)],
    )?;
    let id = returned_id(&rows)?;
    log(db, id, now, "hinomi", "opened", &serde_json::json!({"kind": kind, "title": title}))?;
    Ok(id)
}

/// Puts an alert in an incident: its entities join the incident's, its
/// severity and time raise the incident's.
pub(super) fn attach(
    db: &mut dyn Db,
    incident: i64,
    alert: i64,
    d: &Detection,
    sev: Level,
    now: Timestamp,
) -> Result<()> {
    // Named by its most severe, most advanced step, unless a person has
    // retitled it.
    let rename = "title = auto_title AND title_rank < $6";
    db.exec(
        &format!(
            "UPDATE incidents SET alert_count = alert_count + 1, \
             severity = CASE WHEN severity < $2 THEN $2 ELSE severity END, \
             last_activity = CASE WHEN last_activity < $3 THEN $3 ELSE last_activity END, \
             first_seen = CASE WHEN first_seen > $3 THEN $3 ELSE first_seen END, updated = $4, \
             title = CASE WHEN {rename} THEN $5 ELSE title END, \
             auto_title = CASE WHEN {rename} THEN $5 ELSE auto_title END, \
             title_rank = CASE WHEN {rename} THEN $6 ELSE title_rank END WHERE id = $1"
        ),
        &[
            Val::Int(incident),
            level_val(sev),
            micros(d.at),
            micros(now),
            incident_title(d).into(),
            Val::Int(soc::attack::step_rank(sev, &d.tags)),
        ],
    )?;
    for e in &d.entities {
        add_entity(db, incident, &d.tenant, e, d.at)?;
    }
    log(
        db,
        incident,
        now,
        "hinomi",
        "alert",
        &serde_json::json!({"alert": alert, "rule": d.rule_id, "title": d.title, "severity": sev.as_str()}),
    )
}

/// Adds entity `e` to an incident; one it has is only written when seen
/// earlier (a write would dirty the page for nothing).
pub(super) fn add_entity(db: &mut dyn Db, incident: i64, tenant: &str, e: &Entity, at: Timestamp) -> Result<()> {
    db.exec(
        "INSERT INTO incident_entities (incident_id, tenant, kind, value, first_seen) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (incident_id, kind, value) DO UPDATE SET first_seen = $5 WHERE incident_entities.first_seen > $5",
        &[Val::Int(incident), tenant.into(), e.kind.as_str().into(), e.value.as_str().into(), micros(at)],
    )?;
    Ok(())
}

/// Appends to an incident's log (its audit of who did what, when).
pub(super) fn log(
    db: &mut dyn Db,
    incident: i64,
    at: Timestamp,
    actor: &str,
    action: &str,
    data: &serde_json::Value,
) -> Result<()> {
    db.exec(
        "INSERT INTO incident_log (incident_id, at, actor, action, data) VALUES ($1, $2, $3, $4, $5)",
        &[Val::Int(incident), micros(at), actor.into(), action.into(), Val::Text(data.to_string())],
    )?;
    Ok(())
}

fn incident_title(d: &Detection) -> String {
    let main = d
        .entities
        .iter()
        .find(|e| e.kind == soc::EntityKind::Host)
        .or_else(|| d.entities.iter().find(|e| e.kind == soc::EntityKind::User))
        .or_else(|| d.entities.first());
    match main {
        Some(e) => format!("{} on {}", d.title, e.value),
        None => d.title.clone(),
    }
}
