//! Rill's source-controller: turns `GitRepository` and `OCIRepository` objects into checksummed
//! `tar.gz` artifacts served over HTTP and published in `status.artifact` (Flux's
//! source-controller API). The reconcilers arrive with the source-controller issue; today the
//! crate holds the binary's flags and process wiring on top of `rill_common::runtime`.

use clap::Parser;
use rill_common::runtime::flags::{ControllerDefaults, RuntimeFlags};

/// The controller name used for leases, events and field managers.
pub const CONTROLLER_NAME: &str = "source-controller";

/// Flux's default `--concurrent` for the source-controller.
pub const DEFAULTS: ControllerDefaults = ControllerDefaults { concurrent: 2 };

/// Command-line flags.
#[derive(Parser, Debug, Clone)]
#[command(name = CONTROLLER_NAME, version, about = "Flux-compatible source-controller")]
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
