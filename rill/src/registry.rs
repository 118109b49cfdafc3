//! A local OCI registry: Debian's `docker-registry` (the CNCF distribution registry) on a
//! loopback port, optionally behind htpasswd basic auth and posting its push notifications to
//! a webhook, with Flux-style artifacts pushed by `skopeo` from an OCI image layout built here.
//! The quickstart shows the image loop with it; the e2e tests and benchmarks use it too.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Flux's artifact layer media type.
pub const FLUX_LAYER: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// Why the registry could not start or take a push.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("{0}")]
    Tool(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RegistryError {
    let what = what.into();
    move |source| RegistryError::Io { what, source }
}

/// A running registry; stops when dropped.
pub struct LocalRegistry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    credentials: Option<(String, String)>,
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn bcrypt(password: &str) -> Result<String, RegistryError> {
    let out = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.METHOD_BLOWFISH))",
            password,
        ])
        .output()
        .map_err(io("python3 (htpasswd entry)"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A `.tar.gz` of `files`.
pub fn tar_gz(files: &[(&str, &str)]) -> Result<Vec<u8>, RegistryError> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, text.as_bytes())
            .map_err(io("tar"))?;
    }
    builder
        .into_inner()
        .and_then(|e| e.finish())
        .map_err(io("gzip"))
}

/// Runs `docker-registry serve config` and waits until it listens on `port`.
fn serve(config: &Path, port: u16) -> Result<Child, RegistryError> {
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io("docker-registry"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RegistryError::Tool(format!(
                "the registry did not start listening on {port}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}

impl LocalRegistry {
    /// Whether `docker-registry` and `skopeo` are installed.
    pub fn available() -> bool {
        ["docker-registry", "skopeo"].iter().all(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
    }

    /// Starts a registry; with `credentials` it requires HTTP basic auth, with `endpoint` it
    /// posts its notifications (the CNCF distribution envelope) there.
    pub fn start(
        credentials: Option<(&str, &str)>,
        endpoint: Option<&str>,
    ) -> Result<Self, RegistryError> {
        let dir = tempfile::tempdir().map_err(io("temporary folder"))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io("a free port"))?
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = credentials {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{}\n", bcrypt(password)?))
                .map_err(io("htpasswd"))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        if let Some(url) = endpoint {
            config.push_str(&format!(
                "notifications:\n  endpoints:\n    - name: rill\n      url: {url}\n      timeout: 2s\n      threshold: 5\n      backoff: 1s\n"
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).map_err(io("registry config"))?;
        let registry = Self {
            host: format!("127.0.0.1:{port}"),
            credentials: credentials.map(|(u, p)| (u.into(), p.into())),
            child: serve(&config_path, port)?,
            port,
            dir,
        };
        Ok(registry)
    }

    /// Stops the registry (its port closes; its data stays).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the stopped registry again on the same port with the same data.
    pub fn resume(&mut self) -> Result<(), RegistryError> {
        self.child = serve(&self.dir.path().join("config.yml"), self.port)?;
        Ok(())
    }

    /// Adds tags `names` to `repo`, all pointing at the manifest of its existing tag `existing`,
    /// by writing the registry's storage directly (for many tags at once; the registry serves
    /// them as if pushed).
    pub fn alias_tags(
        &self,
        repo: &str,
        existing: &str,
        names: impl IntoIterator<Item = String>,
    ) -> Result<(), RegistryError> {
        let tags = self
            .dir
            .path()
            .join("data/docker/registry/v2/repositories")
            .join(repo)
            .join("_manifests/tags");
        let link = std::fs::read_to_string(tags.join(existing).join("current/link"))
            .map_err(io("the existing tag"))?;
        let hex = link.trim().trim_start_matches("sha256:").to_string();
        for name in names {
            let dir = tags.join(&name);
            let index = dir.join("index/sha256").join(&hex);
            std::fs::create_dir_all(dir.join("current")).map_err(io("tag folder"))?;
            std::fs::write(dir.join("current/link"), &link).map_err(io("tag link"))?;
            std::fs::create_dir_all(&index).map_err(io("tag index"))?;
            std::fs::write(index.join("link"), &link).map_err(io("tag index link"))?;
        }
        Ok(())
    }

    /// Pushes `files` as a Flux artifact to `repo:tag`; returns the manifest digest.
    pub fn push(
        &self,
        repo: &str,
        tag: &str,
        files: &[(&str, &str)],
        annotations: &[(&str, &str)],
    ) -> Result<String, RegistryError> {
        let layout = self
            .dir
            .path()
            .join(format!("layout-{}-{tag}", repo.replace('/', "-")));
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(io("OCI layout"))?;
        let write_blob = |bytes: &[u8]| -> Result<(String, usize), RegistryError> {
            let digest = sha256(bytes);
            std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes)
                .map_err(io("blob"))?;
            Ok((digest, bytes.len()))
        };
        let (layer, layer_size) = write_blob(&tar_gz(files)?)?;
        let (config, config_size) = write_blob(b"{}")?;
        let annotations: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.cncf.flux.config.v1+json", "digest": config, "size": config_size},
            "layers": [{"mediaType": FLUX_LAYER, "digest": layer, "size": layer_size}],
            "annotations": annotations,
        });
        let (digest, size) = write_blob(manifest.to_string().as_bytes())?;
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "annotations": {"org.opencontainers.image.ref.name": tag}}]});
        std::fs::write(layout.join("index.json"), index.to_string()).map_err(io("index.json"))?;
        std::fs::write(
            layout.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .map_err(io("oci-layout"))?;
        self.skopeo_copy(&layout, repo, tag)?;
        Ok(digest)
    }

    fn skopeo_copy(&self, layout: &Path, repo: &str, tag: &str) -> Result<(), RegistryError> {
        let mut command = Command::new("skopeo");
        command.args(["copy", "--quiet", "--dest-tls-verify=false"]);
        if let Some((user, password)) = &self.credentials {
            command.arg(format!("--dest-creds={user}:{password}"));
        }
        let out = command
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.host))
            .output()
            .map_err(io("skopeo"))?;
        if !out.status.success() {
            return Err(RegistryError::Tool(format!(
                "skopeo copy failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }
}
