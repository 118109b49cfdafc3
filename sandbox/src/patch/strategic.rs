//! Strategic merge patch for built-in kinds: maps merge, `null` deletes, lists with a patch
//! merge key merge by key, and the `$patch`, `$setElementOrder`, `$retainKeys` and
//! `$deleteFromPrimitiveList` directives.

use serde_json::{Map, Value};

/// How a built-in list field is patched.
enum Strategy {
    Replace,
    MergeByKey(&'static str),
    MergePrimitives,
}

fn strategy(names: &[String]) -> Strategy {
    let Some(last) = names.last() else {
        return Strategy::Replace;
    };
    let within = |p: &str| names[..names.len() - 1].iter().any(|n| n == p);
    match last.as_str() {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Strategy::MergeByKey("name"),
        "ports"
            if within("containers")
                || within("initContainers")
                || within("ephemeralContainers") =>
        {
            Strategy::MergeByKey("containerPort")
        }
        "ports" if names.len() == 2 && names[0] == "spec" => Strategy::MergeByKey("port"),
        "volumeMounts" => Strategy::MergeByKey("mountPath"),
        "volumeDevices" => Strategy::MergeByKey("devicePath"),
        "hostAliases" => Strategy::MergeByKey("ip"),
        "ownerReferences" => Strategy::MergeByKey("uid"),
        "conditions" => Strategy::MergeByKey("type"),
        "finalizers" if names.len() == 2 && names[0] == "metadata" => Strategy::MergePrimitives,
        _ => Strategy::Replace,
    }
}

/// Applies a strategic merge patch to `target`.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), String> {
    merge_object(target, patch, &mut Vec::new())
}

fn merge_object(target: &mut Value, patch: &Value, names: &mut Vec<String>) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = patch.clone();
        replacement.remove("$patch");
        *target = Value::Object(replacement);
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let mut orders = Vec::new();
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            orders.push((field.to_string(), value.clone()));
            continue;
        }
        let Value::Object(map) = target else { break };
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(remove)) =
                (map.get_mut(field), value.as_array())
            {
                items.retain(|i| !remove.contains(i));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        names.push(key.clone());
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Object(_) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                merge_object(slot, value, names)?;
            }
            Value::Array(items) => {
                let slot = map.entry(key.clone()).or_insert(Value::Array(Vec::new()));
                merge_list(slot, items, names)?;
            }
            _ => {
                map.insert(key.clone(), value.clone());
            }
        }
        names.pop();
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys")
        && let Value::Object(map) = target
    {
        map.retain(|k, _| keep.iter().any(|r| r.as_str() == Some(k)));
    }
    for (field, order) in orders {
        names.push(field.clone());
        if let (Value::Object(map), Value::Array(order)) = (&mut *target, order)
            && let Some(Value::Array(items)) = map.get_mut(&field)
        {
            reorder(items, &order, &strategy(names));
        }
        names.pop();
    }
    Ok(())
}

fn merge_list(target: &mut Value, patch: &[Value], names: &mut Vec<String>) -> Result<(), String> {
    match strategy(names) {
        Strategy::Replace => {
            *target = Value::Array(patch.to_vec());
        }
        Strategy::MergePrimitives => {
            let Value::Array(items) = target else {
                return Ok(());
            };
            for item in patch {
                if !items.contains(item) {
                    items.push(item.clone());
                }
            }
        }
        Strategy::MergeByKey(key) => {
            if patch
                .iter()
                .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
            {
                *target = Value::Array(
                    patch
                        .iter()
                        .filter(|p| p.get("$patch").is_none())
                        .cloned()
                        .collect(),
                );
                return Ok(());
            }
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let Value::Array(items) = target else {
                return Ok(());
            };
            for item in patch {
                let id = item.get(key).ok_or_else(|| {
                    format!("map: {item} does not contain declared merge key: {key}")
                })?;
                let position = items.iter().position(|t| t.get(key) == Some(id));
                if item.get("$patch").and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = position {
                        items.remove(i);
                    }
                    continue;
                }
                match position {
                    Some(i) => merge_object(&mut items[i], item, names)?,
                    None => {
                        let mut fresh = Value::Null;
                        merge_object(&mut fresh, item, names)?;
                        items.push(fresh);
                    }
                }
            }
        }
    }
    Ok(())
}

fn reorder(items: &mut [Value], order: &[Value], strategy: &Strategy) {
    let rank = |item: &Value| -> usize {
        order
            .iter()
            .position(|o| match strategy {
                Strategy::MergeByKey(key) => o.get(key).is_some() && o.get(key) == item.get(key),
                _ => o == item,
            })
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(rank);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kubectl_deployment_patch_merges_by_key() {
        let mut deploy = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "side", "image": "busybox"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [
            {"$setElementOrder/env": [{"name": "A"}], "env": [{"$patch": "delete", "name": "B"}], "image": "nginx:2", "name": "app"},
            {"$patch": "delete", "name": "side"}
        ]}}}});
        strategic_merge(&mut deploy, &patch).unwrap();
        assert_eq!(
            deploy,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "nginx:2", "env": [{"name": "A", "value": "1"}]}
            ]}}}})
        );
    }

    #[test]
    fn maps_merge_and_null_deletes_like_merge_patch() {
        let mut cm = json!({"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "y"}}});
        strategic_merge(&mut cm, &json!({"data": {"b": null, "c": "3"}})).unwrap();
        assert_eq!(
            cm,
            json!({"data": {"a": "1", "c": "3"}, "metadata": {"labels": {"x": "y"}}})
        );
    }

    #[test]
    fn lists_without_a_merge_key_are_replaced() {
        let mut obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}}}});
        strategic_merge(&mut obj, &json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}}})).unwrap();
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["z"])
        );
    }
}
