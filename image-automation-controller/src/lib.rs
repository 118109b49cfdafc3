//! Rill's image-automation-controller: scans registries (`ImageRepository`), picks the newest tag
//! (`ImagePolicy`) and commits it back to Git (`ImageUpdateAutomation`), immediately when a
//! registry notifies a push. The reconcilers arrive with a later issue; today the crate holds
//! the binary's flags and process wiring on top of `rill_common::runtime`.

use clap::Parser;
use rill_common::runtime::flags::{ControllerDefaults, RuntimeFlags};

/// The controller name used for leases, events and field managers.
pub const CONTROLLER_NAME: &str = "image-automation-controller";

/// Flux's default `--concurrent` for the image-automation-controller.
pub const DEFAULTS: ControllerDefaults = ControllerDefaults {
    concurrent: 4,
    feature_gates: &[],
};

/// Command-line flags.
#[derive(Parser, Debug, Clone)]
#[command(name = CONTROLLER_NAME, version, about = "Flux-compatible image-automation-controller")]
pub struct Flags {
    /// Flags shared by every controller.
    #[command(flatten)]
    pub runtime: RuntimeFlags,
}

/// Runs the controller's reconcilers until shutdown.
pub async fn run(runtime: rill_common::runtime::manager::ControllerRuntime, _client: kube::Client) {
    tracing::warn!(
        controller = runtime.name,
        "no reconcilers are implemented yet; serving metrics and health only"
    );
    std::future::pending::<()>().await;
}
