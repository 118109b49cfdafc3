//! Fuzz target: post-build substitution of any text (before the first NUL) with variables
//! from `name=value` lines (after it), strict and lenient, must return, never panic. Run with
//! `cargo +nightly fuzz run envsubst` in `kustomize-controller/`.
#![no_main]

use kustomize_controller::kustomization::envsubst::substitute_fuzz_input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| substitute_fuzz_input(data));
