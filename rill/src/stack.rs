//! Rill in one process: the embedded sandbox API server with Flux's CRDs, the
//! source-controller (GitRepository and OCIRepository, with its artifact server) and the kustomize-controller, each running
//! exactly as its binary does, on the current tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::Client;
use rill_common::artifact::{Retention, Storage};
use rill_common::runtime::error_policy::{FailureCounter, RetryPolicy};
use rill_common::runtime::events::EventRecorder;
use rill_common::runtime::health::Readiness;
use rill_common::runtime::manager::ControllerRuntime;
use rill_common::runtime::metrics::Metrics;
use sandbox::{Sandbox, SandboxOptions};

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The sandbox failed to start.
    #[error("sandbox: {0}")]
    Sandbox(#[from] sandbox::SandboxError),
    /// A client could not be built.
    #[error("client: {0}")]
    Client(#[from] kube::Error),
    /// A listener or folder could not be created.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The kustomize-controller flags do not parse.
    #[error("kustomize-controller flags: {0}")]
    Flags(String),
}

/// How to start the stack.
#[derive(Clone, Debug, Default)]
pub struct StackOptions {
    /// Extra kustomize-controller flags (for example `--no-cross-namespace-refs`).
    pub kustomize_flags: Vec<String>,
    /// Where the sandbox keeps its objects (in memory when `None`).
    pub data_dir: Option<PathBuf>,
}

/// The running stack; the controllers stop when it is dropped.
pub struct Stack {
    /// The API server.
    pub sandbox: Sandbox,
    /// An admin client.
    pub client: Client,
    /// The source-controller's artifact server (`http://127.0.0.1:PORT`).
    pub artifact_url: String,
    _storage: tempfile::TempDir,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The folder of Flux's CRDs in this repository.
pub fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds")
}

fn runtime(
    name: &'static str,
    flags: rill_common::runtime::flags::RuntimeFlags,
) -> ControllerRuntime {
    ControllerRuntime {
        name,
        flags,
        metrics: Metrics::new(),
        readiness: Readiness::default(),
    }
}

impl Stack {
    /// Starts the sandbox and both controllers.
    pub async fn start(options: StackOptions) -> Result<Self, StackError> {
        rill_common::runtime::install_crypto_provider();
        let sandbox = Sandbox::start(SandboxOptions {
            crd_dirs: vec![crd_dir()],
            data_dir: options.data_dir.clone(),
            ..SandboxOptions::default()
        })
        .await?;
        let client = sandbox.client().await?;
        let config = sandbox.config().await?;

        let storage_dir = tempfile::tempdir()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let artifact_url = format!("http://{}", listener.local_addr()?);
        let storage = Storage::new(
            storage_dir.path(),
            &artifact_url,
            Retention {
                ttl: Duration::from_secs(60),
                records: 2,
            },
        );
        let server = rill_common::runtime::health::serve(
            listener,
            source_controller::server::router(storage.clone()),
        );
        let mut tasks = vec![tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "artifact server stopped");
            }
        })];
        let source_ctx = Arc::new(source_controller::gitrepository::Context {
            recorder: EventRecorder::new(client.clone(), source_controller::CONTROLLER_NAME),
            client: client.clone(),
            storage,
            metrics: Metrics::new(),
            failures: FailureCounter::default(),
            retry: RetryPolicy {
                min: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
            requeue_dependency: Duration::from_secs(2),
            jitter_percentage: 5,
            archives: Default::default(),
        });
        tasks.push(tokio::spawn(source_controller::gitrepository::run(
            source_ctx.clone(),
            None,
            2,
        )));
        tasks.push(tokio::spawn(source_controller::ocirepository::run(
            source_ctx, None, 2,
        )));

        let mut args = vec![
            "kustomize-controller".to_string(),
            "--requeue-dependency=2s".to_string(),
        ];
        args.extend(options.kustomize_flags.iter().cloned());
        let flags = kustomize_controller::Flags::try_parse_from(&args)
            .map_err(|e| StackError::Flags(e.to_string()))?;
        let rt = runtime(kustomize_controller::CONTROLLER_NAME, flags.runtime.clone());
        tasks.push(tokio::spawn(kustomize_controller::run_with_config(
            flags,
            rt,
            client.clone(),
            config,
        )));
        Ok(Self {
            sandbox,
            client,
            artifact_url,
            _storage: storage_dir,
            tasks,
        })
    }
}
