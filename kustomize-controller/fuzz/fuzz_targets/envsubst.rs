//! Fuzz target: post-build substitution of any text (before the first NUL) with variables
//! from `name=value` lines (after it), strict and lenient, must return, never panic. Run with
//! `cargo +nightly fuzz run envsubst` in `kustomize-controller/`.
#![no_main]

use std::collections::BTreeMap;

use kustomize_controller::kustomization::envsubst::substitute;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (template, vars) = text.split_once('\0').unwrap_or((&text, "a=1\nb=${a}"));
    let vars: BTreeMap<String, String> = vars
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let _ = substitute(template, &vars, true);
    let _ = substitute(template, &vars, false);
});
