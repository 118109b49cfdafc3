//! The registry client of one OCIRepository (`rill_common::oci::connect` with the object's
//! `secretRef`, `serviceAccountName`, `certSecretRef`, `proxySecretRef` and `timeout`).

use kube::Client;
use rill_common::api::source_v1::OCIRepository;
use rill_common::oci::Registry;
use rill_common::oci::connect::{Access, ConnectError, connect};

use super::plan::OciPlan;

use crate::error::Error;

/// The registry client for `repo`.
pub async fn registry(
    client: &Client,
    repo: &OCIRepository,
    plan: &OciPlan,
) -> Result<Registry, Error> {
    let namespace = repo.metadata.namespace.as_deref().unwrap_or("default");
    let name = |r: &Option<rill_common::api::meta::LocalObjectReference>| {
        r.as_ref().map(|r| r.name.clone())
    };
    let (secret, certs, proxy) = (
        name(&repo.spec.secret_ref),
        name(&repo.spec.cert_secret_ref),
        name(&repo.spec.proxy_secret_ref),
    );
    let access = Access {
        namespace,
        secret: secret.as_deref(),
        service_account: repo.spec.service_account_name.as_deref(),
        cert_secret: certs.as_deref(),
        proxy_secret: proxy.as_deref(),
        legacy_tls_keys: false,
        timeout: plan.timeout,
    };
    connect(client, plan.url.clone(), &access)
        .await
        .map_err(|e| match e {
            ConnectError::Secret(e) => Error::Secret(e),
            e if e.is_auth() => Error::Auth(e.to_string()),
            e => Error::Kube(e.to_string()),
        })
}
