//! Rill's own kustomize cases (`testdata/`): each builds to the bytes `kubectl kustomize`
//! printed for it, from the disk and from an in-memory tree of the same files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn own_cases_match_kubectl_kustomize() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
    {
        let case = entry.path();
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap())
                .unwrap();
        let dir = case
            .join("input")
            .join(meta["build_dir"].as_str().unwrap_or("."));
        let input = case.join("input").canonicalize().unwrap();
        let tree = kustomize::file_system::MemoryTree::load(&input, &input).unwrap();
        let options = kustomize::Options {
            file_system: std::sync::Arc::new(tree),
            ..kustomize::Options::default()
        };
        if let Some(error) = meta["error"].as_str() {
            // kustomize fails on this case: so must the engine, saying the same thing.
            for (how, options) in [
                ("disk", &kustomize::Options::default()),
                ("memory", &options),
            ] {
                match kustomize::build_yaml(&dir, options) {
                    Ok(built) => panic!(
                        "{} ({how}) built where kustomize fails:\n{built}",
                        case.display()
                    ),
                    Err(e) => assert!(
                        e.to_string().contains(error),
                        "{} ({how}): {e}",
                        case.display()
                    ),
                }
            }
            checked += 1;
            continue;
        }
        let expected = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
        let built = kustomize::build_yaml(&dir, &kustomize::Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        assert_eq!(built, expected, "{}", case.display());
        let built = kustomize::build_yaml(&dir, &options)
            .unwrap_or_else(|e| panic!("{} in memory: {e}", case.display()));
        assert_eq!(built, expected, "{} in memory", case.display());
        checked += 1;
    }
    assert!(checked >= 2, "the test data is missing");
}
