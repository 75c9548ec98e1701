//! Write-ahead-log payloads and data-directory files as read back from
//! disk after damage: batch decoding, checkpoints and token files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = store::Batch::decode(data);
    let _ = serde_json::from_slice::<store::Checkpoint>(data);
    let _ = serde_json::from_slice::<store::tokens::TokenRecord>(data);
});
