//! The condition grammar: precedence, quantifiers, `them`, and errors.

use super::{check, check_error, load_with, rule};
use crate::CompileOptions;

/// Detections a..d each test field `a`..`d` for the value `1`; `_p` tests `p`.
fn dets(condition: &str) -> String {
    let mut s = String::new();
    for (id, f) in [("sel_a", "a"), ("sel_b", "b"), ("filter_c", "c"), ("filter_d", "d"), ("_p", "p")] {
        s.push_str(&format!("    {id}:\n        {f}: 1\n"));
    }
    s.push_str(&format!("    condition: {condition}"));
    s
}

#[test]
fn and_binds_tighter_than_or() {
    // a or (b and c)
    check(&dets("sel_a or sel_b and filter_c"), r#"{"a":1}"#, true);
    check(&dets("sel_a or sel_b and filter_c"), r#"{"b":1}"#, false);
    check(&dets("(sel_a or sel_b) and filter_c"), r#"{"a":1}"#, false);
}

#[test]
fn not_binds_tightest() {
    // (not a) and b
    check(&dets("not sel_a and sel_b"), r#"{"b":1}"#, true);
    check(&dets("not sel_a and sel_b"), r#"{"a":1,"b":1}"#, false);
    check(&dets("not (sel_a and sel_b)"), r#"{"a":1}"#, true);
    check(&dets("not not sel_a"), r#"{"a":1}"#, true);
}

#[test]
fn quantifiers_over_patterns() {
    check(&dets("1 of sel_*"), r#"{"b":1}"#, true);
    check(&dets("any of sel_*"), r#"{"b":1}"#, true);
    check(&dets("all of sel_*"), r#"{"b":1}"#, false);
    check(&dets("all of sel_*"), r#"{"a":1,"b":1}"#, true);
    check(&dets("sel_a and not 1 of filter_*"), r#"{"a":1,"d":1}"#, false);
    check(&dets("sel_a and not 1 of filter_*"), r#"{"a":1}"#, true);
    check(&dets("1 of *_c"), r#"{"c":1}"#, true);
    check(&dets("1 of sel*a"), r#"{"a":1}"#, true);
}

#[test]
fn them_and_patterns_skip_underscore_identifiers() {
    check(&dets("all of them"), r#"{"a":1,"b":1,"c":1,"d":1}"#, true);
    check(&dets("1 of them"), r#"{"p":1}"#, false);
    check(&dets("1 of *"), r#"{"p":1}"#, false);
    check(&dets("1 of _*"), r#"{"p":1}"#, true);
}

#[test]
fn identifiers_that_start_like_operators() {
    let d = "    order:\n        a: 1\n    android:\n        b: 1\n    nothing:\n        c: 1\n    condition: order and android and not nothing";
    check(d, r#"{"a":1,"b":1}"#, true);
    check(d, r#"{"a":1,"b":1,"c":1}"#, false);
}

#[test]
fn condition_lists_are_ored() {
    let d = "    x:\n        a: 1\n    y:\n        b: 1\n    condition:\n        - x\n        - y";
    check(d, r#"{"b":1}"#, true);
    check(d, r#"{"c":1}"#, false);
}

#[test]
fn condition_errors_point_at_the_column() {
    // The condition scalar starts at line 16, column 16.
    check_error(&rule(&dets("sel_a AND sel_b")), "16:22: condition: operators are lowercase: write `and`");
    check_error(&rule(&dets("sel_a and sel_x")), "16:26: condition: unknown search identifier `sel_x`");
    check_error(
        &rule(&dets("sel_a | count() > 5")),
        "16:22: condition: the `|` aggregation syntax is obsolete; write a Sigma correlation rule instead",
    );
    check_error(&rule(&dets("1 of nomatch_*")), "16:21: condition: `nomatch_*` matches no search identifier");
    check_error(&rule(&dets("(sel_a or sel_b")), "16:16: condition: unclosed `(`");
    check_error(&rule(&dets("sel_a)")), "16:21: condition: unbalanced `)`");
    check_error(&rule(&dets("sel_a sel_b")), "16:22: condition: expected `and` or `or` before `sel_b`");
    check_error(&rule(&dets("sel_a and")), "16:25: condition: condition ends where an identifier or `(` was expected");
    check_error(&rule(&dets("sel_*")), "16:16: condition: pattern `sel_*` needs `1 of` or `all of` before it");
    check_error(&rule(&dets("2 of sel_*")), "16:16: condition: `2 of` is not a quantifier; use `1 of` or `all of`");
    check_error(&rule(&dets("'sel_a or'")), "16:25: condition: condition ends where an identifier or `(` was expected");
}

#[test]
fn a_rules_fields_are_those_its_condition_requires() {
    let text = rule(
        "    sel:\n        Image|endswith: '\\psexec.exe'\n        CommandLine|contains: '-s'\n    other:\n        - ParentImage: x\n    filter:\n        User: SYSTEM\n    condition: (sel or other) and not filter",
    );
    let (set, errors) = load_with(&text, CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(set.fields_of(0), ["CommandLine", "Image", "ParentImage"]);
    assert!(set.fields_of(1).is_empty());
}
