//! The `crds` field: Go OpenAPI definition files (`{"<pkg>.<Kind>": {"Schema": ...}}`) whose
//! `x-kubernetes-*` extensions teach the build about custom kinds: object references
//! (`x-kubernetes-object-ref-kind` / `-api-version` / `-name-key`) become name references,
//! `x-kubernetes-annotation`, `x-kubernetes-label-selector` and `x-kubernetes-identity`
//! become annotation, label and name-prefix field specs.

use serde_json::{Map, Value};

use crate::fieldspec::FieldSpec;
use crate::names::NameReference;

/// What a CRD definitions file adds to the build's configuration.
#[derive(Clone, Debug, Default)]
pub(super) struct CrdConfig {
    pub name_references: Vec<NameReference>,
    pub annotations: Vec<FieldSpec>,
    pub labels: Vec<FieldSpec>,
    pub prefixes: Vec<FieldSpec>,
}

/// Whether a definition looks like a Kubernetes object (kind, apiVersion and metadata).
fn is_object(properties: &Map<String, Value>) -> bool {
    ["kind", "apiVersion", "metadata"]
        .iter()
        .all(|p| properties.contains_key(*p))
}

fn properties<'a>(
    definitions: &'a Map<String, Value>,
    name: &str,
) -> Option<&'a Map<String, Value>> {
    definitions
        .get(name)?
        .get("Schema")?
        .get("properties")?
        .as_object()
}

fn spec(kind: &str, path: &[String]) -> FieldSpec {
    FieldSpec {
        kind: Some(kind.to_string()),
        path: path.join("/"),
        ..FieldSpec::default()
    }
}

fn walk(
    definitions: &Map<String, Value>,
    kind: &str,
    type_name: &str,
    path: &mut Vec<String>,
    out: &mut CrdConfig,
) {
    // Depth bound: definitions may refer to themselves.
    if path.len() > 16 {
        return;
    }
    let Some(props) = properties(definitions, type_name) else {
        return;
    };
    for (name, property) in props {
        path.push(name.clone());
        let extension = |key: &str| property.get(key).and_then(Value::as_str);
        if extension("x-kubernetes-annotation").is_some() {
            out.annotations.push(spec(kind, path));
        }
        if extension("x-kubernetes-label-selector").is_some() {
            out.labels.push(spec(kind, path));
        }
        if extension("x-kubernetes-identity").is_some() {
            out.prefixes.push(spec(kind, path));
        }
        if extension("x-kubernetes-object-ref-api-version").is_some()
            && let Some(target) = extension("x-kubernetes-object-ref-kind")
        {
            let key = extension("x-kubernetes-object-ref-name-key").unwrap_or("name");
            path.push(key.to_string());
            out.name_references.push(NameReference {
                kind: target.to_string(),
                field_specs: vec![spec(kind, path)],
            });
            path.pop();
        }
        if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
            walk(definitions, kind, reference, path, out);
        }
        path.pop();
    }
}

/// Reads a definitions document.
pub(super) fn config_from(document: &Value) -> Result<CrdConfig, String> {
    let definitions = document
        .as_object()
        .ok_or("a crds file must be a JSON map of OpenAPI definitions")?;
    let mut out = CrdConfig::default();
    let mut names: Vec<&String> = definitions.keys().collect();
    names.sort();
    for name in names {
        if !properties(definitions, name).is_some_and(is_object) {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name);
        walk(definitions, kind, name, &mut Vec::new(), &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn object_references_become_name_references() {
        let document = json!({
            "pkg.MyKind": {"Schema": {"properties": {
                "kind": {}, "apiVersion": {}, "metadata": {},
                "spec": {"$ref": "pkg.MyKindSpec"}}}},
            "pkg.MyKindSpec": {"Schema": {"properties": {
                "secretRef": {"x-kubernetes-object-ref-api-version": "v1",
                    "x-kubernetes-object-ref-kind": "Secret"},
                "owner": {"x-kubernetes-object-ref-api-version": "v1",
                    "x-kubernetes-object-ref-kind": "ServiceAccount",
                    "x-kubernetes-object-ref-name-key": "account"},
                "selector": {"x-kubernetes-label-selector": ""}}}},
            "pkg.NotAnObject": {"Schema": {"properties": {"ref": {
                "x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret"}}}}
        });
        let config = config_from(&document).unwrap();
        let refs: Vec<(String, String)> = config
            .name_references
            .iter()
            .map(|r| (r.kind.clone(), r.field_specs[0].path.clone()))
            .collect();
        assert_eq!(
            refs,
            [
                (
                    "ServiceAccount".to_string(),
                    "spec/owner/account".to_string()
                ),
                ("Secret".to_string(), "spec/secretRef/name".to_string()),
            ]
        );
        assert_eq!(config.labels[0].path, "spec/selector");
        assert_eq!(config.labels[0].kind.as_deref(), Some("MyKind"));
        assert!(config_from(&json!([1])).is_err());
    }
}
