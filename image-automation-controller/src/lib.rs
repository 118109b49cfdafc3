//! Rill's image-automation-controller: scans registries (`ImageRepository`) into a tag database
//! on disk, picks the newest tag by policy (`ImagePolicy`) and commits it back to Git
//! (`ImageUpdateAutomation`), and turns registry and Git webhooks into immediate reconciles
//! (`Receiver`, served on `--receiver-addr`), each on the shared reconcile frame. A library with
//! a thin `main`, so the `rill` stack runs it in-process too.

pub mod error;
pub mod imagepolicy;
pub mod imagerepository;
pub mod imageupdateautomation;
pub mod kind;
pub mod receiver;
pub mod settle;
pub mod tag_store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::Client;
use rill_common::runtime::flags::{ControllerDefaults, RuntimeFlags};
use rill_common::runtime::frame::Frame;
use rill_common::runtime::manager::ControllerRuntime;

use crate::tag_store::TagStore;

/// The controller name used for leases, events and field managers.
pub const CONTROLLER_NAME: &str = "image-automation-controller";

/// Flux's default `--concurrent` for the image controllers.
pub const DEFAULTS: ControllerDefaults = ControllerDefaults {
    concurrent: 4,
    feature_gates: &[],
    watches_configs: false,
};

/// Command-line flags.
#[derive(Parser, Debug, Clone)]
#[command(name = CONTROLLER_NAME, version, about = "Flux-compatible image-automation-controller")]
pub struct Flags {
    /// Flags shared by every controller.
    #[command(flatten)]
    pub runtime: RuntimeFlags,
    /// Where the tag database lives.
    #[arg(long, env = "STORAGE_PATH", default_value = "/data")]
    pub storage_path: PathBuf,
    /// The address the webhook receiver binds to.
    #[arg(long, default_value = ":9292")]
    pub receiver_addr: String,
    /// Refuse ImagePolicies reading an ImageRepository of another namespace.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,
}

/// Shared state of the reconcilers.
pub struct Context {
    /// The shared reconcile frame.
    pub frame: Frame,
    /// The tag database.
    pub tags: TagStore,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
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
            frame: Frame::new(client, runtime, CONTROLLER_NAME),
            tags: TagStore::new(&flags.storage_path),
            no_cross_namespace_refs: flags.no_cross_namespace_refs,
            requeue_dependency: rt.requeue_dependency,
            namespace: rt.watch_namespace(),
            label_selector: rt.label_selector().map(str::to_string),
            concurrency: rt.concurrent,
        }
    }
}

/// Runs the ImageRepository, ImagePolicy, ImageUpdateAutomation and Receiver reconcilers (and
/// the webhook server on `receiver`, when given) until their watches end.
pub async fn run_reconcilers(ctx: Arc<Context>, receiver: Option<tokio::net::TcpListener>) {
    tokio::join!(
        imagerepository::run(ctx.clone()),
        imagepolicy::run(ctx.clone()),
        imageupdateautomation::run(ctx.clone()),
        receiver::run(ctx, receiver),
    );
}

/// Runs the controller until shutdown.
pub async fn run(flags: Flags, runtime: ControllerRuntime, client: Client) {
    let ctx = Context::new(&flags, &runtime, client);
    if let Err(e) = std::fs::create_dir_all(&flags.storage_path) {
        tracing::error!(error = %e, path = %flags.storage_path.display(), "cannot create the storage directory");
        return;
    }
    let listener = match rill_common::runtime::health::parse_listen_addr(&flags.receiver_addr) {
        Ok(addr) => tokio::net::TcpListener::bind(addr).await,
        Err(e) => {
            tracing::error!(error = %e, "invalid --receiver-addr");
            return;
        }
    };
    match listener {
        Ok(listener) => run_reconcilers(Arc::new(ctx), Some(listener)).await,
        Err(e) => tracing::error!(error = %e, addr = %flags.receiver_addr, "cannot serve webhooks"),
    }
}
