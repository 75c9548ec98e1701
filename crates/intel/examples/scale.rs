//! How matching scales with the number of indicators (issue 23,
//! acceptance 3): builds sets of N mixed indicators (addresses, networks,
//! domains, URLs, hashes, e-mail addresses, JA3), reports the memory the
//! set takes (resident size before and after building it) and the time per
//! event to read its observables and look them up, over the same events
//! for every N (a tenth of which carry an indicator).
//!
//!   cargo run --release -p intel --example scale -- 10000 1000000
use std::sync::Arc;
use std::time::Instant;

use intel::{Entry, Indicator, Kind, Observable, Set};
use model::{Event, Value};

/// Resident memory of this process, in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

/// A small deterministic generator, so every run sees the same values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The observable of indicator `i`: seven kinds in turn.
fn observable(i: u64) -> Observable {
    let mix = |n: u64| {
        let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    };
    let h = |n: u64, len: usize| {
        format!("{:016x}{:016x}{:016x}{:016x}", mix(n * 4), mix(n * 4 + 1), mix(n * 4 + 2), mix(n * 4 + 3))[..len]
            .to_string()
    };
    let (kind, value) = match i % 7 {
        0 => (Kind::Ip, format!("{}.{}.{}.{}", 10 + (i >> 24) % 200, (i >> 16) & 255, (i >> 8) & 255, i & 255)),
        1 => (Kind::Ip, format!("{}.{}.{}.0/24", 100 + (i >> 16) % 100, (i >> 8) & 255, i & 255)),
        2 => (Kind::Domain, format!("host{i}.bad{}.example", i % 997)),
        3 => (Kind::Url, format!("http://dl{i}.example/payload/{i}.bin")),
        4 => (Kind::Sha256, format!("{}{}", h(i, 32), h(i + 1, 32))),
        5 => (Kind::Email, format!("sender{i}@phish{}.example", i % 991)),
        _ => (Kind::Ja3, h(i, 32)),
    };
    Observable::new(kind, &value).expect("a generated observable reads")
}

fn set_of(n: u64) -> Set {
    let entries = (0..n)
        .map(|i| Entry {
            tenant: None,
            feed: "bench".into(),
            indicator: Arc::new(Indicator { confidence: Some(70), ..Indicator::of(format!("ind-{i}"), observable(i)) }),
        })
        .collect();
    Set::new(entries)
}

/// An event as a proxy or Sysmon would send it: addresses, a host, a URL,
/// hashes; every tenth one carries indicator `hit`'s value.
fn events(count: usize, indicators: u64) -> Vec<Event> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    (0..count)
        .map(|n| {
            let r = rng.next();
            let mut e = Event::new();
            let s = |t: String| Value::Str(t.into());
            e.push("source.ip", s(format!("192.168.{}.{}", (r >> 8) & 255, r & 255)));
            e.push("destination.ip", s(format!("172.{}.{}.{}", 16 + (r >> 16) % 16, (r >> 24) & 255, (r >> 32) & 255)));
            e.push("url.original", s(format!("https://cdn{}.example.org/static/app.js", r % 5000)));
            e.push("dns.question.name", s(format!("api{}.service{}.example.net", r % 100, r % 300)));
            e.push("Hashes", s(format!("SHA1={:040X},MD5={:032X},SHA256={:064X}", r, r >> 3, r >> 5)));
            e.push("user.name", s(format!("user{}", r % 1000)));
            if n % 10 == 0 {
                let o = observable((r >> 11) % indicators.min(10_000));
                // Fields the event does not have yet: the first of a name counts.
                let field = match o.kind {
                    Kind::Ip => "server.ip",
                    Kind::Domain => "url.domain",
                    Kind::Url => "url.full",
                    Kind::Email => "email.from.address",
                    Kind::Ja3 => "tls.client.ja3",
                    _ => "file.hash.sha256",
                };
                // A network's indicator is met by an address inside it.
                let value = o.value.replace(".0/24", ".77");
                e.push(field, s(value));
            }
            e
        })
        .collect()
}

fn main() {
    let sizes: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 1_000_000] } else { sizes };
    let events = events(200_000, 10_000);
    let fields = intel::observe::Fields::default();
    let now = jiff::Timestamp::now();
    println!(
        "{:>10} {:>12} {:>14} {:>12} {:>10} {:>10}",
        "indicators", "build s", "bytes/indicator", "ns/event", "events/s", "hits"
    );
    for n in sizes {
        let before = rss();
        let started = Instant::now();
        let set = set_of(n);
        let build = started.elapsed().as_secs_f64();
        let bytes = rss().saturating_sub(before) as f64 / n as f64;
        // Three passes; the median.
        let mut runs = Vec::new();
        let mut hits = 0;
        for _ in 0..3 {
            hits = 0;
            let mut seen = Vec::new();
            let started = Instant::now();
            for e in &events {
                seen.clear();
                fields.observe(e, &mut seen);
                hits += set.matches("acme", &seen, now).len();
            }
            runs.push(started.elapsed().as_secs_f64());
        }
        runs.sort_by(f64::total_cmp);
        let per = runs[1] / events.len() as f64;
        println!("{n:>10} {build:>12.2} {bytes:>14.0} {:>12.0} {:>10.0} {hits:>10}", per * 1e9, 1.0 / per);
        drop(set);
    }
}
