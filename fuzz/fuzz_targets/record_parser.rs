//! Every listener parser (syslog, CEF, LEEF, key=value, JSON and the
//! products recognised in JSON) on arbitrary lines, in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use normalize::{Format, parse_record};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let received = model::Timestamp::UNIX_EPOCH;
    for line in text.lines().take(64) {
        for format in Format::ALL {
            let _ = parse_record(line, format, received);
        }
    }
});
