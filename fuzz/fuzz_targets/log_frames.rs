//! Write-ahead-log payloads and data-directory files as read back from
//! disk after damage: batch decoding, checkpoints, token files and saved
//! correlation state.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// A rule set with one correlation of each kind the state holds.
fn correlations() -> &'static sigma::RuleSet {
    static SET: std::sync::OnceLock<sigma::RuleSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut b = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
        b.add_file(
            "c.yml",
            "title: a\nid: a\nname: a\nlogsource: {product: x}\ndetection: {s: {k: 1}, condition: s}\n---\n\
             title: c\nid: c\ncorrelation: {type: event_count, rules: [a], group-by: [u], timespan: 5m, condition: {gte: 3}}\n---\n\
             title: d\nid: d\ncorrelation: {type: value_avg, rules: [a], group-by: [u], timespan: 5m, condition: {field: n, lt: 3}}\n",
        );
        b.build().0
    })
}

fuzz_target!(|data: &[u8]| {
    let mut correlator = correlate::Correlator::new(correlations(), correlate::Config::default());
    if correlator.restore(data).is_ok() {
        let mut out = Vec::new();
        let read = |name: &str| (name == "u").then(|| "x".to_owned());
        correlator.observe("t", 0, 1_000_000, "e", &read, &mut out);
        correlator.advance(i64::MAX / 2, &mut out);
    }
    let _ = wal::Batch::decode(data);
    let _ = serde_json::from_slice::<wal::Checkpoint>(data);
    let _ = serde_json::from_slice::<state::tokens::TokenRecord>(data);
});
