#![no_main]
//! Threat-intel feeds as a TAXII server, a MISP instance or a file hands
//! them over: the first byte picks the reader (STIX pattern, STIX bundle,
//! MISP event, MISP manifest, CSV or plain list), the rest is its input.
//! Nothing may panic, and whatever reads is matched against an event.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let read = match pick % 6 {
        0 => match intel::pattern::parse(&text) {
            Ok(p) => {
                let again = intel::pattern::parse(&p.to_stix()).map(|q| q.to_stix());
                assert_eq!(again.ok(), Some(p.to_stix()), "a pattern's canonical form reads back as itself");
                intel::Read {
                    indicators: vec![intel::Indicator { pattern: p, ..intel::Indicator::of("fuzz", first()) }],
                    ..Default::default()
                }
            }
            Err(_) => return,
        },
        1 => match intel::stix::read_bundle(&text) {
            Ok(r) => r,
            Err(_) => return,
        },
        2 => match intel::misp::read_event(&text) {
            Ok((r, _)) => r,
            Err(_) => return,
        },
        3 => {
            let _ = intel::misp::read_manifest(&text);
            return;
        }
        _ => intel::list::read(&text, None),
    };
    let entries = read
        .indicators
        .into_iter()
        .map(|i| intel::Entry { tenant: None, feed: "fuzz".into(), indicator: Arc::new(i) })
        .collect();
    let set = intel::Set::new(entries);
    let mut event = model::Event::new();
    for (field, value) in [
        ("source.ip", "198.51.100.7"),
        ("destination.ip", "2001:db8::2"),
        ("dns.question.name", "a.b.evil.example"),
        ("url.original", "http://evil.example/x"),
        ("Hashes", "MD5=D41D8CD98F00B204E9800998ECF8427E"),
    ] {
        event.push(field, model::Value::Str(value.into()));
    }
    let mut seen = Vec::new();
    intel::observe::Fields::default().observe(&event, &mut seen);
    let _ = set.matches("fuzz", &seen, jiff::Timestamp::UNIX_EPOCH);
});

fn first() -> intel::Observable {
    intel::Observable { kind: intel::Kind::Domain, value: "fuzz.example".into() }
}
