//! Strategic merge patches as kustomize (kyaml merge2) applies them: maps merge, `null`
//! deletes, `$patch: delete|replace` directives, lists merged by their patch merge key
//! (Kubernetes' keys for built-in kinds, kyaml's inferred keys for custom kinds), other lists
//! replaced.

use serde_json::{Map, Value};

use crate::yaml::{ExplicitNulls, PathSeg};

/// Merge keys of built-in kinds by field name (from the Kubernetes OpenAPI
/// `x-kubernetes-patch-merge-key` extensions of the core/v1 and apps/v1 types).
fn builtin_merge_key(path: &[String]) -> Option<&'static str> {
    let field = path.last()?.as_str();
    let within = |p: &str| path[..path.len() - 1].iter().any(|x| x == p);
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "ports"
            if within("containers")
                || within("initContainers")
                || within("ephemeralContainers") =>
        {
            Some("containerPort")
        }
        "ports" => Some("port"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        _ => None,
    }
}

/// Keys kyaml uses to merge lists of objects when it has no schema.
const INFERRED_KEYS: &[&str] = &[
    "mountPath",
    "devicePath",
    "ip",
    "type",
    "topologyKey",
    "name",
    "containerPort",
];

fn is_builtin_group(api_version: &str) -> bool {
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

fn merge_key(path: &[String], builtin: bool, dest: &[Value], patch: &[Value]) -> Option<String> {
    if builtin {
        return builtin_merge_key(path).map(str::to_string);
    }
    let all = || {
        dest.iter()
            .chain(patch.iter())
            .filter(|v| v.get("$patch").is_none())
    };
    if !all().all(Value::is_object) || patch.is_empty() {
        return None;
    }
    INFERRED_KEYS
        .iter()
        .find(|k| all().all(|v| v.get(**k).is_some()))
        .map(|k| k.to_string())
}

/// Merges `patch` into `dest` (a whole object). Returns false when the patch deletes it.
/// Null mapping values of `dest` are cleared unless `explicit` says the file spelled them.
pub fn merge_object(dest: &mut Value, patch: &Value, explicit: &ExplicitNulls) -> bool {
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        return false;
    }
    let builtin = is_builtin_group(dest["apiVersion"].as_str().unwrap_or(""));
    merge(dest, patch, &mut Vec::new(), builtin);
    drop_null_fields(dest, &mut Vec::new(), explicit);
    true
}

/// kyaml's merge walks the whole target and clears fields whose value is null, except those
/// written as `null` or `~` (go-yaml keeps their text, and kyaml keeps such nodes).
fn drop_null_fields(value: &mut Value, path: &mut Vec<PathSeg>, explicit: &ExplicitNulls) {
    match value {
        Value::Object(map) => {
            map.retain(|key, v| {
                !v.is_null() || {
                    path.push(PathSeg::Key(key.clone()));
                    let keep = explicit.contains(path);
                    path.pop();
                    keep
                }
            });
            for (key, child) in map.iter_mut() {
                path.push(PathSeg::Key(key.clone()));
                drop_null_fields(child, path, explicit);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                path.push(PathSeg::Index(i));
                drop_null_fields(child, path, explicit);
                path.pop();
            }
        }
        _ => {}
    }
}

fn merge(dest: &mut Value, patch: &Value, path: &mut Vec<String>, builtin: bool) {
    match (dest, patch) {
        (Value::Object(d), Value::Object(p)) => merge_maps(d, p, path, builtin),
        (dest, patch) => *dest = strip_directives(patch),
    }
}

fn merge_maps(
    dest: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &mut Vec<String>,
    builtin: bool,
) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        *dest = strip_directives(&Value::Object(patch.clone()))
            .as_object()
            .cloned()
            .unwrap_or_default();
        return;
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        path.push(key.clone());
        match (dest.get_mut(key), value) {
            (_, Value::Null) => {
                dest.remove(key);
            }
            (Some(existing), Value::Object(p)) if existing.is_object() => {
                if p.get("$patch").and_then(Value::as_str) == Some("delete") {
                    dest.remove(key);
                } else {
                    merge(existing, value, path, builtin);
                }
            }
            (Some(Value::Array(existing)), Value::Array(items)) => {
                merge_list(existing, items, path, builtin)
            }
            (_, v) => {
                if v.get("$patch").and_then(Value::as_str) != Some("delete") {
                    dest.insert(key.clone(), strip_directives(v));
                }
            }
        }
        path.pop();
    }
}

fn merge_list(dest: &mut Vec<Value>, patch: &[Value], path: &mut Vec<String>, builtin: bool) {
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *dest = patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .map(strip_directives)
            .collect();
        return;
    }
    let scalars = patch.iter().all(|v| !v.is_object() && !v.is_array());
    if scalars && builtin && path.len() == 2 && path[0] == "metadata" && path[1] == "finalizers" {
        for item in patch {
            if !dest.contains(item) {
                dest.push(item.clone());
            }
        }
        return;
    }
    let Some(key) = merge_key(path, builtin, dest, patch) else {
        *dest = patch.iter().map(strip_directives).collect();
        return;
    };
    // kustomize's order: the patch's items first (merged with their counterpart), then the
    // items the patch does not mention, in their original order.
    let mut merged: Vec<Value> = Vec::with_capacity(dest.len() + patch.len());
    let mut used = vec![false; dest.len()];
    for item in patch {
        let id = item.get(&key);
        let position = dest.iter().position(|d| id.is_some() && d.get(&key) == id);
        if let Some(i) = position {
            used[i] = true;
        }
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            continue;
        }
        match position {
            Some(i) => {
                let mut existing = dest[i].clone();
                merge(&mut existing, item, path, builtin);
                merged.push(existing);
            }
            None => merged.push(strip_directives(item)),
        }
    }
    merged.extend(
        dest.iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(d, _)| d.clone()),
    );
    *dest = merged;
}

fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|v| v.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containers_merge_by_name_and_other_lists_are_replaced() {
        let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
            "containers": [{"name": "app", "image": "nginx:1", "args": ["a", "b"]}],
            "tolerations": [{"key": "x"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "app", "image": "nginx:2", "args": ["c"]}, {"name": "side", "image": "envoy"}],
            "tolerations": [{"key": "y"}]}}}});
        assert!(merge_object(&mut deploy, &patch, &Vec::new()));
        assert_eq!(
            deploy["spec"]["template"]["spec"],
            json!({
            "containers": [{"name": "app", "image": "nginx:2", "args": ["c"]}, {"name": "side", "image": "envoy"}],
            "tolerations": [{"key": "y"}]})
        );
    }

    #[test]
    fn nulls_and_directives() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "1"}}});
        assert!(merge_object(
            &mut cm,
            &json!({"data": {"a": null, "c": "3"}, "metadata": {"labels": {"$patch": "replace", "y": "2"}}}),
            &Vec::new()
        ));
        assert_eq!(cm["data"], json!({"b": "2", "c": "3"}));
        assert_eq!(cm["metadata"]["labels"], json!({"y": "2"}));
        assert!(!merge_object(
            &mut cm,
            &json!({"$patch": "delete"}),
            &Vec::new()
        ));
    }

    #[test]
    fn custom_kinds_infer_keys() {
        let mut cr = json!({"apiVersion": "example.com/v1", "kind": "W", "spec": {"items": [{"name": "a", "v": 1}]}});
        merge_object(
            &mut cr,
            &json!({"spec": {"items": [{"name": "a", "v": 2}, {"name": "b", "v": 3}]}}),
            &Vec::new(),
        );
        assert_eq!(
            cr["spec"]["items"],
            json!([{"name": "a", "v": 2}, {"name": "b", "v": 3}])
        );
    }
}
