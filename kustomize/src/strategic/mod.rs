//! Strategic merge patches as kustomize (kyaml merge2) applies them: maps merge, `null`
//! deletes, `$patch: delete|replace` directives, lists merged by their patch merge key
//! (Kubernetes' keys for built-in kinds, a custom `openapi` schema's keys for the kinds it
//! describes), other lists replaced: kyaml infers no keys, so without a schema a custom
//! kind's lists are replaced whole.

mod associative;

use serde_json::{Map, Value};

use crate::openapi::{CustomSchema, ListKey, builtin};
use crate::yaml::{ExplicitNulls, PathSeg};

/// Where the merge keys of an object's lists come from.
#[derive(Clone, Copy)]
struct Keys<'a> {
    /// A definition of kustomize's built-in schema or of the custom schema, describing the
    /// object found at this depth of the path (the top object, or one embedded in it); none:
    /// lists are replaced.
    at: Option<(&'a CustomSchema, &'a str, usize)>,
    /// The build's custom schema, for embedded objects.
    custom: Option<&'a CustomSchema>,
}

impl<'a> Keys<'a> {
    /// The schema of `apiVersion`/`kind`: kustomize's built-in one (matched on the exact
    /// group, version and kind, as kyaml does), else the custom schema's. `depth` is where the
    /// object sits in the path.
    fn of(api_version: &str, kind: &str, custom: Option<&'a CustomSchema>, depth: usize) -> Self {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let builtin = builtin::schema();
        let at = match builtin.definition(group, version, kind) {
            Some(definition) => Some((builtin, definition, depth)),
            None => custom.and_then(|s| s.definition(group, version, kind).map(|d| (s, d, depth))),
        };
        Keys { at, custom }
    }

    /// The keys the list at `path` merges by; `None` when it is replaced.
    fn merge_keys(self, path: &[String]) -> Option<Vec<String>> {
        let (schema, definition, depth) = self.at?;
        match schema.list_key(definition, path.get(depth..).unwrap_or_default()) {
            ListKey::Merge(keys) => Some(keys),
            ListKey::Replace => None,
        }
    }

    /// The keys for the map at `path` (the target's and the patch's): where the schema does
    /// not describe it, kyaml takes the schema of the map's own `apiVersion` and `kind`, if it
    /// has them and kustomize knows them.
    fn at_map(self, path: &[String], nodes: [Option<&Map<String, Value>>; 2]) -> Self {
        if let Some((schema, definition, depth)) = self.at
            && schema.describes(definition, path.get(depth..).unwrap_or_default())
        {
            return self;
        }
        for node in nodes.into_iter().flatten() {
            let text = |k: &str| {
                node.get(k)
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
            };
            if let (Some(api_version), Some(kind)) = (text("apiVersion"), text("kind")) {
                let keys = Keys::of(api_version, kind, self.custom, path.len());
                if keys.at.is_some() {
                    return keys;
                }
            }
        }
        Keys { at: None, ..self }
    }
}

/// What a strategic merge needs besides the two objects.
#[derive(Clone, Copy, Debug)]
pub struct MergeContext<'a> {
    /// The kind the patch was written for: when the target's own kind has no schema, kyaml
    /// merges with the schema of the target's apiVersion and this kind.
    pub patch_kind: Option<&'a str>,
    /// Null values the target's file spelled out (kept).
    pub explicit_nulls: &'a ExplicitNulls,
    /// The build's custom OpenAPI schema.
    pub schema: Option<&'a CustomSchema>,
}

/// Merges `patch` into `dest` (a whole object). Returns false when the patch deletes it.
/// Null mapping values of `dest` are cleared unless the file spelled them.
pub fn merge_object(dest: &mut Value, patch: &Value, context: MergeContext<'_>) -> bool {
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        return false;
    }
    let explicit = context.explicit_nulls;
    let api_version = dest["apiVersion"].as_str().unwrap_or("").to_string();
    let mut keys = Keys::of(
        &api_version,
        dest["kind"].as_str().unwrap_or(""),
        context.schema,
        0,
    );
    if keys.at.is_none()
        && let Some(kind) = context.patch_kind
    {
        keys = Keys::of(&api_version, kind, context.schema, 0);
    }
    merge(dest, patch, &mut Vec::new(), keys);
    rebuild_keyed_lists(dest, &mut Vec::new(), keys);
    drop_null_fields(dest, &mut Vec::new(), explicit);
    true
}

/// [`drop_null_fields`] when no value was written as `null`: no paths to track.
fn drop_all_null_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_all_null_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_all_null_fields),
        _ => {}
    }
}

/// kyaml walks every list of the target, also those the patch does not mention, and
/// rebuilds the keyed ones from their keys (so of items sharing a key only the last survives).
fn rebuild_keyed_lists(value: &mut Value, path: &mut Vec<String>, keys: Keys<'_>) {
    match value {
        Value::Object(map) => {
            let keys = if path.is_empty() {
                keys
            } else {
                keys.at_map(path, [Some(&*map), None])
            };
            for (key, child) in map
                .iter_mut()
                .filter(|(_, c)| c.is_object() || c.is_array())
            {
                path.push(key.clone());
                rebuild_keyed_lists(child, path, keys);
                path.pop();
            }
        }
        Value::Array(items) => {
            if let Some(list_keys) = keys.merge_keys(path) {
                associative::merge_keyed(items, None, &list_keys, |d, _| d.cloned());
            }
            for item in items.iter_mut() {
                rebuild_keyed_lists(item, path, keys);
            }
        }
        _ => {}
    }
}

/// kyaml's merge walks the whole target and clears fields whose value is null, except those
/// written as `null` or `~` (go-yaml keeps their text, and kyaml keeps such nodes).
fn drop_null_fields(value: &mut Value, path: &mut Vec<PathSeg>, explicit: &ExplicitNulls) {
    if explicit.is_empty() {
        drop_all_null_fields(value);
        return;
    }
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

fn merge(dest: &mut Value, patch: &Value, path: &mut Vec<String>, keys: Keys<'_>) {
    match (dest, patch) {
        (Value::Object(d), Value::Object(p)) => {
            let keys = if path.is_empty() {
                keys
            } else {
                keys.at_map(path, [Some(&*d), Some(p)])
            };
            merge_maps(d, p, path, keys)
        }
        (dest, patch) => *dest = strip_directives(patch),
    }
}

fn merge_maps(
    dest: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &mut Vec<String>,
    keys: Keys<'_>,
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
                    merge(existing, value, path, keys);
                }
            }
            (Some(Value::Array(existing)), Value::Array(items)) => {
                if !merge_list(existing, items, path, keys) {
                    dest.remove(key);
                }
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

/// Merges a patch list into `dest`; false when the patch deletes the whole list (an item that
/// is only `$patch: delete`).
fn merge_list(
    dest: &mut Vec<Value>,
    patch: &[Value],
    path: &mut Vec<String>,
    keys: Keys<'_>,
) -> bool {
    let directive = |p: &Value, d: &str| p.get("$patch").and_then(Value::as_str) == Some(d);
    let directive_only = |p: &Value| {
        p.as_object()
            .is_some_and(|m| m.len() == 1 && m.contains_key("$patch"))
    };
    if patch
        .iter()
        .any(|p| directive_only(p) && directive(p, "delete"))
    {
        return false;
    }
    if patch.iter().any(|p| directive(p, "replace")) {
        *dest = patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .map(strip_directives)
            .collect();
        return true;
    }
    // `$patch: merge` is the default: the marker item itself is dropped.
    let patch: Vec<Value> = patch
        .iter()
        .filter(|p| !(directive_only(p) && directive(p, "merge")))
        .cloned()
        .collect();
    let patch = patch.as_slice();
    let Some(list_keys) = keys.merge_keys(path) else {
        *dest = patch.iter().map(strip_directives).collect();
        return true;
    };
    associative::merge_keyed(dest, Some(patch), &list_keys, |target, item| {
        merge_item(target, item, path, keys)
    });
    true
}

/// One item of a keyed list: the target's merged with the patch's, either of which may be
/// missing; `None` when the patch deletes it.
fn merge_item(
    target: Option<&Value>,
    item: Option<&Value>,
    path: &mut Vec<String>,
    keys: Keys<'_>,
) -> Option<Value> {
    let directive = item.and_then(|i| i.get("$patch")).and_then(Value::as_str);
    match (target, item) {
        (_, Some(_)) if directive == Some("delete") => None,
        (Some(target), Some(item)) if directive != Some("replace") => {
            let mut merged = target.clone();
            merge(&mut merged, item, path, keys);
            Some(merged)
        }
        (_, Some(item)) => Some(strip_directives(item)),
        (Some(target), None) => Some(target.clone()),
        (None, None) => None,
    }
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

    const NO_NULLS: &ExplicitNulls = &Vec::new();

    fn context(schema: Option<&CustomSchema>) -> MergeContext<'_> {
        MergeContext {
            patch_kind: None,
            explicit_nulls: NO_NULLS,
            schema,
        }
    }

    #[test]
    fn containers_merge_by_name_and_other_lists_are_replaced() {
        let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
            "containers": [{"name": "app", "image": "nginx:1", "args": ["a", "b"]}],
            "tolerations": [{"key": "x"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "app", "image": "nginx:2", "args": ["c"]}, {"name": "side", "image": "envoy"}],
            "tolerations": [{"key": "y"}]}}}});
        assert!(merge_object(&mut deploy, &patch, context(None)));
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
            context(None)
        ));
        assert_eq!(cm["data"], json!({"b": "2", "c": "3"}));
        assert_eq!(cm["metadata"]["labels"], json!({"y": "2"}));
        assert!(!merge_object(
            &mut cm,
            &json!({"$patch": "delete"}),
            context(None)
        ));
    }

    #[test]
    fn custom_kinds_merge_lists_only_by_schema_keys() {
        let schema = CustomSchema::parse(&json!({"definitions": {"W": {
            "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "W"}],
            "properties": {"spec": {"properties": {"items": {"type": "array",
                "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"}}}}}}}))
        .unwrap();
        let patch = json!({"spec": {"items": [{"name": "a", "v": 2}, {"name": "b", "v": 3}]}});
        let cases = [
            // kyaml infers no keys: without a schema the list is replaced
            (
                "example.com/v1",
                "W",
                None,
                json!([{"name": "a", "v": 2}, {"name": "b", "v": 3}]),
            ),
            (
                "example.com/v1",
                "W",
                Some(&schema),
                json!([{"name": "a", "v": 2, "x": 1}, {"name": "b", "v": 3}]),
            ),
            // an unknown kind of a built-in group has no schema either
            (
                "apps/v1",
                "W",
                None,
                json!([{"name": "a", "v": 2}, {"name": "b", "v": 3}]),
            ),
        ];
        for (api, kind, schema, want) in cases {
            let mut cr = json!({"apiVersion": api, "kind": kind, "spec": {"items": [{"name": "a", "v": 1, "x": 1}]}});
            merge_object(&mut cr, &patch, context(schema));
            assert_eq!(cr["spec"]["items"], want, "{api} {kind}");
        }
    }

    #[test]
    fn list_directives_and_finalizers() {
        let deploy = |list: Value| {
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"finalizers": ["b", "c"]}, "spec": {"containers": list}})
        };
        let cases = [
            // a bare `$patch: delete` item removes the whole list
            (
                json!({"spec": {"containers": [{"name": "x"}, {"$patch": "delete"}]}}),
                json!({}),
            ),
            // a bare `$patch: merge` item is the default and disappears
            (
                json!({"spec": {"containers": [{"name": "x"}, {"$patch": "merge"}]}}),
                json!({"containers": [{"name": "x"}, {"name": "a"}]}),
            ),
        ];
        for (patch, want_spec) in cases {
            let mut d = deploy(json!([{"name": "a"}]));
            merge_object(&mut d, &patch, context(None));
            assert_eq!(d["spec"], want_spec, "{patch}");
        }
        let mut d = deploy(json!([]));
        merge_object(
            &mut d,
            &json!({"metadata": {"finalizers": ["c", "a", "d"]}}),
            context(None),
        );
        assert_eq!(d["metadata"]["finalizers"], json!(["c", "a", "d", "b"]));
    }

    #[test]
    fn items_sharing_a_key_collapse_to_the_last_even_when_untouched() {
        let ports = json!([
            {"containerPort": 8080, "name": "first"},
            {"containerPort": 8080, "name": "second"},
            {"containerPort": 8301, "protocol": "UDP", "name": "udp"},
            {"containerPort": 8301, "name": "tcp"}
        ]);
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template":
            {"spec": {"containers": [{"name": "c", "ports": ports}]}}}});
        merge_object(
            &mut d,
            &json!({"metadata": {"labels": {"a": "b"}}}),
            context(None),
        );
        let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        // What `kubectl kustomize` prints: the UDP port goes with the TCP one it matched.
        assert_eq!(names, ["second", "tcp"]);
    }
}
