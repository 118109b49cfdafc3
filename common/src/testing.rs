//! Test support shared by the controller crates (feature `testing`): checks every controller
//! binary must pass. Not part of the runtime API.

// Assertions panic by design.
#![allow(clippy::expect_used)]

use std::process::Command;

/// Asserts that `bin --help` lists Flux's common flags and this controller's `--concurrent`
/// default.
pub fn assert_help_lists_flux_flags(bin: &str, concurrent_default: u16) {
    let out = Command::new(bin)
        .arg("--help")
        .output()
        .expect("run --help");
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
    let default = format!("[default: {concurrent_default}]");
    assert!(
        help.contains(&default),
        "--concurrent {default} missing from:\n{help}"
    );
}

/// Asserts that `bin` without any Kubernetes configuration exits with status 1 and says why.
pub fn assert_fails_clearly_without_kubeconfig(bin: &str) {
    let home = tempfile::tempdir().expect("temporary HOME");
    let out = Command::new(bin)
        .args([
            "--metrics-addr=127.0.0.1:0",
            "--health-addr=127.0.0.1:0",
            "--log-encoding=console",
        ])
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("missing"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("run the binary");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot build a Kubernetes client"),
        "{stderr}"
    );
}
