//! Discovery: legacy (`APIVersions`, `APIGroupList`, `APIGroup`, `APIResourceList`) and
//! aggregated v2 (`APIGroupDiscoveryList`), built from the current type registry.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Value, json};

use super::respond::{json_response, json_with_type};
use super::{ApiServer, RequestContext, request};
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;

type Versions = Vec<(String, Vec<ResourceType>)>;
type Grouped = Vec<(String, Versions)>;

const AGGREGATED_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Groups in discovery order (core first, then built-in groups, then CRD groups), each with
/// its versions ordered by preference.
fn grouped(api: &ApiServer) -> Grouped {
    let mut groups: Grouped = Vec::new();
    for rt in api.all_types() {
        let group = match groups.iter_mut().find(|(g, _)| *g == rt.group) {
            Some(g) => g,
            None => {
                groups.push((rt.group.clone(), Vec::new()));
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        match group.1.iter_mut().find(|(v, _)| *v == rt.version) {
            Some((_, types)) => types.push(rt),
            None => group.1.push((rt.version.clone(), vec![rt])),
        }
    }
    for (_, versions) in &mut groups {
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(&v.0)));
    }
    groups
}

/// Kubernetes version priority: GA > beta > alpha, then by number.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let rest = version.strip_prefix('v').unwrap_or(version);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stage, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (stage, major, minor)
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `/api`.
pub fn core_versions(api: &ApiServer, ctx: &RequestContext) -> Response {
    if request::wants_aggregated_discovery(&ctx.accept) {
        let items: Vec<Value> = grouped(api)
            .into_iter()
            .filter(|(g, _)| g.is_empty())
            .map(|(g, v)| aggregated_group(&g, &v))
            .collect();
        return json_with_type(
            200,
            &json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}),
            AGGREGATED_TYPE,
        );
    }
    json_response(
        200,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        }),
    )
}

/// `/apis`.
pub fn groups(api: &ApiServer, ctx: &RequestContext) -> Response {
    let all = grouped(api);
    if request::wants_aggregated_discovery(&ctx.accept) {
        let items: Vec<Value> = all
            .iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, v)| aggregated_group(g, v))
            .collect();
        return json_with_type(
            200,
            &json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}),
            AGGREGATED_TYPE,
        );
    }
    let groups: Vec<Value> = all
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| legacy_group(g, v))
        .collect();
    json_response(
        200,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

fn legacy_group(group: &str, versions: &[(String, Vec<ResourceType>)]) -> Value {
    let list: Vec<Value> = versions
        .iter()
        .map(|(v, _)| json!({"groupVersion": group_version(group, v), "version": v}))
        .collect();
    json!({"name": group, "versions": list, "preferredVersion": list.first().cloned().unwrap_or(Value::Null)})
}

/// `/apis/{group}`.
pub fn group(api: &ApiServer, name: &str) -> ApiResult<Response> {
    let all = grouped(api);
    let (g, versions) = all
        .iter()
        .find(|(g, _)| g == name && !name.is_empty())
        .ok_or_else(ApiError::unknown_resource)?;
    let mut body = legacy_group(g, versions);
    body["kind"] = json!("APIGroup");
    body["apiVersion"] = json!("v1");
    Ok(json_response(200, &body))
}

fn storage_hash(rt: &ResourceType) -> String {
    let text = format!("{}/{}/{}", rt.group, rt.storage_version, rt.kind);
    let hash = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{hash:016x}")[..11].to_string()
}

/// `/api/v1`, `/apis/{group}/{version}`.
pub fn resource_list(api: &ApiServer, group: &str, version: &str) -> ApiResult<Response> {
    let types: Vec<ResourceType> = api
        .all_types()
        .into_iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return Err(ApiError::unknown_resource());
    }
    let mut resources = Vec::new();
    for rt in &types {
        let mut entry = json!({
            "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
            "verbs": rt.verbs(), "storageVersionHash": storage_hash(rt),
        });
        if !rt.short_names.is_empty() {
            entry["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            entry["categories"] = json!(rt.categories);
        }
        resources.push(entry);
        for sub in subresources(rt) {
            let mut entry = json!({"name": format!("{}/{}", rt.plural, sub.name), "singularName": "", "namespaced": rt.namespaced, "kind": sub.kind, "verbs": sub.verbs});
            if sub.group != rt.group {
                entry["group"] = json!(sub.group);
                entry["version"] = json!(sub.version);
            }
            resources.push(entry);
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(group, version), "resources": resources}),
    ))
}

/// A subresource as discovery lists it.
struct Subresource {
    name: &'static str,
    group: String,
    version: String,
    kind: String,
    verbs: Value,
}

fn subresources(rt: &ResourceType) -> Vec<Subresource> {
    let read_write = || json!(["get", "patch", "update"]);
    let mut subs = Vec::new();
    if rt.status_subresource {
        subs.push(Subresource {
            name: "status",
            group: rt.group.clone(),
            version: rt.version.clone(),
            kind: rt.kind.clone(),
            verbs: read_write(),
        });
    }
    if rt.scale_subresource {
        subs.push(Subresource {
            name: "scale",
            group: "autoscaling".into(),
            version: "v1".into(),
            kind: "Scale".into(),
            verbs: read_write(),
        });
    }
    if rt.group.is_empty() && rt.plural == "pods" {
        subs.push(Subresource {
            name: "log",
            group: String::new(),
            version: "v1".into(),
            kind: "Pod".into(),
            verbs: json!(["get"]),
        });
    }
    if rt.group.is_empty() && rt.plural == "serviceaccounts" {
        subs.push(Subresource {
            name: "token",
            group: "authentication.k8s.io".into(),
            version: "v1".into(),
            kind: "TokenRequest".into(),
            verbs: json!(["create"]),
        });
    }
    subs
}

fn aggregated_group(group: &str, versions: &[(String, Vec<ResourceType>)]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|(version, types)| {
            let resources: Vec<Value> = types
                .iter()
                .map(|rt| {
                    let kind = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
                    let mut entry = json!({
                        "resource": rt.plural, "responseKind": kind,
                        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": rt.singular, "verbs": rt.verbs(),
                    });
                    if !rt.short_names.is_empty() {
                        entry["shortNames"] = json!(rt.short_names);
                    }
                    if !rt.categories.is_empty() {
                        entry["categories"] = json!(rt.categories);
                    }
                    let subs: Vec<Value> = subresources(rt)
                        .into_iter()
                        .map(|sub| {
                            json!({"subresource": sub.name, "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind}, "verbs": sub.verbs})
                        })
                        .collect();
                    if !subs.is_empty() {
                        entry["subresources"] = Value::Array(subs);
                    }
                    entry
                })
                .collect();
            json!({"version": version, "freshness": "Current", "resources": resources})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

/// Built-in kinds by group-version, for OpenAPI.
pub fn builtin_kinds(api: &ApiServer) -> BTreeMap<String, Vec<ResourceType>> {
    let mut map: BTreeMap<String, Vec<ResourceType>> = BTreeMap::new();
    for rt in api.all_types().into_iter().filter(|t| !t.create_only) {
        map.entry(group_version(&rt.group, &rt.version))
            .or_default()
            .push(rt);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_kubernetes_priority() {
        let mut versions = vec!["v1beta1", "v2", "v1", "v1alpha1", "v2beta2", "v10"];
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(
            versions,
            ["v10", "v2", "v1", "v2beta2", "v1beta1", "v1alpha1"]
        );
    }
}
