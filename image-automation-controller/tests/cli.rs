//! The `image-automation-controller` binary speaks Flux's flags and fails clearly without a cluster.

use rill_common::testing::{assert_fails_clearly_without_kubeconfig, assert_help_lists_flux_flags};

const BIN: &str = env!("CARGO_BIN_EXE_image-automation-controller");

#[test]
fn help_lists_fluxs_flags_with_this_controllers_defaults() {
    assert_help_lists_flux_flags(BIN, 4);
}

#[test]
fn without_a_kubeconfig_it_exits_with_a_clear_error() {
    assert_fails_clearly_without_kubeconfig(BIN);
}
