//! Any bytes as a JSON(-lines) log file: every record is an event or an
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for record in normalize::read_json(&text) {
        if let Ok(event) = record {
            let _ = event.to_json();
        }
    }
});
