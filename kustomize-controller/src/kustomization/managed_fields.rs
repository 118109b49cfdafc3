//! Undoing edits made outside Git (pure): the managed-field entries of `kubectl` (apply and
//! update, any `kubectl-*` command), `before-first-apply` and the controller's own `Update`
//! entry are merged into the controller's `Apply` entry, so that the next apply removes the
//! fields the manifest no longer sets, as Flux does. `kubectl`'s last-applied annotation goes.

use serde_json::{Map, Value, json};

use super::apply::FIELD_MANAGER;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn taken_over(entry: &Value, extra: &[String]) -> bool {
    let manager = entry["manager"].as_str().unwrap_or_default();
    let operation = entry["operation"].as_str().unwrap_or_default();
    let apply_or_update = matches!(operation, "Apply" | "Update");
    (apply_or_update && (manager.starts_with("kubectl") || extra.iter().any(|m| m == manager)))
        || (manager == "before-first-apply" && operation == "Update")
        || (manager == FIELD_MANAGER && operation == "Update")
}

fn union(into: &mut Value, from: &Value) {
    let (Some(target), Some(source)) = (into.as_object_mut(), from.as_object()) else {
        return;
    };
    for (key, value) in source {
        match target.get_mut(key) {
            Some(existing) => union(existing, value),
            None => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The merge patch that hands other managers' fields to the controller, or `None` when the
/// live object needs no cleanup. `extra` are the `--override-manager` names.
pub fn cleanup_patch(live: &Value, extra: &[String]) -> Option<Value> {
    let entries = live["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has_last_applied = live["metadata"]["annotations"].get(LAST_APPLIED).is_some();
    if !entries.iter().any(|e| taken_over(e, extra)) && !has_last_applied {
        return None;
    }
    let is_own_apply = |e: &Value| {
        e["manager"] == FIELD_MANAGER && e["operation"] == "Apply" && e["subresource"].is_null()
    };
    let mut fields = entries
        .iter()
        .find(|e| is_own_apply(e))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or_else(|| json!({}));
    let mut kept = Vec::new();
    for entry in entries {
        if taken_over(&entry, extra) && entry["subresource"].is_null() {
            union(&mut fields, &entry["fieldsV1"]);
        } else if !is_own_apply(&entry) {
            kept.push(entry);
        }
    }
    kept.push(json!({
        "manager": FIELD_MANAGER,
        "operation": "Apply",
        "apiVersion": live["apiVersion"],
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }));
    let mut metadata = Map::new();
    metadata.insert("managedFields".into(), Value::Array(kept));
    if has_last_applied {
        metadata.insert("annotations".into(), json!({LAST_APPLIED: null}));
    }
    Some(json!({"metadata": metadata}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, operation: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn kubectl_fields_move_to_the_controller_and_others_stay() {
        let live = json!({"apiVersion": "apps/v1", "metadata": {"managedFields": [
            entry(FIELD_MANAGER, "Apply", json!({"f:spec": {"f:replicas": {}}})),
            entry("kubectl-edit", "Update", json!({"f:metadata": {"f:labels": {"f:extra": {}}}})),
            entry("hpa", "Update", json!({"f:spec": {"f:minReplicas": {}}})),
            entry("helm", "Update", json!({"f:data": {}})),
        ]}});
        let patch = cleanup_patch(&live, &["helm".to_string()]).unwrap_or_default();
        let entries = patch["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["manager"], "hpa");
        assert_eq!(entries[1]["manager"], FIELD_MANAGER);
        assert_eq!(
            entries[1]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}, "f:metadata": {"f:labels": {"f:extra": {}}}, "f:data": {}})
        );
    }

    #[test]
    fn clean_objects_need_no_patch_and_last_applied_goes() {
        let clean =
            json!({"metadata": {"managedFields": [entry(FIELD_MANAGER, "Apply", json!({}))]}});
        assert_eq!(cleanup_patch(&clean, &[]), None);
        let annotated =
            json!({"metadata": {"annotations": {LAST_APPLIED: "{}"}, "managedFields": []}});
        let patch = cleanup_patch(&annotated, &[]).unwrap_or_default();
        assert_eq!(
            patch["metadata"]["annotations"],
            json!({LAST_APPLIED: null})
        );
    }
}
