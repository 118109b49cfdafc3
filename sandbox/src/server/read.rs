//! Reads: get, list (with selectors and pagination), and the response shapes (full objects,
//! PartialObjectMetadata, Table).

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

use super::request::{ResourcePath, Shape};
use super::respond::{json_bytes_response, json_response, partial_metadata};
use super::table::table;
use super::{ApiServer, RequestContext};
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::ObjectKey;

/// The object as served at the request's version.
pub fn present(rt: &ResourceType, object: &Value) -> Value {
    let mut copy = object.clone();
    copy["apiVersion"] = json!(rt.api_version());
    copy
}

/// Serialises one object in the shape the client asked for.
pub fn respond_object(
    rt: &ResourceType,
    object: &Value,
    code: u16,
    ctx: &RequestContext,
) -> Response {
    if object["kind"] == "Status" {
        return json_response(code, object);
    }
    let object = present(rt, object);
    match ctx.shape {
        Shape::Table => json_response(
            code,
            &table(
                rt,
                &[&object],
                object["metadata"]["resourceVersion"].as_str().unwrap_or(""),
                None,
            ),
        ),
        Shape::Metadata => json_response(code, &partial_metadata(&object)),
        Shape::Full => json_response(code, &object),
    }
}

/// The store key of a path.
pub fn key_of(rt: &ResourceType, path: &ResourcePath) -> ObjectKey {
    ObjectKey::new(
        &rt.group,
        &rt.plural,
        path.namespace.as_deref().unwrap_or(""),
        path.name.as_deref().unwrap_or(""),
    )
}

/// GET of one object (or its `status` / `scale` subresource).
pub fn get(
    api: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
) -> ApiResult<Response> {
    let name = path.name.as_deref().unwrap_or_default();
    let object = api
        .store
        .get(&key_of(rt, path))
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
    match path.subresource.as_deref() {
        None => Ok(respond_object(rt, &object, 200, ctx)),
        Some("status") if rt.status_subresource => Ok(respond_object(rt, &object, 200, ctx)),
        Some("scale") if rt.scale_subresource => Ok(json_response(200, &scale_of(&object))),
        _ => Err(ApiError::unknown_resource()),
    }
}

/// The `autoscaling/v1` Scale view of an object.
pub fn scale_of(object: &Value) -> Value {
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"], "uid": object["metadata"]["uid"],
                     "resourceVersion": object["metadata"]["resourceVersion"], "creationTimestamp": object["metadata"]["creationTimestamp"]},
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector_string(&object["spec"]["selector"])},
    })
}

fn selector_string(selector: &Value) -> String {
    selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Parsed list selectors.
pub struct Selectors {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl Selectors {
    /// Parses `labelSelector` and `fieldSelector`.
    pub fn from_query(rt: &ResourceType, ctx: &RequestContext) -> ApiResult<Self> {
        let labels = LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(ctx.query.get("fieldSelector").unwrap_or(""), &rt.plural)
            .map_err(ApiError::bad_request)?;
        Ok(Self { labels, fields })
    }

    /// Whether an object matches both.
    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches_object(object) && self.fields.matches(object)
    }
}

fn encode_continue(rv: u64, last: &ObjectKey) -> String {
    let text = json!([rv, last.namespace, last.name]).to_string();
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Option<(String, String)> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let value: Value = serde_json::from_slice(&bytes?).ok()?;
    Some((
        value[1].as_str()?.to_string(),
        value[2].as_str()?.to_string(),
    ))
}

/// GET of a collection.
pub fn list(
    api: &Arc<ApiServer>,
    rt: &ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
) -> ApiResult<Response> {
    let selectors = Selectors::from_query(rt, ctx)?;
    let (objects, rv) = api
        .store
        .list(&rt.group, &rt.plural, path.namespace.as_deref());
    let after = match ctx.query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token).ok_or_else(|| {
            ApiError::expired(
                "the provided continue parameter is too old to display a consistent list result",
            )
            .with_details(json!({}))
        })?),
        None => None,
    };
    let limit = ctx
        .query
        .number("limit")
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let mut items: Vec<&Arc<Value>> = Vec::new();
    let mut remaining = 0usize;
    let mut last_key = None;
    for object in objects.iter() {
        let ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if let Some((after_ns, after_name)) = &after
            && (ns, name) <= (after_ns.as_str(), after_name.as_str())
        {
            continue;
        }
        if !selectors.matches(object) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            remaining += 1;
            continue;
        }
        last_key = Some(ObjectKey::new(&rt.group, &rt.plural, ns, name));
        items.push(object);
    }
    let continue_token = (remaining > 0)
        .then(|| last_key.as_ref().map(|k| encode_continue(rv, k)))
        .flatten();
    let rv_text = rv.to_string();
    let converted: Vec<Value>;
    let refs: Vec<&Value> = if rt.version == rt.storage_version {
        items.iter().map(|o| o.as_ref()).collect()
    } else {
        converted = items.iter().map(|o| present(rt, o)).collect();
        converted.iter().collect()
    };
    let mut meta = json!({"resourceVersion": rv_text});
    if let Some(token) = &continue_token {
        meta["continue"] = json!(token);
        meta["remainingItemCount"] = json!(remaining);
    }
    match ctx.shape {
        Shape::Table => Ok(json_response(
            200,
            &table(rt, &refs, &rv_text, continue_token.as_deref()),
        )),
        Shape::Metadata => {
            let items: Vec<Value> = refs.iter().map(|o| partial_metadata(o)).collect();
            Ok(json_response(
                200,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
            ))
        }
        Shape::Full => {
            // Written item by item: no copy of the stored objects, no intermediate tree.
            let mut body = Vec::with_capacity(256 * refs.len() + 256);
            let head = json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": meta}).to_string();
            body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
            body.extend_from_slice(b",\"items\":[");
            for (i, object) in refs.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                serde_json::to_writer(&mut body, object)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
            }
            body.extend_from_slice(b"]}");
            Ok(json_bytes_response(200, body))
        }
    }
}
