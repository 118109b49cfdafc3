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
