//! The registry client of one OCIRepository: credentials from `secretRef` (or the
//! `serviceAccountName`'s image pull secrets), CA and client certificates from
//! `certSecretRef`, a proxy from `proxySecretRef`, and `spec.timeout`.

use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::Api;
use rill_common::api::source_v1::OCIRepository;

use crate::error::Error;
use rill_common::client_settings::secret_data;
use rill_common::client_settings::{ProxySettings, TlsSettings};
use rill_common::oci::{Credentials, OciUrl, Registry, auth::from_docker_config};

async fn credentials(
    client: &Client,
    repo: &OCIRepository,
    namespace: &str,
    host: &str,
) -> Result<Option<Credentials>, Error> {
    let mut names = Vec::new();
    if let Some(secret) = &repo.spec.secret_ref {
        names.push(secret.name.clone());
    } else if let Some(account) = repo
        .spec
        .service_account_name
        .as_ref()
        .filter(|s| !s.is_empty())
    {
        let sa = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
            .get_opt(account)
            .await
            .map_err(|e| {
                Error::Kube(format!(
                    "failed to get service account '{namespace}/{account}': {e}"
                ))
            })?
            .ok_or_else(|| {
                Error::Auth(format!("service account '{namespace}/{account}' not found"))
            })?;
        names.extend(sa.image_pull_secrets.into_iter().flatten().map(|r| r.name));
    }
    for name in names {
        let data = secret_data(client, namespace, &name).await?;
        let Some(config) = data.get(".dockerconfigjson") else {
            return Err(Error::Auth(format!(
                "secret '{namespace}/{name}' has no '.dockerconfigjson' key"
            )));
        };
        if let Some(found) = from_docker_config(config, host)
            .map_err(|e| Error::Auth(format!("secret '{namespace}/{name}': {e}")))?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The registry client for `repo`.
pub async fn registry(
    client: &Client,
    repo: &OCIRepository,
    url: OciUrl,
) -> Result<Registry, Error> {
    let namespace = repo
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let timeout = crate::reconcile::spec_timeout(repo.spec.timeout.as_deref());
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)));
    if let Some(certs) = &repo.spec.cert_secret_ref {
        let data = secret_data(client, &namespace, &certs.name).await?;
        let tls = TlsSettings::from_secret(&data, false)
            .map_err(|e| Error::Auth(format!("secret '{namespace}/{}': {e}", certs.name)))?;
        for cert in tls.certificates() {
            builder = builder.add_root_certificate(cert);
        }
        if let Some(identity) = tls.identity() {
            builder = builder.identity(identity);
        }
    }
    if let Some(proxy) = &repo.spec.proxy_secret_ref {
        let data = secret_data(client, &namespace, &proxy.name).await?;
        let settings = ProxySettings::from_secret(&data)
            .and_then(|p| p.proxy())
            .map_err(|e| Error::Auth(format!("secret '{namespace}/{}': {e}", proxy.name)))?;
        builder = builder.proxy(settings);
    }
    let http = builder.build().map_err(|e| {
        Error::Auth(format!(
            "cannot build the registry client: {}",
            e.without_url()
        ))
    })?;
    let creds = credentials(client, repo, &namespace, &url.host).await?;
    Ok(Registry::new(http, url, creds))
}
