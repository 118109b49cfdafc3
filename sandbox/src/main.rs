//! `rill-sandbox serve`: runs the embedded API server, writes an admin kubeconfig and prints
//! `ready <url>` once serving; exits cleanly on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sandbox::{Sandbox, SandboxOptions};

#[derive(Parser)]
#[command(
    name = "rill-sandbox",
    version,
    about = "Rill's embedded Kubernetes API server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API until SIGTERM or SIGINT.
    Serve {
        /// Listen address (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:6443")]
        listen: SocketAddr,
        /// Where to write the admin kubeconfig.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Keep objects here across restarts.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Install every CRD found in these folders at start.
        #[arg(long)]
        crds: Vec<PathBuf>,
        /// Do not simulate workload rollouts.
        #[arg(long)]
        no_simulator: bool,
        /// Serve plain HTTP where requests without credentials act as the admin (as the
        /// insecure port of Kubernetes before 1.20), instead of HTTPS with a cluster CA made at
        /// start (in the kubeconfig and every namespace's `kube-root-ca.crt`).
        #[arg(long)]
        plain_http: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let Command::Serve {
        listen,
        kubeconfig,
        data_dir,
        crds,
        no_simulator,
        plain_http,
    } = Cli::parse().command;
    let options = SandboxOptions {
        listen,
        data_dir,
        crd_dirs: crds,
        simulate_workloads: !no_simulator,
        tls: !plain_http,
        ..SandboxOptions::default()
    };
    let sandbox = match Sandbox::start(options).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("rill-sandbox: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Err(e) = sandbox.write_kubeconfig(&kubeconfig) {
        eprintln!("rill-sandbox: cannot write {}: {e}", kubeconfig.display());
        return std::process::ExitCode::FAILURE;
    }
    let stop = shutdown_signal();
    println!("ready {}", sandbox.url());
    stop.await;
    sandbox.shutdown();
    std::process::ExitCode::SUCCESS
}

/// Waits for SIGTERM or Ctrl-C; the handlers are installed when this is called, before it is
/// awaited, so a signal sent right after "ready" is not missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let interrupt = tokio::signal::ctrl_c();
    async move {
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
}
