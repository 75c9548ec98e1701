#![no_main]
//! A geolocation database as `[enrich] geoip` names it: opening any bytes
//! and looking addresses up in what opened never panics.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(geo) = geo::Geo::from_bytes(data.to_vec()) else { return };
    let _ = geo.describe();
    for ip in ["198.51.100.7", "203.0.113.200", "2001:db8::1", "8.8.8.8", "::ffff:198.51.100.9", "::"] {
        if let Ok(ip) = ip.parse() {
            let _ = geo.lookup(ip);
        }
    }
    let mut event = model::Event::new();
    event.push("source.ip", model::Value::Str("198.51.100.7".into()));
    event.push("destination.ip", model::Value::Str("2001:db8::2".into()));
    let _ = geo.enrich(&mut event);
});
