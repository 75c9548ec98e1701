//! One suite for every backend: each case gets a fresh database from the
//! backend's `fresh` function. SQLite runs here; PostgreSQL runs the same
//! cases against a server the test starts itself.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use model::Level;
use soc::assets::Inventory;
use soc::sla::{CalendarSpec, SlaState};
use soc::suppress::Suppression;
use soc::{Detection, Disposition, Entity, EntityKind, Status, TriagePolicy};

use super::{
    Acted, AlertQuery, AuditSeal, By, Incident, IncidentAction, IncidentQuery, NewSearch, PageAck, State, StateError,
};

/// Makes a fresh, empty state store (two calls with the same `name` give
/// two handles on one database, for the concurrency case).
pub(super) type Fresh<'a> = &'a dyn Fn(&str) -> State;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn at(mins: i64) -> Timestamp {
    t("2026-11-20T01:00:00Z") + SignedDuration::from_mins(mins)
}

/// A detection as the engine writes it to the alert journal.
fn detection(n: u32, rule: &str, level: &str, mins: i64, event: serde_json::Value) -> Detection {
    tagged(n, rule, level, &["attack.t1110"], mins, event)
}

/// [`detection`] of a rule with these tags.
fn tagged(n: u32, rule: &str, level: &str, tags: &[&str], mins: i64, event: serde_json::Value) -> Detection {
    let line = serde_json::json!({
        "id": format!("{n}.0.{rule}"), "kind": "sigma", "event_id": format!("{n}.0"),
        "@timestamp": at(mins).to_string(), "tenant": "acme", "source": "winlog", "level": level,
        "title": format!("Rule {rule}"),
        "rule": {"id": rule, "title": format!("Rule {rule}"), "level": level, "tags": tags, "author": "Hinomi tests", "path": "x.yml"},
        "event": event,
    });
    Detection::from_alert_line(&serde_json::to_vec(&line).unwrap()).unwrap()
}

/// `actor` acting for tenant `acme` at `now`.
fn by(actor: &str, now: Timestamp) -> By<'_> {
    By { tenant: "acme", actor, now }
}

/// The tenant `acme`'s incidents, most recently active first.
fn incidents(s: &State) -> Vec<super::Incident> {
    s.incidents("acme", &IncidentQuery { limit: 10, ..Default::default() }).unwrap()
}

fn logon(user: &str, host: &str, ip: &str) -> serde_json::Value {
    serde_json::json!({"host.name": host, "user.name": user, "source.ip": ip})
}

fn check_scenario(fresh: Fresh<'_>) {
    let s = fresh("scenario");
    // Brute force: five failures from one address, then a success, then
    // a privilege escalation on the same host, then noise elsewhere.
    let mut ds: Vec<Detection> = (0..5)
        .map(|i| detection(i, "brute-force", "medium", i as i64, logon("alice", "WS-042", "203.0.113.7")))
        .collect();
    ds.push(detection(5, "logon-after-failures", "high", 6, logon("alice", "WS-042", "203.0.113.7")));
    ds.push(detection(6, "privilege-escalation", "high", 9, serde_json::json!({"host.name": "ws-042", "user.name": "CORP\\alice", "process.executable": "C:\\Windows\\System32\\cmd.exe"})));
    ds.push(detection(7, "brute-force", "medium", 10, logon("bob", "WS-100", "198.51.100.9")));
    let out = s.triage(&ds, Some(("triage", 42)), at(11)).unwrap();
    assert_eq!((out.new_alerts, out.deduplicated, out.incidents_opened, out.joined_incidents), (4, 4, 2, 2), "{out:?}");
    assert_eq!(s.position("triage").unwrap(), 42);

    let incidents = incidents(&s);
    assert_eq!(incidents.len(), 2, "{incidents:#?}");
    let i = incidents.iter().find(|i| i.entities.iter().any(|e| e.value == "alice")).unwrap();
    let e = |k, v: &str| Entity { kind: k, value: v.into() };
    assert_eq!(
        i.entities,
        [
            e(EntityKind::Host, "ws-042"),
            e(EntityKind::User, "alice"),
            e(EntityKind::Ip, "203.0.113.7"),
            e(EntityKind::Process, "c:\\windows\\system32\\cmd.exe")
        ]
    );
    assert_eq!((i.severity, i.status, i.alert_count, i.first_seen), (Level::High, Status::New, 3, at(0)));
    let alerts = s.alerts("acme", &AlertQuery { incident_id: Some(i.id), limit: 10, ..Default::default() }).unwrap();
    let brute = alerts.iter().find(|a| a.rule_id == "brute-force").unwrap();
    assert_eq!((brute.count, brute.first_seen, brute.last_seen, brute.evidence.len()), (5, at(0), at(4), 5));
    assert_eq!(brute.author.as_deref(), Some("Hinomi tests"));
    let timeline = s.timeline("acme", i.id).unwrap();
    let kinds: Vec<(&str, &str)> =
        timeline.iter().filter(|t| t.kind == "alert").map(|t| (t.kind, t.actor.as_str())).collect();
    assert_eq!(kinds, [("alert", "brute-force"), ("alert", "logon-after-failures"), ("alert", "privilege-escalation")]);

    // The same detections again (a replay past the position is the
    // caller's to skip; a new repeat within the window only counts).
    let again = s
        .triage(&[detection(8, "brute-force", "medium", 30, logon("alice", "WS-042", "203.0.113.7"))], None, at(31))
        .unwrap();
    assert_eq!((again.new_alerts, again.deduplicated), (0, 1));
    // Past the dedup window it is a new alert, in the same incident.
    let later = s
        .triage(&[detection(9, "brute-force", "medium", 120, logon("alice", "WS-042", "203.0.113.7"))], None, at(121))
        .unwrap();
    assert_eq!((later.new_alerts, later.joined_incidents), (1, 1));
    assert_eq!(s.incident("acme", i.id).unwrap().alert_count, 4);
    // Rule statistics count as triage goes: brute-force has three alerts
    // (alice twice, bob once) of eight detections.
    let stats: Vec<(String, i64, i64)> =
        s.rule_stats("acme").unwrap().into_iter().map(|r| (r.rule_id, r.alerts, r.detections)).collect();
    let want = [("brute-force", 3, 8), ("logon-after-failures", 1, 1), ("privilege-escalation", 1, 1)];
    assert_eq!(stats, want.map(|(r, a, d)| (r.to_string(), a, d)));
    assert!(s.rule_stats("other").unwrap().is_empty());
    // The entity page's view of alice: her incident, the alerts naming
    // her (not bob's), first and last seen, who she appears with.
    let alice = s.entity("acme", &e(EntityKind::User, "alice"), at(121)).unwrap();
    assert_eq!(alice.incidents.iter().map(|i| i.id).collect::<Vec<_>>(), [i.id]);
    let rules: Vec<&str> = alice.alerts.iter().map(|a| a.rule_id.as_str()).collect();
    // Newest activity first: the first brute force was last seen at 30.
    assert_eq!(rules, ["brute-force", "brute-force", "privilege-escalation", "logon-after-failures"]);
    assert_eq!((alice.first_seen, alice.last_seen), (Some(at(0)), Some(at(120))));
    assert!(alice.risk > 0.0);
    assert_eq!(alice.related[0], (e(EntityKind::Host, "ws-042"), 4));
    assert!(!alice.related.iter().any(|(r, _)| r.value == "bob"));
    // Another tenant sees none of it.
    assert!(s.incidents("other", &IncidentQuery { limit: 10, ..Default::default() }).unwrap().is_empty());
    assert!(matches!(s.incident("other", i.id), Err(StateError::NotFound(_))));
    assert!(s.entity("other", &e(EntityKind::User, "alice"), at(121)).unwrap().alerts.is_empty());
}

fn check_suppression(fresh: Fresh<'_>) {
    let s = fresh("suppression");
    let sup = Suppression {
        id: 0,
        tenant: "acme".into(),
        rule: "brute-force".into(),
        conditions: vec![("host".into(), "ws-042".into())],
        owner: "carol".into(),
        reason: "pentest this week".into(),
        expires: at(60),
        created: at(0),
    };
    let mut bad = sup.clone();
    bad.reason = " ".into();
    assert!(
        matches!(s.add_suppression(&by("carol", at(0)), &bad), Err(StateError::Invalid(m)) if m.contains("reason"))
    );
    let id = s.add_suppression(&by("carol", at(0)), &sup).unwrap();
    let out = s
        .triage(
            &[
                detection(1, "brute-force", "high", 10, logon("alice", "WS-042", "203.0.113.7")),
                detection(2, "brute-force", "high", 11, logon("alice", "WS-042", "203.0.113.7")),
                detection(3, "brute-force", "high", 12, logon("alice", "WS-043", "203.0.113.7")),
            ],
            None,
            at(12),
        )
        .unwrap();
    assert_eq!((out.suppressed, out.new_alerts), (2, 1));
    let sups = s.suppressions("acme").unwrap();
    assert_eq!((sups[0].0.id, sups[0].1), (id, 2));
    // Suppressed alerts are kept and counted, not in the open queue.
    let hidden =
        s.alerts("acme", &AlertQuery { status: Some("suppressed".into()), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(
        (hidden.len(), hidden[0].count, hidden[0].suppression_id, hidden[0].incident_id),
        (1, 2, Some(id), None)
    );
    // After the expiry the same detection opens an alert again.
    let out = s
        .triage(&[detection(4, "brute-force", "high", 70, logon("alice", "WS-042", "203.0.113.7"))], None, at(70))
        .unwrap();
    assert_eq!((out.suppressed, out.new_alerts), (0, 1));
    // Rule statistics leave suppressed detections out.
    let r = &s.rule_stats("acme").unwrap()[0];
    assert_eq!((r.alerts, r.detections), (2, 2));
}

fn check_severity_and_risk(fresh: Fresh<'_>) {
    let s = fresh("risk");
    let inv =
        Inventory::from_csv("kind,match,criticality,owner,business_unit\nhost,dc-*,critical,AD team,IT\n").unwrap();
    assert_eq!(s.replace_assets(&by("lead", at(0)), &inv).unwrap(), 1);
    assert_eq!(s.assets("acme").unwrap(), inv);
    s.triage(&[detection(1, "odd-logon", "medium", 0, logon("svc", "DC-01", "10.0.0.5"))], None, at(0)).unwrap();
    let a = &s.alerts("acme", &AlertQuery { limit: 1, ..Default::default() }).unwrap()[0];
    assert_eq!((a.level, a.severity), (Level::Medium, Level::Critical));

    // Low alerts open no incident, but their risk adds up on the user.
    let lows: Vec<Detection> = (0..21)
        .map(|i| {
            detection(
                10 + i,
                &format!("low-{i}"),
                "low",
                i as i64,
                logon("dave", &format!("ws-{i}"), &format!("10.1.0.{i}")),
            )
        })
        .collect();
    let out = s.triage(&lows, None, at(30)).unwrap();
    assert_eq!((out.incidents_opened, out.risk_incidents), (0, 1), "{out:?}");
    let dave = Entity::new(EntityKind::User, "dave").unwrap();
    assert!(s.risk("acme", &dave, at(30)).unwrap() >= 100.0);
    assert!(s.risk("acme", &dave, at(30 + 24 * 60 * 3)).unwrap() < 20.0, "risk fades");
    // Risk over time: each active hour's peak; a later alert moves the
    // finished hour to the history.
    let peak_then = s.risk("acme", &dave, at(30)).unwrap();
    assert_eq!(s.risk_history("acme", &dave).unwrap(), [(at(0), peak_then)]);
    s.triage(&[detection(40, "low-late", "low", 200, logon("dave", "ws-1", "10.1.0.1"))], None, at(200)).unwrap();
    let now = s.risk("acme", &dave, at(200)).unwrap();
    assert_eq!(s.risk_history("acme", &dave).unwrap(), [(at(0), peak_then), (at(180), now)]);
    assert!(s.risk_history("acme", &Entity::new(EntityKind::User, "nobody").unwrap()).unwrap().is_empty());
    let risk = incidents(&s);
    let r = risk.iter().find(|i| i.kind == "risk").unwrap();
    assert_eq!((r.severity, r.entities.clone()), (Level::High, vec![dave]));
}

/// Applies an action as the API and the console send it: JSON with its
/// name as the `action` tag.
fn act(s: &State, by: &By<'_>, id: i64, action: serde_json::Value) -> Result<Acted, StateError> {
    let action: IncidentAction = serde_json::from_value(action).unwrap();
    s.act(by, id, &action)
}

fn incident_of(acted: Result<Acted, StateError>) -> Incident {
    match acted.unwrap() {
        Acted::Incident(i) => *i,
        other => panic!("not an incident: {other:?}"),
    }
}

/// An incident is named by its most severe, most advanced step, until a
/// person names it.
fn check_incident_title(fresh: Fresh<'_>) {
    let s = fresh("title");
    let alice = || logon("alice", "WS-042", "203.0.113.7");
    let title = |s: &State| incidents(s)[0].title.clone();
    let steps = [
        ("brute-force", "medium", "attack.credential_access", "Rule brute-force on ws-042"),
        ("psexec", "high", "attack.lateral_movement", "Rule psexec on ws-042"),
        ("upload", "high", "attack.exfiltration", "Rule upload on ws-042"),
        // Less advanced than the upload: the title stays.
        ("new-admin", "high", "attack.persistence", "Rule upload on ws-042"),
    ];
    for (n, (rule, level, tactic, want)) in steps.into_iter().enumerate() {
        s.triage(&[tagged(n as u32, rule, level, &[tactic], n as i64, alice())], None, at(n as i64 + 1)).unwrap();
        assert_eq!(title(&s), want, "after {rule}");
    }
    let i = incidents(&s)[0].clone();
    let edit = serde_json::json!({"action": "edit", "version": i.version, "title": "Alice's account taken over"});
    incident_of(act(&s, &by("erin", at(10)), i.id, edit));
    s.triage(&[tagged(9, "ransom", "critical", &["attack.impact"], 11, alice())], None, at(12)).unwrap();
    assert_eq!(title(&s), "Alice's account taken over", "a person's title is kept");
}

/// The life cycle, every step an [`IncidentAction`] read from JSON.
fn check_life_cycle(fresh: Fresh<'_>) {
    use serde_json::json;
    let s = fresh("life");
    s.triage(&[detection(1, "r", "high", 0, logon("alice", "ws-1", "203.0.113.7"))], None, at(0)).unwrap();
    let i = &incidents(&s)[0];
    let v = i.version;
    let i =
        incident_of(act(&s, &by("lead", at(1)), i.id, json!({"action": "assign", "version": v, "assignee": "erin"})));
    let i = incident_of(act(
        &s,
        &by("erin", at(2)),
        i.id,
        json!({"action": "status", "version": i.version, "status": "investigating"}),
    ));
    assert_eq!((i.acknowledged, i.assignee.as_deref()), (Some(at(2)), Some("erin")));
    // A stale version is refused, not overwritten.
    let stale = act(&s, &by("frank", at(3)), i.id, json!({"action": "assign", "version": v, "assignee": "frank"}));
    assert!(matches!(stale, Err(StateError::Conflict { current }) if current == i.version));
    let closing = json!({"action": "status", "version": i.version, "status": "closed"});
    let err = act(&s, &by("erin", at(3)), i.id, closing).unwrap_err();
    assert!(err.to_string().contains("disposition"), "{err}");
    let note = json!({"action": "note", "body": "Reset **alice**'s password."});
    assert!(matches!(act(&s, &by("erin", at(4)), i.id, note), Ok(Acted::Note(_))));
    let task = json!({"action": "task", "title": "Reimage ws-1", "owner": "it-ops"});
    let Ok(Acted::Task(task)) = act(&s, &by("erin", at(4)), i.id, task) else { panic!("no task") };
    let done = act(&s, &by("it-ops", at(5)), i.id, json!({"action": "task_done", "task": task}));
    assert_eq!(done.unwrap(), Acted::TaskDone(task));
    let evidence =
        json!({"action": "evidence", "kind": "file", "ref": "s3://evidence/ws-1.mem", "note": "memory image"});
    assert!(matches!(act(&s, &by("erin", at(5)), i.id, evidence), Ok(Acted::Evidence(_))));
    let v = s.incident("acme", i.id).unwrap().version;
    let i = incident_of(act(&s, &by("erin", at(6)), i.id, json!({"action": "waiting", "version": v})));
    let i = incident_of(act(
        &s,
        &by("erin", at(8)),
        i.id,
        json!({"action": "status", "version": i.version, "status": "resolved", "disposition": "true_positive"}),
    ));
    assert_eq!(
        (i.status, i.disposition, i.resolved, i.pauses.clone()),
        (Status::Resolved, Some(Disposition::TruePositive), Some(at(8)), vec![(at(6), Some(at(8)))])
    );
    let i = incident_of(act(
        &s,
        &by("lead", at(9)),
        i.id,
        json!({"action": "status", "version": i.version, "status": "closed"}),
    ));
    assert_eq!(i.disposition, Some(Disposition::TruePositive));
    // Its alerts are closed with it: a repeat opens a new alert and incident.
    assert_eq!(s.alert_counts("acme").unwrap(), [("closed".to_string(), 1)]);
    let out = s.triage(&[detection(2, "r", "high", 10, logon("alice", "ws-1", "203.0.113.7"))], None, at(10)).unwrap();
    assert_eq!((out.new_alerts, out.deduplicated, out.incidents_opened), (1, 0, 1));
    // Every move is in the timeline with who and when.
    let moves: Vec<(Timestamp, String, String)> = s
        .timeline("acme", i.id)
        .unwrap()
        .into_iter()
        .filter(|t| t.kind != "alert")
        .map(|t| (t.at, t.actor, t.what))
        .collect();
    let want = [
        (at(0), "hinomi", "opened"),
        (at(0), "hinomi", "alert"),
        (at(1), "lead", "assign"),
        (at(2), "erin", "status"),
        (at(4), "erin", "task"),
        (at(4), "erin", "note"),
        (at(5), "it-ops", "task_done"),
        (at(5), "erin", "evidence"),
        (at(6), "erin", "waiting"),
        (at(8), "erin", "status"),
        (at(9), "lead", "status"),
    ];
    let want: Vec<(Timestamp, String, String)> =
        want.iter().map(|(t, a, w)| (*t, a.to_string(), w.to_string())).collect();
    assert_eq!(moves, want);
    let stats = s.rule_stats("acme").unwrap();
    assert_eq!(
        (stats[0].true_positive, stats[0].false_positive_rate, stats[0].mean_time_to_triage_secs),
        (1, Some(0.0), Some(120.0))
    );
}

fn check_concurrent_analysts(fresh: Fresh<'_>) {
    let a = Arc::new(fresh("concurrent"));
    let b = Arc::new(fresh("concurrent"));
    a.triage(&[detection(1, "r", "high", 0, logon("alice", "ws-1", "203.0.113.7"))], None, at(0)).unwrap();
    let id = incidents(&a)[0].id;
    // Two analysts each append their mark to the title 25 times, each
    // read-modify-write on its own connection, retrying on conflict.
    let conflicts = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (s, mark) in [(&a, 'a'), (&b, 'b')] {
            let conflicts = &conflicts;
            scope.spawn(move || {
                for _ in 0..25 {
                    loop {
                        let i = s.incident("acme", id).unwrap();
                        std::thread::yield_now();
                        match s.edit(
                            &by(&mark.to_string(), at(1)),
                            id,
                            i.version,
                            Some(&format!("{}{mark}", i.title)),
                            None,
                        ) {
                            Ok(_) => break,
                            Err(StateError::Conflict { .. }) => {
                                conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let i = a.incident("acme", id).unwrap();
    let marks = |c| i.title.chars().filter(|x| *x == c).count();
    assert_eq!((marks('a'), marks('b')), (25, 25), "no update lost: {}", i.title);
    assert_eq!(i.version, 1 + 50);
    eprintln!("concurrent analysts: {} conflicts retried", conflicts.into_inner());
}

fn check_merge_and_split(fresh: Fresh<'_>) {
    let s = fresh("merge");
    s.triage(
        &[
            detection(1, "r1", "high", 0, logon("alice", "ws-1", "203.0.113.7")),
            detection(2, "r2", "high", 1, logon("bob", "ws-2", "198.51.100.9")),
        ],
        None,
        at(2),
    )
    .unwrap();
    let list = incidents(&s);
    let (x, y) = (list[1].id, list[0].id);
    let merged = s.merge(&by("lead", at(3)), x, y).unwrap();
    assert_eq!((merged.alert_count, merged.entities.len()), (2, 6));
    let gone = s.incident("acme", y).unwrap();
    assert_eq!((gone.status, gone.disposition), (Status::Closed, Some(Disposition::Duplicate)));
    let bob_alert =
        s.alerts("acme", &AlertQuery { rule_id: Some("r2".into()), limit: 1, ..Default::default() }).unwrap()[0].id;
    let split = s.split(&by("lead", at(4)), x, &[bob_alert]).unwrap();
    assert_eq!((split.alert_count, split.first_seen), (1, at(1)));
    assert!(split.entities.iter().any(|e| e.value == "bob"));
    assert_eq!(s.incident("acme", x).unwrap().alert_count, 1);
    assert!(s.split(&by("lead", at(5)), x, &[bob_alert]).is_err(), "the alert left");
    let log: Vec<String> = s.timeline("acme", x).unwrap().into_iter().map(|t| t.what).collect();
    assert!(log.contains(&"merge".to_string()) && log.contains(&"split".to_string()), "{log:?}");
}

fn check_sla(fresh: Fresh<'_>) {
    let s = fresh("sla");
    let tokyo = CalendarSpec {
        tz: Some("Asia/Tokyo".into()),
        days: Some("mon-fri".into()),
        open: Some("09:00".into()),
        close: Some("18:00".into()),
        holidays: vec!["2026-11-23".into()],
        ..Default::default()
    };
    s.set_sla_policy(
        &by("lead", at(0)),
        Level::High,
        SignedDuration::from_mins(30),
        SignedDuration::from_hours(4),
        &tokyo,
    )
    .unwrap();
    let bad = CalendarSpec { tz: Some("Mars/Olympus".into()), ..Default::default() };
    assert!(
        s.set_sla_policy(
            &by("lead", at(0)),
            Level::Low,
            SignedDuration::from_hours(1),
            SignedDuration::from_hours(2),
            &bad
        )
        .is_err()
    );
    // Opened Friday 17:50 JST; created is the triage time.
    let friday = t("2026-11-20T17:50:00+09:00");
    s.triage(&[detection(1, "r", "high", 0, logon("alice", "ws-1", "203.0.113.7"))], None, friday).unwrap();
    let id = incidents(&s)[0].id;
    // Over the weekend and Monday's holiday only ten minutes have run.
    let r = s.sla("acme", id, t("2026-11-23T20:00:00+09:00")).unwrap().unwrap();
    assert_eq!((r.acknowledge.state, r.acknowledge.elapsed), (SlaState::Running, SignedDuration::from_mins(10)));
    assert_eq!(r.acknowledge.due, Some(t("2026-11-24T09:20:00+09:00")));
    assert!(s.sla_sweep(t("2026-11-23T20:00:00+09:00")).unwrap().is_empty());
    // Tuesday 09:16: near breach, notified once.
    let n = s.sla_sweep(t("2026-11-24T09:16:00+09:00")).unwrap();
    assert_eq!(n.iter().map(|x| x.2.as_str()).collect::<Vec<_>>(), ["acknowledge_near_breach"]);
    assert!(s.sla_sweep(t("2026-11-24T09:17:00+09:00")).unwrap().is_empty());
    // 09:30: breached; the incident escalates one step.
    let n = s.sla_sweep(t("2026-11-24T09:30:00+09:00")).unwrap();
    assert_eq!(n.iter().map(|x| x.2.as_str()).collect::<Vec<_>>(), ["acknowledge_breach"]);
    assert_eq!(s.incident("acme", id).unwrap().severity, Level::Critical);
    let kinds: Vec<String> =
        s.notifications("acme", 10).unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["acknowledge_breach", "acknowledge_near_breach"]);
    assert!(s.notifications("other", 10).unwrap().is_empty());
    // Waiting on the customer stops the resolve clock.
    let i = s.incident("acme", id).unwrap();
    let i =
        s.transition(&by("erin", t("2026-11-24T09:40:00+09:00")), id, i.version, Status::Acknowledged, None).unwrap();
    s.wait_on_customer(&by("erin", t("2026-11-24T10:00:00+09:00")), id, i.version, true).unwrap();
    let r = s.sla("acme", id, t("2026-11-25T17:00:00+09:00")).unwrap();
    // Critical now: no policy for it, so no clocks.
    assert!(r.is_none());
    s.set_sla_policy(
        &by("lead", at(0)),
        Level::Critical,
        SignedDuration::from_mins(15),
        SignedDuration::from_hours(2),
        &tokyo,
    )
    .unwrap();
    let r = s.sla("acme", id, t("2026-11-25T17:00:00+09:00")).unwrap().unwrap();
    assert_eq!(
        (r.resolve.state, r.resolve.elapsed, r.resolve.due),
        (SlaState::Paused, SignedDuration::from_mins(70), None)
    );
    assert_eq!(r.acknowledge.state, SlaState::Breached);
}

fn check_escalation(fresh: Fresh<'_>) {
    let s = fresh("escalation");
    s.triage(
        &[
            detection(1, "brute-force", "high", 0, logon("alice", "ws-1", "203.0.113.7")),
            detection(2, "lateral", "high", 5, logon("alice", "ws-2", "203.0.113.7")),
        ],
        None,
        at(6),
    )
    .unwrap();
    let i = &incidents(&s)[0];
    s.add_task(&by("erin", at(7)), i.id, "Check ws-2 for persistence", Some("erin")).unwrap();
    let i = s.incident("acme", i.id).unwrap();
    let e = s.escalate(&by("erin", at(8)), i.id, i.version, "csirt@example.org").unwrap();
    assert_eq!((e.incident.escalated_to.as_deref(), e.incident.escalated), (Some("csirt@example.org"), Some(at(8))));
    assert_eq!((e.scope.hosts.clone(), e.scope.first_sign), (vec!["ws-1".to_string(), "ws-2".to_string()], at(0)));
    assert_eq!(e.scope.spread, ["user:alice", "ip:203.0.113.7"]);
    assert_eq!(e.alerts.len(), 2);
    assert!(e.actions_taken.iter().any(|a| a.what == "task") && e.actions_taken.iter().any(|a| a.what == "escalate"));
    assert!(e.open_questions.iter().any(|q| q.contains("persistence")), "{:?}", e.open_questions);
    assert!(e.summary.contains("2 alert(s)"), "{}", e.summary);
    assert_eq!(e.evidence.len(), 2);
    // A closed incident is not handed off; reopened, it can be.
    let close = serde_json::json!({"action": "status", "version": e.incident.version, "status": "closed", "disposition": "true_positive"});
    let closed = incident_of(act(&s, &by("erin", at(9)), i.id, close));
    let refused = s.escalate(&by("erin", at(10)), i.id, closed.version, "csirt@example.org");
    assert!(matches!(&refused, Err(StateError::Invalid(why)) if why.contains("reopen")), "{refused:?}");
}

fn check_queue_paging(fresh: Fresh<'_>) {
    let s = fresh("paging");
    let ds: Vec<Detection> =
        (0..25).map(|i| detection(i, &format!("r{i}"), "low", i as i64, logon("u", "h", "10.0.0.1"))).collect();
    s.triage(&ds, None, at(30)).unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s.alerts("acme", &AlertQuery { before, limit: 10, ..Default::default() }).unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|a| (a.last_seen, a.id));
        seen.extend(page.into_iter().map(|a| a.rule_id));
    }
    let want: Vec<String> = (0..25).rev().map(|i| format!("r{i}")).collect();
    assert_eq!(seen, want);
    assert_eq!(s.alert_counts("acme").unwrap(), [("open".to_string(), 25)]);

    // Most severe first, paged by (severity, last seen, id): r1 and r2
    // raised again as high, newest of them first.
    let ds =
        [1, 2].map(|i| detection(30 + i, &format!("r{i}-high"), "high", 30 + i as i64, logon("u", "h", "10.0.0.1")));
    s.triage(&ds, None, at(40)).unwrap();
    let (mut seen, mut before, mut before_severity) = (Vec::new(), None, None);
    loop {
        let q = AlertQuery { by_severity: true, before, before_severity, limit: 2, ..Default::default() };
        let page = s.alerts("acme", &q).unwrap();
        let Some(last) = page.last() else { break };
        (before, before_severity) = (Some((last.last_seen, last.id)), Some(last.severity));
        seen.extend(page.into_iter().map(|a| a.rule_id));
    }
    assert_eq!(seen.len(), 27);
    assert_eq!(&seen[..4], ["r2-high", "r1-high", "r24", "r23"]);
    // High and above, newest first, and by severity.
    for by_severity in [false, true] {
        let q = AlertQuery { min_severity: Some(Level::High), by_severity, limit: 50, ..Default::default() };
        let ids: Vec<String> = s.alerts("acme", &q).unwrap().into_iter().map(|a| a.rule_id).collect();
        assert_eq!(ids, ["r2-high", "r1-high"]);
    }
    // A rule by part of its title, in any case; `_` and `%` are letters.
    let titled = |t: &str| -> Vec<String> {
        let q = AlertQuery { rule_title: Some(t.into()), limit: 50, ..Default::default() };
        s.alerts("acme", &q).unwrap().into_iter().map(|a| a.rule_id).collect()
    };
    assert_eq!(titled("RULE R1-"), ["r1-high"]);
    assert_eq!(titled("r2"), ["r2-high", "r24", "r23", "r22", "r21", "r20", "r2"]);
    assert!(titled("%").is_empty() && titled("_").is_empty());
    // News since a moment: the two triage raised after it (at 40).
    assert_eq!(s.alerts_since("acme", at(35)).unwrap(), 2);
    assert_eq!(s.alerts_since("acme", at(40)).unwrap(), 0);
    assert_eq!(s.alerts_since("other", at(0)).unwrap(), 0);
}

fn check_audit(fresh: Fresh<'_>) {
    let trail = |name: &str| {
        let s = fresh(name);
        s.triage(&[detection(1, "r", "high", 0, logon("alice", "ws-1", "203.0.113.7"))], None, at(0)).unwrap();
        let i = &incidents(&s)[0];
        let i = s.assign(&by("lead", at(1)), i.id, i.version, Some("erin")).unwrap();
        s.add_note(&by("erin", at(2)), i.id, "looking").unwrap();
        let i = s.transition(&by("erin", at(3)), i.id, i.version, Status::Investigating, None).unwrap();
        s.transition(&by("erin", at(4)), i.id, i.version, Status::Closed, Some(Disposition::FalsePositive)).unwrap();
        s.audit(&by("erin", at(5)), "export", "alerts", &serde_json::json!({"rows": 1})).unwrap();
        s
    };
    let s = trail("audit_ok");
    let r = s.audit_verify(None).unwrap();
    assert_eq!((r.entries, r.problem.clone()), (5, None));
    let who: Vec<(String, String)> =
        s.audit_entries(Some("acme"), 0, 100).unwrap().into_iter().map(|e| (e.actor, e.action)).collect();
    let want = [("lead", "assign"), ("erin", "note"), ("erin", "status"), ("erin", "status"), ("erin", "export")];
    assert_eq!(who, want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert!(s.audit_entries(Some("other"), 0, 100).unwrap().is_empty());
    let (seq, hash) = r.head.unwrap();
    assert!(s.audit_verify(Some((seq, &hash))).unwrap().problem.is_none());

    let problem = |s: &State, head: Option<(i64, &str)>| s.audit_verify(head).unwrap().problem.unwrap_or_default();
    let s = trail("audit_altered");
    s.exec_raw("UPDATE audit SET actor = 'mallory' WHERE seq = 2").unwrap();
    assert!(problem(&s, None).contains("entry 2 was altered"), "{}", problem(&s, None));
    // Rewriting the hash too breaks the link from the next entry.
    let s = trail("audit_rehashed");
    s.exec_raw("UPDATE audit SET hash = 'f00d' WHERE seq = 2").unwrap();
    assert!(problem(&s, None).contains("entry 2 was altered"));
    s.exec_raw("UPDATE audit SET hash = (SELECT hash FROM audit WHERE seq = 1), prev = 'x' WHERE seq = 2").unwrap();
    assert!(problem(&s, None).contains("entry 2 does not link"), "{}", problem(&s, None));
    let s = trail("audit_removed");
    s.exec_raw("DELETE FROM audit WHERE seq = 3").unwrap();
    assert!(problem(&s, None).contains("entry 3 is missing"));
    // Two entries swapped, numbers and all.
    let s = trail("audit_reordered");
    s.exec_raw("UPDATE audit SET seq = -2 WHERE seq = 2").unwrap();
    s.exec_raw("UPDATE audit SET seq = 2 WHERE seq = 3").unwrap();
    s.exec_raw("UPDATE audit SET seq = 3 WHERE seq = -2").unwrap();
    assert!(problem(&s, None).contains("entry 2 does not link"), "{}", problem(&s, None));
    // Cutting the newest entries is seen against a recorded head.
    let s = trail("audit_cut");
    let head = s.audit_verify(None).unwrap().head.unwrap();
    s.exec_raw("DELETE FROM audit WHERE seq = 5").unwrap();
    assert!(s.audit_verify(None).unwrap().problem.is_none(), "without a head a cut tail looks whole");
    assert!(problem(&s, Some((head.0, &head.1))).contains("removed"));
}

/// The keyed chain: someone who can write to the database but has not the
/// key can neither rewrite an entry (recomputing every later hash the only
/// way they can) nor cut the newest entries, and `verify` alone sees both.
fn check_audit_sealed(fresh: Fresh<'_>) {
    use super::audit::digest;
    let seal = |name: &str| {
        let anchor = std::env::temp_dir().join(format!("hinomi-audit-{name}-{}.head", std::process::id()));
        let _ = std::fs::remove_file(&anchor);
        AuditSeal { key: Some(b"0123456789abcdef0123456789abcdef".to_vec()), anchor: Some(anchor) }
    };
    let trail = |name: &str| {
        let s = fresh(name).with_seal(seal(name));
        for (i, who) in ["lead", "erin", "erin", "bob", "erin"].into_iter().enumerate() {
            s.audit(&by(who, at(i as i64)), "export", "alerts", &serde_json::json!({"rows": i})).unwrap();
        }
        s
    };
    let problem = |s: &State| s.audit_verify(None).unwrap().problem.unwrap_or_default();
    let entries = |s: &State| s.audit_entries(None, 0, 100).unwrap();

    let s = trail("sealed_ok");
    assert_eq!(s.audit_verify(None).unwrap().problem, None);
    assert!(entries(&s).iter().all(|e| e.hash.starts_with("hmac:") && e.hash.len() == 5 + 64));

    // Entry 2 rewritten, every later one relinked and rehashed: without the
    // key an attacker can only use a plain hash, or guess a key.
    for (name, key) in [("sealed_rewritten", None), ("sealed_guessed", Some(&b"not the key, but as long as it"[..]))] {
        let s = trail(name);
        let mut prev = entries(&s)[0].hash.clone();
        for mut e in entries(&s).into_iter().skip(1) {
            if e.seq == 2 {
                e.actor = "mallory".into();
            }
            e.prev = prev;
            e.hash = digest(&e, key);
            s.exec_raw(&format!(
                "UPDATE audit SET actor = '{}', prev = '{}', hash = '{}' WHERE seq = {}",
                e.actor, e.prev, e.hash, e.seq
            ))
            .unwrap();
            prev = e.hash;
        }
        let p = problem(&s);
        assert!(p.contains("entry 2 is not keyed") || p.contains("entry 2 was altered"), "{name}: {p}");
    }
    // The whole chain rewritten plain: the anchor outside names a hash no
    // entry has any more.
    let s = trail("sealed_all_plain");
    let mut prev = "0".repeat(64);
    for mut e in entries(&s) {
        e.prev = prev;
        e.hash = digest(&e, None);
        s.exec_raw(&format!("UPDATE audit SET prev = '{}', hash = '{}' WHERE seq = {}", e.prev, e.hash, e.seq))
            .unwrap();
        prev = e.hash;
    }
    assert!(problem(&s).contains("entry 5, the newest written"), "{}", problem(&s));
    // The newest entries cut.
    let s = trail("sealed_cut");
    s.exec_raw("DELETE FROM audit WHERE seq >= 4").unwrap();
    assert!(problem(&s).contains("entry 5, the newest written (the anchor outside the database), is gone"));
    // Verifying without the key says so rather than passing.
    let unkeyed = fresh("sealed_ok").with_seal(AuditSeal::default());
    assert!(problem(&unkeyed).contains("entry 1 is keyed and no audit key"), "{}", problem(&unkeyed));

    // A trail begun without a key goes on keyed, and still verifies.
    let name = "sealed_later";
    let s = fresh(name);
    s.audit(&by("erin", at(0)), "export", "alerts", &serde_json::json!({})).unwrap();
    let s = fresh(name).with_seal(seal(name));
    s.audit(&by("erin", at(1)), "export", "alerts", &serde_json::json!({})).unwrap();
    let hashes: Vec<bool> = entries(&s).iter().map(|e| e.hash.starts_with("hmac:")).collect();
    assert_eq!(hashes, [false, true]);
    assert_eq!(s.audit_verify(None).unwrap().problem, None);
    drop(unkeyed);
}

fn check_incident_cap(fresh: Fresh<'_>) {
    let s = fresh("cap");
    let max = TriagePolicy::default().max_incident_alerts;
    let ds: Vec<Detection> = (0..max as u32 + 2)
        .map(|i| detection(i, &format!("r{i}"), "medium", 0, logon(&format!("u{i}"), "shared-host", "10.0.0.1")))
        .collect();
    s.triage(&ds, None, at(1)).unwrap();
    let list = incidents(&s);
    let mut sizes: Vec<i64> = list.iter().map(|i| i.alert_count).collect();
    sizes.sort();
    assert_eq!(sizes, [2, max as i64]);
    // Lists show the first entities of an incident; its page shows all.
    let big = list.iter().find(|i| i.alert_count == max as i64).unwrap();
    assert_eq!(big.entities.len(), 20);
    assert_eq!(s.incident("acme", big.id).unwrap().entities.len(), max + 2);
}

/// Triage remembers a tenant's open incidents, the incidents of each
/// entity and entities' risk, through a transaction and between them
/// (`triage::Memory`); grouping and risk must come out as if every
/// detection were a transaction of its own that reads them from the
/// tables: over a few days of detections on a handful of hosts and users,
/// with repeats, and some arriving hours late.
fn check_grouping_in_one_transaction_as_in_many(fresh: Fresh<'_>) {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let levels = ["low", "medium", "high"];
    let mut minute = 0i64;
    let mut ds: Vec<Detection> = Vec::new();
    for i in 0..400u32 {
        minute += next(40) as i64;
        let late = if next(12) == 0 { 300 } else { 0 };
        let d = if i > 0 && next(4) == 0 {
            // A repeat of an earlier detection, now.
            let mut d = ds[next(ds.len() as u64) as usize].clone();
            d.at = at(minute - late);
            d
        } else {
            let rule = next(6);
            let event = logon(&format!("u{}", next(5)), &format!("h{}", next(4)), &format!("10.0.0.{}", next(6)));
            detection(i, &format!("r{rule}"), levels[rule as usize % 3], minute - late, event)
        };
        ds.push(d);
    }
    let now = at(minute);
    let one = fresh("grouping_one");
    for d in &ds {
        one.forget();
        one.triage(std::slice::from_ref(d), None, now).unwrap();
    }
    let remembering = fresh("grouping_remembering");
    for d in &ds {
        remembering.triage(std::slice::from_ref(d), None, now).unwrap();
    }
    let many = fresh("grouping_many");
    many.triage(&ds, None, now).unwrap();
    let entities: Vec<Entity> = (0..6)
        .flat_map(|i| {
            [
                Entity { kind: EntityKind::User, value: format!("u{i}") },
                Entity { kind: EntityKind::Host, value: format!("h{i}") },
                Entity { kind: EntityKind::Ip, value: format!("10.0.0.{i}") },
            ]
        })
        .collect();
    let grouping = |s: &State| {
        let alerts = s.alerts("acme", &AlertQuery { limit: 1000, ..Default::default() }).unwrap();
        let mut alerts: Vec<_> = alerts.iter().map(|a| (a.id, a.incident_id, a.count, a.last_seen)).collect();
        alerts.sort();
        let list = s.incidents("acme", &IncidentQuery { limit: 1000, ..Default::default() }).unwrap();
        let mut list: Vec<_> = list.iter().map(|i| (i.id, i.alert_count, i.last_activity, i.title.clone())).collect();
        list.sort();
        let risk: Vec<f64> = entities.iter().map(|e| s.risk("acme", e, now).unwrap()).collect();
        (alerts, list, risk)
    };
    let (alerts, list, risk) = grouping(&one);
    assert!(risk.iter().filter(|r| **r > 0.0).count() > 10, "{risk:?}");
    // The case must have grouping to get wrong: alerts joined into
    // incidents, and incidents that stopped taking alerts.
    assert!(alerts.len() > 150 && list.len() > 10, "{} alerts, {} incidents", alerts.len(), list.len());
    assert!(alerts.iter().filter(|a| a.1.is_some()).count() > list.len() * 3);
    for other in [&remembering, &many] {
        let (batched, batched_list, batched_risk) = grouping(other);
        let first = alerts.iter().zip(&batched).position(|(a, b)| a != b);
        assert_eq!(first, None, "first alert grouped differently: {:?}", first.map(|i| (&alerts[i], &batched[i])));
        assert_eq!((batched.len(), &batched_list, &batched_risk), (alerts.len(), &list, &risk));
    }
}

fn check_users_and_sessions(fresh: Fresh<'_>) {
    use super::{Lockout, LoginOutcome, SessionLimits};
    use access::Scope;
    let s = fresh("users");
    let sys = |now| By { tenant: "", actor: "setup", now };
    // The store keeps whatever PHC string it is given; hashing is the caller's.
    s.add_user(&sys(at(0)), "erin", "$argon2id$stored", "", "Asia/Tokyo").unwrap();
    assert!(matches!(s.add_user(&sys(at(0)), "erin", "x", "", "UTC"), Err(StateError::Invalid(_))));
    assert!(matches!(s.add_user(&sys(at(0)), "Bad Name", "x", "", "UTC"), Err(StateError::Invalid(_))));
    assert!(matches!(s.add_user(&sys(at(0)), "tz", "x", "", "Mars/Base"), Err(StateError::Invalid(_))));
    assert!(matches!(s.add_user(&sys(at(0)), "lang", "x", "fr", "UTC"), Err(StateError::Invalid(_))));
    // Roles per tenant: an MSSP analyst holds two.
    s.grant(&By { tenant: "acme", actor: "admin", now: at(1) }, "erin", Some(Scope::Analyst)).unwrap();
    let erin = s.grant(&By { tenant: "globex", actor: "admin", now: at(1) }, "erin", Some(Scope::Read)).unwrap();
    assert_eq!(erin.grants, [("acme".to_string(), Scope::Analyst), ("globex".to_string(), Scope::Read)]);
    assert_eq!(erin.role("initech"), None);
    assert!(s.grant(&By { tenant: "acme", actor: "admin", now: at(1) }, "erin", Some(Scope::Ingest)).is_err());
    assert!(matches!(s.grant(&by("admin", at(1)), "nobody", Some(Scope::Read)), Err(StateError::NotFound(_))));
    let erin = s.grant(&By { tenant: "globex", actor: "admin", now: at(2) }, "erin", None).unwrap();
    assert_eq!(erin.grants.len(), 1);
    assert_eq!(s.users(Some("acme")).unwrap().len(), 1);
    assert!(s.users(Some("globex")).unwrap().is_empty());
    assert_eq!(s.password_of("erin").unwrap().as_deref(), Some("$argon2id$stored"));

    // Three failures lock for ten minutes; a lock holds against the right
    // password; a success resets the count.
    let lock = Lockout { failures: 3, duration: SignedDuration::from_mins(10) };
    let login = |ok: bool, now| s.record_login(&By { tenant: "", actor: "erin", now }, ok, lock).unwrap();
    assert_eq!(login(false, at(3)), LoginOutcome::Denied);
    assert!(matches!(login(true, at(3)), LoginOutcome::Ok(_)));
    assert_eq!(login(false, at(4)), LoginOutcome::Denied);
    assert_eq!(login(false, at(4)), LoginOutcome::Denied);
    assert_eq!(login(false, at(4)), LoginOutcome::Locked(at(14)));
    assert_eq!(login(true, at(5)), LoginOutcome::Locked(at(14)));
    assert!(matches!(login(true, at(15)), LoginOutcome::Ok(_)));
    let unknown = s.record_login(&By { tenant: "", actor: "ghost", now: at(15) }, false, lock).unwrap();
    assert_eq!(unknown, LoginOutcome::Denied);

    // Sessions: found by the cookie value, gone after idle or absolute limits.
    let limits = SessionLimits { idle: SignedDuration::from_mins(30), absolute: SignedDuration::from_hours(12) };
    let erin_by = |now| By { tenant: "", actor: "erin", now };
    s.start_session(&erin_by(at(20)), "cookie-1", "csrf-1").unwrap();
    let live = s.session("cookie-1", at(40), limits).unwrap().unwrap();
    assert_eq!((live.user.name.as_str(), live.csrf.as_str()), ("erin", "csrf-1"));
    assert!(s.session("cookie-2", at(40), limits).unwrap().is_none());
    assert!(s.session("cookie-1", at(40 + 31), limits).unwrap().is_none(), "idle");
    assert!(s.session("cookie-1", at(40), limits).unwrap().is_none(), "an expired session is removed");
    s.start_session(&erin_by(at(100)), "cookie-3", "csrf-3").unwrap();
    for m in (125..=100 + 12 * 60).step_by(25) {
        assert!(s.session("cookie-3", at(m), limits).unwrap().is_some(), "in use at {m}");
    }
    assert!(s.session("cookie-3", at(100 + 12 * 60 + 5), limits).unwrap().is_none(), "absolute");
    // Logout and a password change end sessions.
    s.start_session(&erin_by(at(900)), "cookie-4", "c").unwrap();
    s.end_session(&erin_by(at(901)), "cookie-4").unwrap();
    assert!(s.session("cookie-4", at(902), limits).unwrap().is_none());
    s.start_session(&erin_by(at(903)), "cookie-5", "c").unwrap();
    s.set_password(&sys(at(904)), "erin", "$argon2id$new").unwrap();
    assert!(s.session("cookie-5", at(905), limits).unwrap().is_none());
    s.set_prefs("erin", "ja", "UTC").unwrap();
    assert_eq!(s.user("erin").unwrap().unwrap().lang, "ja");
    assert!(s.set_prefs("erin", "xx", "UTC").is_err());

    // Every login, lock, logout and grant is audited, and the chain holds.
    let actions: Vec<String> = s.audit_entries(None, 0, 100).unwrap().into_iter().map(|e| e.action).collect();
    for want in ["user.create", "user.grant", "login", "login.failed", "login.locked", "logout", "user.password"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
    assert!(s.audit_verify(None).unwrap().problem.is_none());
}

fn check_histogram(fresh: Fresh<'_>) {
    let s = fresh("histogram");
    let ds = [
        detection(1, "a", "high", 0, logon("alice", "ws-1", "10.0.0.1")),
        detection(2, "b", "low", 5, logon("bob", "ws-2", "10.0.0.2")),
        detection(3, "c", "high", 70, logon("carol", "ws-3", "10.0.0.3")),
    ];
    s.triage(&ds, None, at(71)).unwrap();
    let h = s.alert_histogram("acme", at(0), SignedDuration::from_hours(1)).unwrap();
    assert_eq!(h, [(at(0), Level::Low, 1), (at(0), Level::High, 1), (at(60), Level::High, 1)]);
    assert!(s.alert_histogram("other", at(0), SignedDuration::from_hours(1)).unwrap().is_empty());
    let top = s.top_rules("acme", at(0), 10).unwrap();
    assert_eq!(top.len(), 3);
    assert!(s.top_rules("acme", at(6), 10).unwrap().iter().map(|r| r.0.as_str()).eq(["c"]));
}

/// A value no version of Hinomi writes is an error that names the column,
/// never a default: an unknown status does not read as `new`, a broken
/// list does not read as empty.
fn check_corrupt_rows(fresh: Fresh<'_>) {
    let s = fresh("corrupt");
    s.triage(&[detection(1, "r", "high", 0, logon("alice", "ws-1", "203.0.113.7"))], None, at(0)).unwrap();
    let i = incidents(&s)[0].id;
    s.exec_raw(&format!("UPDATE incidents SET status = 'bogus' WHERE id = {i}")).unwrap();
    let err = s.incident("acme", i).unwrap_err();
    assert!(matches!(&err, StateError::Internal(m) if m.contains("column `status` holds \"bogus\"")), "{err}");
    assert!(matches!(
        s.incidents("acme", &IncidentQuery { limit: 10, ..Default::default() }),
        Err(StateError::Internal(_))
    ));
    s.exec_raw("UPDATE alerts SET entities = '[{\"kind\": ' WHERE tenant = 'acme'").unwrap();
    let err = s.alerts("acme", &AlertQuery { limit: 10, ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("column `entities`"), "{err}");
    // Another tenant's queue is not broken by it.
    assert!(s.alerts("other", &AlertQuery { limit: 10, ..Default::default() }).unwrap().is_empty());
}

fn check_rule_switches(fresh: Fresh<'_>) {
    let s = fresh("rule_switches");
    let (erin, now) = (by("erin", at(0)), at(0));
    s.set_rule_enabled(&erin, "r1", false).unwrap();
    s.set_rule_enabled(&erin, "r2", false).unwrap();
    s.set_rule_enabled(&erin, "r2", true).unwrap();
    s.set_rule_enabled(&By { tenant: "other", actor: "bob", now }, "r3", false).unwrap();
    assert_eq!(s.disabled_rules(Some("acme")).unwrap(), [("acme".to_string(), "r1".to_string())]);
    assert_eq!(s.disabled_rules(None).unwrap().len(), 2);
    assert!(s.set_rule_enabled(&erin, "", false).is_err());
    // Each switch is in the audit trail.
    let trail = s.audit_entries(Some("acme"), 0, 100).unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("rule.")).collect();
    assert_eq!(actions, ["rule.disable", "rule.disable", "rule.enable"]);
}

fn check_tenants(fresh: Fresh<'_>) {
    use access::Scope;
    let s = fresh("tenants");
    let sys = By { tenant: "", actor: "setup", now: at(0) };
    s.add_user(&sys, "erin", "$argon2id$stored", "", "UTC").unwrap();
    s.grant(&by("setup", at(0)), "erin", Some(Scope::Admin)).unwrap();
    // A tenant only grants name is listed, enabled, under its own name.
    let names =
        |s: &State| s.tenants().unwrap().into_iter().map(|t| (t.name, t.display, t.disabled)).collect::<Vec<_>>();
    assert_eq!(names(&s), [("acme".into(), "acme".into(), false)]);
    // Erin creates a tenant from acme's console and is its admin.
    let globex = s.create_tenant(&by("erin", at(1)), "globex", "  Globex Corp. ").unwrap();
    assert_eq!((globex.display.as_str(), globex.disabled, globex.created), ("Globex Corp.", false, Some(at(1))));
    assert_eq!(s.user("erin").unwrap().unwrap().role("globex"), Some(Scope::Admin));
    // Names already used are taken; bad names and display names refused.
    for (name, display) in [("globex", ""), ("acme", ""), ("Big Co", ""), ("ok", "a\u{7}b"), ("ok", &"x".repeat(101))] {
        assert!(matches!(s.create_tenant(&by("erin", at(2)), name, display), Err(StateError::Invalid(_))), "{name}");
    }
    // Rename and switch off and on: acme gets a row of its own.
    let in_acme = by("erin", at(3));
    s.change_tenant(&in_acme, Some("ACME Inc."), None).unwrap();
    let acme = s.change_tenant(&in_acme, None, Some(true)).unwrap();
    assert_eq!((acme.display.as_str(), acme.disabled), ("ACME Inc.", true));
    assert!(s.tenant("acme").unwrap().disabled);
    assert!(!s.change_tenant(&in_acme, None, Some(false)).unwrap().disabled);
    assert!(s.change_tenant(&in_acme, Some(" "), None).is_err());
    assert_eq!(
        names(&s),
        [("acme".into(), "ACME Inc.".into(), false), ("globex".into(), "Globex Corp.".into(), false)]
    );
    assert_eq!(s.tenant("nowhere").unwrap().display, "nowhere");
    // Every change is in the tenant's trail; a creation in both.
    let trail = |t: &str| -> Vec<String> {
        s.audit_entries(Some(t), 0, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .filter(|a| a.starts_with("tenant."))
            .collect()
    };
    assert_eq!(trail("acme"), ["tenant.create", "tenant.rename", "tenant.disable", "tenant.enable"]);
    assert_eq!(trail("globex"), ["tenant.create"]);
}

fn check_outbox(fresh: Fresh<'_>) {
    use notify::Trigger;
    let s = fresh("outbox");
    let made = |s: &State, now| s.make_notices(now).unwrap();
    // Nothing happened yet: no notice.
    assert_eq!(made(&s, at(0)), 0);
    let brute = |n, level, mins| detection(n, "brute-force", level, mins, logon("alice", "WS-042", "203.0.113.7"));
    s.triage(&[brute(1, "high", 0)], None, at(0)).unwrap();
    assert_eq!(made(&s, at(1)), 1, "a new incident");
    // A storm of alerts at the same severity on it: nothing more.
    let storm: Vec<Detection> = (2..200).map(|n| brute(n, "high", 1)).collect();
    s.triage(&storm, None, at(1)).unwrap();
    assert_eq!(made(&s, at(2)), 0);
    // Raised to critical: one notice; escalated: one.
    let worse = detection(300, "logon-after-failures", "critical", 2, logon("alice", "WS-042", "203.0.113.7"));
    s.triage(&[worse], None, at(2)).unwrap();
    let i = &incidents(&s)[0];
    s.escalate(&by("erin", at(3)), i.id, i.version, "csirt").unwrap();
    assert_eq!(made(&s, at(3)), 2);
    let routes = [
        route(&[], &["mail"]),
        route(&[Trigger::IncidentOpened, Trigger::IncidentRaised, Trigger::SourceSilent], &["hook"]),
    ];
    assert_eq!(s.route_notices(at(3), &routes, &[]).unwrap(), 5);
    assert_eq!(s.route_notices(at(3), &routes, &[]).unwrap(), 0, "each notice is routed once");

    // Claimed with a lease: a second claimer gets nothing until it ends.
    let lease = SignedDuration::from_mins(2);
    let claim = |s: &State, now| s.claim_deliveries(now, lease, 10, SignedDuration::from_hours(1)).unwrap();
    let claimed = claim(&s, at(4));
    assert_eq!(claimed.len(), 5);
    let triggers: Vec<(Trigger, &str)> = claimed.iter().map(|d| (d.notice.trigger, d.channel.as_str())).collect();
    assert_eq!(
        triggers,
        [
            (Trigger::IncidentOpened, "mail"),
            (Trigger::IncidentOpened, "hook"),
            (Trigger::IncidentRaised, "mail"),
            (Trigger::IncidentRaised, "hook"),
            (Trigger::IncidentEscalated, "mail"),
        ]
    );
    assert_eq!(claimed[0].notice.severity, Level::High);
    assert_eq!(claimed[2].notice.severity, Level::Critical);
    assert!(claimed[0].notice.facts.iter().any(|(k, v)| k == "user" && v == "alice"), "{:?}", claimed[0].notice);
    assert_eq!(claimed[0].key, format!("acme:incident:{}:incident_opened:high", i.id));
    assert!(claim(&s, at(5)).is_empty());
    // Sent; failed and tried again; failed for good.
    s.delivered(&claimed[0], at(5)).unwrap();
    for d in &claimed[1..4] {
        s.delivered(d, at(5)).unwrap();
    }
    s.delivery_failed(&claimed[4], at(5), "mx answered 451", Some(SignedDuration::from_mins(1))).unwrap();
    assert!(claim(&s, at(5)).is_empty(), "not due yet");
    let again = claim(&s, at(6));
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    s.delivery_failed(&again[0], at(6), "mx answered 550", None).unwrap();
    assert!(claim(&s, at(60)).is_empty(), "dead is dead");
    let dead = s.deliveries("acme", Some("dead"), 10).unwrap();
    assert_eq!((dead.len(), dead[0].last_error.as_deref()), (1, Some("mx answered 550")));
    assert_eq!(s.deliveries("acme", Some("sent"), 10).unwrap().len(), 4);
    assert!(s.deliveries("other", None, 10).unwrap().is_empty());
    // The incident's timeline tells both.
    let told: Vec<String> =
        s.timeline("acme", i.id).unwrap().into_iter().filter(|e| e.what.starts_with("notif")).map(|e| e.what).collect();
    assert_eq!(told.iter().filter(|w| *w == "notified").count(), 4);
    assert_eq!(told.iter().filter(|w| *w == "notify_failed").count(), 1);
    // A notice added twice (a silent source) is one.
    let silent = notify::Notice {
        tenant: "acme".into(),
        trigger: Trigger::SourceSilent,
        incident: None,
        severity: Level::Medium,
        title: "fw".into(),
        at: at(7),
        facts: vec![],
        subject: None,
    };
    assert!(s.add_notice(&silent, at(7)).unwrap());
    assert!(!s.add_notice(&silent, at(8)).unwrap());
    // The notices the timeline's own entries would make: none.
    assert_eq!(made(&s, at(9)), 0);
    // Below `quiet_below`, a notice waits for the tenant's business hours
    // (Friday 22:00 in Tokyo: Monday 09:00).
    let hours = CalendarSpec { tz: Some("Asia/Tokyo".into()), ..Default::default() };
    let day = SignedDuration::from_hours(24);
    s.set_sla_policy(&by("lead", at(9)), Level::Medium, day, day, &hours).unwrap();
    let friday_night = t("2026-11-20T22:00:00+09:00");
    let quiet = notify::Route { quiet_below: Some(Level::High), ..route(&[Trigger::SourceSilent], &["mail"]) };
    s.add_notice(&notify::Notice { title: "proxy".into(), at: friday_night, ..silent.clone() }, friday_night).unwrap();
    s.route_notices(friday_night, &[quiet], &[]).unwrap();
    let waiting = s.deliveries("acme", Some("pending"), 10).unwrap();
    assert_eq!(waiting[0].notice.title, "proxy");
    assert_eq!(waiting[0].due, t("2026-11-23T09:00:00+09:00"));
}

fn check_tenant_routes(fresh: Fresh<'_>) {
    let s = fresh("tenant_routes");
    let mine = route(&[notify::Trigger::IncidentOpened], &["mail"]);
    let id =
        s.add_tenant_route(&by("lead", at(0)), &notify::Route { tenants: vec!["*".into()], ..mine.clone() }).unwrap();
    let other = By { tenant: "globex", actor: "gina", now: at(0) };
    s.add_tenant_route(&other, &route(&[], &["hook"])).unwrap();
    // A route is its tenant's alone, whatever it said.
    let listed = s.tenant_routes(Some("acme")).unwrap();
    assert_eq!(listed, [(id, notify::Route { tenants: vec!["acme".into()], ..mine.clone() })]);
    assert_eq!(s.tenant_routes(None).unwrap().len(), 2);
    assert!(matches!(s.add_tenant_route(&by("lead", at(1)), &route(&[], &[])), Err(StateError::Invalid(_))));
    // Another tenant cannot remove it.
    assert!(matches!(s.remove_tenant_route(&other, id), Err(StateError::NotFound(_))));
    s.remove_tenant_route(&by("lead", at(2)), id).unwrap();
    assert!(s.tenant_routes(Some("acme")).unwrap().is_empty());
    let audit: Vec<String> = s.audit_entries(Some("acme"), 0, 100).unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(audit, ["notify.route_add", "notify.route_remove"]);
}

fn route(triggers: &[notify::Trigger], channels: &[&str]) -> notify::Route {
    notify::Route {
        tenants: vec!["acme".into()],
        triggers: triggers.to_vec(),
        min_severity: Level::Informational,
        channels: channels.iter().map(|c| c.to_string()).collect(),
        quiet_below: None,
    }
}

/// A rota of acme's: aiko, then ben, a day each from 2026-11-19 09:00
/// UTC; dana leads; ten minutes to acknowledge.
fn rota() -> notify::Rota {
    let person = |name: &str| notify::Person { name: name.into(), email: format!("{name}@soc.example") };
    notify::Rota::new(&notify::RotaSpec {
        name: "tier1".into(),
        tenant: "acme".into(),
        time_zone: "UTC".into(),
        handover: "09:00".into(),
        shift_days: 1,
        start: "2026-11-19".into(),
        people: vec![person("aiko"), person("ben")],
        lead: person("dana"),
        escalate_after: "10m".into(),
        channel: "mail".into(),
        triggers: vec![],
        min_severity: Level::High,
        quiet_below: None,
    })
    .unwrap()
}

fn check_pages(fresh: Fresh<'_>) {
    let s = fresh("pages");
    let rotas = [rota()];
    let lease = SignedDuration::from_mins(2);
    let claim = |now| s.claim_deliveries(now, lease, 10, SignedDuration::from_hours(1)).unwrap();
    let open = |n: u32, user: &str, mins| {
        let ip = format!("198.51.100.{n}");
        s.triage(
            &[detection(n, "brute-force", "critical", mins, logon(user, &format!("ws-{n}"), &ip))],
            None,
            at(mins),
        )
        .unwrap();
        s.make_notices(at(mins)).unwrap();
        s.route_notices(at(mins), &[], &rotas).unwrap();
    };
    // 2026-11-20 01:00 UTC is before the hand-over: the 19th's shift,
    // aiko's. The chain: aiko now, ben after ten minutes, dana after twenty.
    open(1, "alice", 0);
    let first = claim(at(0));
    let page = |d: &super::Delivery| d.page.clone().unwrap();
    assert_eq!(first.len(), 1);
    let aiko = page(&first[0]);
    assert_eq!(
        (aiko.person.as_str(), aiko.address.as_str(), aiko.step, aiko.steps),
        ("aiko", "aiko@soc.example", 1, 3)
    );
    assert_eq!(aiko.next_after, Some(SignedDuration::from_mins(10)));
    s.delivered(&first[0], at(0)).unwrap();
    assert!(claim(at(9)).is_empty(), "ben's turn has not come");
    let second = claim(at(10));
    assert_eq!(page(&second[0]).person, "ben");
    s.delivered(&second[0], at(10)).unwrap();
    // Aiko acknowledges from her link: the chain stops before dana, the
    // incident is taken up in her name, the timeline says so.
    let ack = s.acknowledge_page(&aiko.token, at(12)).unwrap();
    let id = incidents(&s)[0].id;
    assert_eq!(ack, PageAck::Acknowledged { tenant: "acme".into(), incident: Some(id), person: "aiko".into() });
    assert!(claim(at(30)).is_empty(), "dana is not paged");
    let i = s.incident("acme", id).unwrap();
    assert_eq!(i.status, Status::Acknowledged);
    let timeline: Vec<(String, String)> =
        s.timeline("acme", id).unwrap().into_iter().map(|e| (e.what, e.actor)).collect();
    assert!(timeline.contains(&("page_acknowledged".into(), "aiko".into())), "{timeline:?}");
    assert!(timeline.contains(&("status".into(), "aiko (on call)".into())), "{timeline:?}");
    assert_eq!(timeline.iter().filter(|(w, _)| w == "paged").count(), 2);
    let statuses: Vec<(String, String)> =
        s.pages("acme", Some(id), 10).unwrap().into_iter().map(|p| (p.person, p.status)).collect();
    assert_eq!(
        statuses,
        [("dana".into(), "stopped".into()), ("ben".into(), "sent".into()), ("aiko".into(), "sent".into())]
    );
    // Single use: the second click says who did it; ben's link too.
    assert!(matches!(s.acknowledge_page(&aiko.token, at(13)).unwrap(), PageAck::Already { by, .. } if by == "aiko"));
    assert!(matches!(s.acknowledge_page(&page(&second[0]).token, at(13)).unwrap(), PageAck::Already { .. }));
    // Past its time, or not signed by us: nothing.
    let (ben, mut forged) = (page(&second[0]).token, aiko.token.clone());
    assert_eq!(s.acknowledge_page(&ben, at(10 + 61)).unwrap(), PageAck::Expired);
    forged.replace_range(0..aiko.token.find('.').unwrap(), &second[0].id.to_string());
    for bad in [forged.as_str(), "", "1.2.3", "x.y.zz", &format!("{}.99999999999.{}", first[0].id, "0".repeat(32))] {
        assert_eq!(s.acknowledge_page(bad, at(12)).unwrap(), PageAck::Invalid, "{bad:?}");
    }
    // Somebody moves the next incident in the console: its chain stops
    // without a link; the page already sent stays sent.
    open(2, "carol", 40);
    let sent = claim(at(40));
    assert_eq!(page(&sent[0]).person, "aiko");
    s.delivered(&sent[0], at(40)).unwrap();
    let other = incidents(&s).into_iter().find(|i| i.id != id).unwrap();
    s.transition(&by("erin", at(41)), other.id, other.version, Status::Acknowledged, None).unwrap();
    assert!(claim(at(60)).is_empty());
    // Acknowledging from the console stops a chain too (a raised incident
    // someone had taken up already pages again).
    let raised = detection(3, "logon-after-failures", "critical", 61, logon("bob", "WS-099", "203.0.113.9"));
    s.triage(&[raised], None, at(61)).unwrap();
    s.make_notices(at(61)).unwrap();
    s.route_notices(at(61), &[], &rotas).unwrap();
    let third = incidents(&s).into_iter().find(|i| i.id != id && i.id != other.id).unwrap();
    assert_eq!(s.acknowledge_pages(&by("erin", at(62)), third.id).unwrap(), 1);
    assert_eq!(s.acknowledge_pages(&by("erin", at(62)), third.id).unwrap(), 0);
    assert!(claim(at(90)).is_empty());
    assert_eq!(s.incident("acme", third.id).unwrap().status, Status::Acknowledged);
}

fn check_runs(fresh: Fresh<'_>) {
    use super::{Judged, NewRun, NewStep};
    use access::Scope;
    let s = fresh("runs");
    s.triage(&[detection(1, "psexec", "critical", 0, logon("alice", "ws-042", "192.0.2.7"))], None, at(0)).unwrap();
    let incident = incidents(&s)[0].id;
    let new = |key: Option<&str>, by: &str| NewRun {
        tenant: "acme".into(),
        incident,
        playbook: "contain".into(),
        version: 2,
        source: "id: contain".into(),
        inputs: serde_json::json!({"host": "ws-042"}),
        started_by: by.into(),
        key: key.map(String::from),
    };
    let lease = SignedDuration::from_mins(2);
    // A trigger seen twice starts one run.
    let run = s.start_run(&new(Some("auto:acme:contain"), "hinomi"), at(1)).unwrap().unwrap();
    assert!(s.start_run(&new(Some("auto:acme:contain"), "hinomi"), at(1)).unwrap().is_none());
    let claimed = s.claim_runs(at(1), lease, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(s.claim_runs(at(1), lease, 10).unwrap().is_empty(), "leased");
    // An automatic step: ready, running (committed before the call), done.
    let auto = || NewStep {
        step: "ticket".into(),
        kind: "action".into(),
        decision: "auto".into(),
        call: Some(serde_json::json!({"http": {}})),
        need: None,
    };
    let step = s.current_step(&run, &auto, at(1)).unwrap();
    assert_eq!((step.status.as_str(), step.seq), ("ready", 1));
    assert_eq!(s.current_step(&run, &auto, at(1)).unwrap().id, step.id, "written once");
    s.step_running(&step, at(1)).unwrap();
    // Failed and tried again, then done.
    s.step_outcome(&run, &step, Err(("edr answered 503", Some(at(2)))), at(1)).unwrap();
    assert!(s.claim_runs(at(1), lease, 10).unwrap().is_empty() && s.claim_runs(at(3), lease, 10).unwrap().len() == 1);
    s.step_outcome(&run, &step, Ok(&serde_json::json!({"status": 200})), at(3)).unwrap();
    let run = s.advance(&run, Some(("ticket", &serde_json::json!({"id": 7}))), Some(1), at(3), at(3)).unwrap();
    assert_eq!((run.step, run.seq, run.outputs["ticket"]["id"].as_i64()), (1, 2, Some(7)));
    // A step that needs two responders.
    let ask = || NewStep {
        step: "isolate".into(),
        kind: "action".into(),
        decision: "approve".into(),
        call: None,
        need: Some((Scope::Responder, 2, at(30))),
    };
    let step = s.current_step(&run, &ask, at(3)).unwrap();
    assert_eq!(step.status, "approval");
    assert_eq!(s.run("acme", run.id).unwrap().status, "waiting");
    assert!(s.claim_runs(at(10), lease, 10).unwrap().is_empty(), "a waiting run is not claimed");
    let judge = |who: &str, role, approve, when| {
        s.judge_step(&by(who, at(when)), role, step.id, approve, "contained per runbook")
    };
    assert!(matches!(judge("carol", Scope::Analyst, true, 4), Err(StateError::Invalid(e)) if e.contains("responder")));
    assert!(matches!(judge("hinomi", Scope::Admin, true, 4), Err(StateError::Invalid(_))), "the starter");
    assert_eq!(judge("erin", Scope::Responder, true, 4).unwrap(), Judged::Waiting(1));
    assert!(matches!(judge("erin", Scope::Responder, true, 5), Err(StateError::Invalid(e)) if e.contains("already")));
    assert!(s.judge_step(&by("bob", at(5)), Scope::Lead, step.id, true, " ").is_err(), "a reason");
    assert_eq!(judge("bob", Scope::Lead, true, 5).unwrap(), Judged::Approved);
    assert_eq!(s.run_step("acme", step.id).unwrap().1.status, "ready");
    assert!(s.run_step("globex", step.id).is_err(), "another tenant's step");
    assert_eq!(s.claim_runs(at(6), lease, 10).unwrap().len(), 1);
    s.step_running(&step, at(6)).unwrap();
    s.step_outcome(&run, &step, Ok(&serde_json::json!({"status": 202})), at(6)).unwrap();
    let done = s.run_steps(run.id).unwrap();
    assert_eq!(done[1].verdicts.len(), 2);
    // Rolled back once, beside the action.
    s.rolled_back(&by("erin", at(7)), &done[1], &serde_json::json!({"http": {}}), &serde_json::json!({"status": 200}))
        .unwrap();
    assert!(s.rolled_back(&by("erin", at(7)), &done[1], &serde_json::json!({}), &serde_json::json!({})).is_err());
    let run = s.advance(&run, None, None, at(7), at(7)).unwrap();
    assert_eq!(run.status, "done");
    // Denied: the run stops. Unanswered: it expires.
    for (key, deny) in [("manual-1", true), ("manual-2", false)] {
        let other = s.start_run(&new(Some(key), "erin"), at(10)).unwrap().unwrap();
        let step = s.current_step(&other, &ask, at(10)).unwrap();
        if deny {
            assert_eq!(
                s.judge_step(&by("bob", at(11)), Scope::Lead, step.id, false, "not this host").unwrap(),
                Judged::Denied
            );
        } else {
            let expired = s.expire_approvals(at(31)).unwrap();
            assert_eq!(expired.len(), 1);
            assert!(s.judge_step(&by("bob", at(32)), Scope::Lead, step.id, true, "late").is_err());
        }
        assert_eq!(s.run("acme", other.id).unwrap().status, "stopped");
    }
    // A dead step fails its run.
    let last = s.start_run(&new(None, "erin"), at(40)).unwrap().unwrap();
    let step = s.current_step(&last, &auto, at(40)).unwrap();
    s.step_outcome(&last, &step, Err(("refused", None)), at(40)).unwrap();
    assert_eq!(s.run("acme", last.id).unwrap().status, "failed");
    // Each happening is on the incident's timeline and in the audit trail.
    let said: Vec<String> = s.timeline("acme", incident).unwrap().into_iter().map(|e| e.what).collect();
    for what in [
        "started",
        "approval_requested",
        "approved",
        "executed",
        "rolled_back",
        "finished",
        "denied",
        "approval_expired",
        "failed",
    ] {
        assert!(said.iter().any(|w| w == what), "{what} not in {said:?}");
    }
    let audit: Vec<String> = s.audit_entries(Some("acme"), 0, 1000).unwrap().into_iter().map(|e| e.action).collect();
    assert!(
        audit.iter().any(|a| a == "playbook.approved") && audit.iter().any(|a| a == "playbook.denied"),
        "{audit:?}"
    );
    assert_eq!(s.runs("acme", Some(incident), None, 10).unwrap().len(), 4);
    assert_eq!(s.runs("acme", None, Some("stopped"), 10).unwrap().len(), 2);
}

fn check_saved_searches(fresh: Fresh<'_>) {
    let s = fresh("searches");
    let (erin, bob) = (by("erin", at(0)), by("bob", at(1)));
    let new = |name: &str, query: &str, shared: bool| NewSearch {
        name: name.into(),
        query: query.into(),
        from: "-24h".into(),
        shared,
        ..Default::default()
    };
    let mine = s.save_search(&erin, &new("failed logons", "EventID:4625", false)).unwrap();
    s.save_search(&erin, &new("team: rdp", "EventID:4624 LogonType:10", true)).unwrap();
    // Saving under the same name replaces; names are trimmed.
    s.save_search(&erin, &new(" failed logons ", "EventID:4625 | stats count() by host.name", false)).unwrap();
    let names = |user: &str| -> Vec<(String, String)> {
        s.saved_searches("acme", user).unwrap().into_iter().map(|x| (x.name, x.query)).collect()
    };
    assert_eq!(
        names("erin"),
        [
            ("failed logons".to_string(), "EventID:4625 | stats count() by host.name".to_string()),
            ("team: rdp".to_string(), "EventID:4624 LogonType:10".to_string())
        ]
    );
    // Another analyst sees the shared one only; another tenant none.
    assert_eq!(names("bob"), [("team: rdp".to_string(), "EventID:4624 LogonType:10".to_string())]);
    assert!(s.saved_searches("other", "erin").unwrap().is_empty());
    // Only the owner deletes; the old id is gone since it was replaced.
    let shared = s.saved_searches("acme", "bob").unwrap()[0].id;
    assert!(matches!(s.delete_search(&bob, shared), Err(StateError::NotFound(_))));
    assert!(matches!(s.delete_search(&erin, mine.id), Err(StateError::NotFound(_))));
    s.delete_search(&erin, shared).unwrap();
    assert!(names("bob").is_empty());
    for bad in [new("", "x", false), new("n", " ", false), new("a\nb", "x", false), new(&"n".repeat(121), "x", false)] {
        assert!(matches!(s.save_search(&erin, &bad), Err(StateError::Invalid(_))), "{bad:?}");
    }
}

/// Every case, for one backend.
pub(super) fn suite(fresh: Fresh<'_>) {
    check_saved_searches(fresh);
    check_rule_switches(fresh);
    check_tenants(fresh);
    check_outbox(fresh);
    check_pages(fresh);
    check_runs(fresh);
    check_tenant_routes(fresh);
    check_corrupt_rows(fresh);
    check_scenario(fresh);
    check_incident_title(fresh);
    check_suppression(fresh);
    check_severity_and_risk(fresh);
    check_life_cycle(fresh);
    check_concurrent_analysts(fresh);
    check_merge_and_split(fresh);
    check_sla(fresh);
    check_escalation(fresh);
    check_queue_paging(fresh);
    check_audit(fresh);
    check_audit_sealed(fresh);
    check_incident_cap(fresh);
    check_grouping_in_one_transaction_as_in_many(fresh);
    check_users_and_sessions(fresh);
    check_histogram(fresh);
    check_intel(fresh);
    check_iocs(fresh);
}

/// Observables marked as IOCs: canonical, logged and audited, refused when
/// not what their kind says, and found again as entities and marks.
fn check_iocs(fresh: Fresh<'_>) {
    let s = fresh("iocs");
    s.triage(&[detection(1, "r1", "high", 0, logon("alice", "ws1", "203.0.113.9"))], None, at(1)).unwrap();
    s.triage(&[detection(2, "r2", "high", 600, logon("bob", "ws2", "203.0.113.9"))], None, at(601)).unwrap();
    let list = incidents(&s);
    assert_eq!(list.len(), 2, "apart in time and entities but the address");
    let first = list[1].id;
    let mark = |id: i64, kind: &str, value: &str| {
        let action = IncidentAction::Ioc { kind: kind.into(), value: value.into(), note: Some("C2".into()) };
        s.act(&by("erin", at(700)), id, &action)
    };
    let Ok(Acted::Ioc(o)) = mark(first, "domain", "Evil.Example.") else { panic!("marked") };
    assert_eq!(o.to_string(), "domain:evil.example");
    mark(first, "domain", "evil.example").unwrap();
    assert!(matches!(mark(first, "domain", "not a domain"), Err(StateError::Invalid(_))));
    assert!(matches!(mark(first, "colour", "red"), Err(StateError::Invalid(_))));
    assert!(matches!(
        s.act(&By { tenant: "globex", actor: "gina", now: at(700) }, first, &IncidentAction::Note { body: "x".into() }),
        Err(StateError::NotFound(_))
    ));
    let iocs = s.incident_iocs("acme", first).unwrap();
    assert_eq!(iocs.len(), 1, "marking again replaces");
    assert_eq!((iocs[0].note.as_deref(), iocs[0].added_by.as_str()), (Some("C2"), "erin"));
    assert!(s.timeline("acme", first).unwrap().iter().any(|t| t.what.contains("ioc")));
    // The address is an entity of both incidents; the domain a mark of one.
    let ip = intel::Observable::new(intel::Kind::Ip, "203.0.113.9").unwrap();
    let seen = s.sightings(&["acme", "globex"], &ip).unwrap();
    assert_eq!(seen.len(), 1, "not seen at globex");
    assert_eq!((seen[0].tenant.as_str(), seen[0].incidents, seen[0].first_seen), ("acme", 2, at(0)));
    let evil = intel::Observable::new(intel::Kind::Domain, "evil.example").unwrap();
    assert_eq!(s.sightings(&["acme"], &evil).unwrap()[0].incidents, 1);
}

/// Feeds read, read again, revoked, failed and expired by hand; tenants
/// see their own indicators and the shared ones only.
fn check_intel(fresh: Fresh<'_>) {
    use super::{FeedSource, IndicatorQuery, Stored};
    let s = fresh("intel");
    let now = at(0);
    let read = |text: &str| intel::list::read(text, None);
    let feed = FeedSource { scope: Some("acme"), name: "partner", kind: "list", source: "partner.txt" };
    let gen0 = s.intel_generation().unwrap();
    let first = s.store_indicators(&by("erin", now), feed, &read("198.51.100.7\nevil.example\n"), true, None).unwrap();
    assert_eq!(first, Stored { added: 2, ..Stored::default() });
    assert!(s.intel_generation().unwrap() > gen0, "a change bumps the generation");
    // The whole feed again, one entry gone, one new, one problem.
    let again = s
        .store_indicators(&by("erin", at(5)), feed, &read("evil.example\nbad..example\n203.0.113.0/24\n"), true, None)
        .unwrap();
    assert_eq!(again, Stored { added: 1, updated: 1, removed: 1, problems: 1 });
    let shared = FeedSource { scope: None, name: "mssp", kind: "csv", source: "https://intel.example/feed.csv" };
    let csv = "value,type,confidence,tlp\n192.0.2.99,ip,90,amber\n";
    s.store_indicators(&by("mssp-admin", at(6)), shared, &read(csv), true, None).unwrap();
    let other = FeedSource { scope: Some("globex"), name: "own", kind: "list", source: "own.txt" };
    s.store_indicators(
        &By { tenant: "globex", actor: "gina", now: at(6) },
        other,
        &read("globex.example\n"),
        true,
        None,
    )
    .unwrap();
    let listed = |tenant: &str, q: IndicatorQuery| -> Vec<String> {
        s.list_indicators(tenant, &IndicatorQuery { limit: 100, ..q })
            .unwrap()
            .iter()
            .map(|i| format!("{}/{}", i.feed, i.indicator.pattern.observables()[0]))
            .collect()
    };
    assert_eq!(
        listed("acme", IndicatorQuery::default()),
        ["mssp/ip:192.0.2.99", "partner/domain:evil.example", "partner/ip:203.0.113.0/24"]
    );
    assert_eq!(listed("globex", IndicatorQuery::default()), ["mssp/ip:192.0.2.99", "own/domain:globex.example"]);
    assert_eq!(
        listed("acme", IndicatorQuery { kind: Some(intel::Kind::Domain), ..Default::default() }),
        ["partner/domain:evil.example"]
    );
    assert_eq!(
        listed("acme", IndicatorQuery { contains: Some("EVIL".into()), ..Default::default() }),
        ["partner/domain:evil.example"]
    );
    assert!(listed("acme", IndicatorQuery { contains: Some("%".into()), ..Default::default() }).is_empty());
    assert_eq!(
        listed("acme", IndicatorQuery { tlp: Some(intel::Tlp::Amber), ..Default::default() }),
        ["mssp/ip:192.0.2.99"]
    );
    let stored = s.indicators().unwrap();
    assert_eq!(stored.len(), 4);
    let evil = stored.iter().find(|i| i.indicator.id == "domain:evil.example").unwrap();
    assert_eq!((evil.first_seen, evil.last_seen), (now, at(5)), "first seen stays, last seen moves");
    let mssp = stored.iter().find(|i| i.feed == "mssp").unwrap();
    assert_eq!((mssp.scope.as_deref(), mssp.indicator.confidence), (None, Some(90)));
    // Expired by hand: no longer active.
    s.expire_indicator(&by("erin", at(10)), Some("acme"), "partner", "domain:evil.example").unwrap();
    assert_eq!(
        listed("acme", IndicatorQuery { active_at: Some(at(11)), feed: Some("partner".into()), ..Default::default() }),
        ["partner/ip:203.0.113.0/24"]
    );
    assert!(matches!(
        s.expire_indicator(&by("erin", at(10)), Some("globex"), "partner", "domain:evil.example"),
        Err(StateError::NotFound(_))
    ));
    // A read that fails keeps the indicators and says why on the feed.
    s.feed_failed(&by("erin", at(20)), feed, "fetching partner.txt: connection refused").unwrap();
    let feeds = s.intel_feeds("acme").unwrap();
    let partner = feeds.iter().find(|f| f.name == "partner").unwrap();
    assert_eq!(partner.last_error.as_deref(), Some("fetching partner.txt: connection refused"));
    assert_eq!((partner.last_read, partner.last_ok, partner.indicators), (Some(at(20)), Some(at(5)), 2));
    assert_eq!(partner.problems, ["line 2: not a domain name: \"bad..example\""]);
    assert_eq!(feeds.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["mssp", "partner"], "not globex's");
    // A poll of new entries removes only what the feed revoked.
    let revoked = intel::Read { revoked: vec!["ip:203.0.113.0/24".into()], ..Default::default() };
    let polled = s.store_indicators(&by("erin", at(30)), feed, &revoked, false, Some("2026-11-20T01:30:00Z")).unwrap();
    assert_eq!(polled.removed, 1);
    let feeds = s.intel_feeds("acme").unwrap();
    let partner = feeds.iter().find(|f| f.name == "partner").unwrap();
    assert_eq!((partner.indicators, partner.cursor.as_deref()), (1, Some("2026-11-20T01:30:00Z")));
    assert!(s.store_indicators(&by("erin", now), FeedSource { name: "../x", ..feed }, &read(""), true, None).is_err());
    // A list's entry with the feed's decay fades from when the store first had it.
    let fading = FeedSource { scope: Some("acme"), name: "fading", kind: "csv", source: "fading.csv" };
    let mut decaying = read("value,confidence\nfade.example,80\n");
    decaying.decay_unset(intel::Decay { half_life_days: 1, floor: 30 });
    s.store_indicators(&by("erin", at(40)), fading, &decaying, true, None).unwrap();
    s.store_indicators(&by("erin", at(40 + 24 * 60)), fading, &decaying, true, None).unwrap();
    let stored = s.indicators().unwrap();
    let faded = &stored.iter().find(|i| i.feed == "fading").unwrap().indicator;
    assert_eq!(faded.valid_from, Some(at(40)), "decay counts from the first read, not the last");
    assert_eq!(faded.confidence_at(at(40 + 24 * 60)), Some(40));
    assert!(
        faded.active_at(at(40 + 24 * 60)) && !faded.active_at(at(40 + 2 * 24 * 60)),
        "under the floor after 2 days"
    );
}

/// What an action's JSON must hold: its fields and nothing else.
#[test]
fn actions_read_from_json_refuse_what_they_do_not_know() {
    let read = |text: &str| serde_json::from_str::<IncidentAction>(text).map_err(|e| e.to_string());
    assert_eq!(
        read(r#"{"action": "status", "version": 3, "status": "closed", "disposition": "false_positive"}"#),
        Ok(IncidentAction::Status {
            version: 3,
            status: Status::Closed,
            disposition: Some(Disposition::FalsePositive)
        })
    );
    assert_eq!(
        read(r#"{"action": "waiting", "version": 1}"#),
        Ok(IncidentAction::Waiting { version: 1, waiting: true })
    );
    assert_eq!(read(r#"{"action": "task_done", "task": 4}"#), Ok(IncidentAction::TaskDone { task: 4 }));
    for (bad, why) in [
        (r#"{"action": "status", "status": "closed"}"#, "missing field `version`"),
        (r#"{"action": "note"}"#, "missing field `body`"),
        (r#"{"action": "note", "body": "x", "colour": "red"}"#, "unknown field `colour`"),
        (r#"{"action": "status", "version": 1, "status": "done"}"#, "unknown variant `done`"),
        (r#"{"action": "reboot"}"#, "unknown variant `reboot`"),
        (r#"{"body": "x"}"#, "missing field `action`"),
    ] {
        let err = read(bad).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn sqlite() {
    let dir = scratch("suite");
    suite(&|name| State::sqlite(&dir.join(format!("{name}.db")), TriagePolicy::default()).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// An empty directory of this test process's own, for its stores.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hinomi-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two processes on one SQLite store (a CLI beside the server): what one
/// changes, triage in the other must not answer from memory.
#[test]
fn triage_forgets_what_another_process_changed() {
    use serde_json::json;
    let dir = scratch("two");
    let path = dir.join("s.db");
    let server = State::sqlite(&path, TriagePolicy::default()).unwrap();
    let cli = State::sqlite(&path, TriagePolicy::default()).unwrap();
    let now = at(10);
    // The server opens an incident about h1; the other process closes it.
    server.triage(&[detection(1, "r1", "high", 0, logon("u1", "h1", "10.0.0.1"))], None, now).unwrap();
    let first = incidents(&server)[0].clone();
    let close =
        json!({"action": "status", "version": first.version, "status": "resolved", "disposition": "false_positive"});
    incident_of(act(&cli, &by("erin", now), first.id, close));
    // The next detection on h1 opens a new incident rather than joining it.
    server.triage(&[detection(2, "r2", "high", 1, logon("u2", "h1", "10.0.0.2"))], None, now).unwrap();
    let alerts = server.alerts("acme", &AlertQuery { limit: 10, ..Default::default() }).unwrap();
    let second = alerts.iter().find(|a| a.rule_id == "r2").unwrap();
    assert!(second.incident_id.is_some_and(|i| i != first.id), "joined the closed incident: {second:?}");
    // Risk added by the other process counts in the server's next score.
    let u9 = Entity { kind: EntityKind::User, value: "u9".into() };
    for (n, s) in [(3, &server), (4, &cli), (5, &server)] {
        s.triage(&[detection(n, &format!("r{n}"), "high", 2, logon("u9", &format!("h{n}"), "10.0.0.9"))], None, now)
            .unwrap();
    }
    let points = TriagePolicy::default().risk.points(Level::High);
    assert_eq!(server.risk("acme", &u9, now).unwrap(), 3.0 * points);
    drop((server, cli));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn migrations_are_recorded_and_refuse_a_newer_schema() {
    let dir = scratch("mig");
    let path = dir.join("s.db");
    drop(State::sqlite(&path, TriagePolicy::default()).unwrap());
    // Opening again applies nothing.
    drop(State::sqlite(&path, TriagePolicy::default()).unwrap());
    let mut db = super::Sqlite::open(&path).unwrap();
    use super::Db;
    let rows = db.rows("SELECT COUNT(*) AS n FROM schema_version", &[]).unwrap();
    assert_eq!(rows[0].get::<i64>("n").unwrap(), 18);
    // Several processes opening a new store at once (the server and a
    // command on its data directory): one migrates, the others wait and
    // see it done.
    let fresh = dir.join("raced.db");
    let opened: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| State::sqlite(&fresh, TriagePolicy::default()).err().map(|e| e.to_string())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(opened.iter().all(Option::is_none), "{opened:?}");
    let mut raced = super::Sqlite::open(&fresh).unwrap();
    let rows = raced.rows("SELECT COUNT(*) AS n FROM schema_version", &[]).unwrap();
    assert_eq!(rows[0].get::<i64>("n").unwrap(), 18);
    db.exec("INSERT INTO schema_version (version) VALUES (99)", &[]).unwrap();
    let err = State::sqlite(&path, TriagePolicy::default()).err().unwrap().to_string();
    assert!(err.contains("newer than this Hinomi"), "{err}");

    // Migration 15 rebuilds the tables triage reads per entity: a store
    // at 14 keeps their rows, and they become one b-tree each.
    let old = dir.join("old.db");
    let s = State::sqlite(&old, TriagePolicy::default()).unwrap();
    s.triage(&[detection(1, "r1", "high", 0, logon("alice", "ws1", "10.0.0.1"))], None, at(1)).unwrap();
    s.triage(&[detection(2, "r2", "high", 90, logon("alice", "ws1", "10.0.0.2"))], None, at(120)).unwrap();
    drop(s);
    let tables = ["incident_entities", "entity_risk", "entity_risk_history"];
    let mut db = super::Sqlite::open(&old).unwrap();
    let count = |db: &mut super::Sqlite, table: &str| {
        db.rows(&format!("SELECT COUNT(*) AS n FROM {table}"), &[]).unwrap()[0].get::<i64>("n").unwrap()
    };
    let before: Vec<i64> = tables.iter().map(|t| count(&mut db, t)).collect();
    assert!(before.iter().all(|n| *n > 0), "{before:?}");
    for t in tables {
        // The shape before 15: a table with a row id (and no key).
        db.batch(&format!(
            "CREATE TABLE {t}_14 AS SELECT * FROM {t}; DROP TABLE {t}; ALTER TABLE {t}_14 RENAME TO {t};"
        ))
        .unwrap();
    }
    // Before 16, dedup keys were the whole SHA-256 (64 hex digits).
    let key = |db: &mut super::Sqlite| {
        db.rows("SELECT dedup_key FROM alerts WHERE rule_id = 'r1'", &[]).unwrap()[0]
            .get::<String>("dedup_key")
            .unwrap()
    };
    let short = key(&mut db);
    assert_eq!(short.len(), 32);
    db.exec("UPDATE alerts SET dedup_key = dedup_key || $1", &[short.clone().into()]).unwrap();
    // Tables later migrations make did not exist at 14.
    db.batch(
        "DELETE FROM schema_version WHERE version >= 15; \
         DROP TABLE intel_feeds; DROP TABLE intel_indicators; DROP TABLE intel_generation; DROP TABLE incident_iocs;",
    )
    .unwrap();
    drop(db);
    let s = State::sqlite(&old, TriagePolicy::default()).unwrap();
    let mut db = super::Sqlite::open(&old).unwrap();
    assert_eq!(tables.iter().map(|t| count(&mut db, t)).collect::<Vec<_>>(), before);
    for t in tables {
        let sql = db.rows("SELECT sql FROM sqlite_master WHERE name = $1", &[t.into()]).unwrap()[0]
            .get::<String>("sql")
            .unwrap();
        assert!(sql.ends_with("WITHOUT ROWID"), "{sql}");
    }
    // The key is cut as new ones are: a repeat still counts into its alert.
    assert_eq!(key(&mut db), short);
    s.triage(&[detection(1, "r1", "high", 30, logon("alice", "ws1", "10.0.0.1"))], None, at(121)).unwrap();
    let alerts = s.alerts("acme", &AlertQuery { limit: 10, ..Default::default() }).unwrap();
    let r1: Vec<i64> = alerts.iter().filter(|a| a.rule_id == "r1").map(|a| a.count).collect();
    assert_eq!(r1, [2]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PostgreSQL server of its own, in a temporary directory, on a free
/// loopback port; stopped and removed when dropped.
struct PgServer {
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgServer {
    fn start() -> PgServer {
        use std::process::Command;
        let bin = std::env::var_os("HINOMI_PG_BIN").map(std::path::PathBuf::from).unwrap_or_else(|| {
            let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .map(|d| d.flatten().map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
                .unwrap_or_default();
            found.sort();
            found.pop().expect("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql-15, or set HINOMI_PG_BIN)")
        });
        // initdb refuses to run as root: then the server runs as `postgres`.
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let dir = std::env::temp_dir().join(format!("hinomi-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if root {
            assert!(Command::new("chown").args(["postgres:postgres"]).arg(&dir).status().unwrap().success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = PgServer { dir, bin, port, as_postgres: root };
        let data = server.dir.join("data");
        server
            .run("initdb", &["-D", &data.to_string_lossy(), "-U", "hinomi", "-A", "trust", "-E", "UTF8", "--no-sync"]);
        let opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            server.dir.display()
        );
        let log = server.dir.join("server.log");
        server
            .run("pg_ctl", &["-D", &data.to_string_lossy(), "-l", &log.to_string_lossy(), "-o", &opts, "-w", "start"]);
        server
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=hinomi dbname={db}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        self.run("pg_ctl", &["-D", &data.to_string_lossy(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn postgres() {
    let server = PgServer::start();
    // The admin connection and the databases made so far.
    let admin = std::sync::Mutex::new((
        super::Postgres::connect(&server.url("postgres")).unwrap(),
        std::collections::HashSet::new(),
    ));
    suite(&|name| {
        use super::Db;
        let db = format!("case_{name}");
        let mut admin = admin.lock().unwrap();
        let (conn, created) = &mut *admin;
        if created.insert(db.clone()) {
            conn.batch(&format!("CREATE DATABASE {db}")).unwrap();
        }
        State::open(&super::Database::Postgres(server.url(&db)), TriagePolicy::default()).unwrap()
    });
}
