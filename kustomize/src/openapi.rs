//! A custom OpenAPI schema (`openapi: {path: ...}` in a kustomization): the patch merge keys
//! of custom kinds, read from the schema's `x-kubernetes-patch-merge-key` /
//! `x-kubernetes-patch-strategy` and `x-kubernetes-list-type: map` /
//! `x-kubernetes-list-map-keys` extensions, following `$ref`s between definitions.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// What the schema says about a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKey {
    /// Merge its items by this key.
    Merge(String),
    /// Replace it whole.
    Replace,
    /// The path leads through a `$ref` to a definition the file lacks: kustomize finds it in
    /// its built-in Kubernetes schema.
    BuiltIn,
}

/// The definitions of a schema document, indexed by the kinds they describe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomSchema {
    definitions: Map<String, Value>,
    by_kind: HashMap<(String, String, String), String>,
}

impl CustomSchema {
    /// Reads a schema document (`{"definitions": {...}}`); definitions name their kinds in
    /// `x-kubernetes-group-version-kind`.
    pub fn parse(document: &Value) -> Result<Self, String> {
        let definitions = document
            .get("definitions")
            .and_then(Value::as_object)
            .cloned()
            .ok_or("the schema has no 'definitions' map")?;
        let mut by_kind = HashMap::new();
        for (name, definition) in &definitions {
            let kinds = definition
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array);
            for gvk in kinds.into_iter().flatten() {
                let text = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default();
                by_kind.insert(
                    (
                        text("group").to_string(),
                        text("version").to_string(),
                        text("kind").to_string(),
                    ),
                    name.clone(),
                );
            }
        }
        Ok(Self {
            definitions,
            by_kind,
        })
    }

    /// The definition describing a kind, if the schema has one.
    pub fn definition(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.by_kind
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
            .map(String::as_str)
    }

    /// Follows `$ref`s; `Err(())` when one names a definition the file lacks.
    fn resolve<'a>(&'a self, mut node: &'a Value) -> Result<&'a Value, ()> {
        // A bounded number of hops guards against reference cycles.
        for _ in 0..32 {
            match node.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let name = reference.strip_prefix("#/definitions/").ok_or(())?;
                    node = self.definitions.get(name).ok_or(())?;
                }
                None => return Ok(node),
            }
        }
        Err(())
    }

    /// How the list at `path` (map keys from the object's root; lists on the way are stepped
    /// into) merges in objects of `definition`.
    pub fn list_key(&self, definition: &str, path: &[String]) -> ListKey {
        let Some(root) = self.definitions.get(definition) else {
            return ListKey::Replace;
        };
        let Ok(mut node) = self.resolve(root) else {
            return ListKey::BuiltIn;
        };
        for segment in path {
            if node.get("type").and_then(Value::as_str) == Some("array") {
                let Some(items) = node.get("items") else {
                    return ListKey::Replace;
                };
                let Ok(items) = self.resolve(items) else {
                    return ListKey::BuiltIn;
                };
                node = items;
            }
            let Some(field) = node.get("properties").and_then(|p| p.get(segment)) else {
                return ListKey::Replace;
            };
            let Ok(field) = self.resolve(field) else {
                return ListKey::BuiltIn;
            };
            node = field;
        }
        let strategy = node
            .get("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if strategy.split(',').any(|s| s.trim() == "merge")
            && let Some(key) = node
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
        {
            return ListKey::Merge(key.to_string());
        }
        if node.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map")
            && let Some(key) = node
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .and_then(|keys| keys.first())
                .and_then(Value::as_str)
        {
            return ListKey::Merge(key.to_string());
        }
        ListKey::Replace
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_keys_come_from_the_schema_through_references() {
        let schema = CustomSchema::parse(&json!({"definitions": {
            "v1.MyCRD": {
                "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "MyCRD"}],
                "properties": {"spec": {"properties": {
                    "template": {"$ref": "#/definitions/Pod"},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port"], "items": {"type": "object"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "volume": {"$ref": "#/definitions/io.k8s.api.core.v1.ConfigMapVolumeSource"}
                }}}
            },
            "Pod": {"properties": {"spec": {"properties": {"containers": {
                "type": "array", "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "name",
                "items": {"$ref": "#/definitions/Container"}}}}}},
            "Container": {"properties": {"env": {"type": "array",
                "x-kubernetes-patch-strategy": "merge,retainKeys",
                "x-kubernetes-patch-merge-key": "name"}}}
        }}))
        .unwrap();
        let def = schema.definition("example.com", "v1", "MyCRD").unwrap();
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let merge = |k: &str| ListKey::Merge(k.into());
        let cases: [(&[&str], ListKey); 6] = [
            (&["spec", "template", "spec", "containers"], merge("name")),
            (
                &["spec", "template", "spec", "containers", "env"],
                merge("name"),
            ),
            (&["spec", "ports"], merge("port")),
            (&["spec", "args"], ListKey::Replace),
            (&["spec", "missing"], ListKey::Replace),
            (&["spec", "volume", "items"], ListKey::BuiltIn),
        ];
        for (p, want) in cases {
            assert_eq!(schema.list_key(def, &path(p)), want, "{p:?}");
        }
        assert!(schema.definition("example.com", "v2", "MyCRD").is_none());
        assert!(CustomSchema::parse(&json!({"swagger": "2.0"})).is_err());
    }
}
