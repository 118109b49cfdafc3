//! The consumer side: download an artifact by URL, verify its size and digest, and unpack it
//! safely. A failed download or verification leaves nothing behind.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;

use super::digest::{Algorithm, Digest, DigestError, DigestWriter};
use super::unpack::{
    UnpackError, UnpackLimits, UnpackSummary, unpack_tar_gz, unpack_tar_gz_to_memory,
};
use super::unpack_sinks::UnpackedTree;
use crate::api::meta::Artifact;

/// Why an artifact could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The artifact URL is not a valid http(s) URL.
    #[error("invalid artifact URL {0:?}")]
    InvalidUrl(String),
    /// The server has no such artifact (HTTP 404).
    #[error("artifact not found at {url}")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// The server answered with another error status.
    #[error("artifact download from {url} failed with HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The connection failed.
    #[error("artifact download from {url} failed: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The artifact is larger than allowed.
    #[error("artifact from {url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The size differs from the advertised one.
    #[error("artifact size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Advertised size.
        expected: u64,
        /// Downloaded size.
        actual: u64,
    },
    /// The digest differs from the advertised one.
    #[error("artifact digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Advertised digest.
        expected: String,
        /// Digest of the downloaded bytes.
        actual: String,
    },
    /// The advertised digest cannot be used.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// The artifact record has no digest to verify against.
    #[error("artifact has no digest to verify")]
    MissingDigest,
    /// Writing the temporary download failed.
    #[error("cannot store the download: {0}")]
    Io(#[source] std::io::Error),
    /// The verified artifact could not be unpacked.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
}

impl FetchError {
    /// Whether retrying may help (connection problems and server errors).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Transport { .. } => true,
            FetchError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// Replaces the host (and port) of an artifact URL, as the `SOURCE_CONTROLLER_LOCALHOST`
/// environment variable does in Flux.
pub fn override_host(url: &str, host: Option<&str>) -> String {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return url.to_string();
    };
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Downloads artifacts with retries and verifies them before use.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    retries: u32,
    max_bytes: u64,
    limits: UnpackLimits,
    host_override: Option<String>,
}

impl Fetcher {
    /// A fetcher with `retries` extra attempts on transient errors (Flux's `--http-retry`).
    pub fn new(client: reqwest::Client, retries: u32) -> Self {
        Self {
            client,
            retries,
            max_bytes: 1 << 30,
            limits: UnpackLimits::default(),
            host_override: std::env::var("SOURCE_CONTROLLER_LOCALHOST").ok(),
        }
    }

    /// Sets the unpack limits; the download limit follows `max_total_bytes`.
    pub fn with_limits(mut self, limits: UnpackLimits) -> Self {
        self.max_bytes = limits.max_total_bytes;
        self.limits = limits;
        self
    }

    /// Sets (or clears) the host override.
    pub fn with_host_override(mut self, host: Option<String>) -> Self {
        self.host_override = host;
        self
    }

    /// Downloads the artifact, verifies size and digest, and unpacks it into `target`.
    pub async fn fetch_and_unpack(
        &self,
        artifact: &Artifact,
        target: &Path,
    ) -> Result<UnpackSummary, FetchError> {
        let file = self.fetch_verified(artifact).await?;
        let limits = self.limits;
        let target = target.to_path_buf();
        let reader = std::io::BufReader::new(file);
        let result = tokio::task::spawn_blocking(move || unpack_tar_gz(reader, &target, &limits))
            .await
            .map_err(|e| FetchError::Io(std::io::Error::other(e)))?;
        Ok(result?)
    }

    /// Downloads the artifact, verifies size and digest, and unpacks it into memory.
    pub async fn fetch_to_memory(&self, artifact: &Artifact) -> Result<UnpackedTree, FetchError> {
        let file = self.fetch_verified(artifact).await?;
        let limits = self.limits;
        let reader = std::io::BufReader::new(file);
        let result = tokio::task::spawn_blocking(move || unpack_tar_gz_to_memory(reader, &limits))
            .await
            .map_err(|e| FetchError::Io(std::io::Error::other(e)))?;
        Ok(result?)
    }

    /// Downloads the artifact into an anonymous temporary file and verifies it; the returned
    /// file is positioned at its start.
    pub async fn fetch_verified(&self, artifact: &Artifact) -> Result<std::fs::File, FetchError> {
        let expected = Digest::parse(
            artifact
                .digest
                .as_deref()
                .ok_or(FetchError::MissingDigest)?,
        )?;
        let url = override_host(&artifact.url, self.host_override.as_deref());
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(FetchError::InvalidUrl(url));
        }
        let mut attempt = 0;
        loop {
            match self.download(&url, expected.algorithm()).await {
                Ok((mut file, digest, size)) => {
                    if let Some(want) = artifact.size.and_then(|s| u64::try_from(s).ok())
                        && want != size
                    {
                        return Err(FetchError::SizeMismatch {
                            expected: want,
                            actual: size,
                        });
                    }
                    if digest != expected {
                        return Err(FetchError::DigestMismatch {
                            expected: expected.to_string(),
                            actual: digest.to_string(),
                        });
                    }
                    use std::io::Seek;
                    file.rewind().map_err(FetchError::Io)?;
                    return Ok(file);
                }
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    let delay = Duration::from_millis(100u64 << attempt.min(6));
                    tracing::debug!(%url, attempt, error = %e, "retrying artifact download");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn download(
        &self,
        url: &str,
        algorithm: Algorithm,
    ) -> Result<(std::fs::File, Digest, u64), FetchError> {
        let transport = |source| FetchError::Transport {
            url: url.to_string(),
            source,
        };
        let response = self.client.get(url).send().await.map_err(transport)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(FetchError::NotFound {
                url: url.to_string(),
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let file = tempfile::tempfile().map_err(FetchError::Io)?;
        let mut writer = DigestWriter::with(algorithm, file);
        let mut stream = response.bytes_stream();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(transport)?;
            total += chunk.len() as u64;
            if total > self.max_bytes {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    limit: self.max_bytes,
                });
            }
            writer.write_all(&chunk).map_err(FetchError::Io)?;
        }
        let (file, digest, size) = writer.finish();
        Ok((file, digest, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_override_keeps_scheme_and_path() {
        let url =
            "http://source-controller.flux-system.svc.cluster.local./gitrepository/a/b/c.tar.gz";
        assert_eq!(
            override_host(url, Some("localhost:9090")),
            "http://localhost:9090/gitrepository/a/b/c.tar.gz"
        );
        assert_eq!(override_host(url, None), url);
        assert_eq!(override_host(url, Some("")), url);
    }
}
