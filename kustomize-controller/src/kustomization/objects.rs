//! Desired objects before apply (pure): Flux's normalisation, owner labels and common
//! metadata, the per-object annotations that change apply and prune, and the apply stages.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Value, json};

/// Label naming the Kustomization that applied an object.
pub const OWNER_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// Label naming the namespace of the Kustomization that applied an object.
pub const OWNER_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
const SSA_KEY: &str = "kustomize.toolkit.fluxcd.io/ssa";
const PRUNE_KEY: &str = "kustomize.toolkit.fluxcd.io/prune";
const RECONCILE_KEY: &str = "kustomize.toolkit.fluxcd.io/reconcile";
const FORCE_KEY: &str = "kustomize.toolkit.fluxcd.io/force";
/// Opt-out of post-build substitution (label or annotation).
pub const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The value of `key` as a label or an annotation of `object`.
pub fn marker<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    ["labels", "annotations"]
        .iter()
        .find_map(|field| object["metadata"][field][key].as_str())
}

fn marked(object: &Value, key: &str, value: &str) -> bool {
    marker(object, key).is_some_and(|v| v.eq_ignore_ascii_case(value))
}

/// `ssa: Ignore` or `reconcile: disabled`: never applied, never pruned.
pub fn is_ignored(object: &Value) -> bool {
    marked(object, SSA_KEY, "Ignore") || marked(object, RECONCILE_KEY, "disabled")
}

/// `ssa: IfNotPresent` on the desired object: created when absent, never patched after.
pub fn if_not_present(object: &Value) -> bool {
    marked(object, SSA_KEY, "IfNotPresent")
}

/// `ssa: Merge`: applied without cleaning up other managers' fields.
pub fn merge_only(object: &Value) -> bool {
    marked(object, SSA_KEY, "Merge")
}

/// `force: Enabled`: recreated when an immutable field changes.
pub fn force_enabled(object: &Value) -> bool {
    marked(object, FORCE_KEY, "Enabled")
}

/// Whether a live object may be garbage-collected by the Kustomization `name`/`namespace`:
/// it must carry both owner labels and no opt-out.
pub fn prunable(live: &Value, name: &str, namespace: &str) -> bool {
    let labels = &live["metadata"]["labels"];
    labels[OWNER_NAME_LABEL].as_str() == Some(name)
        && labels[OWNER_NAMESPACE_LABEL].as_str() == Some(namespace)
        && !marked(live, PRUNE_KEY, "disabled")
        && !is_ignored(live)
}

/// Flux's normalisation: Secret `stringData` moved into `data`, empty port protocols set to
/// TCP, `creationTimestamp` and `status` dropped (except on CRDs).
pub fn normalize(object: &mut Value) {
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("creationTimestamp");
    }
    if kind != "CustomResourceDefinition"
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
    if kind == "Secret" && object["apiVersion"] == "v1" {
        move_string_data(object);
    }
    default_protocols(object);
}

fn move_string_data(object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    for (key, value) in strings {
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        data[key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// Sets `protocol: TCP` on container ports and Service ports that have none.
fn default_protocols(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "ports"
                    && let Value::Array(ports) = child
                {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        let is_port =
                            port.contains_key("containerPort") || port.contains_key("port");
                        if is_port && !port.contains_key("protocol") {
                            port.insert("protocol".into(), json!("TCP"));
                        }
                    }
                } else {
                    default_protocols(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(default_protocols),
        _ => {}
    }
}

/// Adds `labels` and `annotations` (winning over the object's own) and the owner labels.
pub fn add_metadata(
    object: &mut Value,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    owner: (&str, &str),
) {
    let mut labels = labels.clone();
    labels.insert(OWNER_NAME_LABEL.into(), owner.0.into());
    labels.insert(OWNER_NAMESPACE_LABEL.into(), owner.1.into());
    for (field, entries) in [("labels", &labels), ("annotations", annotations)] {
        if entries.is_empty() {
            continue;
        }
        let meta = &mut object["metadata"];
        if !meta[field].is_object() {
            meta[field] = json!({});
        }
        for (key, value) in entries {
            meta[field][key] = json!(value);
        }
    }
}

/// The apply stage of an object: 0 for CRDs, Namespaces and ClusterRoles, 1 for `*Class`
/// kinds (both waited for before the next stage), 2 for the `--custom-apply-stage-kinds`
/// (`group/Kind`, no wait), 3 for everything else.
pub fn stage(api_version: &str, kind: &str, custom: &[String]) -> u8 {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    if group == "apiextensions.k8s.io"
        || (kind == "Namespace" && api_version == "v1")
        || (group == "rbac.authorization.k8s.io" && kind == "ClusterRole")
    {
        0
    } else if kind.ends_with("Class") {
        1
    } else if custom.iter().any(|c| {
        c.split_once('/')
            .is_some_and(|(g, k)| g.eq_ignore_ascii_case(group) && k.eq_ignore_ascii_case(kind))
    }) {
        2
    } else {
        3
    }
}

const KIND_ORDER: [&str; 23] = [
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ClusterRoleBinding",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Flux's apply order inside a stage (unknown kinds in the middle, webhooks last).
pub fn kind_rank(kind: &str) -> usize {
    match kind {
        "MutatingWebhookConfiguration" => KIND_ORDER.len() + 1,
        "ValidatingWebhookConfiguration" => KIND_ORDER.len() + 2,
        _ => KIND_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(KIND_ORDER.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_flux() {
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "creationTimestamp": null},
            "stringData": {"user": "admin"}, "data": {"a": "Yg=="}, "status": {}});
        normalize(&mut secret);
        assert_eq!(
            secret,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "Yg==", "user": "YWRtaW4="}})
        );
        let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": "c", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}]}}}});
        normalize(&mut deploy);
        let ports = &deploy["spec"]["template"]["spec"]["containers"][0]["ports"];
        assert_eq!(
            ports,
            &json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}])
        );
        let mut crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "status": {"x": 1}});
        normalize(&mut crd);
        assert_eq!(crd["status"], json!({"x": 1}));
    }

    #[test]
    fn markers_read_labels_and_annotations_case_insensitively() {
        let cases = [
            (
                json!({"metadata": {"annotations": {SSA_KEY: "ignore"}}}),
                true,
                false,
            ),
            (
                json!({"metadata": {"labels": {RECONCILE_KEY: "Disabled"}}}),
                true,
                false,
            ),
            (
                json!({"metadata": {"annotations": {SSA_KEY: "IfNotPresent"}}}),
                false,
                true,
            ),
            (json!({"metadata": {}}), false, false),
        ];
        for (object, ignored, once) in cases {
            assert_eq!(is_ignored(&object), ignored, "{object}");
            assert_eq!(if_not_present(&object), once, "{object}");
        }
    }

    #[test]
    fn only_owned_objects_without_opt_out_are_prunable() {
        let owned = |extra: Value| {
            let mut o = json!({"metadata": {"labels": {OWNER_NAME_LABEL: "app", OWNER_NAMESPACE_LABEL: "flux"}}});
            if let Some(map) = extra.as_object() {
                for (k, v) in map {
                    o["metadata"]["annotations"][k] = v.clone();
                }
            }
            o
        };
        assert!(prunable(&owned(json!({})), "app", "flux"));
        assert!(!prunable(&owned(json!({})), "other", "flux"));
        assert!(!prunable(&owned(json!({})), "app", "tenant"));
        assert!(!prunable(
            &owned(json!({PRUNE_KEY: "disabled"})),
            "app",
            "flux"
        ));
        assert!(!prunable(&owned(json!({SSA_KEY: "Ignore"})), "app", "flux"));
        assert!(!prunable(&json!({"metadata": {}}), "app", "flux"));
    }

    #[test]
    fn stages_and_kind_order() {
        let cases = [
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition", 0),
            ("v1", "Namespace", 0),
            ("rbac.authorization.k8s.io/v1", "ClusterRole", 0),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", 3),
            ("storage.k8s.io/v1", "StorageClass", 1),
            ("apps/v1", "Deployment", 3),
            ("example.com/v1", "Namespace", 3),
            ("example.com/v1", "Widget", 2),
            ("other.com/v1", "Widget", 3),
        ];
        let custom = vec!["example.com/Widget".to_string()];
        for (api, kind, want) in cases {
            assert_eq!(stage(api, kind, &custom), want, "{api} {kind}");
        }
        assert!(kind_rank("Namespace") < kind_rank("ConfigMap"));
        assert!(kind_rank("Deployment") < kind_rank("Widget"));
        assert!(kind_rank("Widget") < kind_rank("ValidatingWebhookConfiguration"));
    }

    #[test]
    fn metadata_wins_and_owner_labels_are_added() {
        let mut o = json!({"metadata": {"name": "a", "labels": {"team": "x"}}});
        let labels = BTreeMap::from([("team".to_string(), "y".to_string())]);
        let annotations = BTreeMap::from([("note".to_string(), "n".to_string())]);
        add_metadata(&mut o, &labels, &annotations, ("app", "flux"));
        assert_eq!(
            o["metadata"]["labels"],
            json!({"team": "y", OWNER_NAME_LABEL: "app", OWNER_NAMESPACE_LABEL: "flux"})
        );
        assert_eq!(o["metadata"]["annotations"], json!({"note": "n"}));
    }
}
