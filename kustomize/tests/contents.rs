//! `Options::contents`: files the build reads from memory instead of the disk (the
//! controller's decrypted SOPS files), after the same confinement checks as the disk.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

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
    let options = Options {
        load_restrictor: LoadRestrictor::None,
        confine_to: Some(root.path().to_path_buf()),
        contents: Arc::new(contents),
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
