//! Any bytes as an EVTX file (the fuzzer's input is prefixed with a valid
//! file magic half of the time, to get past the header check): every record
//! is an event or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Vec::with_capacity(data.len() + 8);
    if data.first().is_some_and(|b| b & 1 == 1) {
        bytes.extend_from_slice(b"ElfFile\0");
    }
    bytes.extend_from_slice(data);
    if let Ok(records) = normalize::read_evtx(std::io::Cursor::new(bytes)) {
        for record in records.take(10_000) {
            let _ = record.map(|e| e.to_json());
        }
    }
});
