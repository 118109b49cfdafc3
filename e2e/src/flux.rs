//! Reading Flux objects the way a user watching them does: a condition's status, reason and
//! message; waiting until an object satisfies a check (failing with its last status); asking
//! for a reconcile with the `requestedAt` annotation, as `flux reconcile` does.

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use rill_common::api::object::{FluxObject, FluxStatus};

/// A condition's status, reason and message.
pub type ConditionView = (String, String, String);

/// The condition `type_` of `object`.
pub fn condition<K: FluxObject>(object: &K, type_: &str) -> Option<ConditionView> {
    let c = object
        .status()?
        .conditions()
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// The Ready condition of `object`.
pub fn ready<K: FluxObject>(object: &K) -> Option<ConditionView> {
    condition(object, "Ready")
}

/// Whether Ready is False with `reason`.
pub fn failed_with<K: FluxObject>(object: &K, reason: &str) -> bool {
    ready(object).is_some_and(|(s, r, _)| s == "False" && r == reason)
}

/// Polls `name` until `check` holds and returns it; panics after `timeout` with what was
/// awaited and the object's last status.
pub async fn wait_for<K: FluxObject>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&K) -> bool,
) -> K {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let current = api
            .get_opt(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: cannot read: {e}"));
        match &current {
            Some(object) if check(object) => return object.clone(),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: timed out waiting for {what}: {:#?}",
            current.as_ref().map(|o| o.status())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the object's `requestedAt` request exists and has been handled.
pub fn request_handled<K: FluxObject>(object: &K) -> bool {
    let requested = rill_common::runtime::reconcile_request::requested_at(object.meta());
    let handled = object
        .status()
        .cloned()
        .and_then(|mut s| s.last_handled_reconcile_at_mut().clone());
    requested.is_some() && requested == handled.as_deref()
}

/// Sets `reconcile.fluxcd.io/requestedAt` on `name` to a new token.
pub async fn request_reconcile<K: FluxObject>(api: &Api<K>, name: &str) {
    let patch = rill_common::runtime::reconcile_request::request_patch();
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap_or_else(|e| panic!("{name}: cannot annotate: {e}"));
}

/// Creates the namespaced object `kind` (any API group) named `name` in `namespace` with
/// `spec`.
pub async fn create(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    spec: serde_json::Value,
) {
    let lower = kind.to_lowercase();
    let plural = match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = kube::api::ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural,
    };
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource);
    let body = serde_json::json!({"apiVersion": api_version, "kind": kind,
        "metadata": {"name": name, "namespace": namespace}, "spec": spec});
    let object = serde_json::from_value(body).unwrap_or_else(|e| panic!("{kind} {name}: {e}"));
    api.create(&kube::api::PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("cannot create {kind} {namespace}/{name}: {e}"));
}

/// Creates the Secret `name` in `namespace` with `stringData`.
pub async fn secret(client: &kube::Client, namespace: &str, name: &str, data: &[(&str, &str)]) {
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    let body = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace}, "stringData": data});
    let object = serde_json::from_value(body).unwrap_or_else(|e| panic!("secret {name}: {e}"));
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), namespace)
        .create(&kube::api::PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("cannot create secret {namespace}/{name}: {e}"));
}

/// An ImageRepository `name` scanning `image` (plain HTTP) hourly and an ImagePolicy `name`
/// picking from it by the semver `range`.
pub async fn image_policy(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    image: &str,
    range: &str,
) {
    let api = "image.toolkit.fluxcd.io/v1";
    let scan = serde_json::json!({"image": image, "interval": "1h", "insecure": true});
    create(client, api, "ImageRepository", namespace, name, scan).await;
    let policy = serde_json::json!({"imageRepositoryRef": {"name": name}, "policy": {"semver": {"range": range}}});
    create(client, api, "ImagePolicy", namespace, name, policy).await;
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `VmHWM:`), 0 when unreadable.
pub fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
