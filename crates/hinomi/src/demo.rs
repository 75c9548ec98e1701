//! `hinomi serve --demo`: a demo tenant with a day of ordinary traffic
//! and one attack, so a new user sees a filled dashboard, alert queue and
//! incident in the first minute.
//!
//! The events are made here, relative to the start time, from a fixed
//! seed: background logons and web traffic from 40 workstations and 30
//! people over the last 24 hours, a few typos at the password prompt, an
//! old benign alert, and the chain — a brute force on alice from the
//! internet, her successful network logon, admin privileges, PsExec
//! services on two servers, and a 700 MB upload through the proxy.
//! The rules that catch them are Hinomi's own (`demo/rules.yml`); without
//! `--rules`, the rule pack of `rules/hinomi` runs beside them.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

pub(crate) const TENANT: &str = "demo";
pub(crate) const RULES: &str = include_str!("../demo/rules.yml");

/// Hinomi's rule pack (`rules/hinomi`), built in: `serve --demo` without
/// `--rules` runs it beside the demo's rules, so a fresh clone needs
/// nothing else.
pub(crate) const PACK: [(&str, &str); 10] = [
    ("attack_chain.yml", include_str!("../../../rules/hinomi/attack_chain.yml")),
    ("cloud_audit.yml", include_str!("../../../rules/hinomi/cloud_audit.yml")),
    ("edr_spread.yml", include_str!("../../../rules/hinomi/edr_spread.yml")),
    ("impossible_travel.yml", include_str!("../../../rules/hinomi/impossible_travel.yml")),
    ("mail_to_execution.yml", include_str!("../../../rules/hinomi/mail_to_execution.yml")),
    ("network.yml", include_str!("../../../rules/hinomi/network.yml")),
    ("quiet_source.yml", include_str!("../../../rules/hinomi/quiet_source.yml")),
    ("web_attacks.yml", include_str!("../../../rules/hinomi/web_attacks.yml")),
    ("windows_accounts.yml", include_str!("../../../rules/hinomi/windows_accounts.yml")),
    ("windows_logon.yml", include_str!("../../../rules/hinomi/windows_logon.yml")),
];

/// Assets of the demo company: the database server is critical.
pub(crate) const ASSETS: &str = "kind,match,criticality,owner,business_unit\n\
host,srv-db-*,critical,dba-team,finance\n\
host,srv-file-*,high,it-ops,corporate\n\
host,ws-0*,medium,it-ops,corporate\n";

/// One demo record: its source (`winlog` or `proxy`) and its JSON line.
pub(crate) type Record = (&'static str, String);

/// A small deterministic generator: the demo is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn at(now: Timestamp, minutes_ago: f64) -> String {
    let t = now.checked_sub(SignedDuration::from_secs_f64(minutes_ago * 60.0)).unwrap_or(now);
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

fn security(now: Timestamp, ago: f64, host: &str, fields: serde_json::Value) -> Record {
    let mut e = json!({
        "EventTime": at(now, ago),
        "Channel": "Security",
        "Computer": format!("{host}.corp.example"),
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
    });
    if let (Some(e), Some(f)) = (e.as_object_mut(), fields.as_object()) {
        e.extend(f.clone());
    }
    ("winlog", e.to_string())
}

fn service(now: Timestamp, ago: f64, host: &str, name: &str, path: &str, user: &str) -> Record {
    let e = json!({
        "EventTime": at(now, ago), "Channel": "System", "Computer": format!("{host}.corp.example"),
        "Provider_Name": "Service Control Manager", "EventID": 7045,
        "ServiceName": name, "ImagePath": path, "ServiceType": "user mode service", "StartType": "demand start",
        "AccountName": "LocalSystem", "SubjectUserName": user,
    });
    ("winlog", e.to_string())
}

fn proxy(now: Timestamp, ago: f64, user: &str, ip: &str, method: &str, host: &str, bytes: u64) -> Record {
    let e = json!({
        "@timestamp": at(now, ago), "user.name": user, "source.ip": ip,
        "c-ip": ip, "cs-username": user, "cs-method": method, "cs-host": host,
        "cs-uri-stem": "/", "sc-status": 200, "cs-bytes": bytes, "sc-bytes": 5120,
    });
    ("proxy", e.to_string())
}

/// The demo's records, oldest first.
pub(crate) fn records(now: Timestamp) -> Vec<Record> {
    let mut rng = Rng(0x6869_6e6f_6d69_2121);
    let mut out: Vec<(f64, Record)> = Vec::new();
    let users: Vec<String> = (1..=30).map(|i| format!("user{i:02}")).collect();
    let sites =
        ["intranet.corp.example", "mail.example.com", "docs.example.com", "cdn.example.net", "news.example.org"];
    // A day of ordinary logons and browsing.
    for i in 0..720 {
        let ago = 1440.0 - i as f64 * 2.0 - rng.below(60) as f64 / 60.0;
        let ws = format!("WS-{:03}", 1 + rng.below(40));
        let user = &users[rng.below(30) as usize];
        let ip = format!("10.20.{}.{}", 1 + rng.below(4), 10 + rng.below(200));
        out.push((
            ago,
            security(now, ago, &ws, json!({"EventID": 4624, "LogonType": 3, "TargetUserName": user, "IpAddress": ip})),
        ));
        out.push((ago, security(now, ago, &ws, json!({"EventID": 4672, "SubjectUserName": format!("{ws}$")}))));
        let site = sites[rng.below(sites.len() as u64) as usize];
        out.push((ago, proxy(now, ago, user, &ip, "GET", site, 300 + rng.below(4000))));
    }
    // Typos at the password prompt, now and then.
    for k in 0..24 {
        let ago = 1400.0 - k as f64 * 55.0;
        let ws = format!("WS-{:03}", 1 + rng.below(40));
        let user = &users[rng.below(30) as usize];
        out.push((ago, security(now, ago, &ws, json!({"EventID": 4625, "LogonType": 2, "TargetUserName": user, "IpAddress": "127.0.0.1", "Status": "0xc000006a"}))));
    }
    // An old alert: the backup service logs on from its cloud address.
    out.push((
        360.0,
        security(
            now,
            360.0,
            "SRV-BACKUP-01",
            json!({"EventID": 4624, "LogonType": 3, "TargetUserName": "svc-backup", "IpAddress": "198.51.100.5"}),
        ),
    ));
    // The attack on alice.
    let attacker = "203.0.113.66";
    for k in 0..12 {
        let ago = 40.0 - k as f64 * 0.5;
        out.push((ago, security(now, ago, "WS-042", json!({"EventID": 4625, "LogonType": 3, "TargetUserName": "alice", "IpAddress": attacker, "Status": "0xc000006d"}))));
    }
    out.push((
        33.0,
        security(
            now,
            33.0,
            "WS-042",
            json!({"EventID": 4624, "LogonType": 3, "TargetUserName": "alice", "IpAddress": attacker}),
        ),
    ));
    out.push((32.9, security(now, 32.9, "WS-042", json!({"EventID": 4672, "SubjectUserName": "alice"}))));
    out.push((
        25.0,
        security(
            now,
            25.0,
            "SRV-DB-01",
            json!({"EventID": 4624, "LogonType": 3, "TargetUserName": "alice", "IpAddress": "10.20.1.42"}),
        ),
    ));
    out.push((24.8, service(now, 24.8, "SRV-DB-01", "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe", "alice")));
    out.push((20.0, service(now, 20.0, "SRV-FILE-02", "updsvc", "\\\\WS-042\\ADMIN$\\updsvc.exe", "alice")));
    out.push((10.0, proxy(now, 10.0, "alice", "10.20.1.42", "POST", "files.transfer-example.net", 734_003_200)));
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in pack is the whole of `rules/hinomi`.
    #[test]
    fn the_built_in_pack_is_every_rule_file_of_the_pack() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/hinomi");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".yml") && !n.ends_with(".test.yml"))
            .collect();
        on_disk.sort();
        let built_in: Vec<String> = PACK.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(built_in, on_disk);
    }

    #[test]
    fn the_demo_is_a_day_and_an_attack() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let r = records(now);
        assert_eq!(r, records(now), "the same every time");
        assert!(r.len() > 2000);
        let lines: Vec<serde_json::Value> = r.iter().map(|(_, l)| serde_json::from_str(l).unwrap()).collect();
        let time = |v: &serde_json::Value| {
            v.get("EventTime")
                .or_else(|| v.get("@timestamp"))
                .and_then(|t| t.as_str())
                .unwrap()
                .parse::<Timestamp>()
                .unwrap()
        };
        assert!(lines.windows(2).all(|w| time(&w[0]) <= time(&w[1])), "oldest first");
        assert!(lines.iter().all(|l| time(l) <= now && time(l) >= now - SignedDuration::from_hours(25)));
        let alice_failures = lines.iter().filter(|l| l["EventID"] == 4625 && l["TargetUserName"] == "alice").count();
        assert_eq!(alice_failures, 12);
        assert!(lines.iter().any(|l| l["cs-bytes"].as_u64().is_some_and(|b| b > 100_000_000)));
        // The rules are ours and load.
        let mut b = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
        b.add_file("demo/rules.yml", RULES);
        let (set, errors) = b.build();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(set.len(), 6);
        soc::assets::Inventory::from_csv(ASSETS).unwrap();
    }
}
