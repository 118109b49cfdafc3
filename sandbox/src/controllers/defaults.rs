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
