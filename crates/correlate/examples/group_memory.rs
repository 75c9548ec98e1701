//! Memory per active correlation group: feeds N distinct groups (one
//! event each, all within one window, so none can expire) into one
//! correlation of the type asked for and reports the resident-set growth
//! per group. One type per process, so freed memory of one does not hide
//! the next.
//!
//!     cargo run --release -p correlate --example group_memory [GROUPS] [TYPE]

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let groups: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let only = std::env::args().nth(2);
    let cases = [
        (
            "event_count",
            "type: event_count, rules: [base], group-by: [user.name, host.name], timespan: 1h, condition: {gte: 1000}",
        ),
        (
            "value_count",
            "type: value_count, rules: [base], group-by: [user.name, host.name], timespan: 1h, condition: {field: source.ip, gte: 1000}",
        ),
        (
            "temporal_ordered",
            "type: temporal_ordered, rules: [base, other], group-by: [user.name, host.name], timespan: 1h",
        ),
        (
            "value_sum",
            "type: value_sum, rules: [base], group-by: [user.name, host.name], timespan: 1h, condition: {field: bytes, gt: 1e15}",
        ),
    ];
    for (name, body) in cases {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let text = format!(
            "title: base\nid: b1\nname: base\nlogsource: {{product: x}}\ndetection: {{s: {{a: 1}}, condition: s}}\n---\n\
             title: other\nid: b2\nname: other\nlogsource: {{product: x}}\ndetection: {{s: {{a: 2}}, condition: s}}\n---\n\
             title: c\nid: c1\ncorrelation: {{{body}}}\n"
        );
        let mut b = sigma::RuleSetBuilder::new(sigma::CompileOptions::default());
        b.add_file("bench.yml", &text);
        let (set, errors) = b.build();
        assert!(errors.is_empty(), "{errors:?}");
        let before = rss_kib();
        let mut c = correlate::Correlator::new(
            &set,
            correlate::Config { max_groups: groups as usize * 2, ..Default::default() },
        );
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        for i in 0..groups {
            let (user, host) = (format!("user-{i:06}"), format!("host-{:03}", i % 1000));
            let read = |f: &str| match f {
                "user.name" => Some(user.clone()),
                "host.name" => Some(host.clone()),
                "source.ip" => Some(format!("10.0.{}.{}", i % 250, i % 200)),
                "bytes" => Some("1234".to_owned()),
                _ => None,
            };
            c.observe("tenant-a", 0, 1_000_000 + i64::from(i % 1000), &format!("{i}.0"), &read, &mut out);
        }
        let secs = started.elapsed().as_secs_f64();
        let after = rss_kib();
        let per_group = (after.saturating_sub(before)) as f64 * 1024.0 / f64::from(groups);
        println!(
            "{name:<17} groups {:>7}  rss +{:>7} KiB  {per_group:>6.0} bytes/group  {:>9.0} observations/s",
            c.stats().groups,
            after.saturating_sub(before),
            f64::from(groups) / secs
        );
        drop(c);
    }
}
