//! Hinomi's rule pack (`rules/hinomi`) and the rules-as-code commands:
//! every case of the pack passes, the pack loads with correlations and
//! covers the expected techniques, and the commands fail when they should.

use std::path::Path;

use crate::hinomi;

fn pack() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/hinomi").display().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_rule_of_the_pack_passes_its_tests() {
    let out = hinomi(&["rules", "test", &pack(), "--format", "jsonl"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let cases: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    assert!(cases.iter().all(|c| c["passed"] == true));
    // Every rule file of the pack has a test file.
    let rule_files = crate::files_under(Path::new(&pack()), |p| {
        p.extension().is_some_and(|e| e == "yml") && !p.to_string_lossy().ends_with(".test.yml")
    });
    let tested: std::collections::BTreeSet<String> =
        cases.iter().map(|c| c["file"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tested.len(), rule_files.len(), "{tested:?}");
}

#[test]
fn the_pack_loads_with_correlations_and_covers_the_scenarios() {
    let out = hinomi(&["rules", "check", &pack()]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let summary = text(&out.stderr);
    let numbers: Vec<usize> = summary.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let (rules, correlations) = (numbers[0], numbers[1]);
    assert!(rules + correlations >= 25 && correlations >= 10, "{summary}");
    let layer = std::env::temp_dir().join(format!("hinomi-layer-{}.json", std::process::id()));
    let out = hinomi(&["rules", "coverage", &pack(), "--navigator", &layer.display().to_string(), "--format", "csv"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&layer).unwrap()).unwrap();
    let ids: Vec<&str> =
        v["techniques"].as_array().unwrap().iter().map(|t| t["techniqueID"].as_str().unwrap()).collect();
    for want in [
        "T1110.001",
        "T1110.003",
        "T1078",
        "T1021.002",
        "T1048",
        "T1046",
        "T1190",
        "T1566.001",
        "T1570",
        "T1562.008",
        "T1098.001",
        "T1537",
    ] {
        assert!(ids.contains(&want), "{want} not in {ids:?}");
    }
    assert_eq!(v["domain"], "enterprise-attack");
    assert!(text(&out.stdout).starts_with("technique,tactics,rules,titles"));
    let _ = std::fs::remove_file(layer);
}

#[test]
fn the_commands_fail_when_they_should() {
    let dir = std::env::temp_dir().join(format!("hinomi-rules-as-code-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rule = "title: Whoami\nid: 11111111-2222-3333-4444-555555555555\nlevel: low\ndescription: d\nauthor: a\n\
                tags: [attack.t1033]\nlogsource: {category: process_creation, product: windows}\n\
                detection: {sel: {Image|endswith: '\\whoami.exe'}, condition: sel}\n";
    std::fs::write(dir.join("whoami.yml"), rule).unwrap();
    // A wrong expectation fails the run and says what fired.
    std::fs::write(
        dir.join("whoami.test.yml"),
        "tests:\n  - name: whoami\n    match: false\n    events: [{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\Windows\\\\System32\\\\whoami.exe\"}]\n",
    )
    .unwrap();
    let out = hinomi(&["rules", "test", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("expected 11111111-2222-3333-4444-555555555555 not to fire"),
        "{}",
        text(&out.stdout)
    );
    // A duplicate id fails the check with both places.
    std::fs::write(dir.join("copy.yml"), rule).unwrap();
    let out = hinomi(&["rules", "check", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("duplicate rule id"));
    // A lint warning fails only --strict.
    std::fs::remove_file(dir.join("copy.yml")).unwrap();
    std::fs::write(
        dir.join("bare.yml"),
        "title: t\nid: x\nlogsource: {product: linux}\ndetection: {k: [foo], condition: k}\n",
    )
    .unwrap();
    assert!(hinomi(&["rules", "check", &dir.display().to_string()]).status.success());
    let out = hinomi(&["rules", "check", &dir.display().to_string(), "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("no `level`"));
    let _ = std::fs::remove_dir_all(&dir);
}

const LOGON_TYPES: [u8; 4] = [2, 3, 5, 10];
const PORTS: [u16; 3] = [443, 80, 53];
const METHODS: [&str; 2] = ["GET", "POST"];

/// A small deterministic generator for the benign corpus.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A day of ordinary activity of a 200-person company: Windows logons,
/// firewall and proxy traffic, web requests, CloudTrail reads, clean mail.
fn benign_corpus(n: usize) -> Vec<String> {
    use serde_json::json;
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut out = Vec::with_capacity(n);
    let start = 1_795_000_000i64; // 2026-11-18
    let queries =
        ["q=quarterly+report", "page=3&sort=desc", "id=42", "lang=ja", "search=union+station", "ref=newsletter"];
    let apis = ["GetObject", "ListBuckets", "DescribeInstances", "GetCallerIdentity", "ListUsers", "DescribeTrails"];
    for i in 0..n {
        let t = jiff::Timestamp::from_second(start + (i as i64 * 86_400 / n as i64)).unwrap().to_string();
        let user = format!("user{:03}", rng.below(200));
        // Each person uses their own workstation and two shared servers.
        let ws = format!("WS-{:03}", user[4..].parse::<u64>().unwrap());
        let host = [ws.clone(), "SRV-FILE-01".into(), "SRV-APP-01".into()][rng.below(3) as usize].clone();
        let ip = format!("10.20.{}.{}", rng.below(4), 10 + rng.below(200));
        let line = match i % 20 {
            0..=7 => {
                json!({"EventTime": t, "Channel": "Security", "Computer": format!("{host}.corp.example"), "EventID": 4624,
                "LogonType": (LOGON_TYPES[rng.below(4) as usize]), "TargetUserName": user, "IpAddress": ip})
            }
            8 => {
                json!({"EventTime": t, "Channel": "Security", "Computer": format!("{host}.corp.example"), "EventID": 4672, "SubjectUserName": format!("{ws}$")})
            }
            9 => {
                json!({"EventTime": t, "Channel": "Security", "Computer": format!("{host}.corp.example"), "EventID": 4634, "TargetUserName": user})
            }
            10 if rng.below(10) == 0 => {
                json!({"EventTime": t, "Channel": "Security", "Computer": format!("{ws}.corp.example"), "EventID": 4625,
                "LogonType": 2, "TargetUserName": user, "IpAddress": "127.0.0.1"})
            }
            10..=13 => {
                json!({"@timestamp": t, "event.category": "network", "event.action": "allow", "event.outcome": "success",
                "source.ip": ip, "destination.ip": format!("198.51.100.{}", 1 + rng.below(50)), "destination.port": (PORTS[rng.below(3) as usize]),
                "source.bytes": 500 + rng.below(5_000_000)})
            }
            14 | 15 => {
                json!({"@timestamp": t, "cs-method": (METHODS[rng.below(2) as usize]), "cs-host": "docs.example.com", "cs-uri-stem": "/api",
                "cs-bytes": 200 + rng.below(200_000), "sc-status": 200, "c-ip": ip, "cs-username": user})
            }
            16 | 17 => {
                json!({"@timestamp": t, "cs-method": "GET", "cs-uri-stem": "/products", "cs-uri-query": queries[rng.below(6) as usize],
                "sc-status": 200, "c-ip": format!("203.0.113.{}", rng.below(250)), "c-useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"})
            }
            18 => {
                json!({"eventVersion": "1.08", "eventTime": t, "eventSource": "s3.amazonaws.com", "eventName": apis[rng.below(6) as usize],
                "userIdentity": {"type": "IAMUser", "userName": user}, "sourceIPAddress": "198.51.100.200"})
            }
            _ => {
                json!({"@timestamp": t, "event.category": "email", "event.action": "delivered", "event.outcome": "clean",
                "email.to.address": format!("{user}@corp.example"), "email.to.user": user, "email.attachments.file.name": "minutes.pdf"})
            }
        };
        out.push(line.to_string());
    }
    out
}

/// A day of benign traffic (100,000 events) through the real pipeline
/// (`hinomi import`, correlations included) raises no high or critical
/// alert of the pack.
#[test]
fn a_benign_day_raises_no_high_or_critical_alert() {
    let dir = std::env::temp_dir().join(format!("hinomi-benign-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = benign_corpus(100_000);
    std::fs::write(dir.join("day.jsonl"), corpus.join("\n") + "\n").unwrap();
    let data = dir.join("data").display().to_string();
    let out = hinomi(&["import", "--data", &data, "--rules", &pack(), &dir.join("day.jsonl").display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut alerts = Vec::new();
    wal::read_lines(&dir.join("data/alerts"), |l| {
        alerts.push(serde_json::from_str::<serde_json::Value>(l).unwrap());
        true
    })
    .unwrap();
    let loud: Vec<String> = alerts
        .iter()
        .filter(|a| matches!(a["level"].as_str(), Some("high" | "critical")))
        .map(|a| format!("{} {}", a["level"], a["title"]))
        .collect();
    assert!(loud.is_empty(), "{} high or critical alerts, the first: {:?}", loud.len(), &loud[..loud.len().min(5)]);
    // The corpus did reach the rules: events were stored and low-level
    // alerts (typos at the password prompt) were raised.
    assert!(!alerts.is_empty());
    let out = hinomi(&["search", "--data", &data, "--format", "jsonl", "| stats count()"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), r#"{"count()":100000}"#);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `hinomi hunt` over files runs the correlations too: a brute force and
/// the logon after it, in a file whose lines are out of order.
#[test]
fn hunt_runs_the_correlations_over_files() {
    let dir = std::env::temp_dir().join(format!("hinomi-hunt-corr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut lines: Vec<String> = (0..12)
        .map(|i| {
            serde_json::json!({"EventTime": format!("2026-11-20T10:00:{:02}Z", i * 4), "Channel": "Security",
                "Computer": "WS-042.corp.example", "EventID": 4625, "LogonType": 3, "TargetUserName": "alice", "IpAddress": "203.0.113.9"})
            .to_string()
        })
        .collect();
    lines.insert(0, serde_json::json!({"EventTime": "2026-11-20T10:20:00Z", "Channel": "Security", "Computer": "WS-042.corp.example",
        "EventID": 4624, "LogonType": 3, "TargetUserName": "alice", "IpAddress": "203.0.113.9"}).to_string());
    std::fs::write(dir.join("security.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = hinomi(&["hunt", &dir.display().to_string(), "--rules", &pack(), "--format", "jsonl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let found: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let titles: Vec<&str> = found.iter().map(|f| f["rule_title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Brute Force Against One Account"), "{titles:?}");
    assert!(titles.contains(&"Brute Force Followed By A Successful Logon"), "{titles:?}");
    assert!(!titles.contains(&"Failed Logon"), "a building block alone is no detection: {titles:?}");
    // The chain's line carries the group and all thirteen events, and sits
    // at the logon's time in the timeline.
    let chain = found.iter().find(|f| f["rule_title"] == "Brute Force Followed By A Successful Logon").unwrap();
    assert_eq!(chain["timestamp"], "2026-11-20T10:20:00Z");
    assert_eq!(chain["event"]["TargetUserName"], "alice");
    assert_eq!(chain["event"]["correlation.event_count"], 11);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Impossible travel over a file of sign-ins that carry no country: only
/// with `--geoip` (the geo crate's test database) do they get one.
#[test]
fn hunt_geolocates_with_a_database_and_finds_impossible_travel() {
    let dir = std::env::temp_dir().join(format!("hinomi-hunt-geo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let signin = |at: &str, ip: &str| {
        serde_json::json!({"@timestamp": at, "event.category": "authentication", "event.outcome": "success",
            "user.name": "alice", "source.ip": ip})
        .to_string()
    };
    let lines = [signin("2026-11-20T01:00:00Z", "198.51.100.7"), signin("2026-11-20T01:50:00Z", "203.0.113.5")];
    std::fs::write(dir.join("signins.jsonl"), lines.join("\n") + "\n").unwrap();
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("../geo/tests/data/test-city.mmdb").display().to_string();
    let hunt = |extra: &[&str]| {
        let mut args =
            vec!["hunt", "--rules", &*pack(), "--format", "jsonl"].into_iter().map(String::from).collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(dir.display().to_string());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = hinomi(&refs);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(hunt(&[]).len(), 0);
    let found = hunt(&["--geoip", &db]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0]["rule_title"].as_str(), found[0]["event"]["user.name"].as_str()),
        (Some("Impossible Travel"), Some("alice"))
    );
    let out = hinomi(&[
        "hunt",
        "--rules",
        &pack(),
        "--geoip",
        &dir.join("signins.jsonl").display().to_string(),
        &dir.display().to_string(),
    ]);
    assert!(!out.status.success() && text(&out.stderr).contains("not a MaxMind database"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
