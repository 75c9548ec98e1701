//! Every ingest protocol decoder on arbitrary bytes: syslog stream framing
//! (fed in two pieces), `_bulk`, HEC event and raw bodies, OTLP protobuf
//! and JSON, JSON envelopes, HTML form bodies. HEC event bodies fed in two
//! pieces must read as they do whole (the server reads them in parts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut framer = wire::framing::Framer::new();
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    for piece in [&data[..cut], &data[cut..]] {
        framer.push(piece);
        while let Some(Ok(_)) = framer.next_frame() {}
    }
    let _ = framer.finish();
    let _ = wire::bulk::parse(data, Some("idx"));
    let whole = wire::hec::parse_events(data);
    let mut events = wire::hec::Events::default();
    events.feed(&data[..cut]);
    events.feed(&data[cut..]);
    assert_eq!(events.finish(), whole, "HEC events read in two pieces differ from the whole");
    let _ = wire::hec::parse_raw(data);
    let _ = wire::otlp::decode_protobuf(data);
    let _ = wire::otlp::decode_json(data);
    let fields = wire::form::fields(data);
    let _ = wire::form::field(&fields, "csrf");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wire::envelope::unwrap_line(text);
    }
});
