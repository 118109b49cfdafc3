//! The `reconcile.fluxcd.io/requestedAt` annotation: detecting a new request, recording it in
//! `status.lastHandledReconcileAt`, and the watch predicate (generation or request changed).

use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

/// The annotation that asks for an immediate reconcile.
pub const REQUESTED_AT_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

/// The `requestedAt` token of an object, if any.
pub fn requested_at(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()?
        .get(REQUESTED_AT_ANNOTATION)
        .map(String::as_str)
}

/// The token of a request not handled yet: present and different from `last_handled`.
pub fn pending_request<'a>(meta: &'a ObjectMeta, last_handled: Option<&str>) -> Option<&'a str> {
    requested_at(meta).filter(|token| Some(*token) != last_handled)
}

/// A merge patch asking for a reconcile now (a new `requestedAt` token: the current time), as
/// `flux reconcile` and the notification receiver write it.
pub fn request_patch() -> serde_json::Value {
    let token = jiff::Timestamp::now().to_string();
    serde_json::json!({"metadata": {"annotations": {REQUESTED_AT_ANNOTATION: token}}})
}

/// The value to store in `status.lastHandledReconcileAt` after a reconcile: the current token,
/// or the previous value when there is none.
pub fn handled_value(meta: &ObjectMeta, last_handled: Option<&str>) -> Option<String> {
    requested_at(meta).or(last_handled).map(str::to_string)
}

/// Watch predicate: changes when the generation, the `requestedAt` token, the finalizers or
/// the deletion timestamp change, and not on status or label updates (finalizers count so
/// that adding one, which the finalizer helper waits for, triggers the next reconcile). Use
/// with `WatchStreamExt::predicate_filter`.
pub fn generation_or_requested_at<K: Resource>(obj: &K) -> Option<u64> {
    let meta = obj.meta();
    let mut hasher = DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    requested_at(meta).hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    fn object(generation: i64, token: Option<&str>, label: &str) -> ConfigMap {
        let mut annotations = BTreeMap::new();
        if let Some(token) = token {
            annotations.insert(REQUESTED_AT_ANNOTATION.to_string(), token.to_string());
        }
        ConfigMap {
            metadata: ObjectMeta {
                generation: Some(generation),
                annotations: Some(annotations),
                labels: Some(BTreeMap::from([("l".to_string(), label.to_string())])),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn pending_request_is_a_token_not_yet_handled() {
        let with = object(1, Some("t2"), "a");
        let without = object(1, None, "a");
        let cases = [
            (&with, None, Some("t2")),
            (&with, Some("t1"), Some("t2")),
            (&with, Some("t2"), None),
            (&without, Some("t1"), None),
        ];
        for (obj, last, want) in cases {
            assert_eq!(pending_request(&obj.metadata, last), want);
        }
        assert_eq!(
            handled_value(&with.metadata, Some("t1")).as_deref(),
            Some("t2")
        );
        assert_eq!(
            handled_value(&without.metadata, Some("t1")).as_deref(),
            Some("t1")
        );
        assert_eq!(handled_value(&without.metadata, None), None);
    }

    #[test]
    fn predicate_fires_on_generation_or_token_only() {
        let base = generation_or_requested_at(&object(1, Some("t1"), "a"));
        assert_eq!(
            base,
            generation_or_requested_at(&object(1, Some("t1"), "b")),
            "labels do not count"
        );
        assert_ne!(
            base,
            generation_or_requested_at(&object(2, Some("t1"), "a"))
        );
        assert_ne!(
            base,
            generation_or_requested_at(&object(1, Some("t2"), "a"))
        );
        assert_ne!(base, generation_or_requested_at(&object(1, None, "a")));
        let mut finalized = object(1, Some("t1"), "a");
        finalized.metadata.finalizers = Some(vec!["finalizers.fluxcd.io".into()]);
        assert_ne!(
            base,
            generation_or_requested_at(&finalized),
            "adding a finalizer triggers"
        );
    }
}
