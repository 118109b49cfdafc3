//! The `source-controller` binary: flags, crypto provider, logging, then the controller under
//! the shared runtime.

use rill_common::runtime::manager::controller_main;
use source_controller::{CONTROLLER_NAME, DEFAULTS, Flags};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    controller_main(
        CONTROLLER_NAME,
        DEFAULTS,
        |f: &Flags| f.runtime.clone(),
        source_controller::run,
    )
    .await
}
