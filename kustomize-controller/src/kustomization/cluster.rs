//! The cluster as a Kustomization sees it: a client acting as the tenant's service account
//! (impersonation, user name only, as Flux does) and a discovery cache that maps
//! `apiVersion`/`kind` to REST resources, refreshed when a kind is unknown.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::{Scope, pinned_kind};
use kube::{Client, Config};

/// A resolved kind.
#[derive(Clone, Debug)]
pub struct Kind {
    /// The REST resource.
    pub resource: ApiResource,
    /// Whether objects of the kind live in namespaces.
    pub namespaced: bool,
}

/// Maps kinds to resources with the controller's own identity, caching answers.
#[derive(Default)]
pub struct RestMapper {
    cache: Mutex<HashMap<(String, String), Kind>>,
}

/// Splits `group/version` (or a core `version`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

impl RestMapper {
    /// Resolves `api_version`/`kind`; `None` when the server does not serve it.
    pub async fn resolve(
        &self,
        client: &Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Kind>, kube::Error> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Some(found.clone()));
        }
        let (group, version) = split_api_version(api_version);
        let gvk = GroupVersionKind::gvk(group, version, kind);
        match pinned_kind(client, &gvk).await {
            Ok((resource, caps)) => {
                let found = Kind {
                    resource,
                    namespaced: caps.scope == Scope::Namespaced,
                };
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, found.clone());
                Ok(Some(found))
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(kube::Error::Discovery(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Forgets every answer (after CRDs were applied or removed).
    pub fn forget(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The user name Flux impersonates for a service account.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// A client acting as `user` (no groups), built from the controller's own configuration.
pub fn impersonating(base: &Config, user: &str, rate: ApiRate) -> Result<Client, kube::Error> {
    let mut config = base.clone();
    config.auth_info.impersonate = Some(user.to_string());
    config.auth_info.impersonate_groups = None;
    rill_common::runtime::rate_limit::rate_limited_client(config, rate.qps, rate.burst)
}

/// `--kube-api-qps` and `--kube-api-burst`, for the clients the controller builds itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ApiRate {
    /// Requests per second.
    pub qps: f32,
    /// Burst.
    pub burst: u32,
}

/// An API for objects of `kind` in `namespace` (ignored for cluster-scoped kinds).
pub fn api(client: &Client, kind: &Kind, namespace: &str) -> Api<DynamicObject> {
    if kind.namespaced {
        Api::namespaced_with(client.clone(), namespace, &kind.resource)
    } else {
        Api::all_with(client.clone(), &kind.resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_split_and_users_are_flux_shaped() {
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(split_api_version("v1"), ("", "v1"));
        assert_eq!(
            service_account_user("tenant", "deployer"),
            "system:serviceaccount:tenant:deployer"
        );
    }
}
