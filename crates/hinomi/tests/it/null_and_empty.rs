//! Sigma `null` against empty Windows data elements, with the two SigmaHQ
//! rules that pull opposite ways (docs/sigma-semantics.md, "Null and
//! empty"): each must fire on its event, in each form Windows events come in.

use std::path::PathBuf;

use crate::{hinomi, sigma_dir};

const CACTUSTORCH: &str = "2e4e488a-6164-4811-9ea1-f960c7359c40";
const FIREWALL_RULE_ADDED: &str = "cde0a575-7d3d-4a49-9817-b8004a7bf105";

/// A Sysmon 8 whose thread starts outside any module (`StartModule` empty),
/// and a firewall 2004 rule added by a tool for every application
/// (`ApplicationPath` empty), in the `Event` JSON form of EVTX. `empty` is
/// how the empty element is written: `""`, `null`, or an element with
/// attributes only.
fn evtx_form(empty: &str) -> String {
    let sysmon = format!(
        r##"{{"Event":{{"System":{{"EventID":8,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-1","TimeCreated":{{"#attributes":{{"SystemTime":"2026-11-30T10:00:00Z"}}}}}},"EventData":{{"SourceImage":"C:\\Windows\\System32\\wscript.exe","TargetImage":"C:\\Windows\\SysWOW64\\rundll32.exe","StartAddress":"0x0000000000A10000","StartModule":{empty},"StartFunction":{empty}}}}}}}"##
    );
    let firewall = format!(
        r##"{{"Event":{{"System":{{"EventID":2004,"Channel":"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall","Computer":"ws-1","TimeCreated":{{"#attributes":{{"SystemTime":"2026-11-30T10:01:00Z"}}}}}},"EventData":{{"RuleId":"{{6a5e}}","RuleName":"fwtool allow","Action":3,"ApplicationPath":{empty},"ModifyingApplication":"C:\\Tools\\fwtool.exe"}}}}}}"##
    );
    format!("{sysmon}\n{firewall}\n")
}

/// The same two events as Winlogbeat ships them.
fn winlogbeat_form() -> String {
    let sysmon = r#"{"@timestamp":"2026-11-30T10:00:00Z","winlog":{"event_id":"8","channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"ws-1","event_data":{"SourceImage":"C:\\Windows\\System32\\wscript.exe","TargetImage":"C:\\Windows\\SysWOW64\\rundll32.exe","StartModule":"","StartFunction":""}}}"#;
    let firewall = r#"{"@timestamp":"2026-11-30T10:01:00Z","winlog":{"event_id":"2004","channel":"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall","computer_name":"ws-1","event_data":{"RuleName":"fwtool allow","Action":"3","ApplicationPath":"","ModifyingApplication":"C:\\Tools\\fwtool.exe"}}}"#;
    format!("{sysmon}\n{firewall}\n")
}

/// The same two events as NXLog's `im_msvistalog` with `to_json()` sends
/// them: event data beside the record's own fields.
fn nxlog_form() -> String {
    let sysmon = r#"{"EventTime":"2026-11-30 10:00:00","Hostname":"ws-1","EventID":8,"SourceName":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","SourceImage":"C:\\Windows\\System32\\wscript.exe","TargetImage":"C:\\Windows\\SysWOW64\\rundll32.exe","StartAddress":"0x0000000000A10000","StartModule":"","StartFunction":"","EventReceivedTime":"2026-11-30 10:00:01","SourceModuleName":"eventlog","SourceModuleType":"im_msvistalog"}"#;
    let firewall = r#"{"EventTime":"2026-11-30 10:01:00","Hostname":"ws-1","EventID":2004,"SourceName":"Microsoft-Windows-Windows Firewall With Advanced Security","Channel":"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall","RuleId":"{6a5e}","RuleName":"fwtool allow","Action":3,"ApplicationPath":"","ModifyingApplication":"C:\\Tools\\fwtool.exe","SourceModuleType":"im_msvistalog"}"#;
    format!("{sysmon}\n{firewall}\n")
}

fn fired(records: &str, name: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("hinomi-null-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("events.jsonl");
    std::fs::write(&file, records).unwrap();
    let rules = sigma_dir().join("rules/windows");
    let out =
        hinomi(&["hunt", &file.display().to_string(), "--rules", &rules.display().to_string(), "--format", "jsonl"]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["rule_id"].as_str().unwrap().to_string())
        .filter(|id| id == CACTUSTORCH || id == FIREWALL_RULE_ADDED)
        .collect();
    ids.sort();
    ids
}

#[test]
fn an_empty_sysmon_element_is_null_and_an_empty_firewall_path_is_a_value() {
    let both = vec![CACTUSTORCH.to_string(), FIREWALL_RULE_ADDED.to_string()];
    for (empty, name) in [(r#""""#, "string"), ("null", "null"), (r##"{"#attributes":{"Name":"x"}}"##, "element")] {
        assert_eq!(fired(&evtx_form(empty), name), both, "EVTX form, empty written as {empty}");
    }
    assert_eq!(fired(&winlogbeat_form(), "winlogbeat"), both, "Winlogbeat form");
    assert_eq!(fired(&nxlog_form(), "nxlog"), both, "NXLog's flat form");
}

#[test]
fn a_firewall_rule_without_a_path_or_added_by_svchost_stays_filtered() {
    // `ApplicationPath: null`: the field is absent. `ApplicationPath: ''`
    // with svchost: the services' rules. Neither may raise the rule.
    let absent = evtx_form(r#""""#).replace(r#""ApplicationPath":"","#, "");
    let svchost = evtx_form(r#""""#).replace(r#"C:\\Tools\\fwtool.exe"#, r#"C:\\Windows\\System32\\svchost.exe"#);
    for (records, name) in [(absent, "absent"), (svchost, "svchost")] {
        assert_eq!(fired(&records, name), vec![CACTUSTORCH.to_string()], "{name}");
    }
}
