//! Fuzz target: any bytes read as a SOPS document in every format must fail cleanly (no key
//! opens it), never panic or run out of memory. Run with
//! `cargo +nightly fuzz run sops_document` in `kustomize/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rill_sops::{Format, Keyring};

fuzz_target!(|data: &[u8]| {
    let keys = Keyring::default();
    for format in [Format::Yaml, Format::Json, Format::Dotenv, Format::Binary] {
        let _ = rill_sops::decrypt(data, format, format, &keys);
    }
});
