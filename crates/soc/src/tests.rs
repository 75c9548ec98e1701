use std::collections::BTreeSet;

use jiff::civil::{Time, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use model::Level;

use crate::assets::{Criticality, Inventory, severity};
use crate::lifecycle::{MoveError, check_move};
use crate::sla::{BusinessHours, Calendar, SlaState, clock, parse_days};
use crate::{Detection, Disposition, Entity, EntityKind, Status};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn hours(h: f64) -> SignedDuration {
    SignedDuration::from_secs_f64(h * 3600.0)
}

/// Mon-Fri 09:00-18:00 in Tokyo; 2026-11-23 (a Monday) is a holiday.
fn tokyo() -> Calendar {
    let holidays = BTreeSet::from([date(2026, 11, 23)]);
    let tz = TimeZone::get("Asia/Tokyo").unwrap();
    Calendar::Business(
        BusinessHours::new(
            tz,
            parse_days("mon-fri").unwrap(),
            Time::constant(9, 0, 0, 0),
            Time::constant(18, 0, 0, 0),
            holidays,
        )
        .unwrap(),
    )
}

#[test]
fn around_the_clock_counts_every_hour() {
    let c = Calendar::Always;
    assert_eq!(c.elapsed(t("2026-11-21T10:00:00Z"), t("2026-11-22T13:00:00Z"), &[]), hours(27.0));
    assert_eq!(c.deadline(t("2026-11-21T10:00:00Z"), hours(4.0), &[]), Some(t("2026-11-21T14:00:00Z")));
}

#[test]
fn quiet_notices_wait_for_the_next_opening() {
    let c = tokyo();
    // In working time: at once.
    assert_eq!(c.next_open(t("2026-11-24T10:00:00+09:00")), t("2026-11-24T10:00:00+09:00"));
    // Friday night: past the weekend and Monday's holiday.
    assert_eq!(c.next_open(t("2026-11-20T22:00:00+09:00")), t("2026-11-24T09:00:00+09:00"));
    // Early morning: that day's opening.
    assert_eq!(c.next_open(t("2026-11-25T03:00:00+09:00")), t("2026-11-25T09:00:00+09:00"));
    assert_eq!(Calendar::Always.next_open(t("2026-11-21T03:00:00Z")), t("2026-11-21T03:00:00Z"));
}

#[test]
fn business_hours_skip_nights_weekends_and_holidays() {
    let c = tokyo();
    // Friday 17:00 JST: one hour on Friday, the weekend and Monday's
    // holiday skipped, then Tuesday from 09:00.
    let start = t("2026-11-20T17:00:00+09:00");
    assert_eq!(c.elapsed(start, t("2026-11-24T10:30:00+09:00"), &[]), hours(2.5));
    assert_eq!(c.deadline(start, hours(4.0), &[]), Some(t("2026-11-24T12:00:00+09:00")));
    // Opened at night: the clock starts at the next opening.
    assert_eq!(c.elapsed(t("2026-11-24T22:00:00+09:00"), t("2026-11-25T09:30:00+09:00"), &[]), hours(0.5));
    // A budget ending exactly at closing time ends then, not the next morning.
    assert_eq!(c.deadline(t("2026-11-25T09:00:00+09:00"), hours(9.0), &[]), Some(t("2026-11-25T18:00:00+09:00")));
    // Nothing counts over a weekend.
    assert_eq!(c.elapsed(t("2026-11-21T00:00:00+09:00"), t("2026-11-23T00:00:00+09:00"), &[]), SignedDuration::ZERO);
}

#[test]
fn pauses_stop_the_clock() {
    let c = tokyo();
    let start = t("2026-11-20T17:00:00+09:00");
    // Waiting on the customer Tuesday 09:00-10:00: the deadline moves by an hour.
    let pauses = [(t("2026-11-24T09:00:00+09:00"), Some(t("2026-11-24T10:00:00+09:00")))];
    assert_eq!(c.deadline(start, hours(4.0), &pauses), Some(t("2026-11-24T13:00:00+09:00")));
    assert_eq!(c.elapsed(start, t("2026-11-24T10:30:00+09:00"), &pauses), hours(1.5));
    // Overlapping pauses count once; a pause outside working hours costs nothing.
    let pauses = [
        (t("2026-11-24T09:00:00+09:00"), Some(t("2026-11-24T09:40:00+09:00"))),
        (t("2026-11-24T09:20:00+09:00"), Some(t("2026-11-24T10:00:00+09:00"))),
        (t("2026-11-21T09:00:00+09:00"), Some(t("2026-11-21T12:00:00+09:00"))),
    ];
    assert_eq!(c.deadline(start, hours(4.0), &pauses), Some(t("2026-11-24T13:00:00+09:00")));
    // While paused there is no deadline and the state says so.
    let open = [(t("2026-11-24T09:30:00+09:00"), None)];
    assert_eq!(c.deadline(start, hours(4.0), &open), None);
    let k = clock(&c, hours(4.0), start, None, &open, t("2026-11-24T15:00:00+09:00"));
    assert_eq!((k.state, k.elapsed, k.due), (SlaState::Paused, hours(1.5), None));
}

#[test]
fn time_zones_and_daylight_saving() {
    // 01:00-05:00 every day in New York: on 2026-03-08 clocks jump from
    // 02:00 to 03:00, so that day has three working hours.
    let tz = TimeZone::get("America/New_York").unwrap();
    let c = Calendar::Business(
        BusinessHours::new(tz, [true; 7], Time::constant(1, 0, 0, 0), Time::constant(5, 0, 0, 0), BTreeSet::new())
            .unwrap(),
    );
    assert_eq!(c.elapsed(t("2026-03-08T00:00:00Z"), t("2026-03-09T00:00:00Z"), &[]), hours(3.0));
    assert_eq!(c.elapsed(t("2026-03-07T00:00:00Z"), t("2026-03-08T00:00:00Z"), &[]), hours(4.0));
    // The same instant is Monday in Tokyo and Sunday in New York.
    let monday_tokyo = t("2026-11-24T01:00:00Z"); // Tuesday 10:00 JST
    assert_eq!(tokyo().elapsed(t("2026-11-24T00:00:00Z"), monday_tokyo, &[]), hours(1.0));
}

#[test]
fn sla_states() {
    let c = tokyo();
    let start = t("2026-11-20T17:00:00+09:00");
    let at = |s: &str| clock(&c, hours(4.0), start, None, &[], t(s)).state;
    assert_eq!(at("2026-11-24T09:30:00+09:00"), SlaState::Running);
    assert_eq!(at("2026-11-24T11:30:00+09:00"), SlaState::NearBreach);
    assert_eq!(at("2026-11-24T12:30:00+09:00"), SlaState::Breached);
    let met = clock(&c, hours(4.0), start, Some(t("2026-11-24T09:15:00+09:00")), &[], t("2026-12-01T00:00:00Z"));
    assert_eq!((met.state, met.elapsed, met.due), (SlaState::Met, hours(1.25), None));
    let late = clock(&c, hours(1.0), start, Some(t("2026-11-24T09:15:00+09:00")), &[], t("2026-12-01T00:00:00Z"));
    assert_eq!(late.state, SlaState::Breached);
}

#[test]
fn calendars_are_checked() {
    let tz = TimeZone::UTC;
    let nine = Time::constant(9, 0, 0, 0);
    let err = BusinessHours::new(tz.clone(), [true; 7], nine, nine, BTreeSet::new()).unwrap_err();
    assert!(err.contains("close must be later"), "{err}");
    let err = BusinessHours::new(tz, [false; 7], nine, Time::constant(17, 0, 0, 0), BTreeSet::new()).unwrap_err();
    assert!(err.contains("no working day"), "{err}");
    assert_eq!(parse_days("sat-mon").unwrap(), [true, false, false, false, false, true, true]);
    assert!(parse_days("mon,funday").unwrap_err().contains("funday"));
}

#[test]
fn life_cycle_moves() {
    assert_eq!(check_move(Status::New, Status::Investigating, None), Ok(()));
    assert_eq!(
        check_move(Status::Contained, Status::Acknowledged, None),
        Err(MoveError::Backwards { from: Status::Contained, to: Status::Acknowledged })
    );
    assert_eq!(check_move(Status::Contained, Status::Closed, None), Err(MoveError::NeedsDisposition(Status::Closed)));
    assert_eq!(check_move(Status::Contained, Status::Resolved, Some(Disposition::TruePositive)), Ok(()));
    assert_eq!(check_move(Status::Closed, Status::Investigating, None), Ok(()));
    assert_eq!(
        check_move(Status::Closed, Status::New, None),
        Err(MoveError::Backwards { from: Status::Closed, to: Status::New })
    );
    assert_eq!("benign-true-positive".parse::<Disposition>(), Ok(Disposition::BenignTruePositive));
    assert!("maybe".parse::<Disposition>().unwrap_err().contains("false_positive"));
    assert_eq!(Status::filter("open").unwrap().len(), 4);
    assert_eq!(Status::filter("all").unwrap(), []);
    assert_eq!(Status::filter("new,closed").unwrap(), [Status::New, Status::Closed]);
    assert!(Status::filter("new,gone").is_err());
}

fn alert_line(rule: &str, level: &str, event: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": "7.0.r", "kind": "sigma", "event_id": "7.0", "@timestamp": "2026-11-20T01:00:00Z",
        "tenant": "acme", "source": "winlog", "level": level, "title": "Test",
        "rule": {"id": rule, "title": "Test", "level": level, "tags": ["attack.credential_access", "attack.t1110.001"], "author": "Alice", "path": "x.yml"},
        "event": event,
    }))
    .unwrap()
}

#[test]
fn detections_carry_entities_and_a_dedup_key() {
    let d = Detection::from_alert_line(&alert_line(
        "r1",
        "high",
        serde_json::json!({"host.name": "WS-042", "TargetUserName": "CORP\\Alice", "IpAddress": "203.0.113.7",
            "source.ip": "127.0.0.1", "SubjectUserName": "-", "Hashes": "SHA256=ABCD,MD5=EF01", "Image": "C:\\Windows\\cmd.exe"}),
    ))
    .unwrap();
    let e = |k, v: &str| Entity { kind: k, value: v.into() };
    assert_eq!(
        d.entities,
        [
            e(EntityKind::Host, "ws-042"),
            e(EntityKind::User, "alice"),
            e(EntityKind::Ip, "203.0.113.7"),
            e(EntityKind::Process, "c:\\windows\\cmd.exe"),
            e(EntityKind::Hash, "abcd"),
            e(EntityKind::Hash, "ef01"),
        ]
    );
    assert_eq!(
        (d.level, d.techniques(), d.author.as_deref()),
        (Level::High, vec!["T1110.001".to_string()], Some("Alice"))
    );
    assert!(d.has_value("user", "corp\\ALICE") && d.has_value("host.name", "ws-042") && !d.has_value("host.name", "x"));
    // The key depends on the rule and the entities, not on the event's id or time.
    let same = Detection::from_alert_line(&alert_line(
        "r1",
        "high",
        serde_json::json!({"host.name": "ws-042", "TargetUserName": "alice", "IpAddress": "203.0.113.7", "Hashes": "SHA256=abcd,MD5=ef01", "Image": "C:\\Windows\\cmd.exe"}),
    ))
    .unwrap();
    assert_eq!(d.dedup_key(), same.dedup_key());
    // 128 bits in hex: short in the index, long for a collision.
    assert!(d.dedup_key().len() == 32 && d.dedup_key().bytes().all(|b| b.is_ascii_hexdigit()));
    let other =
        Detection::from_alert_line(&alert_line("r2", "high", serde_json::json!({"host.name": "ws-042"}))).unwrap();
    assert_ne!(d.dedup_key(), other.dedup_key());
    assert!(Detection::from_alert_line(b"{\"id\":\"x\"}").unwrap_err().contains("tenant"));
}

#[test]
fn severity_follows_asset_criticality() {
    let inv = Inventory::from_csv(
        "kind,match,criticality,owner,business_unit\nhost,dc-*,critical,\"Infra, AD team\",IT\nip,10.9.0.0/16,high,,\nuser,kiosk,low,,\n",
    )
    .unwrap();
    assert_eq!(inv.assets[0].owner.as_deref(), Some("Infra, AD team"));
    // Written out and read back, it is the same inventory.
    assert_eq!(Inventory::from_csv(&inv.to_csv()).unwrap(), inv);
    let host = |h: &str| vec![Entity::new(EntityKind::Host, h).unwrap()];
    let crit = |e: &[Entity]| inv.most_critical(e).map(|a| a.criticality);
    assert_eq!(crit(&host("DC-01")), Some(Criticality::Critical));
    assert_eq!(crit(&[Entity::new(EntityKind::Ip, "10.9.3.4").unwrap()]), Some(Criticality::High));
    assert_eq!(crit(&host("ws-1")), None);
    assert_eq!(severity(Level::Medium, Some(Criticality::Critical)), Level::Critical);
    assert_eq!(severity(Level::High, Some(Criticality::Critical)), Level::Critical);
    assert_eq!(severity(Level::Medium, Some(Criticality::Low)), Level::Low);
    assert_eq!(severity(Level::Low, Some(Criticality::Low)), Level::Low);
    assert_eq!(severity(Level::Informational, Some(Criticality::Critical)), Level::Informational);
    assert_eq!(severity(Level::Medium, None), Level::Medium);
    let err = Inventory::from_csv("kind,match,criticality\nhost,a,urgent\n").unwrap_err();
    assert!(err.starts_with("line 2:") && err.contains("urgent"), "{err}");
    let err = Inventory::from_json(r#"[{"kind":"ip","match":"10.0.0.0/33","criticality":"low"}]"#).unwrap_err();
    assert!(err.starts_with("entry 1:"), "{err}");
}

#[test]
fn risk_fades_with_its_half_life() {
    let p = crate::risk::RiskPolicy::default();
    let t0 = t("2026-11-20T00:00:00Z");
    assert_eq!(p.decayed(80.0, t0, t("2026-11-21T00:00:00Z")), 40.0);
    // Three highs in an hour cross the threshold; spread over days they do not.
    let mut score = 0.0;
    for h in 0..3 {
        score = p.add(score, t0, t0 + SignedDuration::from_mins(20 * h), Level::High);
    }
    assert!(score >= p.threshold, "{score}");
    let mut score = 0.0;
    let mut at = t0;
    for d in 0..3 {
        let now = t0 + SignedDuration::from_hours(48 * d);
        score = p.add(score, at, now, Level::High);
        at = now;
    }
    assert!(score < p.threshold, "{score}");
}
