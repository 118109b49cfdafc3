//! `/openapi/v2`: the Swagger 2.0 document kubectl reads for `kubectl explain --output
//! plaintext-openapiv2` and for the strategic merge patches of client-side `kubectl apply`
//! (from the `x-kubernetes-patch-*` extensions): the definitions of every served built-in kind
//! (generated as for v3) and of every CRD kind, without paths. As gnostic protobuf when the
//! client asks for it (kubectl does), as JSON otherwise. Definitions are made fit for
//! kube-openapi's v2 parser as upstream publishes them: no `nullable`/`anyOf`/`oneOf`/`not`,
//! one type, arrays with items, references without siblings that parser refuses.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::ApiServer;
use super::discovery::builtin_kinds;
use super::gnostic;
use super::openapi::crd_definition;
use super::openapi_schemas;
use super::respond::json_response;

const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The built-in part of the document, made once per set of served built-in kinds.
struct BuiltIns {
    served: Vec<(String, String, String)>,
    definitions: Map<String, Value>,
    encoded: Vec<u8>,
}

fn builtins(served: Vec<(String, String, String)>) -> Arc<BuiltIns> {
    static CACHE: Mutex<Option<Arc<BuiltIns>>> = Mutex::new(None);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(cached) = cache.as_ref().filter(|c| c.served == served) {
        return cached.clone();
    }
    let mut definitions = openapi_schemas::builtin_unwrapped(&served);
    for (name, schema) in definitions.iter_mut() {
        // Upstream's v2 spells these two as strings (v3: int-or-string / oneOf).
        match name.as_str() {
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
                *schema = json!({"description": schema["description"], "type": "string", "format": "int-or-string"});
            }
            "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
                *schema = json!({"description": schema["description"], "type": "string"});
            }
            _ => to_v2(schema),
        }
    }
    let encoded = gnostic::definitions(&definitions);
    let built = Arc::new(BuiltIns {
        served,
        definitions,
        encoded,
    });
    *cache = Some(built.clone());
    built
}

/// `/openapi/v2`.
pub fn v2(api: &ApiServer, accept: &str) -> Response {
    let kinds: Vec<_> = builtin_kinds(api).into_values().flatten().collect();
    let served = kinds
        .iter()
        .filter(|t| !t.custom)
        .map(|t| (t.group.clone(), t.version.clone(), t.kind.clone()))
        .collect();
    let builtins = builtins(served);
    let mut custom = Map::new();
    for rt in kinds.iter().filter(|t| t.custom) {
        let metadata = if builtins.definitions.contains_key(OBJECT_META) {
            json!({"$ref": format!("#/definitions/{OBJECT_META}"), "description": "Standard object's metadata."})
        } else {
            json!({"type": "object", "description": "Standard object's metadata."})
        };
        if let Some((name, mut schema)) = crd_definition(rt, metadata) {
            to_v2(&mut schema);
            custom.insert(name, schema);
        }
    }
    if accept.contains("protobuf") {
        let mut definitions = builtins.encoded.clone();
        definitions.extend(gnostic::definitions(&custom));
        let body = gnostic::document("Kubernetes", "v1.32.0", &definitions);
        let mut response = Response::new(axum::body::Body::from(body));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
        return response;
    }
    let mut definitions = builtins.definitions.clone();
    definitions.extend(custom);
    json_response(
        200,
        &json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": {},
            "definitions": definitions,
        }),
    )
}

/// Rewrites one schema (and the schemas inside it) into what a v2 document carries.
fn to_v2(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    for key in ["nullable", "anyOf", "oneOf", "not"] {
        map.remove(key);
    }
    if let Some(Value::String(reference)) = map.get_mut("$ref") {
        *reference = reference.replace("#/components/schemas/", "#/definitions/");
        // kube-openapi refuses a reference with a type or fields of its own.
        map.remove("type");
        map.remove("properties");
    }
    if let Some(Value::Array(types)) = map.get("type") {
        let single = types.iter().find(|t| t.as_str() != Some("null")).cloned();
        match single {
            Some(single) => map.insert("type".into(), single),
            None => map.remove("type"),
        };
    }
    if map.get("additionalProperties") == Some(&Value::Bool(false)) {
        map.remove("additionalProperties");
    }
    if map.get("type").and_then(Value::as_str) == Some("array") {
        map.entry("items").or_insert(json!({}));
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties", Value::Object(fields)) => fields.values_mut().for_each(to_v2),
            ("items" | "additionalProperties", value) => to_v2(value),
            ("allOf", Value::Array(items)) => items.iter_mut().for_each(to_v2),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_become_what_kube_openapi_parses() {
        let table = [
            (
                json!({"$ref": "#/components/schemas/a.B", "description": "d"}),
                json!({"$ref": "#/definitions/a.B", "description": "d"}),
            ),
            (
                json!({"type": ["string", "null"], "nullable": true}),
                json!({"type": "string"}),
            ),
            (
                json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
                json!({"x-kubernetes-int-or-string": true}),
            ),
            (
                json!({"type": "array"}),
                json!({"type": "array", "items": {}}),
            ),
            (
                json!({"type": "object", "additionalProperties": false, "properties": {"a": {"type": "array", "items": {"oneOf": []}}}}),
                json!({"type": "object", "properties": {"a": {"type": "array", "items": {}}}}),
            ),
            (
                json!({"properties": {"$ref": {"type": "string"}}}),
                json!({"properties": {"$ref": {"type": "string"}}}),
            ),
        ];
        for (input, expected) in table {
            let mut schema = input.clone();
            to_v2(&mut schema);
            assert_eq!(schema, expected, "{input}");
        }
    }

    #[test]
    fn built_in_definitions_refer_to_definitions_and_keep_patch_extensions() {
        let served = vec![("apps".into(), "v1".into(), "Deployment".into())];
        let built = builtins(served);
        let spec = &built.definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(
            spec["items"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.Container"
        );
        assert_eq!(spec["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(
            built.definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
            "int-or-string"
        );
        let text = serde_json::to_string(&built.definitions).unwrap_or_default();
        assert!(!text.contains("#/components/"));
    }
}
