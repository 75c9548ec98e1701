//! Sigma filter documents: composed as `(rule) and (filter)`, applied by
//! rule reference and log source, and tenant filters for local tuning.

use super::*;

const RULES: &str = "title: Whoami
id: 22222222-0000-0000-0000-000000000001
name: whoami
logsource: {product: windows, category: process_creation}
detection: {sel: {Image|endswith: '\\whoami.exe'}, condition: sel}
---
title: Net user
id: 22222222-0000-0000-0000-000000000002
logsource: {product: windows, category: process_creation}
detection: {sel: {Image|endswith: '\\net.exe'}, condition: sel}
---
title: Linux id
id: 22222222-0000-0000-0000-000000000003
logsource: {product: linux, category: process_creation}
detection: {sel: {Image|endswith: '/id'}, condition: sel}
";

fn set_with(filters: &str) -> RuleSet {
    let (set, errors) = load_with(&format!("{RULES}---\n{filters}"), CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    set
}

/// A process creation of Windows or Linux, by the look of its image path
/// (an event of no log source meets no rule of a product).
fn process(event_json: &str) -> Event {
    let mut ev = event(event_json);
    let product = if ev.text("Image").is_some_and(|i| i.starts_with('/')) { "linux" } else { "windows" };
    let logsource = LogSource::new(Some(product), Some("process_creation"), None);
    ev.views = vec![std::sync::Arc::new(SourceView { logsource, aliases: Vec::new() })];
    ev
}

/// Titles of the rules `event` matches, with and without the prefilter.
fn titles(set: &RuleSet, event_json: &str) -> Vec<String> {
    let ev = process(event_json);
    let got: Vec<String> = set.matcher().matches(&ev).iter().map(|&i| set.rules()[i].title.clone()).collect();
    let unfiltered: Vec<String> =
        set.matcher().without_prefilter().matches(&ev).iter().map(|&i| set.rules()[i].title.clone()).collect();
    assert_eq!(got, unfiltered, "the prefilter changed the result");
    got
}

#[test]
fn a_filter_keeps_what_its_condition_says() {
    let set = set_with(
        "title: Admins run whoami
logsource: {product: windows}
filter:
    rules: [whoami]
    admins:
        User|startswith: 'adm_'
    condition: not admins
",
    );
    assert_eq!(titles(&set, r#"{"Image": "C:\\Windows\\whoami.exe", "User": "alice"}"#), ["Whoami"]);
    assert!(titles(&set, r#"{"Image": "C:\\Windows\\whoami.exe", "User": "adm_bob"}"#).is_empty());
    // A rule it does not name is untouched.
    assert_eq!(titles(&set, r#"{"Image": "C:\\Windows\\net.exe", "User": "adm_bob"}"#), ["Net user"]);
}

#[test]
fn any_applies_by_log_source_only() {
    let set = set_with(
        "title: Build servers
logsource: {product: windows}
filter:
    rules: any
    build:
        Computer|startswith: 'BUILD'
    condition: not build
",
    );
    assert!(titles(&set, r#"{"Image": "C:\\Windows\\whoami.exe", "Computer": "BUILD01"}"#).is_empty());
    assert!(titles(&set, r#"{"Image": "C:\\Windows\\net.exe", "Computer": "BUILD01"}"#).is_empty());
    // The Linux rule's log source lacks the filter's product: not filtered.
    assert_eq!(titles(&set, r#"{"Image": "/usr/bin/id", "Computer": "BUILD01"}"#), ["Linux id"]);
}

#[test]
fn tenant_filters_tune_one_tenant() {
    let set = set_with(
        "title: acme's scanner runs whoami
tenant: acme
logsource: {product: windows, category: process_creation}
filter:
    rules: [22222222-0000-0000-0000-000000000001]
    scanner:
        Computer: SCAN01
    condition: not scanner
",
    );
    let ev = process(r#"{"Image": "C:\\Windows\\whoami.exe", "Computer": "SCAN01"}"#);
    let mut m = set.matcher();
    assert!(m.matches_in("acme", &ev).is_empty());
    assert_eq!(m.matches_in("globex", &ev), [0]);
    assert_eq!(m.matches(&ev), [0], "matches without a tenant ignores tenant filters");
    let other = process(r#"{"Image": "C:\\Windows\\whoami.exe", "Computer": "WS1"}"#);
    assert_eq!(m.matches_in("acme", &other), [0]);
}

#[test]
fn filter_errors() {
    let (_, errors) = load_with(
        &format!(
            "{RULES}---\ntitle: f\nlogsource: {{product: windows}}\nfilter: {{rules: [nope], s: {{a: 1}}, condition: not s}}\n"
        ),
        CompileOptions::default(),
    );
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("filter refers to `nope`"), "{}", errors[0]);
    let (_, errors) = load_with(
        "title: f\nlogsource: {product: windows}\nfilter: {rules: any, s: {a: 1}}\n",
        CompileOptions::default(),
    );
    assert!(errors[0].message.contains("has no `condition`"), "{}", errors[0]);
    let (_, errors) =
        load_with("logsource: {product: windows}\nfilter: {s: {a: 1}, condition: s}\n", CompileOptions::default());
    assert!(errors[0].message.contains("filter has no `title`"), "{}", errors[0]);
}
