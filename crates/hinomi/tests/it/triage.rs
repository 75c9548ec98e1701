//! Triage driven by event files through the binary: `hinomi import` runs
//! the rules and triages the detections; `hinomi alerts` and `hinomi
//! incident` read the queue back. Rules and events are our own
//! (tests/data/triage): a brute force on alice, the successful logon,
//! then admin rights, on one host, next to unrelated noise.

use serde_json::Value;
use state::State;

use crate::{hinomi, test_data};

fn run(args: &[&str]) -> String {
    let out = hinomi(args);
    assert!(out.status.success(), "hinomi {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn import(data: &str, file: &std::path::Path) {
    let rules = test_data().join("triage/rules");
    run(&["import", "--data", data, "--rules", &rules.display().to_string(), &file.display().to_string()]);
}

#[test]
fn brute_force_then_logon_then_privileges_is_one_incident() {
    let dir = std::env::temp_dir().join(format!("hinomi-triage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    // The host is a critical asset: its alerts rank one or two steps higher.
    let assets = dir.join("assets.csv");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&assets, "kind,match,criticality,owner,business_unit\nhost,ws-042*,high,IT,HQ\n").unwrap();
    run(&["assets", "import", "--data", &data, "--as", "lead", &assets.display().to_string()]);
    let listed = jsonl(&run(&["assets", "list", "--data", &data, "--format", "jsonl"]));
    assert_eq!((listed.len(), &listed[0]["criticality"]), (1, &Value::from("high")));
    import(&data, &test_data().join("triage/scenario.jsonl"));

    let incidents = jsonl(&run(&["incident", "list", "--data", &data, "--status", "all", "--format", "jsonl"]));
    assert_eq!(incidents.len(), 2, "{incidents:#?}");
    let alice = incidents.iter().find(|i| i["entities"].as_str().unwrap().contains("user:alice")).unwrap();
    assert_eq!(alice["entities"], "host:ws-042.corp.example user:alice ip:203.0.113.7");
    assert_eq!(
        (&alice["severity"], &alice["alerts"], &alice["status"]),
        (&Value::from("critical"), &Value::from(3), &Value::from("new"))
    );
    let carol = incidents.iter().find(|i| i["entities"].as_str().unwrap().contains("user:carol")).unwrap();
    assert_eq!(carol["severity"], "medium");

    // Eight failures are one alert counted eight times.
    let alerts = jsonl(&run(&["alerts", "list", "--data", &data, "--format", "jsonl"]));
    let failures: Vec<&Value> = alerts.iter().filter(|a| a["title"] == "Failed Logon").collect();
    let alice_failures = failures.iter().find(|a| a["entities"].as_str().unwrap().contains("alice")).unwrap();
    assert_eq!(alice_failures["severity"], "high", "medium rule on a high-criticality host");
    let counts: Vec<i64> = failures.iter().map(|a| a["count"].as_i64().unwrap()).collect();
    assert_eq!(counts.len(), 2);
    assert!(counts.contains(&8) && counts.contains(&1), "{counts:?}");

    // The timeline tells the story in order, with the first sign first.
    let id = alice["id"].as_i64().unwrap().to_string();
    let shown: Value = serde_json::from_str(&run(&["incident", "show", "--data", &data, &id])).unwrap();
    let story: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "alert")
        .map(|t| t["what"].as_str().unwrap())
        .collect();
    assert_eq!(story, ["Failed Logon", "Network Logon From Outside", "Special Privileges Assigned"]);
    assert_eq!(shown["incident"]["first_seen"], "2026-11-20T01:01:00Z");

    // Analyst actions from the shell, recorded with who did them.
    run(&["incident", "ack", "--data", &data, "--as", "erin", &id]);
    run(&["incident", "note", "--data", &data, "--as", "erin", &id, "Password reset; host isolated."]);
    let html = dir.join("handoff.html");
    let package: Value = serde_json::from_str(&run(&[
        "incident",
        "escalate",
        "--data",
        &data,
        "--as",
        "erin",
        &id,
        "--to",
        "csirt@example.org",
        "--html",
        &html.display().to_string(),
    ]))
    .unwrap();
    assert_eq!(package["incident"]["escalated_to"], "csirt@example.org");
    assert_eq!(package["scope"]["hosts"], serde_json::json!(["ws-042.corp.example"]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Special Privileges Assigned") && page.contains("csirt@example.org"));
    let out = hinomi(&["incident", "close", "--data", &data, &id, "--disposition", "maybe"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("false_positive"));
    run(&["incident", "close", "--data", &data, "--as", "erin", &id, "--disposition", "true_positive"]);
    let shown: Value = serde_json::from_str(&run(&["incident", "show", "--data", &data, &id])).unwrap();
    let actions: Vec<(&str, &str)> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["actor"] == "erin")
        .map(|t| (t["kind"].as_str().unwrap(), t["what"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("action", "status"), ("note", "note"), ("action", "escalate"), ("action", "status")]);

    // Every change is in the audit trail; tampering with it is caught.
    let verified = run(&["audit", "verify", "--data", &data]);
    assert!(verified.starts_with("audit trail intact: 5 entries; head 5:"), "{verified}");
    let entries = jsonl(&run(&["audit", "list", "--data", &data, "--format", "jsonl"]));
    let who: Vec<(&str, &str)> =
        entries.iter().map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap())).collect();
    assert_eq!(
        who,
        [("lead", "assets"), ("erin", "status"), ("erin", "note"), ("erin", "escalate"), ("erin", "status")]
    );
    // Each tampering on a copy of the intact database: an entry altered,
    // one deleted, two swapped.
    let state = dir.join("data/state.db");
    let pristine = dir.join("pristine.db");
    std::fs::copy(&state, &pristine).unwrap();
    for (tamper, found) in [
        ("UPDATE audit SET actor = 'mallory' WHERE seq = 3", "entry 3 was altered"),
        ("DELETE FROM audit WHERE seq = 3", "entry 3 is missing"),
        (
            "UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = -2",
            "entry 2 does not link",
        ),
    ] {
        std::fs::copy(&pristine, &state).unwrap();
        let mut db = state::Sqlite::open(&state).unwrap();
        state::Db::batch(&mut db, tamper).unwrap();
        drop(db);
        let out = hinomi(&["audit", "verify", "--data", &data]);
        assert_eq!(out.status.code(), Some(1), "{tamper}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(found), "{tamper}: {said}");
    }
    // Someone with the database but not the data directory's key: entry 3
    // rewritten and every later hash recomputed (plain SHA-256, the hash
    // they can compute), then the newest entry deleted. `verify` finds
    // both without a head given.
    std::fs::copy(&pristine, &state).unwrap();
    rehash_from(&state, 3, "mallory");
    let out = hinomi(&["audit", "verify", "--data", &data]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.code() == Some(1) && said.contains("entry 3 is not keyed, after keyed ones"), "{said}");
    std::fs::copy(&pristine, &state).unwrap();
    let mut db = state::Sqlite::open(&state).unwrap();
    state::Db::batch(&mut db, "DELETE FROM audit WHERE seq = 5").unwrap();
    drop(db);
    let out = hinomi(&["audit", "verify", "--data", &data]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.code() == Some(1) && said.contains("entry 5, the newest written"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rewrites audit entry `from`'s actor and relinks and rehashes it and
/// every later entry, as the chain's plain SHA-256 would have them.
fn rehash_from(db_path: &std::path::Path, from: i64, actor: &str) {
    use sha2::{Digest, Sha256};
    let entries = state::State::sqlite(db_path, Default::default()).unwrap().audit_entries(None, 0, 100).unwrap();
    let mut db = state::Sqlite::open(db_path).unwrap();
    let mut prev = String::new();
    for mut e in entries {
        if e.seq < from {
            prev = e.hash;
            continue;
        }
        if e.seq == from {
            e.actor = actor.to_string();
        }
        e.prev = prev;
        let (seq, at) = (e.seq.to_string(), e.at.as_microsecond().to_string());
        let mut h = Sha256::new();
        for part in [&seq, &at, &e.actor, &e.tenant, &e.action, &e.target, &e.data, &e.prev] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let hash: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        state::Db::exec(
            &mut db,
            "UPDATE audit SET actor = $1, prev = $2, hash = $3 WHERE seq = $4",
            &[e.actor.into(), e.prev.into(), hash.clone().into(), state::Val::Int(e.seq)],
        )
        .unwrap();
        prev = hash;
    }
}

#[test]
fn a_suppression_holds_alerts_back_until_it_expires() {
    let dir = std::env::temp_dir().join(format!("hinomi-suppress-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data_dir = dir.join("data");
    let data = data_dir.display().to_string();
    let failure = |n: u32| {
        let file = dir.join(format!("carol-{n}.jsonl"));
        let line = serde_json::json!({"EventTime": format!("2026-11-20T02:{n:02}:00Z"), "Channel": "Security", "Computer": "WS-200",
            "EventID": 4625, "LogonType": 3, "TargetUserName": "carol", "IpAddress": "198.51.100.9"});
        std::fs::write(&file, format!("{line}\n")).unwrap();
        file
    };
    import(&data, &failure(0));
    let open =
        |status: &str| jsonl(&run(&["alerts", "list", "--data", &data, "--status", status, "--format", "jsonl"]));
    assert_eq!(open("open").len(), 1);

    // A pentest: carol's failures are expected for the next few seconds.
    let now = jiff::Timestamp::now();
    let state = State::sqlite(&data_dir.join("state.db"), soc::TriagePolicy::default()).unwrap();
    let sup = soc::suppress::Suppression {
        id: 0,
        tenant: "default".into(),
        rule: "5a0c39a4-2f55-4a3e-9a51-7a3c0f3a1d01".into(),
        conditions: vec![("user".into(), "carol".into())],
        owner: "lead".into(),
        reason: "pentest".into(),
        expires: now + jiff::SignedDuration::from_secs(4),
        created: now,
    };
    state.add_suppression(&state::By { tenant: "default", actor: "lead", now }, &sup).unwrap();
    drop(state);
    import(&data, &failure(1));
    let suppressed = open("suppressed");
    assert_eq!((suppressed.len(), open("open")[0]["count"].as_i64()), (1, Some(1)), "held back, counted apart");
    let state = State::sqlite(&data_dir.join("state.db"), soc::TriagePolicy::default()).unwrap();
    assert_eq!(state.suppressions("default").unwrap()[0].1, 1);
    drop(state);
    // After the expiry the same detection counts again.
    std::thread::sleep(std::time::Duration::from_secs(5));
    import(&data, &failure(2));
    assert_eq!(open("open")[0]["count"].as_i64(), Some(2));
    assert_eq!(open("suppressed")[0]["count"].as_i64(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}
