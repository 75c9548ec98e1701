//! Correlation documents: what loads, what each field becomes, how
//! references resolve, and the load errors, with positions.

use super::*;

const BASE: &str = "title: Failed logon
id: 11111111-0000-0000-0000-000000000001
name: failed_logon
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: Successful logon
id: 11111111-0000-0000-0000-000000000002
name: successful_logon
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4624}, condition: sel}
";

fn load(text: &str) -> (RuleSet, Vec<String>) {
    let (set, errors) = load_with(text, CompileOptions::default());
    (set, errors.iter().map(|e| format!("{}:{}: {}", e.line, e.col, e.message)).collect())
}

/// The specification's example: a brute force (event_count) followed by a
/// success (temporal_ordered), in one multi-document file.
#[test]
fn the_specification_example_loads_and_resolves() {
    let text = format!(
        "{BASE}---
title: Many failed logons
id: 11111111-0000-0000-0000-000000000003
name: many_failed_logons
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - User
        - ComputerName
    timespan: 10m
    condition:
        gte: 10
---
title: Brute force then success
id: 11111111-0000-0000-0000-000000000004
status: test
level: high
correlation:
    type: temporal_ordered
    rules:
        - many_failed_logons
        - 11111111-0000-0000-0000-000000000002
    group-by:
        - User
    timespan: 1h
"
    );
    let (set, errors) = load(&text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(set.len(), 2);
    let c = set.correlations();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].def.kind, CorrelationType::EventCount);
    assert_eq!((c[0].def.timespan, c[0].def.condition.as_slice()), (600, [Compare::Gte(10.0)].as_slice()));
    assert_eq!(c[0].def.group_by, ["User", "ComputerName"]);
    assert_eq!(c[0].inputs, [RuleRef::Rule(0)]);
    assert_eq!(c[1].inputs, [RuleRef::Correlation(0), RuleRef::Rule(1)]);
    assert_eq!((c[1].def.level, c[1].def.timespan), (Level::High, 3600));
    assert!(c[1].def.condition.is_empty(), "temporal types default to all rules");
    // Without `generate`, what a correlation uses is not an alert of its own.
    assert!(!set.rules()[0].alerts && !set.rules()[1].alerts);
    assert!(!c[0].alerts && c[1].alerts);
}

#[test]
fn generate_keeps_the_base_rules_alerting() {
    let text = format!(
        "{BASE}---
title: c
id: c1
generate: true
correlation: {{type: temporal, rules: [failed_logon, successful_logon], group-by: [User], timespan: 5m}}
"
    );
    let (set, errors) = load(&text);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(set.rules().iter().all(|r| r.alerts));
}

#[test]
fn value_types_aliases_and_ranges() {
    let text = format!(
        "{BASE}---
title: Spray
id: c2
correlation:
    type: value_count
    rules: [failed_logon]
    group-by: [IpAddress]
    timespan: 1h
    condition: {{field: TargetUserName, gt: 100, lte: 200}}
---
title: Upload volume
id: c3
correlation:
    type: value_percentile
    rules: [successful_logon]
    group-by: [host]
    timespan: 1d
    condition: {{field: bytes, percentile: 95, gte: 1000000}}
    aliases:
        host:
            successful_logon: Computer
"
    );
    let (set, errors) = load(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let c = set.correlations();
    assert_eq!(c[0].def.field, ["TargetUserName"]);
    assert_eq!(c[0].def.condition, [Compare::Gt(100.0), Compare::Lte(200.0)]);
    assert_eq!(c[1].def.percentile, Some(95.0));
    assert_eq!(c[0].def.baseline, None);
    assert_eq!(
        c[1].def.aliases,
        [("host".to_string(), vec![("successful_logon".to_string(), "Computer".to_string())])]
    );
}

#[test]
fn a_baseline_loads_with_learning_defaulting_to_its_periods() {
    let text = format!(
        "{BASE}---
title: Volume against the host's history
id: c1
correlation:
    type: value_sum
    rules: [successful_logon]
    group-by: [host]
    timespan: 1h
    condition: {{field: bytes, gte: 1000}}
    baseline: {{periods: 168, factor: 2.5}}
---
title: Logons against the user's history
id: c2
correlation:
    type: event_count
    rules: [successful_logon]
    group-by: [User]
    timespan: 1d
    condition: {{gt: 10}}
    baseline: {{periods: 30, factor: 4, learning: 7}}
"
    );
    let (set, errors) = load(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let c = set.correlations();
    assert_eq!(c[0].def.baseline, Some(Baseline { periods: 168, factor: 2.5, learning: 168 }));
    assert_eq!(c[1].def.baseline, Some(Baseline { periods: 30, factor: 4.0, learning: 7 }));
}

#[test]
fn load_errors_name_the_place() {
    let cases = [
        (
            "correlation: {type: event_count, rules: [x], timespan: 5m, condition: {gte: 1}}\n",
            "1:1: correlation has no `title`",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: burst, rules: [a], timespan: 5m}\n",
            "3:21: `type` must be event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile or value_median",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5x}\n",
            "3:56: `timespan` must be a number and a unit: s, m, h or d (e.g. 90m)",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m}\n",
            "3:14: a event_count correlation needs a `condition`",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: value_sum, rules: [a], timespan: 5m, condition: {gte: 1}}\n",
            "3:14: a value_sum correlation needs `field` in its condition",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {most: 1}}\n",
            "3:72: unknown condition key `most` (gt, gte, lt, lte, eq, neq, field)",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: lots}}\n",
            "3:77: `gte` must be a number",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, window: 3, condition: {gte: 1}}\n",
            "3:60: unknown correlation key `window`",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: value_count, rules: [a], timespan: 5m, condition: {field: f, gte: 1}, baseline: {periods: 3, factor: 2}}\n",
            "3:101: `baseline` needs an event_count or value_sum correlation (measures that add up over time)",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {lt: 9}, baseline: {periods: 3, factor: 2}}\n",
            "3:90: with `baseline`, the condition may only use gt and gte (a floor)",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}, baseline: {factor: 2}}\n",
            "3:91: `baseline` needs `periods`, the windows of history to compare with (at least 1)",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}, baseline: {periods: 1.5, factor: 2}}\n",
            "3:101: `periods` must be a whole number from 0 to 8784",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}, baseline: {periods: 4, factor: 0}}\n",
            "3:112: `factor` must be a number above 0",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}, baseline: {periods: 4, factor: 2, learning: 5}}\n",
            "3:91: `learning` cannot be more than `periods`",
        ),
        (
            "title: t\nid: x\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}, baseline: {periods: 4, mean: 2}}\n",
            "3:104: unknown baseline key `mean` (periods, factor, learning)",
        ),
    ];
    for (text, want) in cases {
        let (set, errors) = load(text);
        assert!(set.correlations().is_empty(), "{text}");
        assert_eq!(errors, [want], "{text}");
    }
}

#[test]
fn unknown_references_and_cycles_are_load_errors() {
    let text = format!(
        "{BASE}---
title: refers to nothing
id: c1
correlation: {{type: event_count, rules: [no_such_rule], group-by: [User], timespan: 5m, condition: {{gte: 2}}}}
---
title: built on a broken one
id: c2
correlation: {{type: temporal, rules: [c1, failed_logon], group-by: [User], timespan: 5m}}
---
title: loop a
id: c3
name: loop_a
correlation: {{type: temporal, rules: [loop_b], group-by: [User], timespan: 5m}}
---
title: loop b
id: c4
name: loop_b
correlation: {{type: temporal, rules: [loop_a], group-by: [User], timespan: 5m}}
---
title: fine
id: c5
correlation: {{type: event_count, rules: [failed_logon], group-by: [User], timespan: 5m, condition: {{gte: 2}}}}
"
    );
    let (set, errors) = load(&text);
    assert_eq!(set.correlations().len(), 1);
    assert_eq!(set.correlations()[0].def.id, "c5");
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].ends_with("correlation refers to `no_such_rule`, which is no loaded rule id or name"));
    assert!(errors[1..].iter().all(|e| e.contains("did not load, or to itself")), "{errors:?}");
    // A duplicate id across rules and correlations is refused too.
    let (_, errors) = load(&format!(
        "{BASE}---\ntitle: d\nid: 11111111-0000-0000-0000-000000000001\ncorrelation: {{type: temporal, rules: [failed_logon], timespan: 5m}}\n"
    ));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("duplicate rule id"));
}
