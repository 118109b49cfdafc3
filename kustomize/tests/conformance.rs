//! Rill's conformance set from public repositories the kustomize corpus does not draw from
//! (`conformance/cases`, collected by `conformance/collect.sh`): every case must build to
//! the exact bytes `kubectl kustomize` printed for it, from the disk and from memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use kustomize::Options;
use kustomize::file_system::MemoryTree;

#[test]
fn every_case_from_unseen_repositories_is_byte_identical() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/cases");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap())
                .unwrap();
        let input = case.join("input").canonicalize().unwrap();
        let dir = input.join(meta["build_dir"].as_str().unwrap_or("."));
        let want = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
        let in_memory = Options {
            file_system: Arc::new(MemoryTree::load(&input, &input).unwrap()),
            ..Options::default()
        };
        for (how, options) in [("disk", &Options::default()), ("memory", &in_memory)] {
            match kustomize::build_yaml(&dir, options) {
                Ok(got) if got == want => {}
                Ok(_) => failures.push(format!("{} ({how}): output differs", case.display())),
                Err(e) => failures.push(format!("{} ({how}): {e}", case.display())),
            }
        }
    }
    eprintln!(
        "conformance: {} of {} cases byte-identical",
        cases.len() - failures.len() / 2,
        cases.len()
    );
    assert!(cases.len() >= 100, "the conformance set is missing");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
