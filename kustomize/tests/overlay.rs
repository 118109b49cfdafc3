//! `file_system::Overlay`: files the build reads from memory instead of the disk or the shared
//! tree (the controller's generated kustomization and decrypted SOPS files), after the same
//! confinement checks as the files below them.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use kustomize::file_system::{Disk, FileSystem, MemoryTree, Overlay};
use kustomize::{LoadRestrictor, Options, build};

#[test]
fn replaced_contents_are_read_instead_of_the_disk_and_stay_confined() {
    let root = tempfile::tempdir().unwrap();
    let app = root.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("kustomization.yaml"),
        "resources:\n- cm.yaml\nconfigMapGenerator:\n- name: env\n  envs:\n  - vars.env\n",
    )
    .unwrap();
    std::fs::write(app.join("cm.yaml"), "on: disk\n").unwrap();
    std::fs::write(app.join("vars.env"), "k=on-disk\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.yaml"), "x: 1\n").unwrap();
    let mut contents = HashMap::new();
    contents.insert(
        app.join("cm.yaml").canonicalize().unwrap(),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-memory\n".to_vec(),
    );
    contents.insert(
        app.join("vars.env").canonicalize().unwrap(),
        b"k=in-memory\n".to_vec(),
    );
    contents.insert(
        outside.path().join("x.yaml").canonicalize().unwrap(),
        b"x: 2\n".to_vec(),
    );
    let mut overlay = Overlay::new(Arc::new(Disk));
    overlay.extend(contents);
    let options = Options {
        load_restrictor: LoadRestrictor::None,
        confine_to: Some(root.path().to_path_buf()),
        file_system: Arc::new(overlay),
        ..Options::default()
    };
    let out = build(&app, &options).unwrap();
    let names: Vec<&str> = out
        .iter()
        .map(|r| r.object["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"from-memory"), "{names:?}");
    let env = out
        .iter()
        .find(|r| {
            r.object["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("env")
        })
        .unwrap();
    assert_eq!(env.object["data"]["k"], "in-memory");
    // A replaced file outside the confinement root is still refused.
    let far = outside.path().join("x.yaml");
    std::fs::write(
        app.join("kustomization.yaml"),
        format!("resources:\n- {}\n", far.display()),
    )
    .unwrap();
    assert!(build(&app, &options).is_err());
}

#[test]
fn a_written_file_is_found_read_and_listed_without_changing_the_tree_below() {
    let mut tree = MemoryTree::new("/artifact");
    tree.insert_file(
        Path::new("app/cm.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n".as_slice(),
    )
    .unwrap();
    let tree = Arc::new(tree);
    let mut overlay = Overlay::new(tree.clone());
    overlay
        .write(
            Path::new("/artifact/app/kustomization.yaml"),
            b"namePrefix: p-\nresources:\n- cm.yaml\n".to_vec(),
        )
        .unwrap();
    // A file cannot be written where no directory is.
    assert!(
        overlay
            .write(Path::new("/artifact/nowhere/x.yaml"), Vec::new())
            .is_err()
    );
    assert_eq!(
        overlay.read_dir(Path::new("/artifact/app")).unwrap(),
        [
            Path::new("/artifact/app/cm.yaml"),
            Path::new("/artifact/app/kustomization.yaml")
        ]
    );
    assert!(!tree.is_file(Path::new("/artifact/app/kustomization.yaml")));
    let options = Options {
        confine_to: Some("/artifact".into()),
        file_system: Arc::new(overlay),
        ..Options::default()
    };
    let out = build(Path::new("/artifact/app"), &options).unwrap();
    assert_eq!(out[0].object["metadata"]["name"], "p-cm");
}
