//! Fuzz target: any text parsed as a semver range (and tags matched against it) must return,
//! never panic. Run with `cargo +nightly fuzz run semver_range` in `common/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rill_common::semver_range::{Constraint, parse_tag};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (range, tag) = text.split_once('\n').unwrap_or((&text, "1.2.3"));
    if let (Ok(constraint), Some(version)) = (Constraint::parse(range), parse_tag(tag)) {
        let _ = constraint.matches(&version);
    }
});
