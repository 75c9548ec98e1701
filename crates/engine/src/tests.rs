use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sigma::{CompileOptions, RuleSetBuilder};
use wal::Batch;

use super::*;

const RULE: &str = r#"
title: Sudo to root
id: 00000000-0000-0000-0000-000000000001
level: high
logsource:
    product: linux
detection:
    keywords:
        - 'USER=root'
    condition: keywords
"#;

fn rules() -> Arc<RuleSet> {
    rules_from(RULE)
}

fn rules_from(text: &str) -> Arc<RuleSet> {
    let mut b = RuleSetBuilder::new(CompileOptions::default());
    b.add_file("test.yml", text);
    let (set, errors) = b.build();
    assert!(errors.is_empty(), "{errors:?}");
    Arc::new(set)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hinomi-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn batch(records: &[&str]) -> Batch {
    Batch {
        received: 1_795_000_000_000_000_000,
        tenant: "default".into(),
        source: "test".into(),
        format: "auto".into(),
        records: records.iter().map(|r| r.to_string()).collect(),
    }
}

fn lines(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    wal::read_lines(dir, |l| {
        out.push(serde_json::from_str(l).unwrap());
        true
    })
    .unwrap();
    out
}

fn ids(values: &[serde_json::Value]) -> Vec<String> {
    values.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn records_become_events_alerts_and_dead_letters() {
    let data = tempdir("flow");
    let engine = Engine::start(EngineConfig::new(&data), rules()).unwrap();
    let ingest = engine.ingest();
    ingest
        .submit_blocking(batch(&[
            "<86>Nov 22 10:00:00 web01 sudo:    alice : TTY=pts/0 ; USER=root ; COMMAND=/bin/bash",
            "<13>Nov 22 10:00:01 web01 app: nothing to see",
            "<999>broken",
        ]))
        .unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    let events = lines(&data.join("events"));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["fields"]["host.name"], "web01");
    assert_eq!(events[0]["tenant"], "default");
    assert!(events[0]["event.original"].as_str().unwrap().contains("USER=root"));
    let alerts = lines(&data.join("alerts"));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule"]["title"], "Sudo to root");
    assert_eq!(alerts[0]["event_id"], events[0]["id"]);
    let dead = lines(&data.join("deadletter"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["reason"], "syslog: priority 999 is out of range 0-191");
    assert_eq!(dead[0]["raw"], "<999>broken");
}

#[test]
fn a_rule_a_tenant_switched_off_raises_nothing_for_it_and_for_the_others_still() {
    let data = tempdir("disabled");
    let rules = rules();
    let id = rules.rules()[0].id.clone();
    let mut config = EngineConfig::new(&data);
    config.disabled_rules.insert("acme".into(), [id.clone()].into());
    let engine = Engine::start(config, rules).unwrap();
    let ingest = engine.ingest();
    let sudo = "<86>Nov 22 10:00:00 web01 sudo:    alice : TTY=pts/0 ; USER=root ; COMMAND=/bin/bash";
    let of = |tenant: &str| Batch { tenant: tenant.into(), ..batch(&[sudo]) };
    ingest.submit_blocking(of("acme")).unwrap();
    ingest.submit_blocking(of("globex")).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    // Switched on again without a restart: the next record alerts.
    ingest.set_disabled_rules("acme", Default::default());
    ingest.submit_blocking(of("acme")).unwrap();
    // And off for globex.
    ingest.set_disabled_rules("globex", [id].into());
    ingest.submit_blocking(of("globex")).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    let alerts = lines(&data.join("alerts"));
    let tenants: Vec<&str> = alerts.iter().map(|a| a["tenant"].as_str().unwrap()).collect();
    assert_eq!(tenants, ["globex", "acme"]);
    // The events are kept all the same.
    assert_eq!(lines(&data.join("events")).len(), 4);
}

#[test]
fn replay_after_a_lost_checkpoint_writes_nothing_twice() {
    let data = tempdir("replay");
    let engine = Engine::start(EngineConfig::new(&data), rules()).unwrap();
    for i in 0..50 {
        let line = format!("<86>Nov 22 10:00:00 web01 sudo: u{i} : USER=root ; COMMAND=/bin/id");
        engine.ingest().submit_blocking(batch(&[&line, "<13>Nov 22 10:00:01 h app: other"])).unwrap();
    }
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    let events_before = lines(&data.join("events"));
    let alerts_before = lines(&data.join("alerts"));
    assert_eq!((events_before.len(), alerts_before.len()), (100, 50));
    // A crash before the first checkpoint: the journals hold more than the
    // checkpoint says, and the whole log replays.
    std::fs::remove_file(data.join("checkpoint.json")).unwrap();
    let engine = Engine::start(EngineConfig::new(&data), rules()).unwrap();
    assert_eq!(engine.resumed_from, 0);
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    assert_eq!(lines(&data.join("events")), events_before);
    assert_eq!(ids(&lines(&data.join("alerts"))), ids(&alerts_before));
    // A clean restart resumes at the end and adds only new records.
    let engine = Engine::start(EngineConfig::new(&data), rules()).unwrap();
    assert!(engine.resumed_from > 0);
    engine.ingest().submit_blocking(batch(&["<86>Nov 22 10:00:00 web01 sudo: z : USER=root ;"])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    let alerts = ids(&lines(&data.join("alerts")));
    assert_eq!(alerts.len(), 51);
    let mut unique = alerts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 51);
}

#[test]
fn a_rule_past_its_rate_limit_raises_one_notice_and_counts_the_rest() {
    let data = tempdir("rate-limit");
    let mut config = EngineConfig::new(&data);
    config.rate_limit = RateLimit { alerts: 3, window: Duration::from_secs(60) };
    let engine = Engine::start(config.clone(), rules()).unwrap();
    let sudo: Vec<String> = (0..10).map(|i| format!("<86>Nov 22 10:00:00 web01 sudo: u{i} : USER=root ;")).collect();
    let sudo: Vec<&str> = sudo.iter().map(String::as_str).collect();
    engine.ingest().submit_blocking(batch(&sudo)).unwrap();
    // Another tenant's matches have their own window.
    engine.ingest().submit_blocking(Batch { tenant: "other".into(), ..batch(&sudo[..2]) }).unwrap();
    // The next window raises again.
    let later = Batch { received: batch(&[]).received + 61_000_000_000, ..batch(&sudo[..1]) };
    engine.ingest().submit_blocking(later).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    let status = engine.ingest().status();
    engine.shutdown();
    let alerts = lines(&data.join("alerts"));
    let seen: Vec<(&str, &str)> =
        alerts.iter().map(|a| (a["tenant"].as_str().unwrap(), a["kind"].as_str().unwrap())).collect();
    let mut want = vec![("default", "sigma"); 3];
    want.push(("default", "rate_limit"));
    want.extend([("other", "sigma"); 2]);
    want.push(("default", "sigma"));
    assert_eq!(seen, want);
    let notice = &alerts[3];
    assert_eq!(notice["limited_rule"]["id"], "00000000-0000-0000-0000-000000000001");
    assert!(notice.get("rule").is_none(), "{notice}");
    assert_eq!(notice["id"], format!("{}.rate_limit", sudo_alert_id(&alerts, 3)));
    let title = notice["title"].as_str().unwrap();
    assert!(title.starts_with("rate limit reached: rule \"Sudo to root\" raised 3 alerts within 60 s"), "{title}");
    let counted: Vec<(&str, u64)> = status.rate_limited.iter().map(|r| (r.tenant.as_str(), r.suppressed)).collect();
    assert_eq!(counted, [("default", 7)]);
    // A replay of the whole log decides as the first run did.
    std::fs::remove_file(data.join("checkpoint.json")).unwrap();
    let engine = Engine::start(config, rules()).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    assert_eq!(ids(&lines(&data.join("alerts"))), ids(&alerts));
}

fn intel_set(text: &str, tenant: Option<&str>) -> Arc<intel::Set> {
    let read = intel::list::read(text, None);
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let entries = read
        .indicators
        .into_iter()
        .map(|i| intel::Entry { tenant: tenant.map(Into::into), feed: "partner".into(), indicator: Arc::new(i) })
        .collect();
    Arc::new(intel::Set::new(entries))
}

#[test]
fn events_matching_indicators_raise_intel_alerts_with_the_indicators_context() {
    let data = tempdir("intel");
    let mut config = EngineConfig::new(&data);
    config.rate_limit = RateLimit { alerts: 2, window: Duration::from_secs(60) };
    let csv = "value,type,confidence,tlp,tags\n198.51.100.7,ip,90,amber,c2;attack.t1071\nevil.example,domain,40,,\n";
    config.intel = intel_set(csv, None);
    let engine = Engine::start(config, rules()).unwrap();
    let ingest = engine.ingest();
    let conn = r#"{"source.ip": "10.0.0.5", "destination.ip": "198.51.100.7", "host.name": "ws1"}"#;
    let dns = r#"{"dns.question.name": "cdn.EVIL.example", "host.name": "ws2"}"#;
    let clean = r#"{"destination.ip": "198.51.100.8", "dns.question.name": "example.org"}"#;
    ingest.submit_blocking(Batch { format: "json".into(), ..batch(&[conn, dns, clean]) }).unwrap();
    // Three more matches of the address: two past the limit of 2 per
    // indicator and window (one notice, then counted).
    ingest.submit_blocking(Batch { format: "json".into(), ..batch(&[conn, conn, conn]) }).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    // Another tenant's own indicators do not match for this one, and a
    // set without the address stops matching it from the next chunk on.
    ingest.set_intel(intel_set("198.51.100.7\n", Some("globex")));
    ingest.submit_blocking(Batch { format: "json".into(), ..batch(&[conn]) }).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    let status = ingest.status();
    engine.shutdown();
    let alerts = lines(&data.join("alerts"));
    let kinds: Vec<(&str, &str)> =
        alerts.iter().map(|a| (a["kind"].as_str().unwrap(), a["title"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [
            ("intel", "Threat intel match: ip:198.51.100.7"),
            ("intel", "Threat intel match: domain:evil.example"),
            ("intel", "Threat intel match: ip:198.51.100.7"),
            ("rate_limit", kinds[3].1),
        ]
    );
    let first = &alerts[0];
    assert_eq!(first["level"], "high");
    assert_eq!(first["rule"]["id"], "intel:partner:ip:198.51.100.7");
    assert_eq!(first["rule"]["tags"], serde_json::json!(["tlp:amber", "attack.t1071"]));
    let indicator = &first["indicator"];
    assert_eq!(indicator["confidence"], 90);
    assert_eq!(indicator["tlp"], "amber");
    assert_eq!(indicator["shared"], true);
    assert_eq!(indicator["pattern"], "[ipv4-addr:value = '198.51.100.7']");
    assert_eq!(indicator["matched"], serde_json::json!([{"field": "destination.ip", "value": "198.51.100.7"}]));
    assert_eq!(first["event"]["host.name"], "ws1");
    assert_eq!(alerts[1]["level"], "low", "confidence 40");
    assert_eq!(alerts[1]["indicator"]["matched"][0]["value"], "cdn.evil.example");
    assert!(
        kinds[3].1.starts_with("rate limit reached: rule \"Threat intel match: ip:198.51.100.7\""),
        "{}",
        kinds[3].1
    );
    let counted: Vec<(&str, u64)> = status.rate_limited.iter().map(|r| (r.rule_id.as_str(), r.suppressed)).collect();
    assert_eq!(counted, [("intel:partner:ip:198.51.100.7", 2)]);
}

/// The id of the rule alert the rate-limit notice at `at` was made from:
/// the fourth record's.
fn sudo_alert_id(alerts: &[serde_json::Value], at: usize) -> String {
    let first = alerts[0]["id"].as_str().unwrap();
    let (event, rule) = first.split_once('.').map(|(p, rest)| (p, rest.split_once('.').unwrap().1)).unwrap();
    format!("{event}.{at}.{rule}")
}

/// The alert journal, failing every write while `full` is set, like a
/// full disk.
struct FillingSink {
    journal: wal::Journal,
    full: Arc<AtomicBool>,
}

impl AlertSink for FillingSink {
    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.full.load(Ordering::Acquire) {
            return Err(std::io::Error::other("no space left on device"));
        }
        self.journal.write_line(line)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.journal.flush()
    }

    fn sync(&mut self) -> std::io::Result<wal::JournalPos> {
        self.journal.sync()
    }

    fn rewind(&mut self, to: wal::JournalPos) -> std::io::Result<()> {
        self.journal.rewind(to)
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < until, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn after_a_failed_journal_write_the_pipeline_refuses_records_and_resumes_by_itself() {
    let data = tempdir("broken");
    let full = Arc::new(AtomicBool::new(false));
    let sink = FillingSink {
        journal: wal::Journal::open(data.join("alerts"), Default::default()).unwrap(),
        full: full.clone(),
    };
    let engine = Engine::start_with_alerts(EngineConfig::new(&data), rules(), Some(Box::new(sink))).unwrap();
    let ingest = engine.ingest();
    let line = |n: u32| format!("<86>Nov 22 10:00:00 web01 sudo: u{n} : USER=root ;");
    ingest.submit_blocking(batch(&[&line(1)])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    full.store(true, Ordering::Release);
    ingest.submit_blocking(batch(&[&line(2), &line(3)])).unwrap();
    // Detection stops at the failed write and says why; new records are
    // refused while it is stopped rather than piled up.
    wait_until("detection is stopped", || engine.status().stopped == ["detection"]);
    let status = engine.status();
    assert!(status.problem.as_deref().unwrap_or("").contains("no space left on device"), "{status:?}");
    assert!(matches!(ingest.submit_blocking(batch(&[&line(4)])), Err(Refused::Stopped(_))));
    assert!(!engine.drain(Duration::from_millis(300)), "nothing is processed past the failure");
    // Space again: the pipeline cuts the journals back to the checkpoint,
    // replays from there and takes records again, with no restart.
    full.store(false, Ordering::Release);
    wait_until("detection works again", || engine.status().stopped.is_empty());
    ingest.submit_blocking(batch(&[&line(5)])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    let status = engine.status();
    assert_eq!(status.problem, None, "{status:?}");
    engine.shutdown();
    for journal in ["events", "alerts"] {
        let mut ids = ids(&lines(&data.join(journal)));
        assert_eq!(ids.len(), 4, "{journal}: each of the four accepted records once");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4, "{journal}: none twice");
    }
}

#[test]
fn one_engine_per_data_directory() {
    let data = tempdir("lock");
    let first = Engine::start(EngineConfig::new(&data), rules()).unwrap();
    let second = Engine::start(EngineConfig::new(&data), rules()).err().unwrap();
    assert!(second.to_string().contains("in use by another hinomi process"), "{second}");
    first.shutdown();
    Engine::start(EngineConfig::new(&data), rules()).unwrap().shutdown();
}

#[test]
fn a_slow_pipeline_refuses_new_records_until_it_catches_up() {
    let data = tempdir("busy");
    let mut config = EngineConfig::new(&data);
    config.max_lag_bytes = 1000;
    config.slow_down = Duration::from_millis(300);
    let engine = Engine::start(config, rules()).unwrap();
    let ingest = engine.ingest();
    let big = "x".repeat(2000);
    ingest.submit_blocking(batch(&[&big])).unwrap();
    assert!(ingest.busy());
    assert_eq!(ingest.submit_blocking(batch(&["more"])), Err(Refused::Busy));
    assert!(engine.drain(Duration::from_secs(10)));
    assert!(!ingest.busy());
    ingest.submit_blocking(batch(&["more"])).unwrap();
}

#[test]
fn a_flooding_tenant_is_refused_before_the_others() {
    let data = tempdir("fair");
    let mut config = EngineConfig::new(&data);
    config.max_lag_bytes = 80_000;
    // Long enough that the pipeline's next chunk (which takes the whole
    // backlog at once) does not come between the steps below, even on a
    // loaded machine (at 500 ms it did once, beside a benchmark).
    config.slow_down = Duration::from_secs(3);
    let engine = Engine::start(config, rules()).unwrap();
    let ingest = engine.ingest();
    let of = |tenant: &str, text: &str| Batch { tenant: tenant.into(), ..batch(&[text]) };
    // The flood passes an eighth of the limit: its tenant is refused ...
    let mut accepted = 0;
    while ingest.submit_blocking(of("flood", &"x".repeat(4_000))).is_ok() {
        accepted += 1;
        assert!(accepted < 20, "the flood is never refused");
    }
    assert!(ingest.busy_for("flood") && !ingest.busy_for("quiet"));
    // ... while a quiet tenant is still let in, until it holds more than
    // its share in turn.
    ingest.submit_blocking(of("quiet", "USER=root")).unwrap();
    assert_eq!(ingest.submit_blocking(of("flood", "more")), Err(Refused::Busy));
    let mut quiet = 0;
    while ingest.submit_blocking(of("quiet", &"y".repeat(4_000))).is_ok() {
        quiet += 1;
        assert!(quiet < 20, "the quiet tenant is never refused");
    }
    assert!(quiet >= accepted - 1, "refused at {quiet} batches, the flood at {accepted}");
    assert!(!ingest.busy_for("someone else"));
    assert!(engine.drain(Duration::from_secs(30)));
    assert!(!ingest.busy_for("flood"));
}

#[test]
fn an_indexer_behind_refuses_the_tenant_holding_its_backlog_first() {
    let data = tempdir("index-lag");
    let mut config = with_store(&data);
    // Indexing may be 256 KiB behind; from 128 KiB its share decides.
    config.max_lag_bytes = 64 << 10;
    // No commit within the test: what is indexed stays behind in the log.
    if let Some(store) = config.store.as_mut() {
        store.commit_interval = Duration::from_secs(600);
    }
    let engine = Engine::start(config, rules()).unwrap();
    let ingest = engine.ingest();
    let of = |tenant: &str, text: &str| Batch { tenant: tenant.into(), ..batch(&[text]) };
    let mut accepted = 0;
    loop {
        // Detection keeps up: only indexing is behind.
        assert!(engine.drain(Duration::from_secs(10)));
        match ingest.submit_blocking(of("flood", &"x".repeat(16 << 10))) {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert_eq!(e, Refused::Busy);
                break;
            }
        }
        assert!(accepted < 20, "the flood is never refused");
    }
    assert!(accepted >= 7, "refused after {accepted} batches: before indexing was behind");
    assert!(ingest.busy_for("flood") && !ingest.busy_for("quiet"));
    ingest.submit_blocking(of("quiet", "USER=root")).unwrap();
    // A commit takes the backlog away.
    engine.shutdown();
    let engine = Engine::start(with_store(&data), rules()).unwrap();
    assert!(!engine.ingest().busy_for("flood"));
    engine.shutdown();
}

#[test]
fn at_the_log_ceiling_every_record_is_refused_with_the_reason_and_none_is_lost() {
    let data = tempdir("log-ceiling");
    let mut config = with_store(&data);
    config.max_lag_bytes = 1 << 30;
    config.max_log_bytes = 1 << 20;
    // The indexer does not commit within the test: it holds the log.
    if let Some(store) = config.store.as_mut() {
        store.commit_interval = Duration::from_secs(600);
    }
    let engine = Engine::start(config.clone(), rules()).unwrap();
    let ingest = engine.ingest();
    let line = format!("<13>Nov 22 10:00:00 h app: ceiling {}", "x".repeat(16 << 10));
    let mut accepted = 0;
    let refused = loop {
        assert!(engine.drain(Duration::from_secs(10)));
        match ingest.submit_blocking(batch(&[&line])) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 200, "never refused");
    };
    let Refused::Stopped(why) = refused else { panic!("{refused:?}") };
    assert!(why.contains("ceiling") && why.contains("indexing"), "{why}");
    let status = engine.status();
    assert!(status.log_bytes >= 1 << 20 && status.max_log_bytes == 1 << 20, "{status:?}");
    let indexing = status.behind.iter().find(|b| b.name == "indexing").unwrap();
    assert!(indexing.lag_bytes >= 1 << 20, "{status:?}");
    assert!(accepted >= (1 << 20) / (16 << 10) - 1, "refused after {accepted}");
    engine.shutdown();
    // The stop commits what was indexed; everything accepted is there.
    let engine = Engine::start(with_store(&data), rules()).unwrap();
    assert!(engine.drain(Duration::from_secs(10)) && engine.drain_index(Duration::from_secs(30)));
    assert_eq!(search(&engine, "ceiling | stats count()")[0]["count()"], accepted);
    engine.ingest().submit_blocking(batch(&[&line])).unwrap();
    engine.shutdown();
}

#[test]
fn a_watched_reader_behind_slows_every_sender() {
    let data = tempdir("watched");
    let engine = Engine::start(EngineConfig::new(&data), rules()).unwrap();
    let ingest = engine.ingest();
    let lag = Arc::new(std::sync::atomic::AtomicU64::new(0));
    ingest.watch("triage", lag.clone(), 1000);
    ingest.submit_blocking(batch(&["<13>Nov 22 10:00:00 h app: one"])).unwrap();
    lag.store(1001, std::sync::atomic::Ordering::Release);
    assert_eq!(ingest.submit_blocking(batch(&["<13>Nov 22 10:00:00 h app: two"])), Err(Refused::Busy));
    assert!(ingest.busy());
    let triage = engine.status().behind.into_iter().find(|b| b.name == "triage").unwrap();
    assert_eq!((triage.lag_bytes, triage.max_bytes), (1001, 1000));
    lag.store(10, std::sync::atomic::Ordering::Release);
    ingest.submit_blocking(batch(&["<13>Nov 22 10:00:00 h app: three"])).unwrap();
    engine.shutdown();
}

fn with_store(data: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(data);
    let mut store = StoreSettings::new(data.join("store"));
    store.commit_interval = Duration::from_millis(50);
    config.store = Some(store);
    config
}

fn search(engine: &Engine, q: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let query = query::parse(q).unwrap();
    let tenants = vec!["default".to_string()];
    let req = eventstore::SearchRequest {
        tenants: &tenants,
        query: &query,
        from: None,
        to: None,
        now: jiff::Timestamp::now(),
        limit: 10_000,
        limits: query::Limits::default(),
        timeout: Duration::from_secs(30),
    };
    engine.store().unwrap().search(&req, &Renormalize).unwrap().rows
}

#[test]
fn events_reach_the_store_once_across_restarts() {
    let data = tempdir("store");
    let mut config = with_store(&data);
    let view = normalize::view(Some("linux"), Some("sudo"), None);
    config.log_sources.insert(("default".into(), "sudo-feed".into()), view);
    let engine = Engine::start(config.clone(), rules()).unwrap();
    for i in 0..20 {
        let line = format!("<86>Nov 22 10:00:00 web01 sudo: u{i} : USER=root ; COMMAND=/bin/id");
        engine.ingest().submit_blocking(batch(&[&line, "<13>Nov 22 10:00:01 h app: other", "<999>broken"])).unwrap();
    }
    let mut configured = batch(&["<86>Nov 22 10:00:02 web02 sudo: carol : USER=root ; COMMAND=/bin/sh"]);
    configured.source = "sudo-feed".into();
    engine.ingest().submit_blocking(configured).unwrap();
    assert!(engine.drain(Duration::from_secs(10)) && engine.drain_index(Duration::from_secs(10)));
    assert_eq!(engine.status().index_lag_bytes, Some(0));
    // Dead letters are not events; the configured log source is kept.
    assert_eq!(search(&engine, "").len(), 41);
    assert_eq!(search(&engine, "u7").len(), 1);
    let rows = search(&engine, "_logsource:\"linux/sudo/*\"");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["host.name"], "web02");
    engine.shutdown();
    // A lost checkpoint and a lost store position: everything replays,
    // nothing is stored twice.
    std::fs::remove_file(data.join("checkpoint.json")).unwrap();
    std::fs::remove_file(data.join("store/position.json")).unwrap();
    let engine = Engine::start(config.clone(), rules()).unwrap();
    engine.ingest().submit_blocking(batch(&["<86>Nov 22 10:00:03 web01 sudo: zed : USER=root ;"])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)) && engine.drain_index(Duration::from_secs(10)));
    let rows = search(&engine, "| stats count(), dc(_id)");
    assert_eq!(serde_json::Value::Object(rows[0].clone()), serde_json::json!({"count()": 42, "dc(_id)": 42}));
    engine.shutdown();
}

#[test]
fn a_stop_leaves_the_indexing_backlog_to_the_log_and_a_restart_indexes_it_once() {
    let data = tempdir("index-backlog");
    let mut config = with_store(&data);
    config.events_journal = false;
    config.seal_on_stop = true;
    let engine = Engine::start(config.clone(), rules()).unwrap();
    let lines: Vec<String> = (0..300_000).map(|i| format!("<13>Nov 22 10:00:00 h app: backlog n={i}")).collect();
    for chunk in lines.chunks(10_000) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        engine.ingest().submit_blocking(batch(&refs)).unwrap();
    }
    let end = engine.status().wal_end;
    let started = std::time::Instant::now();
    engine.shutdown();
    // The stop did not wait for the index to catch up: part of the log was
    // left to the next start.
    let position: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("store/position.json")).unwrap()).unwrap();
    let covered = position["covered"].as_u64().unwrap();
    eprintln!("stopped in {:?}, indexed up to {covered} of {end}", started.elapsed());
    assert!(covered < end, "indexed up to {covered} of {end}: no backlog was left at the stop");
    let engine = Engine::start(config.clone(), rules()).unwrap();
    assert!(engine.drain(Duration::from_secs(20)) && engine.drain_index(Duration::from_secs(60)));
    let rows = search(&engine, "backlog | stats count(), dc(_id)");
    assert_eq!(serde_json::Value::Object(rows[0].clone()), serde_json::json!({"count()": 300000, "dc(_id)": 300000}));
    engine.shutdown();
    // Everything is indexed and detected: the stop leaves no log behind,
    // and the next start goes on from its end.
    let log_bytes =
        || -> u64 { std::fs::read_dir(data.join("wal")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum() };
    assert_eq!(log_bytes(), 0);
    let engine = Engine::start(config, rules()).unwrap();
    assert_eq!(engine.status().wal_end, end);
    engine.ingest().submit_blocking(batch(&["<13>Nov 22 10:00:01 h app: after the seal"])).unwrap();
    assert!(engine.drain(Duration::from_secs(20)) && engine.drain_index(Duration::from_secs(20)));
    assert_eq!(search(&engine, "seal").len(), 1);
    assert_eq!(search(&engine, "backlog | stats count()")[0]["count()"], 300000);
    engine.shutdown();
}

#[test]
fn retention_runs_in_the_indexer_and_the_journal_can_be_off() {
    let data = tempdir("retention");
    let mut config = with_store(&data);
    config.events_journal = false;
    if let Some(store) = &mut config.store {
        store.default_retention = (Some(2), None);
        store.retention_check = Duration::from_millis(20);
    }
    let engine = Engine::start(config, rules()).unwrap();
    let now = jiff::Timestamp::now();
    let old = now - jiff::SignedDuration::from_hours(24 * 5);
    // Syslog, so that the Linux rule applies (generic JSON is tried only
    // against rules that name no product).
    let line = |t: jiff::Timestamp, who: &str| {
        let t = t.round(jiff::Unit::Second).unwrap();
        format!("<86>1 {t} h1 sudo - - - {who} : TTY=pts/0 ; USER=root ; COMMAND=/bin/id")
    };
    engine.ingest().submit_blocking(batch(&[&line(old, "old"), &line(now, "new")])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)) && engine.drain_index(Duration::from_secs(10)));
    let store = engine.store().unwrap().clone();
    let days = || store.partitions(None).into_iter().map(|p| p.day).collect::<Vec<_>>();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let mut waited = 0;
    while days() != [today.clone()] && waited < 200 {
        std::thread::sleep(Duration::from_millis(25));
        waited += 1;
    }
    assert_eq!(days(), [today], "the five-day-old partition is deleted, today's kept");
    assert_eq!(search(&engine, "").len(), 1);
    engine.shutdown();
    // The alert still fired; no event went to the journal.
    assert!(lines(&data.join("events")).is_empty());
    assert_eq!(lines(&data.join("alerts")).len(), 2);
}

const CORRELATION: &str = r#"
title: Failed logon
id: 00000000-0000-0000-0000-0000000000a1
name: failed_logon
logsource: {category: test}
detection: {sel: {event.action: logon-failed}, condition: sel}
---
title: Logon
id: 00000000-0000-0000-0000-0000000000a2
name: logon
logsource: {category: test}
detection: {sel: {event.action: logon}, condition: sel}
---
title: Failed logons
id: 00000000-0000-0000-0000-0000000000a3
name: failed_logons
correlation: {type: event_count, rules: [failed_logon], group-by: [user.name], timespan: 10m, condition: {gte: 3}}
---
title: Brute force then logon
id: 00000000-0000-0000-0000-0000000000a4
level: high
correlation: {type: temporal_ordered, rules: [failed_logons, logon], group-by: [user.name], timespan: 1h}
"#;

fn json_batch(lines: &[serde_json::Value]) -> Batch {
    let records: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    Batch { format: "json".into(), records, ..batch(&[]) }
}

fn logon(action: &str, user: &str, second: u32) -> serde_json::Value {
    serde_json::json!({"@timestamp": format!("2026-11-20T10:00:{second:02}Z"), "event.action": action, "user.name": user})
}

#[test]
fn a_correlation_spanning_a_restart_fires_once() {
    let data = tempdir("correlation");
    let rules = rules_from(CORRELATION);
    // The failures, then events no correlation uses (checkpoints that need
    // not write the state again), then a clean stop.
    let mut config = EngineConfig::new(&data);
    config.checkpoint_interval = Duration::from_millis(20);
    let engine = Engine::start(config.clone(), rules.clone()).unwrap();
    let failures: Vec<_> = (0..3).map(|i| logon("logon-failed", "alice", i * 10)).collect();
    engine.ingest().submit_blocking(json_batch(&failures)).unwrap();
    engine.ingest().submit_blocking(json_batch(&[logon("logon-failed", "bob", 1)])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(200));
    let saved = std::fs::read(data.join("correlation.json")).unwrap();
    for i in 0..3 {
        engine.ingest().submit_blocking(json_batch(&[logon("file-read", "carol", 30 + i)])).unwrap();
        assert!(engine.drain(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(engine.status().correlation.groups, 2, "alice's chain and bob's count are held");
    engine.shutdown();
    assert_eq!(std::fs::read(data.join("correlation.json")).unwrap(), saved, "an unchanged state is not rewritten");
    let valid: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("correlation-valid.json")).unwrap()).unwrap();
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(valid["to"], checkpoint["wal"], "{valid} {checkpoint}");
    assert!(lines(&data.join("alerts")).is_empty(), "the base rules and the inner count are no alerts");
    // After the restart, the logon completes the chain.
    let engine = Engine::start(config, rules.clone()).unwrap();
    engine.ingest().submit_blocking(json_batch(&[logon("logon", "alice", 50)])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    let alerts = lines(&data.join("alerts"));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(
        (a["kind"].as_str(), a["level"].as_str(), a["tenant"].as_str()),
        (Some("correlation"), Some("high"), Some("default"))
    );
    assert_eq!(a["event"]["user.name"], "alice");
    assert_eq!(a["events"].as_array().unwrap().len(), 4, "every contributing event");
    assert_eq!(a["@timestamp"], "2026-11-20T10:00:50Z");
    // A crash that lost the checkpoint replays everything: still one alert,
    // with the same id.
    std::fs::remove_file(data.join("checkpoint.json")).unwrap();
    let engine = Engine::start(EngineConfig::new(&data), rules).unwrap();
    assert_eq!(engine.resumed_from, 0);
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    assert_eq!(ids(&lines(&data.join("alerts"))), ids(&alerts));
}

#[test]
fn a_correlation_a_tenant_switched_off_raises_nothing_for_it() {
    let data = tempdir("correlation-off");
    let chain = "00000000-0000-0000-0000-0000000000a4";
    let mut config = EngineConfig::new(&data);
    config.disabled_rules.insert("acme".into(), [chain.to_string()].into());
    let engine = Engine::start(config, rules_from(CORRELATION)).unwrap();
    let mut events: Vec<_> = (0..3).map(|i| logon("logon-failed", "alice", i * 10)).collect();
    events.push(logon("logon", "alice", 50));
    for tenant in ["acme", "globex"] {
        engine.ingest().submit_blocking(Batch { tenant: tenant.into(), ..json_batch(&events) }).unwrap();
    }
    assert!(engine.drain(Duration::from_secs(10)));
    // On again without a restart: acme's next chain alerts.
    engine.ingest().set_disabled_rules("acme", Default::default());
    let later: Vec<_> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["user.name"] = "bob".into();
            e
        })
        .collect();
    engine.ingest().submit_blocking(Batch { tenant: "acme".into(), ..json_batch(&later) }).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    engine.shutdown();
    let alerts = lines(&data.join("alerts"));
    let who: Vec<(&str, &str)> =
        alerts.iter().map(|a| (a["tenant"].as_str().unwrap(), a["event"]["user.name"].as_str().unwrap())).collect();
    assert_eq!(who, [("globex", "alice"), ("acme", "bob")]);
}

#[test]
fn a_retro_hunt_runs_the_correlations_and_agrees_with_the_stream() {
    let data = tempdir("retro-correlation");
    let rules = rules_from(CORRELATION);
    let engine = Engine::start(with_store(&data), rules.clone()).unwrap();
    let mut events: Vec<_> = (0..3).map(|i| logon("logon-failed", "alice", i * 10)).collect();
    events.push(logon("logon", "alice", 50));
    events.push(logon("logon", "bob", 51));
    engine.ingest().submit_blocking(json_batch(&events)).unwrap();
    assert!(engine.drain(Duration::from_secs(10)));
    assert!(engine.drain_index(Duration::from_secs(10)));
    let tenants = vec!["default".to_string()];
    let hunt =
        retro::RetroHunt { store: engine.store().unwrap(), rules: &rules, tenants: &tenants, from: None, to: None };
    let (found, summary) = retro::collect(&hunt, &|_| {}).unwrap();
    engine.shutdown();
    let found: Vec<serde_json::Value> = found.iter().map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(summary.alerts, 1);
    assert_eq!((found[0]["kind"].as_str(), found[0]["origin"].as_str()), (Some("correlation"), Some("retro-hunt")));
    // The same alert as the stream's, id and evidence alike.
    let stream = lines(&data.join("alerts"));
    assert_eq!(stream.len(), 1);
    assert_eq!((&found[0]["id"], &found[0]["events"]), (&stream[0]["id"], &stream[0]["events"]));
}

const GEO_RULE: &str = r#"
title: Sign-in from Japan
id: 00000000-0000-0000-0000-0000000000b1
level: medium
logsource: {category: test}
detection: {sel: {source.geo.country_iso_code: JP, event.action: logon}, condition: sel}
"#;

fn test_geo() -> Arc<geo::Geo> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../geo/tests/data/test-city.mmdb");
    Arc::new(geo::Geo::from_bytes(std::fs::read(path).unwrap()).unwrap())
}

#[test]
fn geolocation_is_detected_on_stored_and_seen_again_by_searches_and_retro_hunts() {
    let data = tempdir("geo");
    let rules = rules_from(GEO_RULE);
    let mut config = with_store(&data);
    config.geo = Some(test_geo());
    let engine = Engine::start(config.clone(), rules.clone()).unwrap();
    let signin = |ip: &str, second: u32| {
        let mut e = logon("logon", "alice", second);
        e["source.ip"] = ip.into();
        e
    };
    // Tokyo, an address no database places, and a shipper's own country.
    let mut shipped = signin("198.51.100.8", 2);
    shipped["source.geo.country_iso_code"] = "FR".into();
    engine.ingest().submit_blocking(json_batch(&[signin("198.51.100.7", 1), shipped, signin("10.0.0.5", 3)])).unwrap();
    assert!(engine.drain(Duration::from_secs(10)) && engine.drain_index(Duration::from_secs(10)));
    // Detection saw the country.
    let alerts = lines(&data.join("alerts"));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["event"]["source.geo.city_name"], "Tokyo");
    let alert_event = alerts[0]["event_id"].as_str().unwrap().to_string();

    // Searches read it back from the store, field terms included.
    let rows = search(&engine, "source.geo.country_iso_code:JP");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["source.geo.city_name"].as_str(), rows[0]["_id"].as_str()),
        (Some("Tokyo"), Some(&*alert_event))
    );
    assert_eq!(rows[0]["source.geo.location.lat"], 35.6895);
    assert_eq!(search(&engine, "source.geo.country_iso_code:FR").len(), 1);
    assert_eq!(search(&engine, "source.geo.country_iso_code:*").len(), 2);

    // A retro-hunt sees what the stream saw, even with no database loaded
    // now: the added fields were kept with the event.
    engine.shutdown();
    config.geo = None;
    let engine = Engine::start(config, rules.clone()).unwrap();
    let tenants = vec!["default".to_string()];
    let hunt =
        retro::RetroHunt { store: engine.store().unwrap(), rules: &rules, tenants: &tenants, from: None, to: None };
    let (found, _) = retro::collect(&hunt, &|_| {}).unwrap();
    let found: Vec<serde_json::Value> = found.iter().map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["id"], alerts[0]["id"]);
    assert_eq!(search(&engine, "source.geo.country_iso_code:JP").len(), 1);
    engine.shutdown();
}

mod hostile;

#[test]
fn frame_buffers_past_the_budget_are_let_go() {
    let mut buffers: Vec<Vec<u8>> = [10, 30, 5, 50, 1].iter().map(|&n| Vec::with_capacity(n)).collect();
    crate::trim_buffers(buffers.iter_mut(), 45);
    let kept: Vec<bool> = buffers.iter().map(|b| b.capacity() > 0).collect();
    assert_eq!(kept, [true, true, true, false, false]);
}
