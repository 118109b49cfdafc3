//! Rill's sandbox: an embedded Kubernetes API server that real `kubectl` (v1.32) and kube-rs
//! accept. Every end-to-end test runs on it, and so does the quickstart. It knows nothing
//! about Flux. Start one in-process with [`Sandbox::start`]; `sandbox/README.md` lists the
//! known differences from a real API server.

pub mod auth;
pub mod builtin;
pub mod controllers;
pub mod crd;
pub mod error;
pub mod fuzzing;
pub mod patch;
pub mod resources;
pub mod selectors;
pub mod server;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::auth::identity::{ADMIN_TOKEN, UserInfo};
use crate::server::{ApiServer, Options};
use crate::store::Store;

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Persist objects here (a restarted sandbox keeps them).
    pub data_dir: Option<PathBuf>,
    /// Folders whose CRD YAML files are installed at start.
    pub crd_dirs: Vec<PathBuf>,
    /// Run the workload simulator.
    pub simulate_workloads: bool,
    /// Interval between watch bookmarks.
    pub bookmark_interval: Duration,
    /// Serve HTTPS with a cluster CA made at start (kubeconfigs trust it; every namespace's
    /// `kube-root-ca.crt` publishes it), and treat requests without credentials as
    /// `system:anonymous`, as a real API server's secure port does (the default). Without it,
    /// plain HTTP where requests without credentials act as the admin, as the insecure port
    /// of Kubernetes before 1.20 did.
    pub tls: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            crd_dirs: Vec::new(),
            simulate_workloads: true,
            bookmark_interval: Duration::from_secs(1),
            tls: true,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Binding or data-dir I/O failed.
    #[error("sandbox I/O error on {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificates could not be made.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// A CRD file could not be installed.
    #[error("cannot install CRDs from {file}: {message}")]
    Crd {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// How a kubeconfig authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Credentials<'a> {
    /// A client certificate and its key (PEM), signed by the cluster CA.
    Certificate(&'a str, &'a str),
    /// A bearer token (`Sandbox::add_token`).
    Token(&'a str),
}

/// A running sandbox API server.
pub struct Sandbox {
    url: String,
    ca: Option<tls::ClusterCa>,
    /// The admin's client certificate and key (PEM) when serving HTTPS.
    admin_certificate: Option<(String, String)>,
    api: Arc<ApiServer>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Starts a server with `options` on the current tokio runtime.
    pub async fn start(options: SandboxOptions) -> Result<Self, SandboxError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| SandboxError::Io { what, source }
        };
        let store = match &options.data_dir {
            Some(dir) => Store::open(dir).map_err(io("opening the data dir"))?,
            None => Store::new(),
        };
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(io("binding the listen address"))?;
        let addr = listener
            .local_addr()
            .map_err(io("reading the listen address"))?;
        let ca = if options.tls {
            Some(tls::generate(
                addr,
                options.data_dir.as_ref().map(|d| d.join("pki")).as_deref(),
            )?)
        } else {
            None
        };
        let api = ApiServer::new(
            store,
            Options {
                simulate_workloads: options.simulate_workloads,
                bookmark_interval: options.bookmark_interval,
                root_ca: ca.as_ref().map(|ca| ca.ca_pem.clone()),
            },
        );
        if ca.is_some()
            && let Ok(mut authenticator) = api.authenticator.write()
        {
            authenticator.strict_anonymous();
        }
        for dir in &options.crd_dirs {
            install_crds(&api, dir)?;
        }
        let router = axum::Router::new()
            .fallback(server::handle)
            .with_state(api.clone());
        let serve = match &ca {
            Some(ca) => {
                let listener = tls::TlsListener::new(listener, ca.server.clone())
                    .map_err(io("reading the listen address"))?;
                let service = router.into_make_service_with_connect_info::<tls::Peer>();
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, service).await {
                        tracing::error!(error = %e, "sandbox server stopped");
                    }
                })
            }
            None => {
                // Go's listeners (the real API server's) answer without Nagle's delay.
                let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                    let _ = stream.set_nodelay(true);
                });
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, router).await {
                        tracing::error!(error = %e, "sandbox server stopped");
                    }
                })
            }
        };
        let controllers = tokio::spawn(controllers::run(api.clone()));
        let scheme = if ca.is_some() { "https" } else { "http" };
        // The admin kubeconfig authenticates with a client certificate, as kubeadm's does.
        let admin_certificate = match &ca {
            Some(ca) => Some(ca.client_certificate("kubernetes-admin", Some("system:masters"))?),
            None => None,
        };
        Ok(Self {
            url: format!("{scheme}://{addr}"),
            ca,
            admin_certificate,
            api,
            tasks: vec![serve, controllers],
        })
    }

    /// The server URL (`http://127.0.0.1:PORT`, `https://` with TLS).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cluster CA (PEM) when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|ca| ca.ca_pem.as_str())
    }

    /// A client certificate the cluster CA signs for `user` in `group` (certificate PEM, key
    /// PEM); `None` without HTTPS.
    pub fn client_certificate(&self, user: &str, group: Option<&str>) -> Option<(String, String)> {
        self.ca.as_ref()?.client_certificate(user, group).ok()
    }

    /// A kubeconfig for this server as `user`: the CA when serving HTTPS, and a client
    /// certificate and key (PEM) or else a bearer token.
    pub fn kubeconfig_for(&self, credentials: Credentials<'_>) -> String {
        use base64::Engine;
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let authority = self
            .ca_pem()
            .map(|pem| format!("\n    certificate-authority-data: {}", b64(pem)))
            .unwrap_or_default();
        let user = match credentials {
            Credentials::Certificate(cert, key) => format!(
                "client-certificate-data: {}\n    client-key-data: {}",
                b64(cert),
                b64(key)
            ),
            Credentials::Token(token) => format!("token: {token}"),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: rill-sandbox\n  cluster:\n    server: {}{authority}\ncontexts:\n- name: rill-sandbox\n  context:\n    cluster: rill-sandbox\n    user: admin\n    namespace: default\ncurrent-context: rill-sandbox\nusers:\n- name: admin\n  user:\n    {user}\n",
            self.url
        )
    }

    /// The admin kubeconfig for this server: a client certificate for `kubernetes-admin` in
    /// `system:masters` over HTTPS, the admin token over plain HTTP.
    pub fn kubeconfig(&self) -> String {
        match &self.admin_certificate {
            Some((cert, key)) => self.kubeconfig_for(Credentials::Certificate(cert, key)),
            None => self.kubeconfig_for(Credentials::Token(ADMIN_TOKEN)),
        }
    }

    /// Writes the admin kubeconfig to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, self.kubeconfig())
    }

    /// A kube-rs configuration authenticated as the admin.
    pub async fn config(&self) -> Result<kube::Config, kube::Error> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig())
            .map_err(kube::Error::InferKubeconfig)?;
        kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(kube::Error::InferKubeconfig)
    }

    /// A kube-rs client authenticated as the admin.
    pub async fn client(&self) -> Result<kube::Client, kube::Error> {
        kube::Client::try_from(self.config().await?)
    }

    /// The server state (test hooks).
    pub fn api(&self) -> &Arc<ApiServer> {
        &self.api
    }

    /// Forgets watch history, so watches from older resourceVersions get 410 Expired.
    pub fn compact_history(&self) {
        self.api.store.compact();
    }

    /// Adds a bearer token for a user.
    pub fn add_token(&self, token: &str, user: &str, groups: &[&str]) {
        if let Ok(mut auth) = self.api.authenticator.write() {
            auth.add_token(
                token,
                UserInfo {
                    name: user.into(),
                    groups: groups.iter().map(|g| g.to_string()).collect(),
                },
            );
        }
    }

    /// Stops serving.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn install_crds(api: &Arc<ApiServer>, dir: &Path) -> Result<(), SandboxError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SandboxError::Io {
        what: format!("reading {}", dir.display()),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    for file in files {
        let crd_error = |message: String| SandboxError::Crd {
            file: file.clone(),
            message,
        };
        let text = std::fs::read_to_string(&file).map_err(|e| crd_error(e.to_string()))?;
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| crd_error(e.to_string()))?;
        for doc in docs
            .into_iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
        {
            api.create_object(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                None,
                doc,
                "rill-sandbox",
            )
            .or_else(|e| {
                if e.code == 409 {
                    Ok(Value::Null)
                } else {
                    Err(e)
                }
            })
            .map_err(|e| crd_error(e.message))?;
        }
    }
    api.refresh_types();
    Ok(())
}
