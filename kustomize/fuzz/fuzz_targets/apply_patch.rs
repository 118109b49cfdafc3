//! Fuzz target: `kustomize::fuzzing::apply_patch` must return on any bytes, never panic or run out
//! of memory. Run with `cargo +nightly fuzz run apply_patch` in `kustomize/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kustomize::fuzzing::apply_patch(data);
});
