//! A small OCI distribution client (registry API v2) over reqwest with rustls: tag lists,
//! manifest digests, manifests and blobs, every download checked against its digest, with
//! anonymous, basic and bearer-token authentication.

pub mod auth;
pub mod connect;
pub mod reference;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

pub use auth::Credentials;
pub use reference::{OciUrl, UrlError};

/// Media types accepted for manifests.
pub const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Why a registry operation failed. Messages never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry refused the credentials (401/403).
    #[error("{0}")]
    Unauthorized(String),
    /// The repository, tag, manifest or blob does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Transport failure or another HTTP error.
    #[error("{0}")]
    Transport(String),
    /// The registry sent something that is not what was asked for.
    #[error("{0}")]
    Invalid(String),
}

/// A client for one repository of one registry.
pub struct Registry {
    http: reqwest::Client,
    url: OciUrl,
    credentials: Option<Credentials>,
    token: Mutex<Option<String>>,
}

/// A content descriptor of a manifest (a layer, the config, or an index entry).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type.
    #[serde(default)]
    pub media_type: String,
    /// `sha256:<hex>`.
    #[serde(default)]
    pub digest: String,
    /// The size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest or an image index, as far as Rill reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDocument {
    /// The media type, when the document states it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The layers of an image manifest.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifests of an image index.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A fetched manifest: its digest and the parsed document.
pub struct Manifest {
    /// `sha256:<hex>`.
    pub digest: String,
    /// The manifest document.
    pub document: ManifestDocument,
}

/// Tags asked for per page of a tag list (registries answer with a `Link` to the next page).
pub const TAG_PAGE: usize = 1000;

/// The largest manifest read (4 MiB, the distribution spec's recommended limit).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// The value of `key="value"` in a `WWW-Authenticate` header.
fn challenge_param(header: &str, key: &str) -> Option<String> {
    let start = header.find(&format!("{key}=\""))? + key.len() + 2;
    let end = header[start..].find('"')? + start;
    Some(header[start..end].to_string())
}

impl Registry {
    /// A client for `url`, with optional credentials.
    pub fn new(http: reqwest::Client, url: OciUrl, credentials: Option<Credentials>) -> Self {
        Self {
            http,
            url,
            credentials,
            token: Mutex::new(None),
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.url.base(), self.url.repository)
    }

    /// Sends a request, answering a 401 challenge once (bearer token or basic auth).
    async fn send(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        let transport = |e: reqwest::Error| {
            RegistryError::Transport(format!(
                "{} {}: {}",
                method,
                self.url.display(),
                describe(e)
            ))
        };
        let build = |auth: Option<String>| {
            let mut request = self.http.request(method.clone(), url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(auth) = auth {
                request = request.header(AUTHORIZATION, auth);
            }
            request
        };
        let cached = self.token.lock().await.clone();
        let response = build(cached.clone()).send().await.map_err(transport)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let auth = self.authenticate(&challenge).await?;
        *self.token.lock().await = Some(auth.clone());
        let retried = build(Some(auth)).send().await.map_err(transport)?;
        if matches!(
            retried.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(RegistryError::Unauthorized(format!(
                "{}: the registry refused the credentials (HTTP {})",
                self.url.display(),
                retried.status().as_u16()
            )));
        }
        Ok(retried)
    }

    /// The `Authorization` value answering `challenge`.
    async fn authenticate(&self, challenge: &str) -> Result<String, RegistryError> {
        let lower = challenge.to_ascii_lowercase();
        if lower.starts_with("basic") {
            return self
                .credentials
                .as_ref()
                .map(Credentials::basic_header)
                .ok_or_else(|| {
                    RegistryError::Unauthorized(format!(
                        "{}: authentication required and no credentials given",
                        self.url.display()
                    ))
                });
        }
        let realm = challenge_param(challenge, "realm").ok_or_else(|| {
            RegistryError::Unauthorized(format!(
                "{}: unsupported authentication challenge",
                self.url.display()
            ))
        })?;
        let mut url = format!(
            "{realm}?scope={}",
            encode(&format!("repository:{}:pull", self.url.repository))
        );
        if let Some(service) = challenge_param(challenge, "service") {
            url.push_str(&format!("&service={}", encode(&service)));
        }
        let mut request = self.http.get(&url);
        if let Some(creds) = &self.credentials {
            request = request.header(AUTHORIZATION, creds.basic_header());
        }
        let response = request.send().await.map_err(|e| {
            RegistryError::Transport(format!("token request failed: {}", e.without_url()))
        })?;
        if !response.status().is_success() {
            return Err(RegistryError::Unauthorized(format!(
                "{}: token request refused (HTTP {})",
                self.url.display(),
                response.status().as_u16()
            )));
        }
        let body: TokenResponse = json_body(response, "token response").await?;
        let token = body
            .token
            .filter(|t| !t.is_empty())
            .or(body.access_token)
            .ok_or_else(|| RegistryError::Invalid("the token response holds no token".into()))?;
        Ok(format!("Bearer {token}"))
    }

    fn status_error(&self, what: &str, status: StatusCode) -> RegistryError {
        match status {
            StatusCode::NOT_FOUND => {
                RegistryError::NotFound(format!("{}: {what} not found", self.url.display()))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                RegistryError::Unauthorized(format!(
                    "{}: access to {what} denied (HTTP {})",
                    self.url.display(),
                    status.as_u16()
                ))
            }
            other => RegistryError::Transport(format!(
                "{}: {what}: HTTP {}",
                self.url.display(),
                other.as_u16()
            )),
        }
    }

    /// Every tag of the repository (following `Link` pagination).
    pub async fn tags(&self) -> Result<Vec<String>, RegistryError> {
        let mut tags = Vec::new();
        let mut next = Some(self.endpoint(&format!("tags/list?n={TAG_PAGE}")));
        while let Some(url) = next.take() {
            let response = self.send(Method::GET, &url, None).await?;
            if !response.status().is_success() {
                return Err(self.status_error("tag list", response.status()));
            }
            next = next_link(response.headers()).map(|path| format!("{}{path}", self.url.base()));
            let body: TagList = json_body(response, "tag list").await?;
            tags.extend(body.tags.unwrap_or_default());
        }
        Ok(tags)
    }

    /// The manifest digest a tag points to (HEAD, falling back to GET).
    pub async fn digest_of(&self, tag: &str) -> Result<String, RegistryError> {
        let url = self.endpoint(&format!("manifests/{tag}"));
        let response = self.send(Method::HEAD, &url, Some(MANIFEST_TYPES)).await?;
        if response.status().is_success()
            && let Some(digest) = response
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
        {
            return Ok(digest.to_string());
        }
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound(format!(
                "{}: tag '{tag}' not found",
                self.url.display()
            )));
        }
        Ok(self.manifest(tag).await?.digest)
    }

    /// The manifest at a tag or digest, checked against the digest when one is given.
    pub async fn manifest(&self, reference: &str) -> Result<Manifest, RegistryError> {
        let url = self.endpoint(&format!("manifests/{reference}"));
        let response = self.send(Method::GET, &url, Some(MANIFEST_TYPES)).await?;
        if !response.status().is_success() {
            return Err(self.status_error(&format!("manifest '{reference}'"), response.status()));
        }
        let (bytes, digest) = read_limited(response, MAX_MANIFEST_BYTES, "manifest").await?;
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::Invalid(format!(
                "manifest digest mismatch: expected {reference}, got {digest}"
            )));
        }
        let document = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Invalid(format!("manifest is not JSON: {e}")))?;
        Ok(Manifest { digest, document })
    }

    /// A blob of at most `limit` bytes, streamed and checked against its digest.
    pub async fn blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>, RegistryError> {
        let url = self.endpoint(&format!("blobs/{digest}"));
        let response = self.send(Method::GET, &url, None).await?;
        if !response.status().is_success() {
            return Err(self.status_error(&format!("blob '{digest}'"), response.status()));
        }
        let (bytes, actual) = read_limited(response, limit, "blob").await?;
        if actual != digest {
            return Err(RegistryError::Invalid(format!(
                "blob digest mismatch: expected {digest}, got {actual}"
            )));
        }
        Ok(bytes)
    }
}

/// Reads a body of at most `limit` bytes, hashing it on the way; refuses a larger one before
/// holding it.
async fn read_limited(
    response: reqwest::Response,
    limit: u64,
    what: &str,
) -> Result<(Vec<u8>, String), RegistryError> {
    let too_big = || RegistryError::Invalid(format!("{what} is larger than {limit} bytes"));
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_big());
    }
    let mut hasher = Sha256::new();
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| RegistryError::Transport(format!("{what}: {}", e.without_url())))?;
        if bytes.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_big());
        }
        hasher.update(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, format!("sha256:{}", hex::encode(hasher.finalize()))))
}

/// A reqwest error with its causes (TLS failures live in the source chain), without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn json_body<T: DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, RegistryError> {
    let (bytes, _) = read_limited(response, MAX_MANIFEST_BYTES, what).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RegistryError::Invalid(format!("{what} is not JSON: {e}")))
}

/// The path of a `Link: <...>; rel="next"` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    let start = link.find('<')? + 1;
    let end = link[start..].find('>')? + start;
    link.contains("rel=\"next\"")
        .then(|| link[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_links_parse() {
        let header = r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull""#;
        assert_eq!(
            challenge_param(header, "realm").as_deref(),
            Some("https://auth.example.com/token")
        );
        assert_eq!(
            challenge_param(header, "service").as_deref(),
            Some("registry.example.com")
        );
        assert_eq!(challenge_param(header, "missing"), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            "</v2/a/tags/list?n=2&last=b>; rel=\"next\""
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
    }
}
