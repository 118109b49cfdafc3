//! The decoder's type check of built-in objects: a value of the wrong JSON type for its Go
//! field is refused with 400 and the words of Go's `encoding/json`, as the API server refuses
//! it before any defaulting or validation (`Deployment in version "v1" cannot be handled as a
//! Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas
//! of type int32`). The types come from k8s-openapi's schemas of the upstream API.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use serde_json::{Map, Value};

/// Definitions by name and each kind's definition name by (group, version, kind).
struct Types {
    definitions: Map<String, Value>,
    kinds: HashMap<(String, String, String), String>,
}

fn types() -> &'static Types {
    static TYPES: OnceLock<Types> = OnceLock::new();
    TYPES.get_or_init(|| {
        let (tops, definitions) = crate::server::openapi_schemas::all_kinds();
        let kinds = tops
            .into_iter()
            .map(|(group, version, kind, name)| ((group, version, kind), name))
            .collect();
        Types { definitions, kinds }
    })
}

/// The definition a schema names (`$ref`, possibly inside `allOf`).
fn reference(schema: &Value) -> Option<&str> {
    schema["$ref"]
        .as_str()
        .or_else(|| schema["allOf"][0]["$ref"].as_str())
        .and_then(|r| r.rsplit('/').next())
}

/// `io.k8s.api.core.v1.Container` -> `v1.Container` (Go's package-qualified name).
fn go_name(definition: &str) -> String {
    let mut parts = definition.rsplit('.');
    let name = parts.next().unwrap_or_default();
    match parts.next() {
        Some(package) => format!("{package}.{name}"),
        None => name.to_string(),
    }
}

/// The JSON type word Go's decoder uses for `value`.
fn json_word(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

fn schema_type(schema: &Value) -> Option<&str> {
    match &schema["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// The Go type of a field's schema, as the decoder names it.
fn go_type(schema: &Value) -> String {
    if let Some(name) = reference(schema) {
        return go_name(name);
    }
    match schema_type(schema) {
        Some("integer") => schema["format"].as_str().unwrap_or("int64").to_string(),
        Some("number") => "float64".into(),
        Some("boolean") => "bool".into(),
        Some("string") => match schema["format"].as_str() {
            Some("byte") => "[]uint8".into(),
            _ => "string".into(),
        },
        Some("array") => format!("[]{}", go_type(&schema["items"])),
        Some("object") if schema["additionalProperties"].is_object() => {
            format!("map[string]{}", go_type(&schema["additionalProperties"]))
        }
        _ => "interface {}".into(),
    }
}

/// Walks `value` against `schema`; `owner` is the innermost Go struct's name and `path` the
/// JSON field path Go prints (no list indexes).
fn check(
    value: &Value,
    schema: &Value,
    owner: &str,
    path: &str,
    definitions: &Map<String, Value>,
) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    let (schema, owner) = match reference(schema) {
        // Free-form values (a CRD's `default`, `example`, embedded objects) take any JSON.
        Some(name) if name.ends_with(".JSON") || name.ends_with(".RawExtension") => {
            return Ok(());
        }
        Some(name) => match definitions.get(name) {
            Some(definition) => (definition, name.rsplit('.').next().unwrap_or(owner)),
            None => return Ok(()),
        },
        None => (schema, owner),
    };
    let refuse = |wanted: &str| {
        Err(format!(
            "json: cannot unmarshal {} into Go struct field {owner}.{path} of type {wanted}",
            json_word(value)
        ))
    };
    match schema_type(schema) {
        Some("integer") => {
            let whole = value.as_i64().is_some() || value.as_u64().is_some();
            if !whole {
                let word = schema["format"].as_str().unwrap_or("int64");
                return match value {
                    Value::Number(n) => Err(format!(
                        "json: cannot unmarshal number {n} into Go struct field {owner}.{path} of type {word}"
                    )),
                    _ => refuse(word),
                };
            }
        }
        Some("number") if !value.is_number() => return refuse("float64"),
        Some("boolean") if !value.is_boolean() => return refuse("bool"),
        Some("string") => match value.as_str() {
            None => return refuse(&go_type(schema)),
            Some(text) if schema["format"] == "byte" => {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| {
                        format!("illegal base64 data at input byte {}", base64_offset(&e))
                    })?;
            }
            Some(_) => {}
        },
        Some("array") => {
            let Some(items) = value.as_array() else {
                return refuse(&go_type(schema));
            };
            for item in items {
                check(item, &schema["items"], owner, path, definitions)?;
            }
        }
        Some("object") => {
            let Some(map) = value.as_object() else {
                return refuse(&go_type(schema));
            };
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(property) = schema["properties"].get(key) {
                    check(child, property, owner, &child_path, definitions)?;
                } else if schema["additionalProperties"].is_object() {
                    check(
                        child,
                        &schema["additionalProperties"],
                        owner,
                        path,
                        definitions,
                    )?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn base64_offset(error: &base64::DecodeError) -> usize {
    match error {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => *offset,
        base64::DecodeError::InvalidLength(length) => *length,
        base64::DecodeError::InvalidPadding => 0,
    }
}

/// A built-in kind's schema and the definitions its references name (with upstream's patch
/// and list extensions), for the patch code.
pub fn kind_schema(
    group: &str,
    version: &str,
    kind: &str,
) -> Option<(&'static Value, &'static Map<String, Value>)> {
    let types = types();
    let key = (group.to_string(), version.to_string(), kind.to_string());
    let name = types.kinds.get(&key)?;
    Some((types.definitions.get(name)?, &types.definitions))
}

/// Checks a written built-in object's field types; `Err` is the decoder's message.
pub fn check_types(group: &str, version: &str, kind: &str, object: &Value) -> Result<(), String> {
    let types = types();
    let key = (group.to_string(), version.to_string(), kind.to_string());
    let Some(name) = types.kinds.get(&key) else {
        return Ok(());
    };
    let Some(schema) = types.definitions.get(name) else {
        return Ok(());
    };
    let owner = name.rsplit('.').next().unwrap_or(kind);
    check(object, schema, owner, "", &types.definitions)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wrong_types_are_refused_in_gos_words() {
        let deployment = |spec: Value| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"a": "b"}}, "spec": spec})
        };
        let cases = [
            (deployment(json!({"replicas": 2})), None),
            (
                deployment(json!({"replicas": "3"})),
                Some(
                    "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
                ),
            ),
            (
                deployment(json!({"replicas": 1.5})),
                Some(
                    "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
                ),
            ),
            (
                deployment(
                    json!({"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "N", "value": 1}]}]}}}),
                ),
                Some(
                    "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string",
                ),
            ),
            (
                deployment(json!({"template": {"spec": {"containers": {"name": "a"}}}})),
                Some(
                    "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container",
                ),
            ),
            (
                deployment(json!({"template": {"spec": {"containers": [{"name": "a",
                    "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
                    "ports": [{"containerPort": 80}]}]}}, "strategy": {"rollingUpdate": {"maxSurge": 1}}})),
                None,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"labels": {"a": 1}}}),
                Some(
                    "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
                ),
            ),
        ];
        for (object, want) in cases {
            assert_eq!(
                check_types("apps", "v1", "Deployment", &object)
                    .err()
                    .as_deref(),
                want,
                "{object}"
            );
        }
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "not base64!"}});
        assert_eq!(
            check_types("", "v1", "Secret", &secret).err().as_deref(),
            Some("illegal base64 data at input byte 3")
        );
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": true}});
        assert_eq!(
            check_types("", "v1", "ConfigMap", &config).err().as_deref(),
            Some("json: cannot unmarshal bool into Go struct field ConfigMap.data of type string")
        );
    }
}
