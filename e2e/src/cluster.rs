//! A sandbox API server with Rill's CRDs installed (no workload simulator) and its admin
//! kubeconfig in a private folder, for benches that run a controller binary against it.

use std::path::{Path, PathBuf};

use sandbox::{Sandbox, SandboxError, SandboxOptions};

/// The running sandbox, its folder (free for the controller's data) and its kubeconfig.
pub struct Cluster {
    /// The API server.
    pub sandbox: Sandbox,
    /// A private folder, removed on drop; holds `kubeconfig`.
    pub dir: tempfile::TempDir,
    /// The admin kubeconfig, for `KUBECONFIG`.
    pub kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts the sandbox with the CRDs of `crds/`.
    pub async fn start() -> Result<Self, SandboxError> {
        let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
        let sandbox = Sandbox::start(SandboxOptions {
            crd_dirs: vec![crds],
            simulate_workloads: false,
            ..SandboxOptions::default()
        })
        .await?;
        let dir = tempfile::tempdir().map_err(|source| SandboxError::Io {
            what: "creating a folder for the kubeconfig".into(),
            source,
        })?;
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox
            .write_kubeconfig(&kubeconfig)
            .map_err(|source| SandboxError::Io {
                what: "writing the kubeconfig".into(),
                source,
            })?;
        Ok(Self {
            sandbox,
            dir,
            kubeconfig,
        })
    }
}
