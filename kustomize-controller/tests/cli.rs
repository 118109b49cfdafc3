//! The `kustomize-controller` binary speaks Flux's flags and fails clearly without a cluster.

use rill_common::testing::{assert_fails_clearly_without_kubeconfig, assert_help_lists_flux_flags};

const BIN: &str = env!("CARGO_BIN_EXE_kustomize-controller");

#[test]
fn help_lists_fluxs_flags_with_this_controllers_defaults() {
    assert_help_lists_flux_flags(BIN, 4);
}

#[test]
fn without_a_kubeconfig_it_exits_with_a_clear_error() {
    assert_fails_clearly_without_kubeconfig(BIN);
}

#[test]
fn help_lists_the_kustomize_controller_flags() {
    let out = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--no-cross-namespace-refs",
        "--default-service-account",
        "--no-remote-bases",
        "--requeue-dependency",
        "--concurrent",
        "--concurrent-ssa",
        "--override-manager",
        "--custom-apply-stage-kinds",
        "--http-retry",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}
