//! Fuzz target: `sandbox::fuzzing::request` must answer any bytes with a status, never panic,
//! hang or run out of memory. Run with `cargo +nightly fuzz run request` in `sandbox/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sandbox::fuzzing::request(data);
});
