//! Strategic merge patch for built-in kinds: maps merge, `null` deletes, lists with a patch
//! merge key merge by key, and the `$patch`, `$setElementOrder`, `$retainKeys` and
//! `$deleteFromPrimitiveList` directives. Patch strategies and merge keys come from the kind's
//! upstream definitions (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`).

use serde_json::{Map, Value};

use super::schema::Schema;

/// How a built-in list field is patched.
enum Strategy {
    Replace,
    MergeByKey(String),
    MergePrimitives,
}

/// The strategy of the list at `names`, from the schema when the kind has one.
fn strategy(schema: &Schema<'_>, names: &[String]) -> Strategy {
    if !schema.is_known() {
        return builtin_strategy(names);
    }
    let merges = schema
        .extension_str(names, "x-kubernetes-patch-strategy")
        .is_some_and(|s| s.split(',').any(|part| part == "merge"));
    if !merges {
        return Strategy::Replace;
    }
    match schema.extension_str(names, "x-kubernetes-patch-merge-key") {
        Some(key) => Strategy::MergeByKey(key.to_string()),
        None => Strategy::MergePrimitives,
    }
}

/// The strategies of common built-in fields, for built-in kinds without upstream definitions.
fn builtin_strategy(names: &[String]) -> Strategy {
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
        | "imagePullSecrets" => Strategy::MergeByKey("name".into()),
        "ports"
            if within("containers")
                || within("initContainers")
                || within("ephemeralContainers") =>
        {
            Strategy::MergeByKey("containerPort".into())
        }
        "ports" if names.len() == 2 && names[0] == "spec" => Strategy::MergeByKey("port".into()),
        "volumeMounts" => Strategy::MergeByKey("mountPath".into()),
        "volumeDevices" => Strategy::MergeByKey("devicePath".into()),
        "hostAliases" => Strategy::MergeByKey("ip".into()),
        "ownerReferences" => Strategy::MergeByKey("uid".into()),
        "conditions" => Strategy::MergeByKey("type".into()),
        "finalizers" if names.len() == 2 && names[0] == "metadata" => Strategy::MergePrimitives,
        _ => Strategy::Replace,
    }
}

/// Applies a strategic merge patch to `target`.
pub fn strategic_merge(
    target: &mut Value,
    patch: &Value,
    schema: &Schema<'_>,
) -> Result<(), String> {
    merge_object(target, patch, &mut Vec::new(), schema)
}

fn merge_object(
    target: &mut Value,
    patch: &Value,
    names: &mut Vec<String>,
    schema: &Schema<'_>,
) -> Result<(), String> {
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
                merge_object(slot, value, names, schema)?;
            }
            Value::Array(items) => {
                let slot = map.entry(key.clone()).or_insert(Value::Array(Vec::new()));
                merge_list(slot, items, names, schema)?;
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
            reorder(items, &order, &strategy(schema, names));
        }
        names.pop();
    }
    Ok(())
}

fn merge_list(
    target: &mut Value,
    patch: &[Value],
    names: &mut Vec<String>,
    schema: &Schema<'_>,
) -> Result<(), String> {
    match strategy(schema, names) {
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
            let key = key.as_str();
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
                    Some(i) => merge_object(&mut items[i], item, names, schema)?,
                    None => {
                        let mut fresh = Value::Null;
                        merge_object(&mut fresh, item, names, schema)?;
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
    use crate::resources::{ResourceType, builtin_types};

    fn built_in(kind: &str) -> &'static ResourceType {
        static TYPES: std::sync::OnceLock<Vec<ResourceType>> = std::sync::OnceLock::new();
        TYPES
            .get_or_init(builtin_types)
            .iter()
            .find(|t| t.kind == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    }

    fn deployment_schema() -> Schema<'static> {
        Schema::for_type(built_in("Deployment"))
    }

    #[test]
    fn merge_keys_come_from_upstreams_definitions() {
        // Lists the old table did not know: topology spread constraints by `topologyKey`, a
        // ServiceAccount's secrets by `name`.
        let mut deploy = json!({"spec": {"template": {"spec": {"topologySpreadConstraints": [
            {"topologyKey": "zone", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"topologySpreadConstraints": [
            {"topologyKey": "host", "maxSkew": 2, "whenUnsatisfiable": "ScheduleAnyway"}
        ]}}}});
        strategic_merge(&mut deploy, &patch, &deployment_schema()).unwrap();
        let keys: Vec<&str> = deploy["spec"]["template"]["spec"]["topologySpreadConstraints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["topologyKey"].as_str())
            .collect();
        assert_eq!(keys, ["zone", "host"]);
        let mut account = json!({"secrets": [{"name": "a"}]});
        let schema = Schema::for_type(built_in("ServiceAccount"));
        strategic_merge(&mut account, &json!({"secrets": [{"name": "b"}]}), &schema).unwrap();
        assert_eq!(account["secrets"], json!([{"name": "a"}, {"name": "b"}]));
        // Finalizers merge as a set of strings (`patchStrategy: merge`, no key).
        let mut cm = json!({"metadata": {"finalizers": ["a"]}});
        let schema = Schema::for_type(built_in("ConfigMap"));
        strategic_merge(
            &mut cm,
            &json!({"metadata": {"finalizers": ["b"]}}),
            &schema,
        )
        .unwrap();
        assert_eq!(cm["metadata"]["finalizers"], json!(["a", "b"]));
    }

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
        strategic_merge(&mut deploy, &patch, &deployment_schema()).unwrap();
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
        strategic_merge(
            &mut cm,
            &json!({"data": {"b": null, "c": "3"}}),
            &Schema::default(),
        )
        .unwrap();
        assert_eq!(
            cm,
            json!({"data": {"a": "1", "c": "3"}, "metadata": {"labels": {"x": "y"}}})
        );
    }

    #[test]
    fn lists_without_a_merge_key_are_replaced() {
        let obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}}}});
        for schema in [Schema::default(), deployment_schema()] {
            let mut obj = obj.clone();
            strategic_merge(&mut obj, &json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}}}), &schema).unwrap();
            assert_eq!(
                obj["spec"]["template"]["spec"]["containers"][0]["args"],
                json!(["z"])
            );
        }
    }
}
