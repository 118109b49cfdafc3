//! Hostile build trees, each built from the disk and from an in-memory tree of the same
//! entries: a named pipe where a file is expected fails at once instead of blocking, a link
//! out of the build root is refused, and a remote URL wherever a file path can appear gets the
//! same clear "remote ... is not supported" message as `resources:`.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use kustomize::file_system::MemoryTree;
use kustomize::{Options, build};

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

/// The build's error from the disk and from memory, confined to `dir` as the controller
/// confines a build to its artifact.
fn errors(dir: &Path) -> [String; 2] {
    let dir = dir.canonicalize().unwrap();
    let disk = Options {
        confine_to: Some(dir.clone()),
        ..Options::default()
    };
    let memory = Options {
        file_system: Arc::new(MemoryTree::load(&dir, &dir).unwrap()),
        ..disk.clone()
    };
    [disk, memory].map(|options| build(&dir, &options).map(|_| ()).unwrap_err().to_string())
}

#[test]
fn a_named_pipe_is_refused_without_blocking() {
    let cases = [
        "resources:\n- pipe.yaml\n",
        "configMapGenerator:\n- name: c\n  files:\n  - pipe.yaml\n",
        "configMapGenerator:\n- name: c\n  envs:\n  - pipe.yaml\n",
        "resources:\n- cm.yaml\npatches:\n- path: pipe.yaml\n",
    ];
    for kustomization in cases {
        let dir = tree(&[
            ("kustomization.yaml", kustomization),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            ),
        ]);
        let status = Command::new("mkfifo")
            .arg(dir.path().join("pipe.yaml"))
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipped: mkfifo is not available");
            return;
        }
        for message in errors(dir.path()) {
            assert!(
                message.contains("not a regular file"),
                "{kustomization}: {message}"
            );
        }
    }
}

#[test]
fn remote_paths_are_refused_by_name_everywhere() {
    let url = "https://example.com/x.yaml";
    let cases = [
        format!("resources:\n- {url}\n"),
        format!("resources:\n- cm.yaml\npatches:\n- path: {url}\n"),
        format!("resources:\n- cm.yaml\npatchesStrategicMerge:\n- {url}\n"),
        format!("configMapGenerator:\n- name: c\n  files:\n  - {url}\n"),
        format!("configMapGenerator:\n- name: c\n  files:\n  - key={url}\n"),
        format!("secretGenerator:\n- name: c\n  envs:\n  - {url}\n"),
    ];
    for kustomization in cases {
        let dir = tree(&[
            ("kustomization.yaml", &kustomization),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            ),
        ]);
        for message in errors(dir.path()) {
            assert!(
                message.contains("remote") && message.contains("is not supported"),
                "{kustomization}: {message}"
            );
        }
    }
}

#[test]
fn links_out_of_the_build_root_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n",
    )
    .unwrap();
    let cases = [
        "resources:\n- evil.yaml\n",
        "resources:\n- up/cm.yaml\n",
        "configMapGenerator:\n- name: c\n  files:\n  - evil.yaml\n",
        "resources:\n- cm.yaml\npatches:\n- path: evil.yaml\n",
    ];
    for kustomization in cases {
        let dir = tree(&[
            ("kustomization.yaml", kustomization),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            ),
        ]);
        std::os::unix::fs::symlink(outside.path().join("cm.yaml"), dir.path().join("evil.yaml"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("up")).unwrap();
        for message in errors(dir.path()) {
            assert!(
                message.contains("outside the build root")
                    || message.contains("No such file or directory"),
                "{kustomization}: {message}"
            );
            assert!(!message.contains("stolen"), "{message}");
        }
    }
}

#[test]
fn links_inside_the_build_root_are_followed_in_memory_as_on_disk() {
    let dir = tree(&[
        ("kustomization.yaml", "resources:\n- alias.yaml\n- base\n"),
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        ),
    ]);
    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::fs::write(
        dir.path().join("real/kustomization.yaml"),
        "resources:\n- ../other.yaml\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("cm.yaml", dir.path().join("alias.yaml")).unwrap();
    std::os::unix::fs::symlink("real", dir.path().join("base")).unwrap();
    let root = dir.path().canonicalize().unwrap();
    let disk = Options {
        confine_to: Some(root.clone()),
        load_restrictor: kustomize::LoadRestrictor::None,
        ..Options::default()
    };
    let memory = Options {
        file_system: Arc::new(MemoryTree::load(&root, &root).unwrap()),
        ..disk.clone()
    };
    let built = [disk, memory].map(|o| kustomize::build_yaml(&root, &o).unwrap());
    assert_eq!(built[0], built[1]);
    assert!(built[0].contains("name: s\n"), "{}", built[0]);
}
