//! The artifact writer is deterministic, never archives links, and its output unpacks to the
//! same tree; storage writes, verifies and garbage-collects artifacts on disk.

// Test helpers may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rill_common::artifact::{
    Digest, ObjectKey, Retention, Storage, UnpackLimits, unpack_tar_gz, write_archive,
};

fn no_exclusions(_: &Path, _: bool) -> bool {
    false
}

fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("deploy/base")).unwrap();
    fs::create_dir_all(root.join(".git/objects")).unwrap();
    fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(
        root.join("deploy/base/deployment.yaml"),
        "kind: Deployment\n",
    )
    .unwrap();
    fs::write(
        root.join("deploy/base/kustomization.yaml"),
        "resources: [deployment.yaml]\n",
    )
    .unwrap();
    fs::write(root.join("README.md"), "# app\n").unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
}

fn archive_bytes(source: &Path, out: &Path) -> (Vec<u8>, Digest) {
    let summary = write_archive(source, out, &no_exclusions).unwrap();
    let bytes = fs::read(out).unwrap();
    assert_eq!(Digest::of(&bytes), summary.digest);
    assert_eq!(bytes.len() as u64, summary.size);
    (bytes, summary.digest)
}

#[test]
fn touching_every_file_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    let (first, digest) = archive_bytes(&tree, &tmp.path().join("a.tar.gz"));

    let later = SystemTime::now() + Duration::from_secs(3600);
    for entry in walkdir::WalkDir::new(&tree) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let f = fs::File::options().write(true).open(entry.path()).unwrap();
            f.set_modified(later).unwrap();
            let mode = entry.metadata().unwrap().permissions().mode();
            let widened = if mode & 0o100 != 0 { 0o777 } else { 0o666 };
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(widened)).unwrap();
        }
    }
    let (second, digest2) = archive_bytes(&tree, &tmp.path().join("b.tar.gz"));
    assert_eq!(digest, digest2);
    assert_eq!(first, second);

    let other = tmp.path().join("other");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(other.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(other.join("README.md"), "# app\n").unwrap();
    fs::create_dir_all(other.join("deploy/base")).unwrap();
    fs::write(
        other.join("deploy/base/kustomization.yaml"),
        "resources: [deployment.yaml]\n",
    )
    .unwrap();
    fs::write(
        other.join("deploy/base/deployment.yaml"),
        "kind: Deployment\n",
    )
    .unwrap();
    let (_, digest3) = archive_bytes(&other, &tmp.path().join("c.tar.gz"));
    assert_eq!(digest, digest3, "creation order and .git do not matter");
}

#[test]
fn archive_headers_are_normalised_and_links_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    std::os::unix::fs::symlink("/etc/passwd", tree.join("passwd")).unwrap();
    std::os::unix::fs::symlink("deploy", tree.join("deploy-link")).unwrap();
    let out = tmp.path().join("a.tar.gz");
    write_archive(&tree, &out, &no_exclusions).unwrap();

    let mut archive =
        tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(&out).unwrap()));
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            (header.uid().unwrap(), header.gid().unwrap()),
            (0, 0),
            "{name}"
        );
        assert_eq!(header.username().unwrap(), Some(""), "{name}");
        let mode = header.mode().unwrap();
        let want = if header.entry_type().is_dir() || name == "run.sh" {
            0o755
        } else {
            0o644
        };
        assert_eq!(mode, want, "{name}");
        names.push(name);
    }
    assert_eq!(
        names,
        [
            "README.md",
            "deploy",
            "deploy/base",
            "deploy/base/deployment.yaml",
            "deploy/base/kustomization.yaml",
            "run.sh"
        ]
    );
}

#[test]
fn exclusions_are_asked_about_every_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    let out = tmp.path().join("a.tar.gz");
    let exclude = |p: &Path, is_dir: bool| !is_dir && p.extension().is_some_and(|e| e == "md");
    let summary = write_archive(&tree, &out, &exclude).unwrap();
    assert_eq!(summary.files, 3);
    let target = tmp.path().join("out");
    unpack_tar_gz(
        fs::File::open(&out).unwrap(),
        &target,
        &UnpackLimits::default(),
    )
    .unwrap();
    assert!(!target.join("README.md").exists());
    assert!(target.join("run.sh").exists());
}

#[test]
fn archive_unpacks_to_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    let out = tmp.path().join("a.tar.gz");
    write_archive(&tree, &out, &no_exclusions).unwrap();
    let target = tmp.path().join("unpacked");
    let summary = unpack_tar_gz(
        fs::File::open(&out).unwrap(),
        &target,
        &UnpackLimits::default(),
    )
    .unwrap();
    assert_eq!(summary.files, 4);
    for file in [
        "README.md",
        "run.sh",
        "deploy/base/deployment.yaml",
        "deploy/base/kustomization.yaml",
    ] {
        assert_eq!(
            fs::read(tree.join(file)).unwrap(),
            fs::read(target.join(file)).unwrap(),
            "{file}"
        );
    }
    let mode = fs::metadata(target.join("run.sh"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o755);
    assert!(!target.join(".git").exists());
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

#[test]
fn storage_writes_verifies_and_collects_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    let storage = Storage::new(
        tmp.path().join("data"),
        "http://localhost:9090/",
        Retention::default(),
    );
    let key = ObjectKey::new("GitRepository", "flux-system", "podinfo");

    let old = storage
        .store_directory(
            &key,
            "1111.tar.gz",
            &tree,
            &no_exclusions,
            "main@sha1:1111",
            now(),
        )
        .unwrap();
    assert_eq!(old.path, "gitrepository/flux-system/podinfo/1111.tar.gz");
    assert_eq!(
        old.url,
        "http://localhost:9090/gitrepository/flux-system/podinfo/1111.tar.gz"
    );
    assert!(storage.verify(&old));

    fs::write(tree.join("README.md"), "# changed\n").unwrap();
    let new = storage
        .store_directory(
            &key,
            "2222.tar.gz",
            &tree,
            &no_exclusions,
            "main@sha1:2222",
            now(),
        )
        .unwrap();
    assert_ne!(old.digest, new.digest);
    let file = storage.local_path(&new.path).unwrap();
    assert_eq!(
        Some(Digest::of(&fs::read(&file).unwrap()).to_string()),
        new.digest
    );
    assert_eq!(new.size, Some(fs::metadata(&file).unwrap().len() as i64));
    assert!(
        !file.with_extension("gz.lock").exists(),
        "the lock is released"
    );

    // Within the TTL both stay; once the old one is past it, it goes.
    assert!(
        storage
            .garbage_collect(&key, Some("2222.tar.gz"), SystemTime::now())
            .unwrap()
            .is_empty()
    );
    let deleted = storage
        .garbage_collect(
            &key,
            Some("2222.tar.gz"),
            SystemTime::now() + Duration::from_secs(120),
        )
        .unwrap();
    assert_eq!(deleted, vec![storage.local_path(&old.path).unwrap()]);
    assert!(storage.verify(&new));

    // A tampered file no longer verifies.
    fs::write(&file, b"tampered").unwrap();
    assert!(!storage.verify(&new));

    storage.remove_all(&key).unwrap();
    assert!(
        !tmp.path()
            .join("data/gitrepository/flux-system/podinfo")
            .exists()
    );
}

#[test]
fn an_artifact_its_consumers_would_refuse_is_not_written() {
    let limits = UnpackLimits::default();
    // A file over the per-file limit (sparse: refused by its size, never read).
    let big = tempfile::tempdir().unwrap();
    fs::write(big.path().join("small.yaml"), "a: 1\n").unwrap();
    let file = fs::File::create(big.path().join("huge.bin")).unwrap();
    file.set_len(limits.max_file_bytes + 1).unwrap();
    let out = tempfile::tempdir().unwrap();
    let error = write_archive(big.path(), &out.path().join("a.tar.gz"), &no_exclusions)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("refused by its consumers") && error.contains("huge.bin"),
        "{error}"
    );
    // Content that compresses beyond the consumers' bomb ratio.
    let zeros = tempfile::tempdir().unwrap();
    fs::write(
        zeros.path().join("zeros.bin"),
        vec![0u8; (limits.ratio_floor_bytes + (4 << 20)) as usize],
    )
    .unwrap();
    let error = write_archive(zeros.path(), &out.path().join("b.tar.gz"), &no_exclusions)
        .unwrap_err()
        .to_string();
    assert!(error.contains("decompression bomb"), "{error}");
    // What the consumers take is written, and they unpack it.
    let fine = tempfile::tempdir().unwrap();
    sample_tree(fine.path());
    write_archive(fine.path(), &out.path().join("c.tar.gz"), &no_exclusions).unwrap();
}
