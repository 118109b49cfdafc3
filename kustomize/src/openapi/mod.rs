//! OpenAPI schemas that decide how lists merge: kustomize's built-in Kubernetes schema
//! ([`builtin`]) and a custom one (`openapi: {path: ...}` in a kustomization), read from their
//! `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` /
//! `x-kubernetes-list-map-keys` (and, in custom schemas, `x-kubernetes-list-type: map`)
//! extensions, following `$ref`s between definitions.

pub mod builtin;

use std::collections::HashMap;

use serde_json::{Map, Value};

/// What the schema says about a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKey {
    /// Merge its items by these keys (kyaml's key list: `x-kubernetes-list-map-keys`, else the
    /// patch merge key); no keys: a list of scalars merged as a set (`finalizers`).
    Merge(Vec<String>),
    /// Replace it whole.
    Replace,
}

/// The definitions of a schema document, indexed by the kinds they describe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomSchema {
    definitions: Map<String, Value>,
    /// kind -> (group, version, definition): looked up by kind without allocating.
    by_kind: HashMap<String, Vec<(String, String, String)>>,
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
        let mut by_kind: HashMap<String, Vec<(String, String, String)>> = HashMap::new();
        for (name, definition) in &definitions {
            let kinds = definition
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array);
            for gvk in kinds.into_iter().flatten() {
                let text = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default();
                by_kind.entry(text("kind").to_string()).or_default().push((
                    text("group").to_string(),
                    text("version").to_string(),
                    name.clone(),
                ));
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
            .get(kind)?
            .iter()
            .rev()
            .find(|(g, v, _)| g == group && v == version)
            .map(|(_, _, definition)| definition.as_str())
    }

    /// A definition by name: this schema's, else (for a custom schema whose `$ref` names a
    /// definition it lacks) kustomize's built-in one.
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.definitions.get(name).or_else(|| {
            let builtin = builtin::schema();
            (!std::ptr::eq(self, builtin))
                .then(|| builtin.definitions.get(name))
                .flatten()
        })
    }

    /// Follows `$ref`s; `None` when one names a definition neither schema has.
    fn resolve<'a>(&'a self, mut node: &'a Value) -> Option<&'a Value> {
        // A bounded number of hops guards against reference cycles.
        for _ in 0..32 {
            match node.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let name = reference.strip_prefix("#/definitions/")?;
                    node = self.lookup(name)?;
                }
                None => return Some(node),
            }
        }
        None
    }

    /// The schema node at `path` (map keys from the object's root; lists on the way are
    /// stepped into) in objects of `definition`, if the schema describes it.
    fn node_at(&self, definition: &str, path: &[String]) -> Option<&Value> {
        let mut node = self
            .definitions
            .get(definition)
            .and_then(|d| self.resolve(d))?;
        for segment in path {
            if node.get("type").and_then(Value::as_str) == Some("array") {
                node = node.get("items").and_then(|i| self.resolve(i))?;
            }
            let field = node
                .get("properties")
                .and_then(|p| p.get(segment))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))?;
            node = self.resolve(field)?;
        }
        Some(node)
    }

    /// Whether the schema describes the field at `path` of objects of `definition` (where it
    /// does not, kyaml looks for an embedded object's own `apiVersion`/`kind`).
    pub fn describes(&self, definition: &str, path: &[String]) -> bool {
        self.node_at(definition, path).is_some()
    }

    /// How the list at `path` merges in objects of `definition`: a field the schema does not
    /// describe is replaced, as kyaml replaces lists it has no schema for.
    pub fn list_key(&self, definition: &str, path: &[String]) -> ListKey {
        let Some(node) = self.node_at(definition, path) else {
            return ListKey::Replace;
        };
        let text_list = |name: &str| -> Option<Vec<String>> {
            let keys = node.get(name)?.as_array()?;
            Some(
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            )
        };
        let strategy = node
            .get("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if strategy.split(',').any(|s| s.trim() == "merge") {
            // kyaml: the list-map keys when given, else the merge key, else none (a set).
            let keys = text_list("x-kubernetes-list-map-keys").unwrap_or_else(|| {
                node.get("x-kubernetes-patch-merge-key")
                    .and_then(Value::as_str)
                    .map(|k| vec![k.to_string()])
                    .unwrap_or_default()
            });
            return ListKey::Merge(keys);
        }
        if node.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map")
            && let Some(key) =
                text_list("x-kubernetes-list-map-keys").and_then(|keys| keys.into_iter().next())
        {
            return ListKey::Merge(vec![key]);
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
                    "volume": {"$ref": "#/definitions/io.k8s.api.core.v1.ConfigMapVolumeSource"},
                    "pod": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}
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
        let merge = |k: &str| ListKey::Merge(vec![k.into()]);
        let cases: [(&[&str], ListKey); 8] = [
            (&["spec", "template", "spec", "containers"], merge("name")),
            (
                &["spec", "template", "spec", "containers", "env"],
                merge("name"),
            ),
            (&["spec", "ports"], merge("port")),
            (&["spec", "args"], ListKey::Replace),
            (&["spec", "missing"], ListKey::Replace),
            // Through a definition the file lacks, into the built-in schema.
            (&["spec", "volume", "items"], ListKey::Replace),
            (
                &["spec", "pod", "containers", "ports"],
                ListKey::Merge(vec!["containerPort".into(), "protocol".into()]),
            ),
            (&["spec", "pod", "tolerations"], ListKey::Replace),
        ];
        for (p, want) in cases {
            assert_eq!(schema.list_key(def, &path(p)), want, "{p:?}");
        }
        assert!(schema.definition("example.com", "v2", "MyCRD").is_none());
        assert!(CustomSchema::parse(&json!({"swagger": "2.0"})).is_err());
    }
}
