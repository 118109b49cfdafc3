//! OpenAPI v3: one PATCH operation per kind with its group-version-kind and a
//! `fieldValidation` parameter, which is what kubectl needs to delegate validation to the
//! server, plus the schemas of the built-in kinds (`openapi_schemas.rs`) and of the CRD kinds
//! (`kubectl explain` on both). OpenAPI v2 is in `openapi_v2.rs`.

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::ApiServer;
use super::discovery::builtin_kinds;
use super::respond::json_response;
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;

fn doc_path(group_version: &str) -> String {
    if group_version.contains('/') {
        format!("apis/{group_version}")
    } else {
        format!("api/{group_version}")
    }
}

fn hash(text: &str) -> String {
    let h = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{h:016X}")
}

/// `/openapi/v3`.
pub fn root(api: &ApiServer) -> Response {
    let mut paths = Map::new();
    for (gv, types) in builtin_kinds(api) {
        let path = doc_path(&gv);
        let kinds: Vec<&str> = types.iter().map(|t| t.kind.as_str()).collect();
        // The hash names what the document holds; the prefix changes with its shape, so a
        // client's cache of an older sandbox's documents is not reused.
        let content = format!("schemas-1:{}", kinds.join(","));
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(&content))}),
        );
    }
    json_response(200, &json!({"paths": paths}))
}

/// `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`.
pub fn document(api: &ApiServer, path: &str) -> ApiResult<Response> {
    let kinds = builtin_kinds(api);
    let (gv, types) = kinds
        .iter()
        .find(|(gv, _)| doc_path(gv) == path)
        .ok_or_else(ApiError::unknown_resource)?;
    let mut paths = Map::new();
    for rt in types {
        let prefix = if rt.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{gv}")
        };
        let item = if rt.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
        } else {
            format!("{prefix}/{}/{{name}}", rt.plural)
        };
        let param =
            |name: &str, ty: &str| json!({"name": name, "in": "query", "schema": {"type": ty}});
        paths.insert(item, json!({"patch": {
            "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "x-kubernetes-action": "patch",
            "parameters": [param("fieldValidation", "string"), param("fieldManager", "string"), param("dryRun", "string"), param("force", "boolean")],
            "responses": {"200": {"description": "OK"}},
        }}));
    }
    // Built-in kinds carry the upstream schemas (without the patch-strategy extensions, so
    // kubectl still computes patches from its own types and validates on the server); CRD kinds
    // carry their own schema. Either way `kubectl explain` works.
    let (group, version) = gv.split_once('/').unwrap_or(("", gv.as_str()));
    let served: Vec<&str> = types
        .iter()
        .filter(|t| !t.custom)
        .map(|t| t.kind.as_str())
        .collect();
    let mut schemas = super::openapi_schemas::builtin(group, version, &served);
    for rt in types.iter().filter(|t| t.custom) {
        let metadata = json!({"type": "object", "description": "Standard object's metadata."});
        if let Some((name, schema)) = crd_definition(rt, metadata) {
            schemas.insert(name, schema);
        }
    }
    Ok(json_response(
        200,
        &json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "components": {"schemas": Value::Object(schemas)},
            "paths": paths,
        }),
    ))
}

/// A CRD kind's definition as upstream publishes it: named `<reversed group>.<version>.<Kind>`,
/// its schema marked with its group-version-kind, `apiVersion` and `kind` described, and
/// `metadata` as given.
pub(super) fn crd_definition(rt: &ResourceType, metadata: Value) -> Option<(String, Value)> {
    let mut schema = rt.schema.clone()?;
    schema["x-kubernetes-group-version-kind"] =
        json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}]);
    let mut properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    properties.entry("apiVersion").or_insert(json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
    properties.entry("kind").or_insert(json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
    properties.insert("metadata".into(), metadata);
    schema["properties"] = Value::Object(properties);
    let group: Vec<&str> = rt.group.split('.').rev().collect();
    Some((
        format!("{}.{}.{}", group.join("."), rt.version, rt.kind),
        schema,
    ))
}
