//! Hostile build trees: a named pipe where a file is expected fails at once instead of
//! blocking, and a remote URL wherever a file path can appear gets the same clear "remote ...
//! is not supported" message as `resources:`.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use kustomize::{Options, build};

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

fn error(dir: &Path) -> String {
    build(dir, &Options::default())
        .map(|_| ())
        .unwrap_err()
        .to_string()
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
        let message = error(dir.path());
        assert!(
            message.contains("not a regular file"),
            "{kustomization}: {message}"
        );
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
        let message = error(dir.path());
        assert!(
            message.contains("remote") && message.contains("is not supported"),
            "{kustomization}: {message}"
        );
    }
}
