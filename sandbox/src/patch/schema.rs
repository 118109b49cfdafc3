//! The schema a patch is read against: a CRD's structural schema, or a built-in kind's
//! upstream definitions (references followed) carrying the `x-kubernetes-patch-*`,
//! `list-type`, `list-map-keys` and `map-type` extensions from the Go types.

use serde_json::{Map, Value};

use crate::resources::ResourceType;

/// Walks field-name paths of one resource type's schema.
#[derive(Clone, Copy, Default)]
pub struct Schema<'a> {
    root: Option<&'a Value>,
    definitions: Option<&'a Map<String, Value>>,
}

impl<'a> Schema<'a> {
    /// The schema of a resource type (none for built-in kinds without upstream definitions).
    pub fn for_type(rt: &'a ResourceType) -> Self {
        if rt.custom {
            return Self {
                root: rt.schema.as_ref(),
                definitions: None,
            };
        }
        match crate::builtin::kind_schema(rt) {
            Some((root, definitions)) => Self {
                root: Some(root),
                definitions: Some(definitions),
            },
            None => Self::default(),
        }
    }

    /// Whether there is a schema to read.
    pub fn is_known(&self) -> bool {
        self.root.is_some()
    }

    /// The definition `node` refers to (`$ref`, or a description-carrying `allOf`), or `node`.
    fn resolve(&self, mut node: &'a Value) -> &'a Value {
        for _ in 0..8 {
            let reference = node["$ref"]
                .as_str()
                .or_else(|| node["allOf"][0]["$ref"].as_str());
            let target = reference
                .and_then(|r| r.rsplit('/').next())
                .and_then(|name| self.definitions?.get(name));
            match target {
                Some(next) => node = next,
                None => break,
            }
        }
        node
    }

    /// The schema of the field at `names` as its parent declares it (extensions included).
    pub fn field(&self, names: &[String]) -> Option<&'a Value> {
        let mut node = self.root?;
        for name in names {
            node = self.resolve(node);
            while node.get("type").and_then(Value::as_str) == Some("array") {
                node = self.resolve(node.get("items")?);
            }
            node = node
                .get("properties")
                .and_then(|p| p.get(name.as_str()))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))?;
        }
        Some(node)
    }

    /// An extension of the field at `names`: on the field itself, else on its type's definition.
    pub fn extension(&self, names: &[String], key: &str) -> Option<&'a Value> {
        let node = self.field(names)?;
        node.get(key).or_else(|| self.resolve(node).get(key))
    }

    /// The field's string extension `key`.
    pub fn extension_str(&self, names: &[String], key: &str) -> Option<&'a str> {
        self.extension(names, key).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::builtin_types;

    fn names(path: &str) -> Vec<String> {
        path.split('.').map(str::to_string).collect()
    }

    #[test]
    fn built_in_fields_carry_upstreams_extensions_through_references() {
        let deployment = builtin_types()
            .into_iter()
            .find(|t| t.kind == "Deployment")
            .unwrap_or_else(|| panic!("no Deployment"));
        let schema = Schema::for_type(&deployment);
        assert!(schema.is_known());
        let containers = names("spec.template.spec.containers");
        assert_eq!(
            schema.extension_str(&containers, "x-kubernetes-patch-merge-key"),
            Some("name")
        );
        let ports = names("spec.template.spec.containers.ports");
        assert_eq!(
            schema.extension(&ports, "x-kubernetes-list-map-keys"),
            Some(&serde_json::json!(["containerPort", "protocol"]))
        );
        // The selector's type is atomic (on the definition, not the field).
        assert_eq!(
            schema.extension_str(&names("spec.selector"), "x-kubernetes-map-type"),
            Some("atomic")
        );
        assert_eq!(schema.field(&names("spec.nothing")), None);
    }
}
