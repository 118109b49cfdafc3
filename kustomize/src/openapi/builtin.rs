//! kustomize's built-in Kubernetes schema (v1.21.2, as kustomize v5.5.0 embeds it): the
//! definitions that decide how lists merge and the scope of every kind it knows, generated
//! by `kustomize/openapi/generate.py` into `builtin-schema.json`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::CustomSchema;

const DATA: &str = include_str!("builtin-schema.json");

struct Builtin {
    schema: CustomSchema,
    /// kind -> `(apiVersion, namespaced)`, looked up by kind without allocating.
    scopes: HashMap<String, Vec<(String, bool)>>,
}

fn builtin() -> &'static Builtin {
    static BUILTIN: OnceLock<Builtin> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        // The data is generated and checked by this crate's tests; a broken file is a bug in
        // the build, not input.
        let document: Value = serde_json::from_str(DATA).unwrap_or_default();
        let schema = CustomSchema::parse(&document).unwrap_or_default();
        let mut scopes: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        for row in document["scopes"].as_array().into_iter().flatten() {
            let (Some(api_version), Some(kind), Some(namespaced)) = (
                row.get(0).and_then(Value::as_str),
                row.get(1).and_then(Value::as_str),
                row.get(2).and_then(Value::as_bool),
            ) else {
                continue;
            };
            scopes
                .entry(kind.to_string())
                .or_default()
                .push((api_version.to_string(), namespaced));
        }
        Builtin { schema, scopes }
    })
}

/// The built-in schema.
pub fn schema() -> &'static CustomSchema {
    &builtin().schema
}

/// Whether kustomize knows `apiVersion`/`kind` to be cluster-scoped. Kinds it does not know
/// (custom kinds, versions newer than its schema such as `flowcontrol.apiserver.k8s.io/v1`)
/// are treated as namespaced, as kustomize treats them.
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    builtin()
        .scopes
        .get(kind)
        .and_then(|versions| versions.iter().find(|(v, _)| v == api_version))
        .is_some_and(|(_, namespaced)| !namespaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::ListKey;

    fn keys(api_version: &str, kind: &str, path: &[&str]) -> ListKey {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let Some(definition) = schema().definition(group, version, kind) else {
            return ListKey::Replace;
        };
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        schema().list_key(definition, &path)
    }

    #[test]
    fn the_generated_data_is_whole() {
        let known: usize = builtin().scopes.values().map(Vec::len).sum();
        assert!(known >= 80, "scopes missing");
        assert!(
            schema().definition("apps", "v1", "Deployment").is_some(),
            "definitions missing"
        );
    }

    #[test]
    fn list_keys_follow_the_schema_of_each_kind() {
        let merge = |keys: &[&str]| ListKey::Merge(keys.iter().map(|k| k.to_string()).collect());
        let pod = ["spec", "template", "spec"];
        let at = |tail: &[&'static str]| -> Vec<&'static str> {
            pod.iter().chain(tail).copied().collect()
        };
        let cases: Vec<(&str, &str, Vec<&str>, ListKey)> = vec![
            (
                "apps/v1",
                "Deployment",
                at(&["containers"]),
                merge(&["name"]),
            ),
            (
                "apps/v1",
                "Deployment",
                at(&["containers", "ports"]),
                merge(&["containerPort", "protocol"]),
            ),
            (
                "apps/v1",
                "Deployment",
                at(&["containers", "args"]),
                ListKey::Replace,
            ),
            (
                "apps/v1",
                "Deployment",
                at(&["tolerations"]),
                ListKey::Replace,
            ),
            (
                "apps/v1",
                "Deployment",
                vec!["metadata", "finalizers"],
                merge(&[]),
            ),
            // No schema for versions kustomize's Kubernetes 1.21 does not serve.
            (
                "apps/v1beta2",
                "Deployment",
                at(&["containers"]),
                ListKey::Replace,
            ),
            (
                "admissionregistration.k8s.io/v1",
                "MutatingWebhookConfiguration",
                vec!["webhooks"],
                merge(&["name"]),
            ),
            ("v1", "ServiceAccount", vec!["secrets"], merge(&["name"])),
            (
                "v1",
                "Service",
                vec!["spec", "ports"],
                merge(&["port", "protocol"]),
            ),
            (
                "networking.k8s.io/v1",
                "NetworkPolicy",
                vec!["spec", "ingress"],
                ListKey::Replace,
            ),
            (
                "policy/v1",
                "PodDisruptionBudget",
                vec!["spec", "selector"],
                ListKey::Replace,
            ),
        ];
        for (api_version, kind, path, want) in cases {
            assert_eq!(keys(api_version, kind, &path), want, "{kind} {path:?}");
        }
    }

    #[test]
    fn scope_is_kustomizes_including_its_quirks() {
        let cases = [
            ("v1", "Namespace", true),
            ("v1", "ConfigMap", false),
            ("rbac.authorization.k8s.io/v1", "ClusterRole", true),
            ("storage.k8s.io/v1beta1", "CSIStorageCapacity", false),
            ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", true),
            // Not in kustomize's schema: namespaced, and given a namespace.
            ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", false),
            ("example.com/v1", "Namespace", false),
            ("v1", "Namespace ", false),
        ];
        for (api_version, kind, cluster) in cases {
            assert_eq!(
                is_cluster_scoped(api_version, kind),
                cluster,
                "{api_version} {kind}"
            );
        }
    }
}
