//! What SOPS decryption adds to a build: 1,000 Secrets encrypted by the real `sops` for an age
//! recipient (Flux's vector `algorithms/age.yaml`, one per folder, each folder giving it its
//! own namespace) built by the controller's build step with the key, against the same 1,000
//! Secrets in clear; then the same with the OpenPGP (RSA 4096) vector for 100 Secrets, to show
//! the per-file cost of that key type. Prints medians and the cost per Secret, built as the
//! controller builds (the artifact unpacked in memory, the decrypted files laid over it); the
//! goal is <= 100 ms added for 1,000 age Secrets.
//!
//! Run with `cargo bench -p kustomize-controller --bench decryption`. Skips with a message
//! when `../shared/sops-testdata` is absent.

// Benchmark code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kustomize::file_system::{FileSystem, MemoryTree};
use kustomize_controller::kustomization::build::build;
use rill_common::api::kustomize_v1::KustomizationSpec;
use rill_sops::Keyring;

const RUNS: usize = 5;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/sops-testdata/controller")
}

/// Writes `count` folders, each with `secret` and a kustomization giving it namespace `ns-N`.
fn tree(root: &Path, count: usize, secret: &str) {
    let mut top = String::from("resources:\n");
    for i in 0..count {
        let dir = root.join(format!("s{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret.yaml"), secret).unwrap();
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!("namespace: ns-{i}\nresources:\n- secret.yaml\n"),
        )
        .unwrap();
        let _ = writeln!(top, "- s{i}");
    }
    std::fs::write(root.join("kustomization.yaml"), top).unwrap();
}

/// Median wall time of the build step over `source` unpacked in memory.
fn median_build(source: &Path, keys: Option<&Keyring>, expect: usize) -> Duration {
    let spec: KustomizationSpec = serde_json::from_value(serde_json::json!({
        "interval": "1m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "x"}
    }))
    .unwrap();
    let root = Path::new("/artifact");
    let tree: Arc<dyn FileSystem> = Arc::new(MemoryTree::load(source, root).unwrap());
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let objects = build(tree.clone(), root, &spec, keys).unwrap();
        times.push(start.elapsed());
        assert_eq!(objects.len(), expect);
        assert!(objects.iter().all(|o| o.get("sops").is_none()));
    }
    times.sort();
    times[RUNS / 2]
}

fn compare(label: &str, count: usize, encrypted: &str, keys: &Keyring) {
    let plain_secret =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: age\nstringData:\n  key: value\n";
    let plain = tempfile::tempdir().unwrap();
    tree(plain.path(), count, plain_secret);
    let sealed = tempfile::tempdir().unwrap();
    tree(sealed.path(), count, encrypted);
    let clear = median_build(plain.path(), None, count);
    let decrypted = median_build(sealed.path(), Some(keys), count);
    let added = decrypted.saturating_sub(clear);
    let doc = rill_sops::tree::read_documents(encrypted)
        .unwrap()
        .remove(0);
    let start = Instant::now();
    for _ in 0..count {
        let metadata = rill_sops::metadata::Metadata::from_node(doc.get("sops").unwrap()).unwrap();
        keys.data_key(&metadata).unwrap();
    }
    let unwrap = start.elapsed();
    println!(
        "{label}: {count} Secrets: build {:.1} ms in clear, {:.1} ms encrypted: decryption adds {:.1} ms ({:.3} ms per Secret; reading the sops block and unwrapping the data key on one core: {:.1} ms)",
        clear.as_secs_f64() * 1e3,
        decrypted.as_secs_f64() * 1e3,
        added.as_secs_f64() * 1e3,
        added.as_secs_f64() * 1e3 / count as f64,
        unwrap.as_secs_f64() * 1e3
    );
}

fn main() {
    let dir = vectors();
    if !dir.is_dir() {
        println!("skipped: {} is absent", dir.display());
        return;
    }
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    let mut age = Keyring::default();
    age.import("age.agekey", read("keys/age.txt").as_bytes())
        .unwrap();
    compare("age (X25519)", 1_000, &read("algorithms/age.yaml"), &age);
    let mut pgp = Keyring::default();
    pgp.import("pgp.asc", read("keys/pgp.asc").as_bytes())
        .unwrap();
    compare(
        "OpenPGP (RSA 4096)",
        100,
        &read("algorithms/pgp.yaml"),
        &pgp,
    );
}
