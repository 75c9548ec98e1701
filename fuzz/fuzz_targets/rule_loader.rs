//! Any bytes as a rule file (detection rules, correlations, filters):
//! loading must return rules or errors, never panic, and matching whatever
//! loaded against a few events, and correlating the matches, must not
//! either. The same bytes as a rule test file (YAML to JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::{Event, Value};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut options = sigma::CompileOptions::default();
    options.placeholders.insert("p".into(), vec!["a-b".into(), "*".into()]);
    let mut builder = sigma::RuleSetBuilder::new(options);
    builder.add_file("fuzz.yml", &text);
    let (set, errors) = builder.build();
    for e in &errors {
        let _ = e.to_string();
    }
    let mut matcher = set.matcher();
    let mut event = Event::new();
    for (name, value) in [
        ("Image", Value::Str("C:\\Windows\\System32\\cmd.exe".into())),
        ("CommandLine", Value::Str("cmd /c whoami -enc ZQBjAGgAbwA= 10.0.0.1".into())),
        ("EventID", Value::Int(4688)),
        ("ts", Value::Str("2026-03-15T22:45:10Z".into())),
        ("n", Value::Float(1.5)),
        ("tags", Value::Array(vec![Value::Str("a".into()), Value::Null])),
        ("empty", Value::Null),
    ] {
        event.push(name, value);
    }
    let hits = matcher.matches_in("acme", &event).to_vec();
    let _ = matcher.matches(&Event::new());
    let mut correlator = correlate::Correlator::new(&set, correlate::Config::default());
    let mut out = Vec::new();
    let read = |name: &str| event.text(name).map(|v| v.into_owned());
    for (i, &r) in hits.iter().enumerate() {
        correlator.observe("acme", r, i as i64 * 1_000_000, "e", &read, &mut out);
    }
    correlator.advance(i64::MAX / 2, &mut out);
    let _ = correlator.restore(&correlator.snapshot());
    let _ = sigma::yaml_to_json(&text);
});
