//! Conformance against `../shared/kustomize-corpus`: every public case's output compared byte
//! for byte with kustomize v5.5.0's, every error case expected to fail, each built from the
//! disk and again from an in-memory tree of the same files (as the controller builds). A
//! committed ratchet records how many pass; the test fails when fewer do on either. Skips when
//! the corpus is absent.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kustomize::file_system::MemoryTree;
use kustomize::{Error, LoadRestrictor, Options, build_yaml};

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/kustomize-corpus");
    dir.is_dir().then_some(dir)
}

fn options(case: &serde_json::Value) -> Options {
    let flags: Vec<&str> = case["flags"]
        .as_array()
        .map(|f| f.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let none = flags
        .windows(2)
        .any(|w| w == ["--load-restrictor", "LoadRestrictionsNone"])
        || flags.contains(&"--load-restrictor=LoadRestrictionsNone");
    Options {
        load_restrictor: if none {
            LoadRestrictor::None
        } else {
            LoadRestrictor::RootOnly
        },
        environment: true,
        ..Options::default()
    }
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n-{w}\n+{g}", i + 1);
        }
    }
    format!(
        "lengths differ: expected {} lines, got {}",
        want.lines().count(),
        got.lines().count()
    )
}

fn ratchet() -> (usize, usize) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-ratchet.txt"),
    )
    .unwrap();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (value("public_passing"), value("errors_rejected"))
}

/// Builds `build_dir` of the case's `input` from the disk, or from the same files in memory
/// (mounted at the same path, so messages and origin annotations agree).
fn build_case(case: &Path, meta: &serde_json::Value, in_memory: bool) -> Result<String, Error> {
    let input = case.join("input");
    let input = input.canonicalize().unwrap_or(input);
    let dir = input.join(meta["build_dir"].as_str().unwrap_or("."));
    let mut options = options(meta);
    // A case without an input folder fails on both.
    if in_memory && input.is_dir() {
        options.file_system = Arc::new(MemoryTree::load(&input, &input).unwrap());
    }
    build_yaml(&dir, &options)
}

#[test]
fn corpus_conformance_does_not_regress_on_disk() {
    conformance(false);
}

#[test]
fn corpus_conformance_does_not_regress_in_memory() {
    conformance(true);
}

fn conformance(in_memory: bool) {
    let Some(root) = corpus() else {
        eprintln!("skipping: ../shared/kustomize-corpus is not present");
        return;
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join("public"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let (mut passing, mut shown) = (0, 0);
    let verbose = std::env::var("CORPUS_VERBOSE").is_ok();
    for case in &cases {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap())
                .unwrap();
        let want = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
        match build_case(case, &meta, in_memory) {
            Ok(got) if got == want => passing += 1,
            Ok(got) => {
                if verbose || shown < 3 {
                    shown += 1;
                    eprintln!(
                        "MISMATCH {}: {}",
                        case.file_name().unwrap().to_string_lossy(),
                        first_difference(&want, &got)
                    );
                }
            }
            Err(e) => {
                if verbose {
                    eprintln!("ERROR {}: {e}", case.file_name().unwrap().to_string_lossy());
                }
            }
        }
    }
    let mut errors: Vec<PathBuf> = std::fs::read_dir(root.join("errors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    errors.sort();
    let mut rejected = 0;
    for case in &errors {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap())
                .unwrap();
        if build_case(case, &meta, in_memory).is_err() {
            rejected += 1;
        } else if verbose {
            eprintln!(
                "ACCEPTED {}: kustomize fails with: {}",
                case.file_name().unwrap_or_default().to_string_lossy(),
                meta["error"].as_str().unwrap_or_default()
            );
        }
    }
    eprintln!(
        "kustomize corpus ({}): {passing}/{} public cases byte-identical, {rejected}/{} error cases rejected",
        if in_memory { "in memory" } else { "on disk" },
        cases.len(),
        errors.len()
    );
    let (min_passing, min_rejected) = ratchet();
    assert!(
        passing >= min_passing,
        "regression: {passing} public cases pass, the ratchet says {min_passing}"
    );
    assert!(
        rejected >= min_rejected,
        "regression: {rejected} error cases rejected, the ratchet says {min_rejected}"
    );
}
