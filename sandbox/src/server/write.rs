//! Writes: create, update and every patch type (merge, JSON, strategic, apply), all through
//! one commit step that applies Kubernetes' rules (identity
//! fields, status subresource split, generation, finalizers, CRD schemas, managed fields,
//! no-op detection, dry-run).

use serde_json::{Value, json};

use super::meta::{self, comparable, finalizers, is_deleting, now, spec_part};
use super::read::key_of;
use super::request::{Query, ResourcePath};
use super::{ApiServer, RequestContext};
use crate::auth::identity::UserInfo;
use crate::auth::rbac::RbacAuthorizer;
use crate::crd;
use crate::error::{ApiError, ApiResult, Cause};
use crate::patch::apply::{ApplyParams, record_update, server_side_apply};
use crate::patch::json_patch::apply_json_patch;
use crate::patch::merge::merge_patch;
use crate::patch::schema::Schema;
use crate::patch::strategic::strategic_merge;
use crate::resources::ResourceType;
use crate::store::{ObjectKey, Tx};

/// The store key of a path.
pub fn key_for(rt: &ResourceType, path: &ResourcePath) -> ObjectKey {
    key_of(rt, path)
}

pub(super) struct Write<'a> {
    rt: &'a ResourceType,
    pub(super) key: ObjectKey,
    /// Who writes (`None`: the server itself), for RBAC escalation checks.
    user: Option<UserInfo>,
    manager: String,
    status_endpoint: bool,
    dry_run: bool,
    applied: bool,
    strict: bool,
}

fn check_type(rt: &ResourceType, body: &Value) -> ApiResult<()> {
    let api_version = body["apiVersion"].as_str().unwrap_or_default();
    let kind = body["kind"].as_str().unwrap_or_default();
    let version_ok = api_version.is_empty()
        || api_version == rt.api_version()
        || (rt.custom
            && api_version
                .split_once('/')
                .is_some_and(|(g, _)| g == rt.group));
    if !version_ok || (!kind.is_empty() && kind != rt.kind) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    Ok(())
}

fn check_namespace(tx: &Tx<'_>, rt: &ResourceType, namespace: &str) -> ApiResult<()> {
    if !rt.namespaced {
        return Ok(());
    }
    let ns = tx
        .get(&ObjectKey::new("", "namespaces", "", namespace))
        .ok_or_else(|| ApiError::not_found("", "namespaces", namespace))?;
    if is_deleting(&ns) {
        let message = format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        );
        return Err(ApiError::forbidden(message.clone()).with_details(json!({
            "name": rt.plural, "kind": rt.plural,
            "causes": [{"reason": "NamespaceTerminating", "message": message, "field": "metadata.namespace"}],
        })));
    }
    Ok(())
}

fn manager_of(query: &Query, default: &str) -> ApiResult<String> {
    let manager = query.get("fieldManager").unwrap_or(default).to_string();
    if manager.len() > 128 {
        return Err(ApiError::unprocessable(
            "fieldManager: Too long: may not be longer than 128",
        ));
    }
    Ok(manager)
}

/// POST to a collection.
pub fn create(
    api: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    (query, user): (&Query, Option<&UserInfo>),
    mut body: Value,
) -> ApiResult<(u16, Value)> {
    check_type(rt, &body)?;
    if !body.is_object() || !body["metadata"].is_object() && !body["metadata"].is_null() {
        return Err(ApiError::bad_request(
            "the request body must be an object with metadata",
        ));
    }
    let url_ns = path.namespace.clone().unwrap_or_default();
    let body_ns = body["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if rt.namespaced && !body_ns.is_empty() && body_ns != url_ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let mut name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        let prefix = body["metadata"]["generateName"]
            .as_str()
            .unwrap_or_default();
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                &rt.kind_group(),
                "",
                vec![Cause {
                    reason: "FieldValueRequired",
                    message: "Required value: name or generateName is required".into(),
                    field: "metadata.name".into(),
                }],
            ));
        }
        name = format!("{prefix}{}", meta::name_suffix());
    }
    body["metadata"]["name"] = json!(name);
    if rt.namespaced {
        body["metadata"]["namespace"] = json!(url_ns);
    } else if let Some(m) = body["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    let w = Write {
        rt,
        key: ObjectKey::new(&rt.group, &rt.plural, &url_ns, &name),
        user: user.cloned(),
        manager: manager_of(query, "unknown")?,
        status_endpoint: false,
        dry_run: query.dry_run(),
        applied: false,
        strict: query.get("fieldValidation") == Some("Strict"),
    };
    let result = api.store.write(|tx| {
        check_namespace(tx, rt, &url_ns)?;
        if tx.get(&w.key).is_some() {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        commit(tx, &w, None, body)
    })?;
    after_write(api, rt);
    Ok(result)
}

/// PUT of an object or its status.
pub fn update(
    api: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
    body: Value,
) -> ApiResult<(u16, Value)> {
    check_type(rt, &body)?;
    let w = write_for(rt, path, ctx, false)?;
    let name = w.key.name.clone();
    if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    let result = api.store.write(|tx| {
        let old = tx
            .get(&w.key)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
        check_resource_version(rt, &name, &old, &body)?;
        commit(tx, &w, Some(&old), body)
    })?;
    after_write(api, rt);
    Ok(result)
}

pub(super) fn write_for<'a>(
    rt: &'a ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
    applied: bool,
) -> ApiResult<Write<'a>> {
    let status_endpoint = match path.subresource.as_deref() {
        None => false,
        Some("status") if rt.status_subresource => true,
        _ => return Err(ApiError::unknown_resource()),
    };
    Ok(Write {
        rt,
        key: key_of(rt, path),
        user: Some(ctx.user.clone()),
        manager: manager_of(&ctx.query, &ctx.default_manager)?,
        status_endpoint,
        dry_run: ctx.query.dry_run(),
        applied,
        strict: ctx.query.get("fieldValidation") == Some("Strict"),
    })
}

fn check_resource_version(
    rt: &ResourceType,
    name: &str,
    old: &Value,
    body: &Value,
) -> ApiResult<()> {
    match body["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && Some(rv) != old["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ))
        }
        _ => Ok(()),
    }
}

/// PATCH of an object or its status, in any of the four patch formats.
pub fn patch(
    api: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
    content_type: &str,
    body: &[u8],
) -> ApiResult<(u16, Value)> {
    let apply = content_type.starts_with("application/apply-patch");
    if ctx.query.get("force").is_some() && !apply {
        return Err(ApiError::unprocessable(
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    if apply && ctx.query.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::unprocessable(
            "fieldManager: Required value: is required for apply patch",
        ));
    }
    let patch_body = super::decode_body(body, content_type)?;
    let w = write_for(rt, path, ctx, apply)?;
    let name = w.key.name.clone();
    let url_ns = path.namespace.clone().unwrap_or_default();
    let result = api.store.write(|tx| {
        let old = tx.get(&w.key);
        if apply {
            // As the API server decodes it: an object whose metadata is an object.
            if !patch_body.is_object()
                || !(patch_body["metadata"].is_object() || patch_body["metadata"].is_null())
            {
                return Err(ApiError::bad_request(
                    "error decoding the apply patch: the object and its metadata must be mappings",
                ));
            }
            check_type(rt, &patch_body)?;
            if patch_body["apiVersion"].is_null() || patch_body["kind"].is_null() {
                return Err(ApiError::bad_request("apply patches must specify apiVersion and kind"));
            }
            if patch_body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
                return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
            }
            let mut config = patch_body.clone();
            config["metadata"]["name"] = json!(name);
            if rt.namespaced {
                config["metadata"]["namespace"] = json!(url_ns);
            }
            if old.is_none() {
                check_namespace(tx, rt, &url_ns)?;
                if config["metadata"]["uid"].is_string() {
                    return Err(ApiError::conflict(&rt.group, &rt.plural, &name, "uid mismatch"));
                }
            }
            if let Some(old) = &old {
                check_resource_version(rt, &name, old, &config)?;
            }
            let now = now();
            let params = ApplyParams {
                manager: &w.manager,
                force: ctx.query.flag("force"),
                status_endpoint: w.status_endpoint,
                api_version: &rt.api_version(),
                now: &now,
            };
            let merged = server_side_apply(old.as_deref(), &config, rt, &params)?;
            return commit(tx, &w, old.as_deref(), merged);
        }
        let old = old.ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
        let mut new = (*old).clone();
        if content_type.starts_with("application/merge-patch+json") {
            merge_patch(&mut new, &patch_body);
        } else if content_type.starts_with("application/json-patch+json") {
            apply_json_patch(&mut new, &patch_body).map_err(ApiError::unprocessable)?;
        } else if content_type.starts_with("application/strategic-merge-patch+json") {
            if rt.custom {
                return Err(ApiError::unsupported_media_type("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"));
            }
            strategic_merge(&mut new, &patch_body, &Schema::for_type(rt))
                .map_err(ApiError::unprocessable)?;
        } else {
            return Err(ApiError::unsupported_media_type(format!("the body of the request was in an unknown format ({content_type})")));
        }
        check_resource_version(rt, &name, &old, &patch_body)?;
        commit(tx, &w, Some(&old), new)
    })?;
    after_write(api, rt);
    Ok(result)
}

/// Refreshes served types after CRD writes and wakes the controllers.
pub fn after_write(api: &ApiServer, rt: &ResourceType) {
    if rt.group == "apiextensions.k8s.io" {
        api.refresh_types();
    }
    api.changed.notify_waiters();
}

/// Applies Kubernetes' write rules and stores the result.
pub(super) fn commit(
    tx: &mut Tx<'_>,
    w: &Write<'_>,
    old: Option<&Value>,
    mut new: Value,
) -> ApiResult<(u16, Value)> {
    let rt = w.rt;
    new["apiVersion"] = json!(storage_api_version(rt));
    new["kind"] = json!(rt.kind);
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    meta::drop_empty_fields(&mut new["metadata"]);
    crate::controllers::defaults::on_write(rt, &mut new);
    crate::builtin::check_types(rt, &new)?;
    if !w.status_endpoint {
        crate::builtin::default(rt, &mut new);
    }
    if let Some(user) = &w.user
        && rt.group == "rbac.authorization.k8s.io"
        && !w.status_endpoint
    {
        let authorizer = RbacAuthorizer { store: &*tx };
        let rules = |role_ref: &Value, ns: &str| authorizer.role_rules(role_ref, ns);
        crate::auth::escalation::check(
            &authorizer,
            user,
            &rt.plural,
            &w.key.namespace,
            (old, &new),
            &rules,
        )
        .map_err(ApiError::forbidden)?;
    }
    let now = now();
    match old {
        Some(old) => {
            for field in [
                "uid",
                "creationTimestamp",
                "name",
                "namespace",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old["metadata"].get(field) {
                    Some(v) => new["metadata"][field] = v.clone(),
                    None => {
                        if let Some(m) = new["metadata"].as_object_mut() {
                            m.remove(field);
                        }
                    }
                }
            }
            if rt.status_subresource {
                if w.status_endpoint {
                    let status = new.get("status").cloned();
                    let mut merged = old.clone();
                    match status {
                        Some(s) => merged["status"] = s,
                        None => {
                            if let Some(m) = merged.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                    merged["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
                    if merged["metadata"]["managedFields"].is_null()
                        && let Some(m) = merged["metadata"].as_object_mut()
                    {
                        m.remove("managedFields");
                    }
                    new = merged;
                } else {
                    match old.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
            }
        }
        None => {
            if let Some(m) = new["metadata"].as_object_mut() {
                for field in [
                    "resourceVersion",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "selfLink",
                ] {
                    m.remove(field);
                }
            }
            new["metadata"]["uid"] = json!(meta::new_uid());
            new["metadata"]["creationTimestamp"] = json!(now);
            if rt.generation {
                new["metadata"]["generation"] = json!(1);
            }
            if rt.status_subresource
                && rt.custom
                && let Some(m) = new.as_object_mut()
            {
                m.remove("status");
            }
            crate::controllers::defaults::on_create(rt, &mut new);
        }
    }
    validate_name(rt, &w.key)?;
    if w.status_endpoint {
        crate::builtin::validate_metadata(rt, old, &new)?;
    } else {
        crate::builtin::admit(tx, rt, old, &mut new)?;
    }
    if rt.custom
        && let Some(schema) = &rt.schema
    {
        crd::admit(&mut new, old, schema, rt, w.strict)?;
    }
    if rt.group == "apiextensions.k8s.io" {
        crd::admit_definition(tx, &mut new, old, &now)?;
    }
    if let (true, Some(old)) = (rt.generation, old) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        let changed =
            spec_part(old, rt.status_subresource) != spec_part(&new, rt.status_subresource);
        new["metadata"]["generation"] = json!(if changed { generation + 1 } else { generation });
    }
    if !w.applied {
        record_update(
            old,
            &mut new,
            rt,
            &w.manager,
            &rt.api_version(),
            w.status_endpoint,
            &now,
        );
    }
    if let Some(old) = old
        && comparable(old) == comparable(&new)
    {
        return Ok((200, old.clone()));
    }
    let created = old.is_none();
    if is_deleting(&new) && finalizers(&new).is_empty() && !blocks_namespace_deletion(&new, rt) {
        if w.dry_run {
            return Ok((200, new));
        }
        let last = tx.delete(&w.key).map(|v| (*v).clone()).unwrap_or(new);
        return Ok((200, last));
    }
    if w.dry_run {
        return Ok((if created { 201 } else { 200 }, new));
    }
    let stored = tx.put(w.key.clone(), new);
    mirror_event(tx, rt, &stored);
    Ok((if created { 201 } else { 200 }, (*stored).clone()))
}

fn storage_api_version(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.storage_version.clone()
    } else {
        format!("{}/{}", rt.group, rt.storage_version)
    }
}

/// Whether a namespace still waits for its `spec.finalizers`.
pub fn blocks_namespace_deletion(object: &Value, rt: &ResourceType) -> bool {
    rt.group.is_empty()
        && rt.plural == "namespaces"
        && object["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
}

fn validate_name(rt: &ResourceType, key: &ObjectKey) -> ApiResult<()> {
    let ok = if rt.group.is_empty() && rt.plural == "namespaces" {
        meta::is_dns_label(&key.name)
    } else if rt.group == "rbac.authorization.k8s.io" {
        meta::is_path_segment_name(&key.name)
    } else {
        meta::is_dns_subdomain(&key.name)
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &rt.kind_group(),
            &key.name,
            vec![Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: \"{}\": a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                    key.name
                ),
                field: "metadata.name".into(),
            }],
        ))
    }
}

/// Keeps the core/v1 view of events.k8s.io events (kubectl describe reads core/v1).
fn mirror_event(tx: &mut Tx<'_>, rt: &ResourceType, event: &Value) {
    if rt.group != "events.k8s.io" || rt.plural != "events" {
        return;
    }
    let core = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": event["metadata"]["name"], "namespace": event["metadata"]["namespace"], "uid": event["metadata"]["uid"], "creationTimestamp": event["metadata"]["creationTimestamp"]},
        "involvedObject": event["regarding"], "reason": event["reason"], "message": event["note"], "type": event["type"],
        "action": event["action"], "eventTime": event["eventTime"], "series": event["series"], "related": event["related"],
        "reportingComponent": event["reportingController"], "reportingInstance": event["reportingInstance"],
        "source": {"component": event["reportingController"]},
        "firstTimestamp": event["deprecatedFirstTimestamp"], "lastTimestamp": event["deprecatedLastTimestamp"],
        "count": event["series"]["count"].as_i64().unwrap_or(1),
    });
    let key = ObjectKey::new(
        "",
        "events",
        &tx_key_ns(event),
        event["metadata"]["name"].as_str().unwrap_or_default(),
    );
    tx.put(key, core);
}

fn tx_key_ns(object: &Value) -> String {
    object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
