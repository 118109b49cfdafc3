//! Namespace termination (delete the content, then the namespace), the `default`
//! ServiceAccount and `kube-root-ca.crt` of every namespace, and CRD cleanup (delete the custom resources, then the
//! definition).

use std::sync::Arc;

use serde_json::{Value, json};

use super::stored_types;
use crate::server::ApiServer;
use crate::server::delete::delete_object;
use crate::server::meta::{finalizers, is_deleting, new_uid, now};
use crate::store::ObjectKey;

/// What every active namespace holds, as kube-controller-manager keeps it: the `default`
/// ServiceAccount, and with TLS the `kube-root-ca.crt` ConfigMap publishing the cluster CA
/// (recreated when deleted, rewritten when edited).
pub fn namespace_defaults(api: &Arc<ApiServer>) {
    let (namespaces, _) = api.store.list("", "namespaces", None);
    for ns in namespaces.iter().filter(|n| !is_deleting(n)) {
        let name = ns["metadata"]["name"].as_str().unwrap_or_default();
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": name}});
        ensure(api, name, "serviceaccounts", "default", account, |_| true);
        if let Some(ca) = &api.options.root_ca {
            let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": ROOT_CA, "namespace": name,
                    "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
                "data": {"ca.crt": ca}});
            ensure(api, name, "configmaps", ROOT_CA, config, |stored| {
                stored["data"]["ca.crt"].as_str() == Some(ca.as_str())
            });
        }
    }
}

/// The ConfigMap publishing the cluster CA in every namespace.
pub const ROOT_CA: &str = "kube-root-ca.crt";
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Creates `object` in the active `namespace` unless a stored one is `current`.
fn ensure(
    api: &Arc<ApiServer>,
    namespace: &str,
    resource: &str,
    name: &str,
    mut object: Value,
    current: impl Fn(&Value) -> bool,
) {
    let key = ObjectKey::new("", resource, namespace, name);
    if api.store.get(&key).is_some_and(|stored| current(&stored)) {
        return;
    }
    let namespace_key = ObjectKey::new("", "namespaces", "", namespace);
    api.store.write(|tx| {
        let active = tx.get(&namespace_key).is_some_and(|n| !is_deleting(&n));
        let stored = tx.get(&key);
        if !active || stored.as_ref().is_some_and(|s| current(s)) {
            return;
        }
        match stored {
            Some(stored) => {
                object["metadata"] = stored["metadata"].clone();
            }
            None => {
                object["metadata"]["uid"] = json!(new_uid());
                object["metadata"]["creationTimestamp"] = json!(now());
            }
        }
        tx.put(key.clone(), object);
    });
}

/// Empties Terminating namespaces and removes them once nothing is left; whether one is
/// still terminating.
pub fn terminate(api: &Arc<ApiServer>) -> bool {
    let (namespaces, _) = api.store.list("", "namespaces", None);
    let terminating: Vec<_> = namespaces.iter().filter(|n| is_deleting(n)).collect();
    if terminating.is_empty() {
        return false;
    }
    let types: Vec<_> = stored_types(api)
        .into_iter()
        .filter(|t| t.namespaced)
        .collect();
    for ns in terminating {
        let name = ns["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut remaining = 0;
        for rt in &types {
            let (objects, _) = api.store.list(&rt.group, &rt.plural, Some(&name));
            for object in objects {
                remaining += 1;
                if !is_deleting(&object) {
                    let key = ObjectKey::new(
                        &rt.group,
                        &rt.plural,
                        &name,
                        object["metadata"]["name"].as_str().unwrap_or_default(),
                    );
                    let _ = delete_object(api, rt, &key, Some("Background"));
                }
            }
        }
        if remaining == 0 {
            let key = ObjectKey::new("", "namespaces", "", &name);
            api.store.write(|tx| {
                let Some(current) = tx.get(&key) else { return };
                if finalizers(&current).is_empty() {
                    tx.delete(&key);
                } else if current["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty())
                {
                    let mut updated = (*current).clone();
                    updated["spec"]["finalizers"] = json!([]);
                    tx.put(key.clone(), updated);
                }
            });
        }
    }
    true
}

/// Deletes the custom resources of deleted CRDs, then lets the CRD go; whether a CRD is
/// still being deleted.
pub fn cleanup_crds(api: &Arc<ApiServer>) -> bool {
    let (crds, _) = api
        .store
        .list("apiextensions.k8s.io", "customresourcedefinitions", None);
    let mut changed = false;
    for crd in crds.iter().filter(|c| is_deleting(c)) {
        let group = crd["spec"]["group"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let plural = crd["spec"]["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (objects, _) = api.store.list(&group, &plural, None);
        let rt = api
            .types
            .read()
            .ok()
            .and_then(|t| t.find_any_version(&group, &plural));
        if let (false, Some(rt)) = (objects.is_empty(), rt) {
            for object in objects.iter().filter(|o| !is_deleting(o)) {
                let key = ObjectKey::new(
                    &group,
                    &plural,
                    object["metadata"]["namespace"].as_str().unwrap_or_default(),
                    object["metadata"]["name"].as_str().unwrap_or_default(),
                );
                let _ = delete_object(api, &rt, &key, Some("Background"));
            }
            continue;
        }
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = ObjectKey::new(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            &name,
        );
        api.store.write(|tx| {
            let Some(current) = tx.get(&key) else { return };
            let remaining: Vec<String> = finalizers(&current)
                .into_iter()
                .filter(|f| f != crate::crd::cleanup_finalizer())
                .collect();
            if remaining.is_empty() {
                tx.delete(&key);
            } else {
                let mut updated = (*current).clone();
                updated["metadata"]["finalizers"] = json!(remaining);
                tx.put(key.clone(), updated);
            }
        });
        changed = true;
    }
    if changed {
        api.refresh_types();
    }
    crds.iter().any(|c| is_deleting(c))
}
