//! A registry client for one object: credentials from a `dockerconfigjson` Secret (or a service
//! account's image pull secrets), CAs and a client certificate from a cert Secret, a proxy from
//! a proxy Secret, and the object's timeout. Shared by OCIRepository and ImageRepository.

use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::Api;

use super::auth::from_docker_config;
use super::{Credentials, OciUrl, Registry};
use crate::client_settings::{ProxySettings, SecretError, SettingsError, TlsSettings, secret_data};

/// Where an object's registry access comes from (all in `namespace`).
#[derive(Clone, Debug, Default)]
pub struct Access<'a> {
    /// The object's namespace.
    pub namespace: &'a str,
    /// `spec.secretRef.name`.
    pub secret: Option<&'a str>,
    /// `spec.serviceAccountName` (used when there is no `secretRef`).
    pub service_account: Option<&'a str>,
    /// `spec.certSecretRef.name`.
    pub cert_secret: Option<&'a str>,
    /// `spec.proxySecretRef.name`.
    pub proxy_secret: Option<&'a str>,
    /// Whether the cert Secret may use Flux's deprecated `caFile`/`certFile`/`keyFile` keys.
    pub legacy_tls_keys: bool,
    /// Each request's timeout.
    pub timeout: Duration,
}

/// The registry cannot be reached with the object's settings. Messages never carry secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A referenced Secret is missing or unreadable.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The service account does not exist.
    #[error("service account '{0}' not found")]
    ServiceAccountNotFound(String),
    /// The service account cannot be read.
    #[error("failed to get service account '{name}': {source}")]
    ServiceAccount {
        /// `namespace/name`.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A pull secret has no usable `.dockerconfigjson`.
    #[error("secret '{secret}': {problem}")]
    DockerConfig {
        /// `namespace/name`.
        secret: String,
        /// What is wrong.
        problem: String,
    },
    /// A cert or proxy Secret cannot be used.
    #[error("secret '{secret}': {source}")]
    Settings {
        /// `namespace/name`.
        secret: String,
        /// What is wrong.
        #[source]
        source: SettingsError,
    },
    /// reqwest refused the settings.
    #[error("cannot build the registry client: {0}")]
    Client(#[source] reqwest::Error),
}

impl ConnectError {
    /// Whether the error is about credentials or settings (a human must fix a Secret), rather
    /// than the API failing.
    pub fn is_auth(&self) -> bool {
        !matches!(
            self,
            ConnectError::Secret(SecretError::Api { .. }) | ConnectError::ServiceAccount { .. }
        )
    }
}

async fn credentials(
    client: &Client,
    access: &Access<'_>,
    host: &str,
) -> Result<Option<Credentials>, ConnectError> {
    let namespace = access.namespace;
    let mut names = Vec::new();
    if let Some(secret) = access.secret {
        names.push(secret.to_string());
    } else if let Some(account) = access.service_account.filter(|s| !s.is_empty()) {
        let full = format!("{namespace}/{account}");
        let sa = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
            .get_opt(account)
            .await
            .map_err(|source| ConnectError::ServiceAccount {
                name: full.clone(),
                source,
            })?
            .ok_or(ConnectError::ServiceAccountNotFound(full))?;
        names.extend(sa.image_pull_secrets.into_iter().flatten().map(|r| r.name));
    }
    for name in names {
        let data = secret_data(client, namespace, &name).await?;
        let secret = format!("{namespace}/{name}");
        let Some(config) = data.get(".dockerconfigjson") else {
            return Err(ConnectError::DockerConfig {
                secret,
                problem: "no '.dockerconfigjson' key".into(),
            });
        };
        let found = from_docker_config(config, host)
            .map_err(|problem| ConnectError::DockerConfig { secret, problem })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The registry client for `url` with the object's `access`.
pub async fn connect(
    client: &Client,
    url: OciUrl,
    access: &Access<'_>,
) -> Result<Registry, ConnectError> {
    let namespace = access.namespace;
    crate::runtime::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .dns_resolver(std::sync::Arc::new(crate::dns::HostResolver::default()))
        .timeout(access.timeout)
        .connect_timeout(access.timeout.min(Duration::from_secs(30)));
    let settings_error = |name: &str| {
        let secret = format!("{namespace}/{name}");
        move |source| ConnectError::Settings { secret, source }
    };
    if let Some(name) = access.cert_secret {
        let data = secret_data(client, namespace, name).await?;
        let tls = TlsSettings::from_secret(&data, access.legacy_tls_keys)
            .map_err(settings_error(name))?;
        for cert in tls.certificates() {
            builder = builder.add_root_certificate(cert);
        }
        if let Some(identity) = tls.identity() {
            builder = builder.identity(identity);
        }
    }
    if let Some(name) = access.proxy_secret {
        let data = secret_data(client, namespace, name).await?;
        let proxy = ProxySettings::from_secret(&data)
            .and_then(|p| p.proxy())
            .map_err(settings_error(name))?;
        builder = builder.proxy(proxy);
    }
    let http = builder.build().map_err(ConnectError::Client)?;
    let creds = credentials(client, access, &url.host).await?;
    Ok(Registry::new(http, url, creds))
}
