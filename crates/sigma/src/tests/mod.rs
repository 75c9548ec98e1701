//! Unit tests, data-driven through two helpers: [`check`] (a detection and an
//! event → whether the rule matches, with and without the prefilter) and
//! [`check_error`] (a rule → its load error, with position).

use super::*;

mod conditions;
mod corpus;
mod correlations;
mod filters;
mod modifiers;

/// Wraps a `detection:` body (indented by four spaces) into a rule.
fn rule(detection: &str) -> String {
    format!("title: t\nid: r1\nlogsource:\n    category: test\ndetection:\n{detection}\nlevel: high\n")
}

fn event(json: &str) -> Event {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    Event::from_json_flat(v.as_object().unwrap())
}

fn load_with(text: &str, options: CompileOptions) -> (RuleSet, Vec<LoadError>) {
    let mut b = RuleSetBuilder::new(options);
    b.add_file("test.yml", text);
    b.build()
}

/// Asserts whether `detection` matches the JSON `event`.
#[track_caller]
fn check(detection: &str, event_json: &str, expect: bool) {
    check_with(detection, event_json, expect, CompileOptions::default());
}

#[track_caller]
fn check_with(detection: &str, event_json: &str, expect: bool, options: CompileOptions) {
    let (set, errors) = load_with(&rule(detection), options);
    assert!(errors.is_empty(), "rule did not load: {}", errors[0]);
    let ev = event(event_json);
    let got = !set.matcher().matches(&ev).is_empty();
    let unfiltered = !set.matcher().without_prefilter().matches(&ev).is_empty();
    assert_eq!(got, unfiltered, "prefilter changed the result for {event_json}");
    assert_eq!(got, expect, "detection:\n{detection}\nevent: {event_json}");
}

/// Asserts that a full rule text fails to load with `expect` (`line:col: message`).
#[track_caller]
fn check_error(text: &str, expect: &str) {
    let (set, errors) = load_with(text, CompileOptions::default());
    assert_eq!(set.len(), 0, "rule loaded but should not");
    let got: Vec<String> = errors.iter().map(|e| format!("{}:{}: {}", e.line, e.col, e.message)).collect();
    assert_eq!(got, [expect]);
}

#[test]
fn smoke() {
    check(
        "    sel:\n        Image|endswith: '\\cmd.exe'\n    condition: sel",
        r#"{"Image":"C:\\Windows\\System32\\CMD.EXE"}"#,
        true,
    );
}

#[test]
fn loading_continues_after_a_bad_rule_and_reports_ids() {
    let text = format!(
        "{}---\n{}",
        rule("    sel:\n        a|nope: 1\n    condition: sel"),
        rule("    sel:\n        a: 1\n    condition: sel").replace("id: r1", "id: r2")
    );
    let (set, errors) = load_with(&text, CompileOptions::default());
    assert_eq!(set.len(), 1);
    assert_eq!(set.rules()[0].id, "r2");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].rule_id.as_deref(), Some("r1"));
    assert_eq!(errors[0].to_string(), "test.yml:7:9: unknown modifier `nope`");
}

#[test]
fn rule_level_errors_name_the_position() {
    check_error(
        "title: t\nlogsource: {product: x}\ndetection: {sel: {a: 1}, condition: sel}\n",
        "1:1: rule has no `id` (Hinomi identifies rules by their Sigma id)",
    );
    check_error(
        "id: x\nlogsource: {product: x}\ndetection: {sel: {a: 1}, condition: sel}\n",
        "1:1: rule has no `title`",
    );
    check_error(
        "title: t\nid: x\nlogsource: {product: x}\ndetection: {sel: {a: 1}}\n",
        "4:12: `detection` has no `condition`",
    );
    check_error(
        "title: t\nid: x\nlevel: severe\nlogsource: {product: x}\ndetection: {sel: {a: 1}, condition: sel}\n",
        "3:8: `level` must be informational, low, medium, high or critical",
    );
    check_error(
        "title: t\nid: x\nlogsource: {product: x}\ndetection:\n  sel: {a: 1}\n  timeframe: 5m\n  condition: sel\n",
        "6:3: `timeframe` is obsolete; write a Sigma correlation rule instead",
    );
    check_error("title: [unclosed\n", "2:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'");
    check_error("title: t\ntitle: u\n", "2:1: invalid YAML: duplicate key `title`");
    check_error("title: t\nid: x\ncorrelation: {type: event_count}\n", "3:14: correlation has no `rules`");
    check_error(
        "action: global\ntitle: t\n",
        "1:9: legacy multi-document `action` collections are not supported; write each rule in full",
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    let text =
        format!("{}---\n{}", rule("    sel: {a: 1}\n    condition: sel"), rule("    sel: {a: 2}\n    condition: sel"));
    let (set, errors) = load_with(&text, CompileOptions::default());
    assert_eq!(set.len(), 1);
    assert_eq!(errors[0].message, "duplicate rule id `r1` (first defined in test.yml)");
}

#[test]
fn hostile_yaml_is_an_error_not_a_crash() {
    // Billion laughs: aliases multiply the tree.
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let (_, errors) = load_with(&text, CompileOptions::default());
    assert!(errors[0].message.contains("more than"), "{}", errors[0]);
    let deep = "[".repeat(10_000);
    let (_, errors) = load_with(&deep, CompileOptions::default());
    assert!(!errors.is_empty());
}

#[test]
fn log_source_routing_and_aliases() {
    let text = "title: t\nid: pc\nlogsource: {product: windows, category: process_creation}\ndetection:\n    sel:\n        Image|endswith: '\\whoami.exe'\n    condition: sel\n";
    let (set, _) = load_with(text, CompileOptions::default());
    let view = |cat: Option<&str>, aliases: Vec<(Box<str>, Box<str>)>| {
        std::sync::Arc::new(SourceView { logsource: LogSource::new(Some("windows"), cat, Some("x")), aliases })
    };
    let mut ev = event(r#"{"NewProcessName":"C:\\whoami.exe","Image":"C:\\other.exe"}"#);
    ev.views = vec![view(None, Vec::new())];
    assert!(set.matcher().matches(&ev).is_empty(), "a service-only view must not reach category rules");
    ev.views = vec![view(Some("process_creation"), vec![("Image".into(), "NewProcessName".into())])];
    assert_eq!(set.matcher().matches(&ev), &[0], "the alias must win over the event's own field");
    ev.views = vec![view(Some("file_event"), Vec::new())];
    assert!(set.matcher().matches(&ev).is_empty());
    let unknown = event(r#"{"Image":"x\\whoami.exe"}"#);
    assert!(set.matcher().matches(&unknown).is_empty(), "an event of unknown log source meets no product's rule");
    let generic = text.replace("{product: windows, category: process_creation}", "{category: process_creation}");
    let (set, _) = load_with(&generic, CompileOptions::default());
    assert_eq!(set.matcher().matches(&unknown), &[0], "a rule that names no product applies to it");
}
