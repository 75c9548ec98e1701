//! The specification's correlation examples, one per type, on hand-written
//! event sequences: the edge of each window, out-of-order events, chains,
//! aliases, restarts and the state bound. One helper, [`check`]: rules and
//! a correlation as YAML, events as `(rule name, second, fields)`, and the
//! results expected as `(correlation id, group, first, last, events)`.

use std::collections::HashMap;

use super::*;

/// Base rules every case can refer to by name (they are never matched
/// here: the events say which rule they matched).
const RULES: &[&str] = &[
    "failed_logon",
    "successful_logon",
    "recon_a",
    "recon_b",
    "recon_c",
    "upload",
    "internal_error",
    "new_connection",
];

fn rule_set(correlations: &str) -> RuleSet {
    let mut text = String::new();
    for (i, name) in RULES.iter().enumerate() {
        text.push_str(&format!(
            "title: {name}\nid: 00000000-0000-0000-0000-{i:012}\nname: {name}\nlogsource: {{product: test}}\ndetection: {{sel: {{never: x}}, condition: sel}}\n---\n"
        ));
    }
    text.push_str(correlations);
    let mut b = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
    b.add_file("test.yml", &text);
    let (set, errors) = b.build();
    assert!(errors.is_empty(), "{errors:?}");
    set
}

type Ev<'a> = (&'a str, i64, &'a [(&'a str, &'a str)]);

fn feed(c: &mut Correlator, set: &RuleSet, events: &[Ev<'_>], out: &mut Vec<Fired>) {
    for (n, (rule, second, fields)) in events.iter().enumerate() {
        let index = set.rules().iter().position(|r| r.name.as_deref() == Some(*rule)).expect("a known rule");
        let map: HashMap<&str, &str> = fields.iter().copied().collect();
        let read = |f: &str| map.get(f).map(|v| v.to_string());
        c.observe("acme", index, second * 1_000_000, &format!("e{n}"), &read, out);
    }
}

/// What a case expects of one result: id, group values, first and last
/// second, contributing events.
type Want<'a> = (&'a str, &'a [&'a str], i64, i64, &'a [&'a str]);

/// A result as compared: owned [`Want`].
type Got = (String, Vec<String>, i64, i64, Vec<String>);

/// Every result of `events` fed in order, then time advanced to `end`.
fn run(set: &RuleSet, events: &[Ev<'_>], end: i64) -> Vec<Fired> {
    let mut c = Correlator::new(set, Config { lateness_micros: 0, ..Config::default() });
    let mut out = Vec::new();
    feed(&mut c, set, events, &mut out);
    c.advance(end * 1_000_000, &mut out);
    out
}

#[track_caller]
fn check(correlations: &str, events: &[Ev<'_>], end: i64, want: &[Want<'_>]) {
    let set = rule_set(correlations);
    let out = run(&set, events, end);
    let got: Vec<Got> = out
        .iter()
        .filter(|f| f.alerts)
        .map(|f| {
            (
                set.correlations()[f.correlation].def.id.clone(),
                f.group.iter().map(|(_, v)| v.clone()).collect(),
                f.first / 1_000_000,
                f.last / 1_000_000,
                f.events.clone(),
            )
        })
        .collect();
    let want: Vec<Got> = want
        .iter()
        .map(|(id, g, a, b, e)| {
            (
                id.to_string(),
                g.iter().map(|s| s.to_string()).collect(),
                *a,
                *b,
                e.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

const EVENT_COUNT: &str = "title: Many failed logins
id: many_failed
name: many_failed_logins
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [ComputerName]
    timespan: 60s
    condition:
        gte: 3
";

#[test]
fn event_count_at_the_window_edge() {
    let host = |h| [("ComputerName", h)];
    let (a, b) = (host("a"), host("b"));
    // Three within 60 s (both ends included) fire once, with all three.
    check(
        EVENT_COUNT,
        &[("failed_logon", 0, &a), ("failed_logon", 30, &a), ("failed_logon", 60, &a)],
        1000,
        &[("many_failed", &["a"], 0, 60, &["e0", "e1", "e2"])],
    );
    // 61 s apart: the first has left the window.
    check(EVENT_COUNT, &[("failed_logon", 0, &a), ("failed_logon", 30, &a), ("failed_logon", 61, &a)], 1000, &[]);
    // The window slides: 30, 61 and 90 are within 60 s.
    check(
        EVENT_COUNT,
        &[("failed_logon", 0, &a), ("failed_logon", 30, &a), ("failed_logon", 61, &a), ("failed_logon", 90, &a)],
        1000,
        &[("many_failed", &["a"], 30, 90, &["e1", "e2", "e3"])],
    );
    // Groups are separate; used-up events do not fire twice.
    check(
        EVENT_COUNT,
        &[
            ("failed_logon", 0, &a),
            ("failed_logon", 1, &b),
            ("failed_logon", 2, &a),
            ("failed_logon", 3, &b),
            ("failed_logon", 4, &a),
            ("failed_logon", 5, &a),
            ("failed_logon", 6, &a),
        ],
        1000,
        &[("many_failed", &["a"], 0, 4, &["e0", "e2", "e4"])],
    );
    // No group-by field: no part in it.
    check(EVENT_COUNT, &[("failed_logon", 0, &[]), ("failed_logon", 1, &[]), ("failed_logon", 2, &[])], 1000, &[]);
}

#[test]
fn value_count_counts_distinct_values() {
    let spray = "title: Spray
id: spray
correlation:
    type: value_count
    rules: [failed_logon]
    group-by: [ComputerName, WorkstationName]
    timespan: 1d
    condition:
        field: User
        gte: 3
";
    let e = |u| [("ComputerName", "dc1"), ("WorkstationName", "ws9"), ("User", u)];
    let (u1, u2, u3) = (e("alice"), e("bob"), e("carol"));
    // alice twice counts once; carol makes three distinct users.
    check(
        spray,
        &[
            ("failed_logon", 0, &u1),
            ("failed_logon", 10, &u1),
            ("failed_logon", 20, &u2),
            ("failed_logon", 86_400, &u3),
        ],
        200_000,
        &[("spray", &["dc1", "ws9"], 0, 86_400, &["e0", "e1", "e2", "e3"])],
    );
    // One second past the day: alice's first attempt is out, her second is in.
    check(spray, &[("failed_logon", 0, &u1), ("failed_logon", 10, &u2), ("failed_logon", 86_401, &u3)], 200_000, &[]);
}

#[test]
fn temporal_in_any_order_within_the_window() {
    let recon = "title: Recon
id: recon
correlation:
    type: temporal
    rules: [recon_a, recon_b, recon_c]
    group-by: [ComputerName, User]
    timespan: 5m
";
    let f = [("ComputerName", "ws1"), ("User", "bob")];
    check(
        recon,
        &[("recon_c", 0, &f), ("recon_a", 100, &f), ("recon_b", 300, &f)],
        1000,
        &[("recon", &["ws1", "bob"], 0, 300, &["e0", "e1", "e2"])],
    );
    // Only two kinds: nothing; the third 301 s after the first: nothing.
    check(recon, &[("recon_a", 0, &f), ("recon_b", 100, &f), ("recon_a", 200, &f)], 1000, &[]);
    check(recon, &[("recon_a", 0, &f), ("recon_b", 100, &f), ("recon_c", 301, &f)], 1000, &[]);
    // Another user on the same host is another group.
    let g = [("ComputerName", "ws1"), ("User", "eve")];
    check(recon, &[("recon_a", 0, &f), ("recon_b", 10, &g), ("recon_c", 20, &f)], 1000, &[]);
}

/// The specification's example: many failed logins (an event_count) then
/// a successful login of the same user within an hour.
const BRUTE_THEN_SUCCESS: &str = "title: Many failed logins
id: many_failed
name: many_failed_logins
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [User]
    timespan: 10m
    condition:
        gte: 3
---
title: Brute force then success
id: brute_success
correlation:
    type: temporal_ordered
    rules: [many_failed_logins, successful_logon]
    group-by: [User]
    timespan: 1h
";

#[test]
fn temporal_ordered_over_a_chained_event_count() {
    let alice = [("User", "alice")];
    check(
        BRUTE_THEN_SUCCESS,
        &[
            ("failed_logon", 0, &alice),
            ("failed_logon", 10, &alice),
            ("failed_logon", 20, &alice),
            ("successful_logon", 3620, &alice),
        ],
        10_000,
        &[("brute_success", &["alice"], 20, 3620, &["e0", "e1", "e2", "e3"])],
    );
    // Success first, then the failures: the wrong order.
    check(
        BRUTE_THEN_SUCCESS,
        &[
            ("successful_logon", 0, &alice),
            ("failed_logon", 10, &alice),
            ("failed_logon", 20, &alice),
            ("failed_logon", 30, &alice),
        ],
        10_000,
        &[],
    );
    // The success 1 h 1 s after the burst: too late.
    check(
        BRUTE_THEN_SUCCESS,
        &[
            ("failed_logon", 0, &alice),
            ("failed_logon", 10, &alice),
            ("failed_logon", 20, &alice),
            ("successful_logon", 3621, &alice),
        ],
        10_000,
        &[],
    );
}

#[test]
fn value_sum_avg_percentile_and_median() {
    let types = "title: Upload volume
id: sum
correlation:
    type: value_sum
    rules: [upload]
    group-by: [host]
    timespan: 1h
    condition: {field: bytes, gt: 1000}
---
title: Average upload
id: avg
correlation:
    type: value_avg
    rules: [upload]
    group-by: [host]
    timespan: 1h
    condition: {field: bytes, gte: 400}
---
title: 90th percentile upload
id: p90
correlation:
    type: value_percentile
    rules: [upload]
    group-by: [host]
    timespan: 1h
    condition: {field: bytes, percentile: 90, gte: 700}
---
title: Median upload
id: median
correlation:
    type: value_median
    rules: [upload]
    group-by: [host]
    timespan: 1h
    condition: {field: bytes, lt: 300}
";
    let up = |b| [("host", "h1"), ("bytes", b)];
    let (a, b, c, d) = (up("100"), up("200"), up("800"), up("not a number"));
    // Sum: 100 + 200 + 800 > 1000 fires at once. Average (366.7), 90th
    // percentile (680) and median (200) are judged when the hour is over.
    check(
        types,
        &[("upload", 0, &a), ("upload", 10, &b), ("upload", 20, &d), ("upload", 30, &c)],
        100_000,
        &[("sum", &["h1"], 0, 30, &["e0", "e1", "e3"]), ("median", &["h1"], 0, 30, &["e0", "e1", "e3"])],
    );
    let e = up("1000");
    check(
        types,
        &[("upload", 0, &a), ("upload", 10, &e)],
        100_000,
        &[
            ("sum", &["h1"], 0, 10, &["e0", "e1"]),
            ("avg", &["h1"], 0, 10, &["e0", "e1"]),
            ("p90", &["h1"], 0, 10, &["e0", "e1"]),
        ],
    );
}

#[test]
fn upper_bounds_are_judged_when_the_window_closes() {
    let quiet = "title: Few logons
id: few
correlation:
    type: event_count
    rules: [successful_logon]
    group-by: [User]
    timespan: 10m
    condition: {lt: 3}
";
    let u = [("User", "svc")];
    // Two logons in the ten minutes from the first: judged at 600 s.
    let set = rule_set(quiet);
    let mut c = Correlator::new(&set, Config { lateness_micros: 0, ..Config::default() });
    let mut out = Vec::new();
    feed(&mut c, &set, &[("successful_logon", 0, &u), ("successful_logon", 100, &u)], &mut out);
    c.advance(600_000_000, &mut out);
    assert!(out.is_empty(), "the window is still open at its last second");
    c.advance(600_000_001, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].value, out[0].event_count), (2.0, 2));
    // Three: not fewer than three.
    check(quiet, &[("successful_logon", 0, &u), ("successful_logon", 1, &u), ("successful_logon", 2, &u)], 10_000, &[]);
}

#[test]
fn out_of_order_events_within_the_lateness_still_correlate() {
    let set = rule_set(EVENT_COUNT);
    let a = [("ComputerName", "a")];
    let mut c = Correlator::new(&set, Config { lateness_micros: 120_000_000, ..Config::default() });
    let mut out = Vec::new();
    // 100, then 50 and 70 arriving late (within two minutes): one window.
    feed(&mut c, &set, &[("failed_logon", 100, &a), ("failed_logon", 50, &a), ("failed_logon", 70, &a)], &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].first, out[0].last), (50_000_000, 100_000_000));
    assert_eq!(out[0].events, ["e1", "e2", "e0"], "contributing events in event-time order");
    // Far too late: counted and ignored.
    feed(&mut c, &set, &[("failed_logon", 10_000, &a), ("failed_logon", 5, &a)], &mut out);
    assert_eq!(c.stats().late, 1);
}

#[test]
fn aliases_join_different_fields() {
    let aliased = "title: Error then connection back
id: alias
correlation:
    type: temporal
    rules: [internal_error, new_connection]
    group-by: [internal_ip, remote_ip]
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_connection: destination.ip
";
    let err = [("source.ip", "203.0.113.5"), ("destination.ip", "10.0.0.8")];
    let conn = [("source.ip", "10.0.0.8"), ("destination.ip", "203.0.113.5")];
    let other = [("source.ip", "10.0.0.9"), ("destination.ip", "203.0.113.5")];
    check(
        aliased,
        &[("internal_error", 0, &err), ("new_connection", 10, &conn)],
        1000,
        &[("alias", &["10.0.0.8", "203.0.113.5"], 0, 10, &["e0", "e1"])],
    );
    check(aliased, &[("internal_error", 0, &err), ("new_connection", 5, &other)], 1000, &[]);
}

#[test]
fn a_restart_in_the_middle_neither_loses_nor_repeats() {
    let set = rule_set(BRUTE_THEN_SUCCESS);
    let alice = [("User", "alice")];
    let before: &[Ev<'_>] = &[("failed_logon", 0, &alice), ("failed_logon", 10, &alice), ("failed_logon", 20, &alice)];
    let after: &[Ev<'_>] = &[("successful_logon", 100, &alice)];
    // Straight through.
    let mut c = Correlator::new(&set, Config::default());
    let mut straight = Vec::new();
    feed(&mut c, &set, before, &mut straight);
    feed(&mut c, &set, after, &mut straight);
    // Saved after the failures, restored into a new correlator.
    let mut first = Correlator::new(&set, Config::default());
    let mut out = Vec::new();
    feed(&mut first, &set, before, &mut out);
    let saved = first.snapshot();
    let mut second = Correlator::new(&set, Config::default());
    second.restore(&saved).unwrap();
    feed(&mut second, &set, after, &mut out);
    assert_eq!(out, straight);
    assert_eq!(out.iter().filter(|f| f.alerts).count(), 1);
    // A broken snapshot is refused and changes nothing.
    assert!(second.restore(b"{not json").is_err());
    assert!(second.restore(br#"{"version": 9, "newest": 0, "touch": 0, "stats": {"groups": 0, "fired": 0, "evicted": 0, "trimmed": 0, "late": 0}, "groups": [], "closing": []}"#).is_err());
}

#[test]
fn state_stays_bounded_under_a_million_keys() {
    let set = rule_set(EVENT_COUNT);
    let mut c = Correlator::new(&set, Config { max_groups: 10_000, ..Config::default() });
    let rule = set.rules().iter().position(|r| r.name.as_deref() == Some("failed_logon")).unwrap();
    let mut out = Vec::new();
    for i in 0..1_000_000u32 {
        let host = format!("host-{i}");
        let read = |f: &str| (f == "ComputerName").then(|| host.clone());
        // All within one minute: nothing expires, only eviction bounds it.
        c.observe("acme", rule, 1_000_000 + i64::from(i % 50), "e", &read, &mut out);
        assert!(c.groups[0].map.len() <= 10_000);
    }
    let s = c.stats();
    assert_eq!((s.groups, s.evicted), (10_000, 990_000));
    assert!(c.groups[0].lru.len() <= 2 * 10_000 + 64);
    assert!(out.is_empty());
}

#[test]
fn tenants_never_share_a_group() {
    let set = rule_set(EVENT_COUNT);
    let rule = set.rules().iter().position(|r| r.name.as_deref() == Some("failed_logon")).unwrap();
    let mut c = Correlator::new(&set, Config::default());
    let mut out = Vec::new();
    let read = |f: &str| (f == "ComputerName").then(|| "dc1".to_string());
    for (i, tenant) in ["acme", "globex", "acme", "globex", "acme"].iter().enumerate() {
        c.observe(tenant, rule, i as i64 * 1_000_000, &format!("e{i}"), &read, &mut out);
    }
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].tenant.as_str(), out[0].events.clone()), ("acme", vec!["e0".into(), "e2".into(), "e4".into()]));
    assert_eq!(out[0].group, [("ComputerName".to_string(), "dc1".to_string())]);
    assert_eq!(c.needs().get(&rule), Some(&vec!["ComputerName".to_string()]));
}

const UPLOAD_BASELINE: &str = "title: Upload far above the host's own history
id: burst
correlation:
    type: value_sum
    rules: [upload]
    group-by: [host]
    timespan: 1h
    condition: {field: bytes, gte: 300}
    baseline: {periods: 24, factor: 5, learning: 6}
";

const HOUR: i64 = 3600;

/// A day of hourly uploads: h1 sends 100 an hour, h2 500.
fn a_day_of_uploads<'a>(h1: &'a [(&'a str, &'a str)], h2: &'a [(&'a str, &'a str)]) -> Vec<Ev<'a>> {
    (0..24).flat_map(|hour| [("upload", hour * HOUR + 10, h1), ("upload", hour * HOUR + 20, h2)]).collect()
}

#[test]
fn a_baseline_fires_on_a_window_far_above_the_groups_own_history() {
    let (h1, h2) = ([("host", "h1"), ("bytes", "100")], [("host", "h2"), ("bytes", "500")]);
    let mut events = a_day_of_uploads(&h1, &h2);
    // The same 1,000 from both: ten times h1's hourly average, twice h2's.
    let (b1, b2) = ([("host", "h1"), ("bytes", "1000")], [("host", "h2"), ("bytes", "1000")]);
    events.extend([("upload", 24 * HOUR + 100, &b1[..]), ("upload", 24 * HOUR + 100, &b2[..])]);
    // h2's 500 + 500 within an hour met the floor from the start, but not
    // its own average (never in its first 6 hours: still learning).
    check(UPLOAD_BASELINE, &events, 30 * HOUR, &[("burst", &["h1"], 24 * HOUR + 100, 24 * HOUR + 100, &["e48"])]);
    let set = rule_set(UPLOAD_BASELINE);
    let out = run(&set, &events, 30 * HOUR);
    assert_eq!((out[0].value, out[0].baseline), (1000.0, Some(100.0)));
}

#[test]
fn a_baseline_learns_before_it_fires_and_counts_idle_windows_as_zero() {
    let host = |h, b| [("host", h), ("bytes", b)];
    let (seen_once, burst) = (host("h3", "100"), host("h3", "10000"));
    // Seen one hour before the burst: still learning.
    check(UPLOAD_BASELINE, &[("upload", 0, &seen_once), ("upload", HOUR + 5, &burst)], 10 * HOUR, &[]);
    // Seen once, twenty hours before: 100 over 20 windows averages 5, so
    // 400 fires (5 x 5 = 25, and the floor of 300 is met).
    let small = host("h3", "400");
    check(
        UPLOAD_BASELINE,
        &[("upload", 0, &seen_once), ("upload", 20 * HOUR + 5, &small)],
        30 * HOUR,
        &[("burst", &["h3"], 20 * HOUR + 5, 20 * HOUR + 5, &["e1"])],
    );
    // Under the floor, never, whatever the history.
    let tiny = host("h3", "200");
    check(UPLOAD_BASELINE, &[("upload", 0, &seen_once), ("upload", 20 * HOUR + 5, &tiny)], 30 * HOUR, &[]);
}

#[test]
fn a_baseline_survives_a_restart_and_stays_bounded() {
    let set = rule_set(UPLOAD_BASELINE);
    let (h1, h2) = ([("host", "h1"), ("bytes", "100")], [("host", "h2"), ("bytes", "500")]);
    let day = a_day_of_uploads(&h1, &h2);
    let burst = [("host", "h1"), ("bytes", "1000")];
    let after: &[Ev<'_>] = &[("upload", 24 * HOUR + 100, &burst)];
    let mut first = Correlator::new(&set, Config::default());
    let mut out = Vec::new();
    feed(&mut first, &set, &day, &mut out);
    let mut second = Correlator::new(&set, Config::default());
    second.restore(&first.snapshot()).unwrap();
    feed(&mut second, &set, after, &mut out);
    assert_eq!(out.iter().map(|f| (f.value, f.baseline)).collect::<Vec<_>>(), [(1000.0, Some(100.0))]);

    // A thousand hosts an hour apart with room for a hundred: the least
    // recently active histories go, and are counted with the evicted groups
    // (900 here: with no lateness limit, no group expires).
    let mut c = Correlator::new(&set, Config { max_groups: 100, lateness_micros: i64::MAX / 4, ..Config::default() });
    let rule = set.rules().iter().position(|r| r.name.as_deref() == Some("upload")).unwrap();
    for i in 0..1000i64 {
        let host = format!("host-{i}");
        let read = |f: &str| match f {
            "host" => Some(host.clone()),
            "bytes" => Some("10".to_string()),
            _ => None,
        };
        c.observe("acme", rule, i * HOUR * 1_000_000, "e", &read, &mut out);
        assert!(c.history[0].len() <= 100);
    }
    let kept = c.history[0].len();
    for i in 1000 - kept..1000 {
        assert!(c.history[0].contains_key(&format!("acme\u{1f}host-{i}\u{1f}")), "host-{i}");
    }
    assert_eq!(c.stats().evicted, 900 + (1000 - c.history[0].len() as u64));
}
