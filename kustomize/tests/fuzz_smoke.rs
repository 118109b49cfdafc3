//! Replays the fuzz target on stable Rust: the seed, every corpus kustomization with the seed
//! patch, and deterministic mutations of them (truncations, byte flips, duplicated lines) must
//! build or fail cleanly, never panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use kustomize::fuzzing::{SEED, build_bytes};

fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..60 {
        let mut m = seed.to_vec();
        if m.is_empty() {
            break;
        }
        match next() % 4 {
            0 => m.truncate((next() as usize) % m.len()),
            1 => {
                let i = (next() as usize) % m.len();
                m[i] = b"-:[]{}|>&*!'\"#\n 0a\t%@`"[(next() as usize) % 22];
            }
            2 => {
                let i = (next() as usize) % m.len();
                let j = (i + (next() as usize) % 40).min(m.len());
                let chunk = m[i..j].to_vec();
                m.splice(i..i, chunk);
            }
            _ => {
                let i = (next() as usize) % m.len();
                m.insert(i, b'\n');
                m.insert(i, b' ');
            }
        }
        out.push(m);
    }
    out
}

#[test]
fn the_fuzz_target_never_panics_on_seeds_and_mutations() {
    let scratch = tempfile::tempdir().unwrap();
    assert!(
        build_bytes(SEED.as_bytes(), scratch.path()),
        "the seed builds"
    );
    let mut inputs = mutations(SEED.as_bytes());
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/kustomize-corpus/public");
    if let Ok(entries) = std::fs::read_dir(&corpus) {
        let patch = SEED.split('\0').nth(1).unwrap_or_default();
        for entry in entries.flatten().take(150) {
            if let Ok(text) = std::fs::read(entry.path().join("input/kustomization.yaml")) {
                let mut data = text;
                data.push(0);
                data.extend_from_slice(patch.as_bytes());
                inputs.extend(mutations(&data).into_iter().take(5));
            }
        }
    } else {
        eprintln!(
            "corpus absent at {}: replaying the seed only",
            corpus.display()
        );
    }
    for input in &inputs {
        build_bytes(input, scratch.path());
    }
}

/// The YAML reader and patch entry points on the same mutations, plus hostile inputs.
#[test]
fn yaml_and_patch_targets_return_on_mutations() {
    use kustomize::fuzzing::{apply_patch, read_yaml};
    let seeds: [&[u8]; 4] = [
        SEED.as_bytes(),
        b"a: &a [x, x]\nb: &b [*a, *a]\nc: {<<: *b}\n",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n\0[{\"op\": \"replace\", \"path\": \"/data/a\", \"value\": 1}, {\"op\": \"move\", \"from\": \"/data\", \"path\": \"/data/x\"}]",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: x\n\0apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w\nspec:\n  template:\n    spec:\n      $setElementOrder/containers:\n      - name: b\n      containers:\n      - name: b\n        $patch: replace\n",
    ];
    for seed in seeds {
        for input in mutations(seed) {
            read_yaml(&input);
            apply_patch(&input);
        }
    }
}

/// Every input a fuzzing campaign found (`tests/fuzz-regressions/<target>-<what>`) returns
/// now, within memory.
#[test]
fn fuzz_findings_stay_fixed() {
    use kustomize::fuzzing::{apply_patch, read_yaml};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("apply_patch") {
            apply_patch(&data);
        } else if name.starts_with("read_yaml") {
            read_yaml(&data);
        } else {
            build_bytes(&data, tempfile::tempdir().unwrap().path());
        }
    }
}
