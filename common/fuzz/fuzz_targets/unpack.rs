//! Fuzz target: any bytes unpacked as a `tar.gz` artifact under the default limits must end
//! in `Ok` or a refusal, never a panic, a write outside the target or unbounded memory. Run
//! with `cargo +nightly fuzz run unpack` in `common/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rill_common::artifact::{UnpackLimits, unpack_tar_gz};

fuzz_target!(|data: &[u8]| {
    let Ok(scratch) = tempfile::tempdir() else {
        return;
    };
    let target = scratch.path().join("t");
    if std::fs::create_dir(&target).is_err() {
        return;
    }
    let _ = unpack_tar_gz(data, &target, &UnpackLimits::default());
    // Nothing may appear next to the target.
    let outside: Vec<_> = std::fs::read_dir(scratch.path())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(outside, vec![std::ffi::OsString::from("t")]);
});
