use std::collections::BTreeMap;

use access::Scope;
use jiff::SignedDuration;
use model::Level;
use soc::EntityKind;
use soc::assets::Criticality;

use super::*;

const CONTAIN: &str = r#"id: contain-lateral
title: Contain a host spreading with PsExec
tenant: acme
version: 2
trigger:
  tactics: [lateral-movement]
  severity: high
inputs:
  host: host
  ip: ip
steps:
  - id: asset
    enrich: asset
    with: { host: "{{host}}" }
  - id: tell
    notify: soc-mail
    text: "Containing {{host}} ({{incident.title}})"
  - id: critical
    if: "{{steps.asset.criticality}}"
    is: [high, critical]
    then: block
  - id: isolate
    action: edr-isolate
    with: { host: "{{host}}" }
  - id: settle
    wait: 5m
  - id: block
    action: nft-block
    with: { ip: "{{ip}}" }
"#;

fn facts() -> Facts {
    Facts {
        tenant: "acme".into(),
        incident: 12,
        title: "PsExec from ws-042".into(),
        severity: Level::Critical,
        rules: vec!["rule-psexec".into()],
        tags: vec!["attack.lateral_movement".into(), "attack.t1021.002".into()],
        entities: vec![(EntityKind::Host, "ws-042".into()), (EntityKind::Ip, "192.0.2.7".into())],
        asset_criticality: Some(Criticality::High),
    }
}

#[test]
fn a_playbook_loads_with_its_steps_and_branches() {
    let p = load(CONTAIN).unwrap();
    assert_eq!((p.id.as_str(), p.tenant.as_str(), p.version), ("contain-lateral", "acme", 2));
    assert_eq!(p.steps.len(), 6);
    assert_eq!(
        p.steps[2].kind,
        StepKind::Branch {
            value: "{{steps.asset.criticality}}".into(),
            is: vec!["high".into(), "critical".into()],
            then: Some(5),
            otherwise: Some(3),
        }
    );
    assert_eq!(p.steps[4].kind, StepKind::Wait { duration: SignedDuration::from_mins(5) });
    assert_eq!(p.steps[3].line, 22);
    assert!(p.trigger.manual && p.trigger.automatic());
}

/// Each case: a change to [`CONTAIN`] (a line replaced, or text added),
/// and the error's position and words.
#[test]
fn mistakes_are_named_by_line_and_column() {
    let check = |from: &str, to: &str, want: &str| {
        assert!(CONTAIN.contains(from), "{from}");
        let text = CONTAIN.replacen(from, to, 1);
        let err = load(&text).expect_err(to).to_string();
        assert!(
            err.starts_with(want.split(' ').next().unwrap_or(""))
                && err.contains(want.split_once(' ').map_or("", |w| w.1)),
            "{to:?}: {err}"
        );
    };
    check("version: 2", "version: two", "4:10: whole number");
    check("tenant: acme", "tenant: ../etc", "3:9: not a tenant name");
    check("id: contain-lateral", "id: Contain Lateral", "1:5: lowercase letters");
    check("  severity: high", "  severity: urgent", "7:13: not a level");
    check("  ip: ip", "  ip: address", "10:7: not an entity kind");
    check("  tactics: [lateral-movement]\n  severity: high", "  manual: false", "6:3: needs rules, tags");
    check("    wait: 5m", "    wait: soon", "26:11: not a duration");
    check("    wait: 5m", "    wait: 30d", "26:11: at most 7 days");
    check("    then: block", "    then: asset", "21:11: not after this step");
    check("    then: block", "    then: nowhere", "21:11: no step");
    check("    is: [high, critical]\n    then: block", "    is: [high]", "18:5: needs `then` or `else`");
    check("    with: { ip: \"{{ip}}\" }", "    with: { ip: \"{{addr}}\" }", "29:17: names no input");
    check(
        "    with: { host: \"{{host}}\" }\n  - id: tell",
        "    with: { host: \"{{steps.tell.x}}\" }\n  - id: tell",
        "14:19: names no input",
    );
    check("    enrich: asset\n", "    enrich: asset\n    notify: x\n", "12:5: exactly one of");
    check("    enrich: asset", "    enrich: whois", "13:13: asset, geoip or search");
    check("  - id: settle", "  - id: tell", "25:5: is taken");
    check("steps:", "stepz:", "11:1: unknown key `stepz`");
    check("    enrich: asset\n    with: { host: \"{{host}}\" }", "    enrich: asset", "12:5: needs `with: { host");
    check("title: Contain", "title: [Contain", "3:7: invalid YAML");
    assert_eq!(load("").unwrap_err().to_string(), "1:1: the file holds no playbook");
    assert!(load(&format!("{CONTAIN}---\n{CONTAIN}")).unwrap_err().to_string().contains("one playbook per file"));
}

#[test]
fn triggers_fit_by_tactic_severity_rule_and_asset() {
    let p = load(CONTAIN).unwrap();
    assert!(p.trigger.fits(&facts()));
    assert!(!p.trigger.fits(&Facts { severity: Level::Medium, ..facts() }));
    assert!(!p.trigger.fits(&Facts { tags: vec!["attack.t1110".into()], ..facts() }));
    let by_rule = Trigger {
        rules: vec!["rule-psexec".into()],
        asset_criticality: Some(Criticality::Critical),
        ..Trigger::default()
    };
    assert!(!by_rule.fits(&facts()), "the asset is only high");
    assert!(by_rule.fits(&Facts { asset_criticality: Some(Criticality::Critical), ..facts() }));
    assert!(!Trigger { manual: true, ..Trigger::default() }.fits(&facts()), "manual only");
}

#[test]
fn inputs_come_from_entities_and_hostile_values_are_refused() {
    let p = load(CONTAIN).unwrap();
    let got = inputs(&p, &facts(), &BTreeMap::new()).unwrap();
    assert_eq!((got["host"].as_str(), got["ip"].as_str()), ("ws-042", "192.0.2.7"));
    let given = BTreeMap::from([("ip".to_string(), "2001:db8::0:1".to_string())]);
    assert_eq!(inputs(&p, &facts(), &given).unwrap()["ip"].as_str(), "2001:db8::1");
    for (kind, bad) in [
        (EntityKind::Host, "--flush"),
        (EntityKind::Host, "ws-042; rm -rf /"),
        (EntityKind::Ip, "192.0.2.7 }; flush ruleset; {"),
        (EntityKind::User, "alice\nbob"),
        (EntityKind::Hash, "xyz"),
        (EntityKind::Process, "-e"),
    ] {
        let mut f = facts();
        f.entities = vec![(EntityKind::Host, "ws-1".into()), (EntityKind::Ip, "192.0.2.1".into()), (kind, bad.into())];
        f.entities.rotate_right(1);
        let p = Playbook { inputs: BTreeMap::from([("x".to_string(), kind)]), ..p.clone() };
        assert!(inputs(&p, &f, &BTreeMap::new()).is_err(), "{kind:?} {bad:?}");
    }
    let mut none = facts();
    none.entities.retain(|(k, _)| *k != EntityKind::Ip);
    assert!(inputs(&p, &none, &BTreeMap::new()).unwrap_err().contains("no ip entity"));
    let unknown = BTreeMap::from([("owner".to_string(), "x".to_string())]);
    assert!(inputs(&p, &facts(), &unknown).is_err());
}

fn actions() -> Vec<ActionDef> {
    #[derive(serde::Deserialize)]
    struct C {
        actions: Vec<ActionDef>,
    }
    let c: C = toml::from_str(
        r#"
[[actions]]
name = "edr-isolate"
kind = "contain"
destructive = true
http = { url = "https://edr.example/api/hosts/{{host}}/isolate", body = { host = "{{host}}", why = "incident {{incident}}" }, headers = { X-Reason = "{{why}}" }, token_env = "EDR_TOKEN" }
rollback_http = { url = "https://edr.example/api/hosts/{{host}}/release" }

[[actions]]
name = "nft-block"
kind = "block"
command = ["/usr/sbin/nft", "add", "element", "inet", "hinomi", "blocked", "{ {{ip}} }"]
rollback_command = ["/usr/sbin/nft", "delete", "element", "inet", "hinomi", "blocked", "{ {{ip}} }"]
"#,
    )
    .unwrap();
    c.actions
}

#[test]
fn calls_are_filled_as_data_and_arguments_refuse_options() {
    let a = actions();
    let with = BTreeMap::from([
        ("host".to_string(), "ws 042/..".to_string()),
        ("incident".to_string(), "12".to_string()),
        ("why".to_string(), "a\r\nX-Injected: 1".to_string()),
    ]);
    let Some(Call::Http { url, headers, body, token_env, .. }) = render_call(&a[0], &with, false).unwrap() else {
        panic!("no call")
    };
    assert_eq!(url, "https://edr.example/api/hosts/ws%20042%2F../isolate");
    assert_eq!(headers, [("X-Reason".to_string(), "aX-Injected: 1".to_string())]);
    assert_eq!(body.unwrap(), serde_json::json!({"host": "ws 042/..", "why": "incident 12"}));
    assert_eq!(token_env.as_deref(), Some("EDR_TOKEN"));
    let Some(Call::Http { url, .. }) = render_call(&a[0], &with, true).unwrap() else { panic!("no rollback") };
    assert!(url.ends_with("/release"));
    let ip = BTreeMap::from([("ip".to_string(), "192.0.2.7".to_string())]);
    assert_eq!(
        render_call(&a[1], &ip, true).unwrap(),
        Some(Call::Command {
            argv: ["/usr/sbin/nft", "delete", "element", "inet", "hinomi", "blocked", "{ 192.0.2.7 }"]
                .map(String::from)
                .to_vec()
        })
    );
    for bad in ["-f/etc/passwd", "", "1\n2"] {
        let v = BTreeMap::from([("ip".to_string(), bad.to_string())]);
        assert!(render_call(&a[1], &v, false).is_err(), "{bad:?}");
    }
}

#[test]
fn playbooks_may_name_only_configured_actions_and_channels() {
    let p = load(CONTAIN).unwrap();
    let files = [("contain.yml".to_string(), p)];
    check_actions(&actions(), &["soc-mail"], &files).unwrap();
    let err = check_actions(&actions()[..1], &["soc-mail"], &files).unwrap_err();
    assert_eq!(err, "contain.yml:27: step \"block\": no action \"nft-block\" is configured");
    assert!(check_actions(&actions(), &[], &files).unwrap_err().contains("no channel \"soc-mail\""));
    let mut shell = actions();
    shell[1].command = Some(vec!["sh".into(), "-c".into(), "{{ip}}".into()]);
    assert!(check_actions(&shell, &["soc-mail"], &[]).unwrap_err().contains("absolute path"));
    let mut both = actions();
    both[0].command = Some(vec!["/bin/true".into()]);
    assert!(check_actions(&both, &[], &[]).unwrap_err().contains("exactly one"));
}

#[test]
fn the_authority_policy_decides_per_tenant_kind_and_severity() {
    #[derive(serde::Deserialize)]
    struct C {
        authority: Vec<Authority>,
    }
    let c: C = toml::from_str(
        r#"
[[authority]]
tenants = ["acme"]
kinds = ["contain", "block"]
min_severity = "critical"
decide = "auto"

[[authority]]
tenants = ["acme"]
kinds = ["contain", "block", "disable_account"]
decide = "approve"
role = "responder"
expires = "15m"

[[authority]]
kinds = ["ticket"]
decide = "auto"
"#,
    )
    .unwrap();
    let lines = &c.authority;
    check_authority(lines).unwrap();
    assert_eq!(decide(lines, "acme", ActionKind::Block, Level::Critical, false), Decision::Auto);
    let approve =
        |approvers| Decision::Approve { role: Scope::Responder, approvers, expires: SignedDuration::from_mins(15) };
    assert_eq!(decide(lines, "acme", ActionKind::Block, Level::High, false), approve(1));
    // Destructive: two different people.
    assert_eq!(decide(lines, "acme", ActionKind::Contain, Level::High, true), approve(2));
    assert_eq!(decide(lines, "globex", ActionKind::Contain, Level::Critical, false), Decision::Propose);
    assert_eq!(decide(lines, "globex", ActionKind::Ticket, Level::Low, false), Decision::Auto);
    assert_eq!(decide(&[], "acme", ActionKind::Enrich, Level::Low, false), Decision::Auto);
    assert_eq!(decide(&[], "acme", ActionKind::Other, Level::Critical, false), Decision::Propose);
    let mut bad = c.authority.clone();
    bad[1].role = Scope::Read;
    assert!(check_authority(&bad).unwrap_err().contains("line 2"));
    bad[1].role = Scope::Responder;
    bad[1].expires = "later".into();
    assert!(check_authority(&bad).unwrap_err().contains("expires"));
}

#[test]
fn branches_go_by_the_value_and_every_run_ends() {
    let p = load(CONTAIN).unwrap();
    let mut outputs = BTreeMap::new();
    outputs.insert("asset".to_string(), serde_json::json!({"criticality": "high", "owner": "it"}));
    let f = facts();
    let ins = inputs(&p, &f, &BTreeMap::new()).unwrap();
    let values = context(&f, &ins, &outputs);
    assert_eq!(render_text("{{host}}: {{steps.asset.owner}} #{{incident.id}}", &values), "ws-042: it #12");
    assert_eq!(next(&p, 0, &values), Next::Step(1));
    assert_eq!(next(&p, 2, &values), Next::Step(5), "high goes straight to the block");
    outputs.insert("asset".to_string(), serde_json::json!({"criticality": "low"}));
    let values = context(&f, &ins, &outputs);
    assert_eq!(next(&p, 2, &values), Next::Step(3));
    assert_eq!(next(&p, 5, &values), Next::End);
}

#[test]
fn a_dry_run_shows_each_step_its_decision_and_its_exact_call() {
    let p = load(CONTAIN).unwrap();
    let outputs = BTreeMap::from([("asset".to_string(), serde_json::json!({"criticality": "low"}))]);
    let plan = dry_run(&p, &facts(), &BTreeMap::new(), &outputs, &actions(), &[]).unwrap();
    let steps: Vec<&str> = plan.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["asset", "tell", "critical", "isolate", "settle", "block"]);
    // No policy line: enrich and notify run, actions are only proposed.
    assert_eq!(plan[0].decision, Decision::Auto);
    assert_eq!(plan[3].decision, Decision::Propose);
    let Some(Call::Http { url, .. }) = &plan[3].call else { panic!("{plan:?}") };
    assert_eq!(url, "https://edr.example/api/hosts/ws-042/isolate");
    assert_eq!(
        describe(plan[5].call.as_ref().unwrap()),
        serde_json::json!({"command": ["/usr/sbin/nft", "add", "element", "inet", "hinomi", "blocked", "{ 192.0.2.7 }"]})
    );
}
