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
