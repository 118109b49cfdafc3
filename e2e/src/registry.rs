//! The local registry (`rill::registry`: `docker-registry` + `skopeo`) for tests: the same
//! calls, failing the test with the reason instead of returning it.

pub use rill::registry::{FLUX_LAYER, LocalRegistry};

/// A `.tar.gz` of `files`.
pub fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    rill::registry::tar_gz(files).unwrap_or_else(|e| panic!("{e}"))
}

/// A running registry; stops when dropped.
pub struct TestRegistry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    inner: LocalRegistry,
}

impl TestRegistry {
    /// Whether `docker-registry` and `skopeo` are installed.
    pub fn available() -> bool {
        LocalRegistry::available()
    }

    /// Starts a registry; with `credentials` it requires HTTP basic auth.
    pub fn start(credentials: Option<(&str, &str)>) -> Self {
        Self::start_notifying(credentials, None)
    }

    /// Starts a registry that also posts its notifications to `endpoint`.
    pub fn start_notifying(credentials: Option<(&str, &str)>, endpoint: Option<&str>) -> Self {
        let inner = LocalRegistry::start(credentials, endpoint).unwrap_or_else(|e| panic!("{e}"));
        Self {
            host: inner.host.clone(),
            inner,
        }
    }

    /// Stops the registry; its port closes and its data stays.
    pub fn stop(&mut self) {
        self.inner.stop();
    }

    /// Starts the stopped registry again on its port with its data.
    pub fn resume(&mut self) {
        self.inner.resume().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Adds tags `names` to `repo` pointing at the manifest of its tag `existing`.
    pub fn alias_tags(&self, repo: &str, existing: &str, names: impl IntoIterator<Item = String>) {
        self.inner
            .alias_tags(repo, existing, names)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Pushes `files` as a Flux artifact to `repo:tag`; returns the manifest digest.
    pub fn push(
        &self,
        repo: &str,
        tag: &str,
        files: &[(&str, &str)],
        annotations: &[(&str, &str)],
    ) -> String {
        self.inner
            .push(repo, tag, files, annotations)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}
