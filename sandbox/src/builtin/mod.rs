//! Built-in kinds as the API server's registry strategies treat them: the defaults the
//! decoder fills in, the values the registry generates (Job selectors, Service cluster IPs and
//! node ports), and validation with Kubernetes' field paths and immutable fields (422).

mod config;
mod cron;
mod field_errors;
mod object_meta;
mod pod_spec;
mod rbac;
mod services;
mod types;
mod workloads;

use serde_json::{Value, json};

pub use field_errors::FieldErrors;

use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::store::Tx;

/// Sets `field` of `object` to `value` unless it holds something other than null or `""`.
fn set_default(object: &mut Value, field: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        let entry = map.entry(field.to_string()).or_insert(Value::Null);
        if entry.is_null() || entry.as_str() == Some("") {
            *entry = value;
        }
    }
}

/// The elements of the list `field` of `object`, if it is one (never inserting the field, as
/// indexing a `Value` mutably would).
fn list_mut<'a>(object: &'a mut Value, field: &str) -> impl Iterator<Item = &'a mut Value> {
    object
        .get_mut(field)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// Applies `f` to the value at JSON `pointer` when it exists.
fn at_mut(object: &mut Value, pointer: &str, f: impl FnOnce(&mut Value)) {
    if let Some(value) = object.pointer_mut(pointer) {
        f(value);
    }
}

/// The decoder's type check: `Err` is the 400 a real server answers for a value of the wrong
/// JSON type (`Deployment in version "v1" cannot be handled as a Deployment: json: ...`).
pub fn check_types(rt: &ResourceType, object: &Value) -> Result<(), ApiError> {
    if rt.custom {
        return Ok(());
    }
    types::check_types(&rt.group, &rt.version, &rt.kind, object).map_err(|e| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {e}",
            kind = rt.kind,
            version = rt.version
        ))
    })
}

/// A built-in kind's schema and the definitions it refers to (`None` for kinds without one).
pub fn kind_schema(
    rt: &ResourceType,
) -> Option<(&'static Value, &'static serde_json::Map<String, Value>)> {
    if rt.custom {
        return None;
    }
    types::kind_schema(&rt.group, &rt.version, &rt.kind)
}

/// The defaults of a Pod's spec (`SetDefaults_Pod` and `SetDefaults_PodSpec`), for the
/// workload simulator's Pods.
pub fn default_pod(spec: &mut Value) {
    pod_spec::default_pod(spec);
}

/// Fills the defaults of a built-in object, as decoding a request does (every write).
pub fn default(rt: &ResourceType, object: &mut Value) {
    if rt.custom {
        return;
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => pod_spec::default_pod(&mut object["spec"]),
        ("", "podtemplates") => at_mut(object, "/template/spec", pod_spec::default_pod_spec),
        ("", "services") => services::default_service(object),
        ("", "secrets") => config::default_secret(object),
        ("", "persistentvolumeclaims")
            if object["spec"].is_object() && object["spec"]["volumeMode"].is_null() =>
        {
            object["spec"]["volumeMode"] = json!("Filesystem");
        }
        ("apps" | "batch", kind) => workloads::default_workload(kind, object),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            rbac::default_binding(object);
        }
        _ => {}
    }
}

/// The metadata validation alone (status updates).
pub fn validate_metadata(
    rt: &ResourceType,
    old: Option<&Value>,
    new: &Value,
) -> Result<(), ApiError> {
    let mut errors = field_errors::FieldErrors::default();
    object_meta::validate_object_meta(new, old, &mut errors);
    if errors.0.is_empty() {
        return Ok(());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::invalid(&rt.kind_group(), name, errors.0))
}

/// What the registry does after defaulting: generated values, then validation (the metadata
/// of every kind, the rest of built-in kinds). `old` is the stored object on updates; `new`
/// already carries its metadata (uid on create).
pub fn admit(
    tx: &Tx<'_>,
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
) -> Result<(), ApiError> {
    let mut errors = field_errors::FieldErrors::default();
    object_meta::validate_object_meta(new, old, &mut errors);
    let kind = if rt.custom {
        ("", "") // no arm: a custom kind's schema validates the rest
    } else {
        (rt.group.as_str(), rt.plural.as_str())
    };
    match kind {
        ("", "pods") => {
            pod_spec::validate_pod_spec(&new["spec"], "spec", &mut errors);
            if let Some(old) = old {
                pod_spec::validate_pod_update(&new["spec"], &old["spec"], &mut errors);
            }
        }
        ("", "services") => {
            if let Some(old) = old {
                services::carry_over(new, old);
            }
            let namespace = new["metadata"]["namespace"].clone();
            let name = new["metadata"]["name"].clone();
            let taken = || {
                let all = tx.list("", "services", None);
                services::Allocated::of(all.iter().map(|s| &**s).filter(|s| {
                    s["metadata"]["namespace"] != namespace || s["metadata"]["name"] != name
                }))
            };
            services::validate_and_allocate(new, old, taken, &mut errors);
        }
        ("", "configmaps") => config::validate_config_map(new, old, &mut errors),
        ("", "secrets") => config::validate_secret(new, old, &mut errors),
        ("batch", "jobs") => {
            if old.is_none() {
                workloads::generate_job_selector(new);
            }
            workloads::validate_workload("jobs", new, old, &mut errors);
        }
        ("apps" | "batch", kind) => workloads::validate_workload(kind, new, old, &mut errors),
        ("rbac.authorization.k8s.io", "roles") => rbac::validate_role(new, true, &mut errors),
        ("rbac.authorization.k8s.io", "clusterroles") => {
            rbac::validate_role(new, false, &mut errors);
        }
        ("rbac.authorization.k8s.io", "rolebindings") => {
            rbac::validate_binding(new, old, true, &mut errors);
        }
        ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            rbac::validate_binding(new, old, false, &mut errors);
        }
        _ => {}
    }
    if errors.0.is_empty() {
        return Ok(());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::invalid(&rt.kind_group(), name, errors.0))
}
