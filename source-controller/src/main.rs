//! The `source-controller` binary: parses flags, installs the crypto provider and logging,
//! and runs the controller under the shared runtime.

use clap::{CommandFactory, FromArgMatches};
use rill_common::runtime::flags::with_controller_defaults;
use rill_common::runtime::manager::ControllerRuntime;
use source_controller::{CONTROLLER_NAME, DEFAULTS, Flags};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let matches = with_controller_defaults(Flags::command(), DEFAULTS).get_matches();
    let flags = match Flags::from_arg_matches(&matches) {
        Ok(flags) => flags,
        Err(e) => e.exit(),
    };
    let runtime = ControllerRuntime::init(CONTROLLER_NAME, flags.runtime.clone());
    let result = async {
        let client = runtime.client().await?;
        runtime
            .run(client, move |runtime, client| {
                source_controller::run(flags, runtime, client)
            })
            .await
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{CONTROLLER_NAME} failed");
            eprintln!("{CONTROLLER_NAME}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
