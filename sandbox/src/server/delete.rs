//! Deletes: single objects (finalizers, propagation policies, preconditions, dry-run) and
//! collections.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

use super::meta::{finalizers, is_deleting, now};
use super::read::{Selectors, key_of, respond_object};
use super::request::ResourcePath;
use super::respond::{delete_status, json_response};
use super::write::{after_write, blocks_namespace_deletion};
use super::{ApiServer, RequestContext};
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;
use crate::store::{ObjectKey, Tx};

/// DELETE of one object.
pub fn delete(
    api: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
    options: &Value,
) -> ApiResult<Response> {
    let key = key_of(rt, path);
    // As the API server's namespace lifecycle admission: these three stay.
    if rt.group.is_empty()
        && rt.plural == "namespaces"
        && ["default", "kube-system", "kube-public"].contains(&key.name.as_str())
    {
        return Err(ApiError::forbidden(format!(
            "namespaces \"{}\" is forbidden: this namespace may not be deleted",
            key.name
        )));
    }
    let policy = options["propagationPolicy"]
        .as_str()
        .or_else(|| ctx.query.get("propagationPolicy"))
        .map(str::to_string)
        .or_else(|| (options["orphanDependents"] == json!(true)).then(|| "Orphan".to_string()));
    let result = api.store.write(|tx| {
        delete_in(
            tx,
            rt,
            &key,
            options,
            policy.as_deref(),
            ctx.query.dry_run(),
        )
    })?;
    after_write(api, rt);
    Ok(match result {
        Deleted::Gone(uid) => {
            json_response(200, &delete_status(&rt.group, &rt.plural, &key.name, &uid))
        }
        Deleted::Pending(object) => respond_object(rt, &object, 200, ctx),
    })
}

enum Deleted {
    Gone(Value),
    Pending(Value),
}

fn delete_in(
    tx: &mut Tx<'_>,
    rt: &ResourceType,
    key: &ObjectKey,
    options: &Value,
    policy: Option<&str>,
    dry_run: bool,
) -> ApiResult<Deleted> {
    let old = tx
        .get(key)
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &key.name))?;
    let pre = &options["preconditions"];
    if pre["uid"]
        .as_str()
        .is_some_and(|u| Some(u) != old["metadata"]["uid"].as_str())
        || pre["resourceVersion"]
            .as_str()
            .is_some_and(|v| Some(v) != old["metadata"]["resourceVersion"].as_str())
    {
        return Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            &key.name,
            "the precondition was not met",
        ));
    }
    if is_deleting(&old) {
        return Ok(Deleted::Pending((*old).clone()));
    }
    let mut object = (*old).clone();
    let mut pending = !finalizers(&object).is_empty() || blocks_namespace_deletion(&object, rt);
    let policy_finalizer = match policy {
        Some("Foreground") => Some("foregroundDeletion"),
        Some("Orphan") => Some("orphan"),
        _ => None,
    };
    if let Some(f) = policy_finalizer {
        let mut list = finalizers(&object);
        if !list.iter().any(|x| x == f) {
            list.push(f.to_string());
        }
        object["metadata"]["finalizers"] = json!(list);
        pending = true;
    }
    if dry_run {
        return Ok(if pending {
            Deleted::Pending(object)
        } else {
            Deleted::Gone(old["metadata"]["uid"].clone())
        });
    }
    if pending {
        object["metadata"]["deletionTimestamp"] = json!(now());
        object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if rt.generation {
            object["metadata"]["generation"] =
                json!(object["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
        }
        if rt.group.is_empty() && rt.plural == "namespaces" {
            object["status"]["phase"] = json!("Terminating");
        }
        let stored = tx.put(key.clone(), object);
        return Ok(Deleted::Pending((*stored).clone()));
    }
    tx.delete(key);
    if rt.group == "events.k8s.io" {
        tx.delete(&ObjectKey::new("", "events", &key.namespace, &key.name));
    }
    Ok(Deleted::Gone(old["metadata"]["uid"].clone()))
}

/// Deletes one object as the system (controllers).
pub fn delete_object(
    api: &Arc<ApiServer>,
    rt: &ResourceType,
    key: &ObjectKey,
    policy: Option<&str>,
) -> ApiResult<()> {
    api.store
        .write(|tx| delete_in(tx, rt, key, &json!({}), policy, false))?;
    after_write(api, rt);
    Ok(())
}

/// DELETE of a collection (with selectors).
pub fn delete_collection(
    api: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
) -> ApiResult<Response> {
    let selectors = Selectors::from_query(rt, ctx)?;
    let (objects, _) = api
        .store
        .list(&rt.group, &rt.plural, path.namespace.as_deref());
    let mut items = Vec::new();
    for object in objects.iter().filter(|o| selectors.matches(o)) {
        let key = ObjectKey::new(
            &rt.group,
            &rt.plural,
            object["metadata"]["namespace"].as_str().unwrap_or_default(),
            object["metadata"]["name"].as_str().unwrap_or_default(),
        );
        if let Ok(Deleted::Pending(o)) | Ok(Deleted::Gone(o)) = api
            .store
            .write(|tx| delete_in(tx, rt, &key, &json!({}), None, ctx.query.dry_run()))
        {
            let _ = o;
        }
        items.push((**object).clone());
    }
    after_write(api, rt);
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {}, "items": items}),
    ))
}
