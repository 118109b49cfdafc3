//! Rill's source-controller: turns `GitRepository` objects into checksummed `tar.gz`
//! artifacts served over HTTP and published in `status.artifact`, as Flux's
//! source-controller does, and `OCIRepository` artifacts pulled from OCI registries.

pub mod error;
pub mod gitrepository;
pub mod ocirepository;
pub mod outcome;
pub mod reconcile;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::Client;
use rill_common::artifact::{Algorithm, Retention, Storage, advertised_base_url};
use rill_common::runtime::flags::{ControllerDefaults, RuntimeFlags, parse_duration};
use rill_common::runtime::frame::Frame;
use rill_common::runtime::manager::ControllerRuntime;

/// The controller name used for leases, events and field managers.
pub const CONTROLLER_NAME: &str = "source-controller";

/// Flux's default `--concurrent` for the source-controller.
pub const DEFAULTS: ControllerDefaults = ControllerDefaults {
    concurrent: 2,
    feature_gates: &[],
    watches_configs: false,
};

/// Command-line flags.
#[derive(Parser, Debug, Clone)]
#[command(name = CONTROLLER_NAME, version, about = "Flux-compatible source-controller")]
pub struct Flags {
    /// Flags shared by every controller.
    #[command(flatten)]
    pub runtime: RuntimeFlags,
    /// The local storage path.
    #[arg(long, env = "STORAGE_PATH", default_value = "/data")]
    pub storage_path: PathBuf,
    /// The address the artifact file server binds to.
    #[arg(long, env = "STORAGE_ADDRESS", default_value = ":9090")]
    pub storage_addr: String,
    /// The advertised address of the artifact file server.
    #[arg(long, env = "STORAGE_ADV_ADDR", default_value = "")]
    pub storage_adv_addr: String,
    /// How long superseded artifacts are kept.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub artifact_retention_ttl: Duration,
    /// How many artifacts are kept per object.
    #[arg(long, default_value_t = 2)]
    pub artifact_retention_records: usize,
    /// The digest algorithm of artifacts: sha256 (Flux's default), sha1, sha384 or sha512
    /// (Flux's blake3 is refused: Rill does not compute it).
    #[arg(long, default_value = "sha256", value_parser = parse_algorithm)]
    pub artifact_digest_algo: Algorithm,
}

fn parse_algorithm(text: &str) -> Result<Algorithm, rill_common::artifact::DigestError> {
    text.parse()
}

/// Shared state of the reconcilers.
pub struct Context {
    /// The shared reconcile frame (client, metrics, events, retries).
    pub frame: Frame,
    /// Artifact storage.
    pub storage: Storage,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
    /// Archives already made of a commit, shared by GitRepositories of the same repository.
    pub archives: gitrepository::ArchiveCache,
    /// The watched namespace (`None`: all).
    pub namespace: Option<String>,
    /// `--watch-label-selector`.
    pub label_selector: Option<String>,
    /// `--concurrent`.
    pub concurrency: u16,
}

impl Context {
    /// The reconcilers' state for `flags`, reporting through `runtime`.
    pub fn new(flags: &Flags, runtime: &ControllerRuntime, client: Client) -> Self {
        let rt = &runtime.flags;
        Self {
            frame: Frame::new(client, runtime, reconcile::FIELD_MANAGER),
            storage: storage(flags),
            requeue_dependency: rt.requeue_dependency,
            archives: Default::default(),
            namespace: rt.watch_namespace(),
            label_selector: rt.label_selector().map(str::to_string),
            concurrency: rt.concurrent,
        }
    }
}

/// The storage configured by the flags.
pub fn storage(flags: &Flags) -> Storage {
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let base = advertised_base_url(&flags.storage_addr, &flags.storage_adv_addr, &hostname);
    Storage::new(
        &flags.storage_path,
        &base,
        Retention {
            ttl: flags.artifact_retention_ttl,
            records: flags.artifact_retention_records,
        },
    )
    .with_algorithm(flags.artifact_digest_algo)
}

/// Runs the GitRepository and OCIRepository reconcilers until their watches end.
pub async fn run_reconcilers(ctx: Arc<Context>) {
    tokio::join!(gitrepository::run(ctx.clone()), ocirepository::run(ctx),);
}

/// Serves the storage and runs the reconcilers until shutdown.
pub async fn run(flags: Flags, runtime: ControllerRuntime, client: kube::Client) {
    let ctx = Arc::new(Context::new(&flags, &runtime, client));
    if let Err(e) = std::fs::create_dir_all(ctx.storage.root()) {
        tracing::error!(error = %e, path = %ctx.storage.root().display(), "cannot create the storage directory");
        return;
    }
    let listener = match rill_common::runtime::health::parse_listen_addr(&flags.storage_addr) {
        Ok(addr) => tokio::net::TcpListener::bind(addr).await,
        Err(e) => {
            tracing::error!(error = %e, "invalid --storage-addr");
            return;
        }
    };
    match listener {
        Ok(listener) => {
            tokio::spawn(rill_common::runtime::health::serve(
                listener,
                server::router(ctx.storage.clone()),
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, addr = %flags.storage_addr, "cannot serve artifacts");
            return;
        }
    }
    run_reconcilers(ctx).await;
}
