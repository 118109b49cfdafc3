//! The `image-automation-controller` binary: flags, crypto provider, logging, then the controller under the shared
//! runtime.

use image_automation_controller::{CONTROLLER_NAME, DEFAULTS, Flags};
use rill_common::runtime::manager::controller_main;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    controller_main(
        CONTROLLER_NAME,
        DEFAULTS,
        |f: &Flags| f.runtime.clone(),
        image_automation_controller::run,
    )
    .await
}
