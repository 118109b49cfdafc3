//! The Git access of a `GitRepository`, as both the source-controller and the image
//! automation read it: the URL's scheme checked, credentials from `secretRef`, a proxy from
//! `proxySecretRef`, and `spec.timeout`.

use kube::Client;
use rill_common::api::source_v1::GitRepository;
use rill_common::client_settings::{ProxySettings, SettingsError, secret_data};

use crate::auth::{Credentials, SecretError, credentials, redact};

/// Why a GitRepository's access cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The URL is not `http`, `https` or `ssh` with a host and a path (credentials redacted).
    #[error("invalid URL '{url}': {why}")]
    InvalidUrl {
        /// The URL without user info.
        url: String,
        /// What is wrong.
        why: &'static str,
    },
    /// An SSH URL without a Secret.
    #[error("SSH URLs need a secretRef with 'identity' and 'known_hosts'")]
    SshWithoutSecret,
    /// A proxy with an SSH URL.
    #[error("spec.proxySecretRef applies to HTTP(S) URLs only, not SSH")]
    SshProxy,
    /// A referenced Secret is missing or unreadable.
    #[error(transparent)]
    Secret(#[from] rill_common::client_settings::SecretError),
    /// The credentials Secret does not fit the URL.
    #[error(transparent)]
    Credentials(#[from] SecretError),
    /// The proxy Secret cannot be used.
    #[error("invalid proxy secret '{secret}': {source}")]
    Proxy {
        /// `namespace/name`.
        secret: String,
        /// What is wrong.
        #[source]
        source: SettingsError,
    },
}

/// The scheme of a Git URL (`http`, `https`, `ssh`), checked.
pub fn scheme_of(url: &str) -> Result<&str, AccessError> {
    let invalid = |why| AccessError::InvalidUrl {
        url: redact(url, &[]),
        why,
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
    if !matches!(scheme, "http" | "https" | "ssh") {
        return Err(invalid("the scheme must be http, https or ssh"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    if host.is_empty()
        || host.contains(' ')
        || rest
            .trim_start_matches(authority)
            .trim_matches('/')
            .is_empty()
    {
        return Err(invalid("a host and a repository path are required"));
    }
    Ok(scheme)
}

/// The credentials (and proxy) `repo` fetches and pushes with.
pub async fn access(client: &Client, repo: &GitRepository) -> Result<Credentials, AccessError> {
    let scheme = scheme_of(&repo.spec.url)?;
    let namespace = repo.metadata.namespace.as_deref().unwrap_or("default");
    let mut creds = match &repo.spec.secret_ref {
        None if scheme == "ssh" => return Err(AccessError::SshWithoutSecret),
        None => Credentials::default(),
        Some(secret_ref) => {
            let data = secret_data(client, namespace, &secret_ref.name).await?;
            credentials(&secret_ref.name, &data, scheme)?
        }
    };
    if let Some(proxy) = &repo.spec.proxy_secret_ref {
        if scheme == "ssh" {
            return Err(AccessError::SshProxy);
        }
        let data = secret_data(client, namespace, &proxy.name).await?;
        let settings = ProxySettings::from_secret(&data).map_err(|source| AccessError::Proxy {
            secret: format!("{namespace}/{}", proxy.name),
            source,
        })?;
        creds.proxy = Some(settings);
    }
    Ok(creds)
}
