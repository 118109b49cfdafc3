//! Rill in one process: the embedded sandbox API server with Flux's CRDs, the
//! source-controller (GitRepository and OCIRepository, with its artifact server), the
//! kustomize-controller and the image-automation-controller (ImageRepository, ImagePolicy),
//! each running exactly as its binary does, on the current tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use kube::Client;
use rill_common::runtime::manager::ControllerRuntime;
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
    /// The controller flags do not parse or cannot be honoured.
    #[error("controller flags: {0}")]
    Flags(String),
}

/// How to start the stack.
#[derive(Clone, Debug, Default)]
pub struct StackOptions {
    /// Extra kustomize-controller flags (for example `--no-cross-namespace-refs`).
    pub kustomize_flags: Vec<String>,
    /// Extra source-controller flags (for example `--artifact-digest-algo=sha512`).
    pub source_flags: Vec<String>,
    /// Extra image-automation-controller flags (for example `--no-cross-namespace-refs`).
    pub image_flags: Vec<String>,
    /// Where the image controller keeps its tag database (a temporary folder when `None`).
    pub image_storage: Option<PathBuf>,
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
    /// The webhook receiver (`http://127.0.0.1:PORT`; a Receiver's `status.webhookPath` goes
    /// after it).
    pub receiver_url: String,
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
    defaults: rill_common::runtime::flags::ControllerDefaults,
) -> Result<ControllerRuntime, StackError> {
    let refused = |e: &dyn std::fmt::Display| StackError::Flags(e.to_string());
    flags.check_for(&defaults).map_err(|e| refused(&e))?;
    ControllerRuntime::new(name, flags).map_err(|e| refused(&e))
}

impl Stack {
    /// Starts the sandbox and both controllers.
    pub async fn start(options: StackOptions) -> Result<Self, StackError> {
        rill_common::runtime::install_crypto_provider();
        // HTTPS with a cluster CA, as a real cluster serves: the controllers and kubectl
        // verify the server, and every namespace has its `kube-root-ca.crt`.
        let sandbox = Sandbox::start(SandboxOptions {
            crd_dirs: vec![crd_dir()],
            data_dir: options.data_dir.clone(),
            tls: true,
            ..SandboxOptions::default()
        })
        .await?;
        let client = sandbox.client().await?;
        let config = sandbox.config().await?;

        let storage_dir = tempfile::tempdir()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let artifact_url = format!("http://{}", listener.local_addr()?);
        let mut source_args = vec![
            "source-controller".to_string(),
            format!("--storage-path={}", storage_dir.path().display()),
            format!("--storage-adv-addr={artifact_url}"),
            "--requeue-dependency=2s".to_string(),
            "--min-retry-delay=500ms".to_string(),
            "--max-retry-delay=30s".to_string(),
        ];
        source_args.extend(options.source_flags.iter().cloned());
        let source_flags = source_controller::Flags::try_parse_from(&source_args)
            .map_err(|e| StackError::Flags(e.to_string()))?;
        let rt = runtime(
            source_controller::CONTROLLER_NAME,
            source_flags.runtime.clone(),
            source_controller::DEFAULTS,
        )?;
        let source_client = rt
            .client_for(config.clone())
            .map_err(|e| StackError::Flags(e.to_string()))?;
        let source_ctx = source_controller::Context::new(&source_flags, &rt, source_client);
        let storage = source_ctx.storage.clone();
        let server = rill_common::runtime::health::serve(
            listener,
            source_controller::server::router(storage.clone()),
        );
        let mut tasks = vec![tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "artifact server stopped");
            }
        })];
        tasks.push(tokio::spawn(source_controller::run_reconcilers(Arc::new(
            source_ctx,
        ))));

        let mut args = vec![
            "kustomize-controller".to_string(),
            "--requeue-dependency=2s".to_string(),
        ];
        args.extend(options.kustomize_flags.iter().cloned());
        let flags = kustomize_controller::Flags::try_parse_from(&args)
            .map_err(|e| StackError::Flags(e.to_string()))?;
        let rt = runtime(
            kustomize_controller::CONTROLLER_NAME,
            flags.runtime.clone(),
            kustomize_controller::DEFAULTS,
        )?;
        let kustomize_client = rt
            .client_for(config.clone())
            .map_err(|e| StackError::Flags(e.to_string()))?;
        tasks.push(tokio::spawn(kustomize_controller::run_with_config(
            flags,
            rt,
            kustomize_client,
            config.clone(),
        )));
        let mut image_args = vec![
            "image-automation-controller".to_string(),
            format!(
                "--storage-path={}",
                options
                    .image_storage
                    .clone()
                    .unwrap_or_else(|| storage_dir.path().join("images"))
                    .display()
            ),
            "--requeue-dependency=2s".to_string(),
        ];
        image_args.extend(options.image_flags.iter().cloned());
        let image_flags = image_automation_controller::Flags::try_parse_from(&image_args)
            .map_err(|e| StackError::Flags(e.to_string()))?;
        let rt = runtime(
            image_automation_controller::CONTROLLER_NAME,
            image_flags.runtime.clone(),
            image_automation_controller::DEFAULTS,
        )?;
        let image_client = rt
            .client_for(config.clone())
            .map_err(|e| StackError::Flags(e.to_string()))?;
        let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let receiver_url = format!("http://{}", receiver.local_addr()?);
        let image_ctx = image_automation_controller::Context::new(&image_flags, &rt, image_client);
        tasks.push(tokio::spawn(image_automation_controller::run_reconcilers(
            Arc::new(image_ctx),
            Some(receiver),
        )));
        Ok(Self {
            sandbox,
            client,
            artifact_url,
            receiver_url,
            _storage: storage_dir,
            tasks,
        })
    }
}
