//! Fuzz target: `kustomize::fuzzing::read_yaml` must return on any bytes, never panic or run out
//! of memory. Run with `cargo +nightly fuzz run read_yaml` in `kustomize/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kustomize::fuzzing::read_yaml(data);
});
