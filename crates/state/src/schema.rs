//! Versioned migrations. Each is applied once, in order, in a transaction,
//! and recorded in `schema_version`; `{id}` stands for the dialect's
//! auto-assigned key column, `{without_rowid}` for what makes a keyed
//! table one b-tree in SQLite (nothing in PostgreSQL). Never edit a
//! released migration: add one.

use super::db::{Db, DbError, Val};

const MIGRATIONS: &[&str] = &[
    // 1: alerts, incidents and everything hanging off them.
    r#"
CREATE TABLE alerts (
    id {id},
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    title TEXT NOT NULL,
    level BIGINT NOT NULL,
    severity BIGINT NOT NULL,
    tags TEXT NOT NULL,
    author TEXT,
    entities TEXT NOT NULL,
    evidence TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    count BIGINT NOT NULL,
    status TEXT NOT NULL,
    suppression_id BIGINT,
    incident_id BIGINT,
    origin TEXT,
    created BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX alerts_dedup ON alerts (tenant, dedup_key, last_seen);
CREATE INDEX alerts_queue ON alerts (tenant, status, last_seen, id);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_rule ON alerts (tenant, rule_id, status, last_seen, id);

CREATE TABLE incidents (
    id {id},
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    severity BIGINT NOT NULL,
    status TEXT NOT NULL,
    disposition TEXT,
    assignee TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    last_activity BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    acknowledged BIGINT,
    resolved BIGINT,
    pauses TEXT NOT NULL,
    escalated_to TEXT,
    escalated BIGINT,
    alert_count BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX incidents_queue ON incidents (tenant, status, last_activity, id);

CREATE TABLE incident_entities (
    incident_id BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (incident_id, kind, value)
);
CREATE INDEX incident_entities_lookup ON incident_entities (tenant, kind, value);

CREATE TABLE incident_log (
    id {id},
    incident_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX incident_log_incident ON incident_log (incident_id, at);

CREATE TABLE notes (
    id {id},
    incident_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX notes_incident ON notes (incident_id);

CREATE TABLE tasks (
    id {id},
    incident_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    owner TEXT,
    created BIGINT NOT NULL,
    done BIGINT
);
CREATE INDEX tasks_incident ON tasks (incident_id);

CREATE TABLE evidence (
    id {id},
    incident_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    note TEXT,
    added_by TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX evidence_incident ON evidence (incident_id);

CREATE TABLE assets (
    id {id},
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    pattern TEXT NOT NULL,
    criticality TEXT NOT NULL,
    owner TEXT,
    business_unit TEXT
);
CREATE INDEX assets_tenant ON assets (tenant);

CREATE TABLE sla_policies (
    tenant TEXT NOT NULL,
    severity BIGINT NOT NULL,
    ack_secs BIGINT NOT NULL,
    resolve_secs BIGINT NOT NULL,
    calendar TEXT NOT NULL,
    PRIMARY KEY (tenant, severity)
);

CREATE TABLE suppressions (
    id {id},
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    conditions TEXT NOT NULL,
    owner TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires BIGINT NOT NULL,
    created BIGINT NOT NULL,
    hits BIGINT NOT NULL
);
CREATE INDEX suppressions_tenant ON suppressions (tenant, expires);

CREATE TABLE entity_risk (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    updated BIGINT NOT NULL,
    incident_id BIGINT,
    PRIMARY KEY (tenant, kind, value)
);

CREATE TABLE notifications (
    id {id},
    tenant TEXT NOT NULL,
    incident_id BIGINT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    UNIQUE (incident_id, kind)
);

CREATE TABLE positions (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
"#,
    // 2: the hash-chained audit trail.
    r#"
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    tenant TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    data TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit (tenant, seq);
"#,
    // 3: console users, their roles per tenant, their sessions; the
    // alert histogram's index.
    r#"
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    lang TEXT NOT NULL,
    tz TEXT NOT NULL,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    disabled BIGINT NOT NULL,
    created BIGINT NOT NULL
);
CREATE TABLE grants (
    username TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (username, tenant)
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created BIGINT NOT NULL,
    seen BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (username);
CREATE INDEX alerts_time ON alerts (tenant, last_seen);
"#,
    // 4: alerts and detections per rule, kept as triage counts them, so
    // rule statistics do not read every alert.
    r#"
CREATE TABLE rule_counts (
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    title TEXT NOT NULL,
    alerts BIGINT NOT NULL,
    detections BIGINT NOT NULL,
    PRIMARY KEY (tenant, rule_id)
);
INSERT INTO rule_counts (tenant, rule_id, title, alerts, detections)
    SELECT tenant, rule_id, MIN(title), COUNT(*), CAST(SUM(count) AS BIGINT) FROM alerts
    WHERE status <> 'suppressed' GROUP BY tenant, rule_id;
"#,
    // 5: the title Hinomi gave an incident and the rank of the step it
    // names: a later, higher-ranked step renames it, unless a person has
    // retitled it (its title then differs from `auto_title`).
    r#"
ALTER TABLE incidents ADD COLUMN auto_title TEXT;
ALTER TABLE incidents ADD COLUMN title_rank BIGINT;
UPDATE incidents SET auto_title = title, title_rank = 0;
"#,
    // 6: saved searches, an analyst's own or shared with the tenant.
    r#"
CREATE TABLE saved_searches (
    id {id},
    tenant TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    range_from TEXT NOT NULL,
    range_to TEXT NOT NULL,
    columns TEXT NOT NULL,
    shared BIGINT NOT NULL,
    saved BIGINT NOT NULL
);
CREATE INDEX saved_searches_owner ON saved_searches (tenant, owner, name);
"#,
    // 7: the alert queue by severity, and the count of new alerts a
    // queue left open asks for.
    r#"
CREATE INDEX alerts_by_severity ON alerts (tenant, status, severity, last_seen, id);
CREATE INDEX alerts_created ON alerts (tenant, created);
"#,
    // 8: rules a tenant switched off (or on again), who did and when.
    r#"
CREATE TABLE rule_settings (
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    changed BIGINT NOT NULL,
    PRIMARY KEY (tenant, rule_id)
);
"#,
    // 9: tenants administered from the console: a display name and
    // whether the tenant is switched off. A tenant named only in grants
    // and tokens has no row and is enabled under its own name.
    r#"
CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    display TEXT NOT NULL,
    disabled BIGINT NOT NULL,
    created BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    changed BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);
"#,
    // 10: entity risk over time: the current hour's peak rides on the
    // entity's row; when an entity's next alert comes in a later hour, the
    // finished hour's peak moves to the history (one insert per entity
    // per active hour, not one per alert).
    r#"
ALTER TABLE entity_risk ADD COLUMN peak_hour BIGINT;
ALTER TABLE entity_risk ADD COLUMN peak DOUBLE PRECISION;
CREATE TABLE entity_risk_history (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    hour BIGINT NOT NULL,
    peak DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, kind, value, hour)
);
"#,
    // 11: the notification outbox. Notices are made from the incident log
    // past a cursor, which starts at the log's end: an upgrade does not
    // announce every incident there was. Incidents remember the severity
    // they were last announced at.
    r#"
ALTER TABLE incidents ADD COLUMN notified_severity BIGINT;
UPDATE incidents SET notified_severity = severity;
INSERT INTO positions (name, position) SELECT 'notify.log', COALESCE(MAX(id), 0) FROM incident_log;
CREATE TABLE notices (
    id {id},
    tenant TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    notice TEXT NOT NULL,
    created BIGINT NOT NULL,
    routed BIGINT NOT NULL
);
CREATE INDEX notices_unrouted ON notices (routed, id);
CREATE TABLE deliveries (
    id {id},
    notice_id BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    due BIGINT NOT NULL,
    last_error TEXT,
    sent BIGINT,
    UNIQUE (notice_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (status, due);
CREATE INDEX deliveries_tenant ON deliveries (tenant, id);
"#,
    // 12: on-call pages. A page is a notice for one person of a rota's
    // escalation chain, due when its step comes; acknowledging a notice
    // (its link, or a status change on its incident after `since_log`)
    // stops the pages still pending. `secrets` holds the key that signs
    // acknowledge links, shared by every process on the store.
    r#"
ALTER TABLE notices ADD COLUMN since_log BIGINT;
ALTER TABLE notices ADD COLUMN acked BIGINT;
ALTER TABLE notices ADD COLUMN acked_by TEXT;
CREATE TABLE pages (
    id {id},
    notice_id BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    incident BIGINT,
    rota TEXT NOT NULL,
    step BIGINT NOT NULL,
    steps BIGINT NOT NULL,
    person TEXT NOT NULL,
    address TEXT NOT NULL,
    channel TEXT NOT NULL,
    next_after BIGINT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    due BIGINT NOT NULL,
    last_error TEXT,
    sent BIGINT,
    UNIQUE (notice_id, rota, step)
);
CREATE INDEX pages_due ON pages (status, due);
CREATE INDEX pages_notice ON pages (notice_id);
CREATE INDEX pages_tenant ON pages (tenant, id);
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    // 13: playbook runs, their steps, and the verdicts on steps that wait
    // for approval. A run keeps its playbook's text as it started.
    r#"
CREATE TABLE runs (
    id {id},
    tenant TEXT NOT NULL,
    incident BIGINT NOT NULL,
    playbook TEXT NOT NULL,
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    inputs TEXT NOT NULL,
    started_by TEXT NOT NULL,
    key TEXT UNIQUE,
    status TEXT NOT NULL,
    step BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    outputs TEXT NOT NULL,
    reason TEXT,
    due BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX runs_due ON runs (status, due);
CREATE INDEX runs_tenant ON runs (tenant, incident, id);
CREATE TABLE run_steps (
    id {id},
    run_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    decision TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    call TEXT,
    response TEXT,
    error TEXT,
    need_role TEXT,
    need_count BIGINT NOT NULL,
    expires BIGINT,
    until BIGINT,
    started BIGINT,
    finished BIGINT,
    rolled_back BIGINT,
    rollback TEXT,
    UNIQUE (run_id, seq)
);
CREATE INDEX run_steps_approval ON run_steps (status, expires);
CREATE TABLE approvals (
    id {id},
    run_step BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    user_name TEXT NOT NULL,
    approve BIGINT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (run_step, user_name)
);
"#,
    // 14: notification routes a tenant's leads set in the console, beside
    // the ones in the configuration.
    r#"
CREATE TABLE tenant_routes (
    id {id},
    tenant TEXT NOT NULL,
    route TEXT NOT NULL,
    created BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX tenant_routes_tenant ON tenant_routes (tenant, id);
"#,
    // 15: the tables triage reads and writes per entity, keyed by what it
    // looks them up by. In SQLite a keyed table without a row id is one
    // b-tree instead of two (the table and its key's index): an entity's
    // risk is one seek, an incident's entity one insert; and the lookup of
    // an entity's incidents holds the incident id, so it reads no table
    // row (at a million alerts these were a third of triage's time).
    r#"
CREATE TABLE incident_entities_v15 (
    incident_id BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (incident_id, kind, value)
){without_rowid};
INSERT INTO incident_entities_v15 (incident_id, tenant, kind, value, first_seen)
    SELECT incident_id, tenant, kind, value, first_seen FROM incident_entities;
DROP TABLE incident_entities;
ALTER TABLE incident_entities_v15 RENAME TO incident_entities;
CREATE INDEX incident_entities_lookup ON incident_entities (tenant, kind, value, incident_id);

CREATE TABLE entity_risk_v15 (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    updated BIGINT NOT NULL,
    incident_id BIGINT,
    peak_hour BIGINT,
    peak DOUBLE PRECISION,
    PRIMARY KEY (tenant, kind, value)
){without_rowid};
INSERT INTO entity_risk_v15 (tenant, kind, value, score, updated, incident_id, peak_hour, peak)
    SELECT tenant, kind, value, score, updated, incident_id, peak_hour, peak FROM entity_risk;
DROP TABLE entity_risk;
ALTER TABLE entity_risk_v15 RENAME TO entity_risk;

CREATE TABLE entity_risk_history_v15 (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    hour BIGINT NOT NULL,
    peak DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, kind, value, hour)
){without_rowid};
INSERT INTO entity_risk_history_v15 (tenant, kind, value, hour, peak)
    SELECT tenant, kind, value, hour, peak FROM entity_risk_history;
DROP TABLE entity_risk_history;
ALTER TABLE entity_risk_history_v15 RENAME TO entity_risk_history;
"#,
    // 16: dedup keys are the first 128 bits of the SHA-256 they were (see
    // `soc::Detection::dedup_key`): the stored ones are cut the same way,
    // so open alerts go on counting their repeats.
    r#"
UPDATE alerts SET dedup_key = substr(dedup_key, 1, 32) WHERE length(dedup_key) > 32;
"#,
    // 17: threat intelligence: feeds and their indicators, per tenant or
    // shared (`*`), and the generation a running server rebuilds its
    // matcher on.
    r#"
CREATE TABLE intel_feeds (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_read BIGINT,
    last_ok BIGINT,
    last_error TEXT,
    indicators BIGINT NOT NULL,
    problems TEXT NOT NULL,
    cursor TEXT,
    PRIMARY KEY (scope, name)
){without_rowid};
CREATE TABLE intel_indicators (
    scope TEXT NOT NULL,
    feed TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    pattern TEXT NOT NULL,
    name TEXT NOT NULL,
    confidence BIGINT,
    tlp TEXT,
    valid_from BIGINT,
    valid_until BIGINT,
    modified BIGINT,
    tags TEXT NOT NULL,
    attack TEXT NOT NULL,
    decay TEXT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (scope, feed, id)
){without_rowid};
CREATE INDEX intel_indicators_value ON intel_indicators (scope, value);
CREATE TABLE intel_generation (id BIGINT NOT NULL PRIMARY KEY, generation BIGINT NOT NULL);
INSERT INTO intel_generation (id, generation) VALUES (1, 0);
"#,
    // 18: observables an analyst marked as indicators of compromise on an
    // incident; the lookup finds an observable's incidents across tenants.
    r#"
CREATE TABLE incident_iocs (
    incident_id BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    note TEXT,
    added_by TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, kind, value)
){without_rowid};
CREATE INDEX incident_iocs_lookup ON incident_iocs (tenant, kind, value, incident_id);
"#,
];

/// Serializes migrations between processes, inside a transaction. SQLite's
/// `BEGIN IMMEDIATE` has taken the write lock already; PostgreSQL takes a
/// transaction-scoped advisory lock (released at commit or rollback).
fn lock_migrations(db: &mut dyn Db) -> Result<(), DbError> {
    match db.dialect() {
        super::db::Dialect::Sqlite => Ok(()),
        // "hinomi" in ASCII, as the lock's key.
        super::db::Dialect::Postgres => db.batch("SELECT pg_advisory_xact_lock(115910555116905)"),
    }
}

/// The version the schema is at, as recorded.
fn recorded(db: &mut dyn Db) -> Result<i64, DbError> {
    let current = db.rows("SELECT COALESCE(MAX(version), 0) AS version FROM schema_version", &[])?;
    match current.first() {
        Some(r) => r.get("version").map_err(|e| DbError(e.to_string())),
        None => Ok(0),
    }
}

/// Brings the schema up to date; returns the version it is at.
///
/// Several processes may open one store at once (the server and a
/// command on its data directory): each migration is applied in a
/// transaction that first takes the store's write lock (SQLite's
/// `BEGIN IMMEDIATE`, a PostgreSQL advisory lock) and reads the version
/// again, so one of them applies it and the others see it applied.
pub(crate) fn migrate(db: &mut dyn Db) -> Result<i64, DbError> {
    db.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let mut version = recorded(db)?;
    let id = db.dialect().id_column();
    let without_rowid = db.dialect().without_rowid();
    for (n, sql) in MIGRATIONS.iter().enumerate() {
        let n = n as i64 + 1;
        if n <= version {
            continue;
        }
        db.batch(db.dialect().begin())?;
        let applied = lock_migrations(db).and_then(|()| recorded(db)).and_then(|now| {
            if now >= n {
                return Ok(now);
            }
            db.batch(&sql.replace("{id}", id).replace("{without_rowid}", without_rowid))?;
            db.exec("INSERT INTO schema_version (version) VALUES ($1)", &[Val::Int(n)])?;
            Ok(n)
        });
        match applied {
            Ok(now) => {
                db.batch("COMMIT")?;
                version = now;
            }
            Err(e) => {
                // The transaction's error is the one to report; a failed
                // rollback too means the connection is unusable: say so.
                if let Err(r) = db.batch("ROLLBACK") {
                    tracing::error!(error = %r, "rolling back a failed transaction failed");
                }
                return Err(DbError(format!("migration {n}: {e}")));
            }
        }
    }
    if version > MIGRATIONS.len() as i64 {
        return Err(DbError(format!(
            "the database is at schema version {version}, newer than this Hinomi knows ({}); upgrade Hinomi",
            MIGRATIONS.len()
        )));
    }
    Ok(version)
}
