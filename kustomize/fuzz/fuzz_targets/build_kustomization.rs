//! Fuzz target: arbitrary kustomization and patch bytes built next to fixed resources must
//! never panic. Run with `cargo +nightly fuzz run build_kustomization` in `kustomize/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static SCRATCH: tempfile::TempDir = tempfile::tempdir().expect("a scratch folder");
    }
    SCRATCH.with(|dir| {
        kustomize::fuzzing::build_bytes(data, dir.path());
    });
});
