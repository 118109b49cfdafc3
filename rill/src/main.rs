//! The `rill` command: `rill quickstart [--once]` runs the sandbox, the controllers and a Git
//! server in one process and walks through a push and a rollback.

mod quickstart;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rill",
    version,
    about = "Rill: Flux-compatible GitOps controllers"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the GitOps loop on the embedded sandbox with an example app.
    Quickstart {
        /// Exit 0 after the demo (non-zero on any failure) instead of keeping it running.
        #[arg(long)]
        once: bool,
        /// Where the kubeconfig of the running sandbox is written.
        #[arg(long, default_value = ".rill")]
        state_dir: std::path::PathBuf,
        /// Log level of the controllers (error, warn, info, debug).
        #[arg(long, default_value = "warn")]
        log_level: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Quickstart {
            once,
            state_dir,
            log_level,
        } => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(log_level))
                .with_writer(std::io::stderr)
                .try_init();
            match quickstart::run(once, &state_dir).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rill quickstart failed: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
