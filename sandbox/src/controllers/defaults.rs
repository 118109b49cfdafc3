//! What the API server sets on built-in objects at creation.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// Fills server-set fields of new built-in objects (namespace labels, finalizers and phase).
pub fn on_create(rt: &ResourceType, object: &mut Value) {
    if rt.group.is_empty() && rt.plural == "namespaces" {
        let name = object["metadata"]["name"].clone();
        object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        if !object["spec"]["finalizers"].is_array() {
            object["spec"]["finalizers"] = json!(["kubernetes"]);
        }
        object["status"] = json!({"phase": "Active"});
    }
    if rt.group.is_empty() && rt.plural == "persistentvolumeclaims" {
        // `SetDefaults_PersistentVolumeClaim`: a new claim is Pending until a volume binds it.
        object["status"] = json!({"phase": "Pending"});
    }
    if rt.group.is_empty() && rt.plural == "pods" {
        // The pod strategy's PrepareForCreate: a new Pod is Pending with its QoS class, whatever
        // status the client sent.
        let qos = qos_class(&object["spec"]);
        object["status"] = json!({"phase": "Pending", "qosClass": qos});
    }
}

/// `qos.GetPodQOS`: BestEffort without any CPU or memory request or limit, Guaranteed when
/// every container limits both and requests what it limits, Burstable otherwise.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers = ["initContainers", "containers"]
        .iter()
        .flat_map(|field| spec[*field].as_array().cloned().unwrap_or_default());
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        let resources = &container["resources"];
        for resource in ["cpu", "memory"] {
            let limit = resources["limits"][resource].as_str().map(str::to_string);
            let limit = limit.or_else(|| {
                resources["limits"][resource]
                    .as_i64()
                    .map(|n| n.to_string())
            });
            let request = resources["requests"][resource]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    resources["requests"][resource]
                        .as_i64()
                        .map(|n| n.to_string())
                })
                .or_else(|| limit.clone());
            any |= limit.is_some() || request.is_some();
            guaranteed &= limit.is_some() && request == limit;
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// What the API server does to every written Secret: `stringData` is write-only, merged into
/// `data` (base64, winning over the same key) and never stored.
pub fn on_write(rt: &ResourceType, object: &mut Value) {
    use base64::Engine;
    if !(rt.group.is_empty() && rt.plural == "secrets") {
        return;
    }
    let Some(Value::Object(strings)) = object.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    if !object["data"].is_object() {
        object["data"] = json!({});
    }
    for (key, value) in strings {
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        object["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_pods_are_pending_with_their_qos_class() {
        let cases = [
            (json!({"containers": [{"name": "a"}]}), "BestEffort"),
            (
                json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}),
                "Guaranteed",
            ),
            (
                json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}),
                "Burstable",
            ),
            (
                json!({"containers": [
                    {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
                    {"name": "b"}]}),
                "Burstable",
            ),
        ];
        let rt = crate::resources::builtin_types()
            .into_iter()
            .find(|r| r.plural == "pods")
            .unwrap();
        for (spec, want) in cases {
            let mut pod =
                json!({"metadata": {"name": "p"}, "spec": spec, "status": {"phase": "Running"}});
            on_create(&rt, &mut pod);
            assert_eq!(
                pod["status"],
                json!({"phase": "Pending", "qosClass": want}),
                "{spec}"
            );
        }
    }

    #[test]
    fn secret_string_data_is_merged_into_data() {
        let rt = crate::resources::builtin_types()
            .into_iter()
            .find(|r| r.plural == "secrets")
            .unwrap();
        let mut secret =
            json!({"data": {"a": "eA==", "b": "eA=="}, "stringData": {"b": "value", "c": "z"}});
        on_write(&rt, &mut secret);
        assert_eq!(
            secret,
            json!({"data": {"a": "eA==", "b": "dmFsdWU=", "c": "eg=="}})
        );
    }
}
