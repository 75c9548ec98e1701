//! Every page rendered from fixed data, in both languages, against its
//! golden file (`test_data/console/*.html.golden`, one tag per line; `UPDATE_EXPECT=1`
//! writes them anew): a change to a page shows in review. The data holds
//! what attackers write into logs, and every page is checked for it.

use super::*;
use state::{ImpactScope, RuleStats, TimelineEntry};

fn ctx(lang: Lang, role: Scope) -> Ctx {
    Ctx {
        lang,
        tz: TimeZone::get("Asia/Tokyo").unwrap(),
        user: "erin<script>".into(),
        tenant: "acme".into(),
        role,
        tenants: vec![("acme".into(), "ACME".into()), ("globex".into(), "globex".into())],
        tenant_off: false,
        csrf: "c5rf".into(),
        here: "/ui/acme/alerts?status=open".into(),
        paused: None,
    }
}

fn since() -> Timestamp {
    "2026-11-19T02:00:00Z".parse().unwrap()
}

fn alert() -> Alert {
    let at: Timestamp = "2026-11-20T01:00:00Z".parse().unwrap();
    Alert {
        id: 7,
        tenant: "acme".into(),
        rule_id: "r1".into(),
        title: "Brute <b>force</b>".into(),
        level: Level::High,
        severity: Level::Critical,
        tags: vec![],
        author: None,
        entities: vec![soc::Entity::new(soc::EntityKind::User, "alice\"><img src=x>").unwrap()],
        evidence: vec![],
        first_seen: at,
        last_seen: at,
        count: 8,
        status: "open".into(),
        suppression_id: None,
        incident_id: Some(3),
        origin: None,
        version: 1,
    }
}

fn package() -> Escalation {
    let a = alert();
    let incident = Incident {
        id: 3,
        tenant: "acme".into(),
        kind: "alerts".into(),
        title: "Brute <b>force</b> on ws-042".into(),
        severity: Level::High,
        status: soc::Status::Acknowledged,
        disposition: None,
        assignee: Some("erin".into()),
        created: since(),
        updated: since(),
        last_activity: since(),
        first_seen: since(),
        acknowledged: Some(since()),
        resolved: None,
        pauses: vec![],
        escalated_to: Some("CSIRT".into()),
        escalated: Some(since()),
        alert_count: 1,
        entities: a.entities.clone(),
        version: 4,
    };
    let entry = |kind: &'static str, what: &str, data: serde_json::Value| TimelineEntry {
        at: since(),
        kind,
        actor: "erin".into(),
        what: what.into(),
        data,
    };
    let psexec = Alert {
        id: 9,
        title: "PsExec <service>".into(),
        tags: vec!["attack.lateral_movement".into(), "attack.t1021.002".into(), "attack.t1569.002".into()],
        evidence: vec!["1.0\"><script>".into()],
        first_seen: "2026-11-20T01:30:00Z".parse().unwrap(),
        ..a.clone()
    };
    Escalation {
        incident,
        summary: "s".into(),
        alerts: vec![a.clone(), psexec],
        timeline: vec![
            entry("alert", "Brute <b>force</b>", serde_json::json!({})),
            entry("action", "opened", serde_json::json!({"kind": "alerts", "title": "t"})),
            // Triage's note of adding the alert above: not shown twice.
            entry("action", "alert", serde_json::json!({"alert": 1, "title": "Brute <b>force</b> again"})),
            entry(
                "action",
                "status",
                serde_json::json!({"from": "new", "to": "closed", "disposition": "true_positive"}),
            ),
            entry("action", "assign", serde_json::json!({"from": null, "to": "<x>"})),
            entry(
                "action",
                "risk",
                serde_json::json!({"entity": {"kind": "user", "value": "alice<x>"}, "score": 104.9999999992014}),
            ),
            entry("action", "split", serde_json::json!({"alerts": [1], "into": 8})),
            entry("action", "escalate", serde_json::json!({"to": "<x>"})),
            entry(
                "action",
                "approved",
                serde_json::json!({"run": 4, "playbook": "contain", "step": "isolate", "reason": "<b>ok</b>"}),
            ),
            entry(
                "action",
                "executed",
                serde_json::json!({"run": 4, "playbook": "contain", "step": "isolate", "response": {"status": 202}}),
            ),
            entry("action", "paged", serde_json::json!({"person": "aiko", "rota": "tier1", "step": 1, "steps": 3})),
            entry("action", "frobnicate", serde_json::json!({"to": "<x>"})),
            entry(
                "note",
                "note",
                serde_json::json!(
                    "called <script> **twice**\n\n- [ticket](https://t.example/1)\n- [bad](javascript:alert(1))"
                ),
            ),
        ],
        entities: a.entities.clone(),
        scope: ImpactScope {
            hosts: vec![],
            users: vec![],
            addresses: vec![],
            first_sign: since(),
            spread: vec!["user:alice<x>".into()],
        },
        evidence: vec![serde_json::json!({"kind": "event", "ref": "1.0\"><script>"})],
        actions_taken: vec![],
        open_tasks: vec![serde_json::json!({"title": "reset <b>password</b>"})],
        open_questions: vec![],
    }
}

/// The stored events the pages look up, by id: one PsExec service
/// install, written by an attacker.
/// An incident's on-call chain: the first page sent, the second waiting,
/// the lead's stopped; a person's name as hostile as any text.
fn on_call_pages() -> Vec<state::PageRow> {
    let page = |id: i64, step: i64, person: &str, status: &str| state::PageRow {
        id,
        incident: Some(7),
        rota: "tier1".into(),
        step,
        steps: 3,
        person: person.into(),
        status: status.into(),
        due: since(),
        sent: (status == "sent").then(since),
        last_error: None,
    };
    vec![page(3, 3, "dana", "stopped"), page(2, 2, "ben", "pending"), page(1, 1, "<b>aiko</b>", "sent")]
}

/// A run of a playbook: a ticket made, an isolation waiting for a second
/// responder (one has approved), hostile text in a step's call and in a
/// reason.
fn runs() -> Vec<(state::Run, Vec<state::RunStep>)> {
    let run = state::Run {
        id: 4,
        tenant: "acme".into(),
        incident: 7,
        playbook: "contain".into(),
        version: 2,
        source: String::new(),
        inputs: serde_json::json!({"host": "ws-042"}),
        started_by: "erin".into(),
        status: "waiting".into(),
        step: 1,
        seq: 2,
        outputs: serde_json::json!({}),
        reason: None,
        created: since(),
        updated: since(),
    };
    let step = |id: i64, name: &str, status: &str, decision: &str, call: serde_json::Value| state::RunStep {
        id,
        run: 4,
        seq: id,
        step: name.into(),
        kind: "action".into(),
        decision: decision.into(),
        status: status.into(),
        attempts: 1,
        call: Some(call),
        response: None,
        error: None,
        need_role: (decision == "approve").then_some(Scope::Responder),
        need_count: 2,
        expires: Some(since()),
        until: None,
        rolled_back: None,
        rollback: None,
        verdicts: vec![],
    };
    let mut isolate = step(
        2,
        "isolate",
        "approval",
        "approve",
        serde_json::json!({"http": {"method": "POST", "url": "https://edr/<script>"}}),
    );
    isolate.verdicts.push(state::Verdict {
        user: "bob".into(),
        approve: true,
        reason: "<b>ok</b>".into(),
        at: since(),
    });
    let ticket =
        step(1, "ticket", "done", "auto", serde_json::json!({"command": ["/usr/sbin/nft", "add", "{ 192.0.2.7 }"]}));
    vec![(run, vec![ticket, isolate])]
}

fn rotas() -> Vec<RotaShifts> {
    vec![("tier1".into(), vec![("aiko".into(), since()), ("<b>ben</b>".into(), since())])]
}

fn events() -> Events {
    let row = serde_json::json!({"@timestamp": "2026-11-20T01:30:00Z", "_id": "1.0\"><script>", "EventID": 7045,
        "ServiceName": "PSEXESVC<script>", "ImagePath": "%SystemRoot%\\PSEXESVC.exe", "host.name": "srv-<1>",
        "_raw": "{\"x\": \"<img src=x>\"}"});
    let row = row.as_object().unwrap().clone();
    Events::from([(row["_id"].as_str().unwrap().to_string(), row)])
}

/// The tenant's people, as the assignee pickers list them.
fn people() -> Vec<String> {
    vec!["bob".into(), "erin<script>".into()]
}

/// Every page, named, for one viewer.
fn pages(c: &Ctx) -> Vec<(&'static str, String)> {
    let stats = RuleStats {
        rule_id: "r1".into(),
        title: "Brute <b>force</b>".into(),
        alerts: 1,
        detections: 8,
        true_positive: 0,
        benign_true_positive: 0,
        false_positive: 1,
        duplicate: 0,
        false_positive_rate: Some(1.0),
        mean_time_to_triage_secs: None,
    };
    let overview_data = Overview {
        alert_counts: vec![("open".into(), 1)],
        open_incidents: vec![(soc::Status::New, 1)],
        near_breach: 1,
        breached: 0,
        histogram: vec![(since(), Level::High, 3)],
        since: since(),
        top_rules: vec![("r1".into(), "Brute <b>force</b>".into(), 1)],
        sources: vec![],
    };
    let rows = vec![
        serde_json::json!({"@timestamp": "2026-11-20T01:00:00Z", "_id": "17.2", "_source": "fw<1>", "_logsource": ["linux/*/auth"], "user.name": "a\"<x>", "message": "<script>alert(1)</script>", "_raw": "{\"user\": \"<img src=x onerror=alert(1)>\"}"})
            .as_object()
            .unwrap()
            .clone(),
    ];
    let saved = [state::SavedSearch {
        id: 4,
        owner: "bob".into(),
        name: "shared <b>rdp</b>".into(),
        query: "EventID:4624".into(),
        from: "-7d".into(),
        to: "".into(),
        columns: "".into(),
        shared: true,
        saved: since(),
    }];
    let view = |query, output, rows| SearchView {
        query,
        from: "-24h",
        to: "",
        columns: "",
        output,
        rows,
        buckets: vec![],
        histogram_skipped: false,
        error: None,
        saved: &saved,
    };
    let search_view =
        SearchView { buckets: vec![("01:00".into(), 2)], ..view("user.name:\"<x>\"", query::Output::Events, &rows) };
    let stats_rows = vec![
        serde_json::json!({"host.name": "ws-<1>", "count()": 3, "avg(x)": 104.9999999992014})
            .as_object()
            .unwrap()
            .clone(),
    ];
    let columns = ["host.name", "count()", "avg(x)"].map(String::from).to_vec();
    let stats_view = view("* | stats count(), avg(x) by host.name", query::Output::Table(columns), &stats_rows);
    let chart_rows: Vec<_> = ["2026-11-20T01:00:00Z", "2026-11-20T02:00:00Z"]
        .iter()
        .flat_map(|t| {
            ["ws-1", "<ws-2>"]
                .map(|h| serde_json::json!({"_time": t, "host.name": h, "count()": 2}).as_object().unwrap().clone())
        })
        .collect();
    let chart = query::Output::Chart { by: Some("host.name".into()), values: vec!["count()".into()] };
    let chart_view = view("* | timechart span=1h count() by host.name", chart, &chart_rows);
    let failed_view = SearchView { error: Some("column 3: <bad>".into()), ..view("a:(", query::Output::Events, &[]) };
    let test = RuleTest { yaml: "</textarea><script>".into(), events: "{}".into(), result: Ok(vec![1]) };
    let user = User {
        name: "bob".into(),
        lang: "".into(),
        tz: "UTC".into(),
        disabled: false,
        failures: 0,
        locked_until: None,
        created: since(),
        grants: vec![("acme".into(), Scope::Analyst)],
    };
    let dead = [serde_json::json!({"reason": "<bad>", "source": "fw", "raw": "<img src=x onerror=alert(1)>"})];
    let e = package();
    let frame = |title: &str, active: T, body: Markup| layout(c, title, active, body).into_string();
    vec![
        (
            "incident",
            frame("t", T::Incidents, incident(c, &e, &events(), &people(), None, &on_call_pages(), Some("conflict"))),
        ),
        ("response", frame("t", T::Response, response(c, &runs(), &rotas(), None))),
        ("alert", {
            let rule = RuleInfo {
                description: Some("Detects <b>PsExec</b>".into()),
                status: Some("test".into()),
                references: vec!["https://example.com/<x>".into(), "javascript:alert(1)".into()],
                falsepositives: vec!["Admins <x>".into()],
                path: "rules/<x>.yml".into(),
                fields: vec!["ServiceName".into()],
            };
            let found = events();
            let view = AlertView {
                alert: &e.alerts[1],
                rule: Some(rule),
                events: found.values().collect(),
                related: std::slice::from_ref(&e.alerts[0]),
            };
            frame("t", T::Alerts, super::alert(c, &view))
        }),
        ("entity", {
            let report = state::EntityReport {
                entity: e.entities[0].clone(),
                incidents: vec![e.incident.clone()],
                alerts: e.alerts.clone(),
                first_seen: Some(since()),
                last_seen: Some(since()),
                risk: 104.9999999992014,
                as_of: since() + jiff::SignedDuration::from_hours(30),
                risk_history: vec![
                    (since() - jiff::SignedDuration::from_hours(72), 40.0),
                    (since(), 80.4),
                    (since() + jiff::SignedDuration::from_hours(1), 104.9),
                ],
                related: vec![(soc::Entity::new(soc::EntityKind::Host, "ws-<9>").unwrap(), 2)],
            };
            let found = events();
            let rows: Vec<_> = found.into_values().collect();
            frame("t", T::Alerts, entity(c, &report, &rows))
        }),
        ("incidents", {
            let f = IncidentFilter { status: "open".into(), mine: true };
            frame("t", T::Incidents, incidents(c, &f, std::slice::from_ref(&e.incident), Some("x,1")))
        }),
        ("overview", frame("t", T::Overview, overview(c, &overview_data))),
        ("alerts", {
            let f = AlertFilter {
                status: "open".into(),
                rule: "brute <x>".into(),
                by_severity: true,
                ..Default::default()
            };
            let titles = ["Brute <b>force</b>".to_string()];
            let page =
                AlertPage { list: &[alert()], next: Some("high,x,1"), users: &people(), titles: &titles, now: since() };
            frame("t", T::Alerts, alerts(c, &f, &page, Some("n")))
        }),
        ("search", frame("t", T::Search, search(c, &search_view))),
        ("search-stats", frame("t", T::Search, search(c, &stats_view))),
        ("search-timechart", frame("t", T::Search, search(c, &chart_view))),
        ("search-error", frame("t", T::Search, search(c, &failed_view))),
        ("event", frame("t", T::Search, event(c, &rows[0]))),
        ("rules", {
            let loaded: [LoadedRule; 3] = [
                ("r1".into(), "R <1>".into(), Level::Low),
                ("r2".into(), "R2".into(), Level::High),
                ("c1".into(), "C <1> (temporal)".into(), Level::High),
            ];
            let limited = [engine::RateLimited {
                tenant: "acme".into(),
                rule_id: "r2".into(),
                title: "R2".into(),
                suppressed: 41,
            }];
            let stats = [stats];
            let f = RulesFilter { sort: "alerts".into(), ..Default::default() };
            let (rows, matching) = rule_rows(&loaded, &stats, &limited, &["r2".to_string()], &f);
            frame("t", T::Rules, rules(c, &f, &rows, matching, loaded.len(), Some(&test)))
        }),
        ("sources", {
            let behind = |name: &str, lag_bytes, max_bytes| engine::Behind { name: name.into(), lag_bytes, max_bytes };
            let pipe = Pipeline {
                behind: vec![
                    behind("detection", 0, 256 << 20),
                    behind("indexing", 1_500_000_000, 1 << 30),
                    behind("triage", 4096, 256 << 20),
                ],
                log_bytes: 1_600_000_000,
                max_log_bytes: 4 << 30,
            };
            frame("t", T::Sources, sources(c, &[], &pipe, &dead))
        }),
        ("paused", {
            let c = Ctx { paused: Some("detection is stopped: <x> no space left on device".into()), ..c.clone() };
            let pipe = Pipeline { behind: Vec::new(), log_bytes: 0, max_log_bytes: 4 << 30 };
            layout(&c, "t", T::Sources, sources(&c, &[], &pipe, &[])).into_string()
        }),
        ("settings", {
            let route = notify::Route {
                tenants: vec!["acme".into()],
                triggers: vec![notify::Trigger::IncidentOpened, notify::Trigger::ApprovalWaiting],
                min_severity: Level::High,
                channels: vec!["soc<mail>".into()],
                quiet_below: Some(Level::Critical),
            };
            let config = TenantConfig {
                routes: vec![(3, route)],
                channels: vec!["soc<mail>".into()],
                ..TenantConfig::default()
            };
            frame("t", T::Settings, settings(c, &[user], &[], &config, Some("tok"), None))
        }),
        ("login", login(c.lang, Some("<e>"), "/ui/", "u\"x").into_string()),
        ("problem", problem(c.lang, 403, "<no>").into_string()),
        ("handoff", crate::handoff::html_in(&e, c.lang)),
    ]
}

/// One tag per line: a golden a reviewer can read and diff.
fn lines(page: &str) -> String {
    let mut out = page.replace("><", ">\n<");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[track_caller]
fn check_golden(name: &str, page: &str) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/console").join(format!("{name}.html.golden"));
    let got = lines(page);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(got == want, "{name} differs from {} (UPDATE_EXPECT=1 writes it)", path.display());
}

#[test]
fn every_page_matches_its_golden_file() {
    for lang in [Lang::En, Lang::Ja] {
        let c = ctx(lang, Scope::Admin);
        for (name, page) in pages(&c) {
            check_golden(&format!("{name}.{}", lang.code()), &page);
        }
    }
}

/// Every page: data escaped, every form carrying the anti-CSRF token,
/// every control labelled.
#[test]
fn pages_are_escaped_protected_and_labelled() {
    for lang in [Lang::En, Lang::Ja] {
        let c = ctx(lang, Scope::Admin);
        for (name, page) in pages(&c) {
            for planted in ["<script>", "<b>force", "<bad>", "<x>", "<e>", "<img", "<no>"] {
                assert!(!page.contains(planted), "{name}: {planted} came through unescaped");
            }
            let forms = page.matches("<form method=\"post\"").count();
            let tokens = page.matches("name=\"csrf\" value=\"c5rf\"").count();
            // The login form is the one POST without a session.
            assert_eq!(forms, tokens + usize::from(page.contains("action=\"/ui/login\"")), "{name}");
            every_control_has_a_label(name, &page);
        }
        let pages = pages(&c);
        let page = |n: &str| &pages.iter().find(|(name, _)| *name == n).unwrap().1;
        assert!(page("alerts").contains("rel=\"next\""));
        assert!(page("overview").contains("<svg"));
        assert!(page("incident").contains("id=\"escalate\"") && page("incident").contains("id=\"add-note\""));
    }
}

/// Every visible form control is named for screen readers: a
/// `<label for>` pointing at its id, or an `aria-label`.
fn every_control_has_a_label(name: &str, page: &str) {
    for tag in ["<input", "<select", "<textarea"] {
        for (at, _) in page.match_indices(tag) {
            let end = page[at..].find('>').map_or(page.len(), |e| at + e);
            let control = &page[at..end];
            if control.contains("type=\"hidden\"") || control.contains("aria-label=") {
                continue;
            }
            let id = control.split("id=\"").nth(1).and_then(|r| r.split('"').next());
            let labelled = id.is_some_and(|id| page.contains(&format!("<label for=\"{id}\">")));
            assert!(labelled, "{name}: no label for {control}");
        }
    }
}

#[test]
fn a_viewer_gets_no_forms_that_change_things() {
    let c = ctx(Lang::En, Scope::Read);
    let queue = AlertPage { list: &[alert()], next: None, users: &people(), titles: &[], now: since() };
    for page in [
        alerts(&c, &AlertFilter::default(), &queue, None),
        settings(&c, &[], &[], &TenantConfig::default(), None, None),
        incident(&c, &package(), &events(), &people(), None, &on_call_pages(), None),
    ] {
        let page = page.into_string();
        assert!(!page.contains("method=\"post\""), "{page}");
    }
}

#[test]
fn a_closed_incident_offers_only_reopening() {
    let c = ctx(Lang::En, Scope::Admin);
    let mut e = package();
    e.incident.status = soc::Status::Closed;
    let page = incident(&c, &e, &events(), &people(), None, &[], None).into_string();
    let options: Vec<&str> =
        page.split("<option value=\"").skip(1).filter_map(|o| o.split('"').next()).filter(|v| !v.is_empty()).collect();
    // The status choices, then the dispositions.
    assert_eq!(&options[..2], ["investigating", "closed"], "{page}");
    assert!(!page.contains("/escalate\"") && !page.contains("/assign\""), "{page}");
    e.incident.status = soc::Status::Acknowledged;
    let page = incident(&c, &e, &events(), &people(), None, &[], None).into_string();
    assert!(page.contains("/escalate\"") && page.contains("/assign\"") && !page.contains("value=\"new\""), "{page}");
}

#[test]
fn times_are_shown_in_the_users_zone() {
    let c = ctx(Lang::En, Scope::Read);
    assert_eq!(c.time("2026-11-20T01:00:00Z".parse().unwrap()), "2026-11-20 10:00:00");
}
