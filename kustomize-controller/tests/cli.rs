//! The `kustomize-controller` binary speaks Flux's flags and fails clearly without a cluster.

// Test helpers may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kustomize-controller");

#[test]
fn help_lists_fluxs_flags_with_this_controllers_defaults() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--metrics-addr",
        "--health-addr",
        "--enable-leader-election",
        "--log-encoding",
        "--watch-all-namespaces",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(
        help.contains("[default: 4]"),
        "--concurrent default:\n{help}"
    );
}

#[test]
fn without_a_kubeconfig_it_exits_with_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "--metrics-addr=127.0.0.1:0",
            "--health-addr=127.0.0.1:0",
            "--log-encoding=console",
        ])
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("missing"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot build a Kubernetes client"),
        "{stderr}"
    );
}
