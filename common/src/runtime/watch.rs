//! The watches every Rill controller sets up: an API for one kind scoped to the watched
//! namespace (or all of them), the primary watch reflected into a store and filtered on
//! generation and `requestedAt`, and the loop that drives a kube-rs controller.

use std::fmt::Debug;

use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::{Store, store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::reconcile_request::generation_or_requested_at;

/// An API for the namespaced kind `K` in `namespace`, or in all namespaces.
pub fn scoped_api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The primary watch of a controller: every object of `api` (only those matching
/// `label_selector`, `--watch-label-selector`, when set), kept in the returned store, and
/// a trigger stream that fires on generation, `requestedAt`, finalizer and deletion changes.
/// The cached objects carry no `managedFields`.
pub fn primary<K>(
    api: Api<K>,
    label_selector: Option<&str>,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = store();
    let mut config = watcher::Config::default();
    if let Some(selector) = label_selector {
        config = config.labels(selector);
    }
    let trigger = watcher(api, config)
        .default_backoff()
        // As Flux's caches: managed fields are never read from the cache, and they are often
        // the larger part of an object.
        .modify(|object| object.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(generation_or_requested_at, Default::default());
    (reader, trigger)
}

/// Drives a controller's result stream to its end, logging failed reconciles at debug level
/// (the reconcilers report their errors in conditions and events).
pub async fn drain<T, E: std::fmt::Display>(results: impl Stream<Item = Result<T, E>>) {
    results
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile failed");
            }
        })
        .await;
}

/// A secondary watch: objects of `api` (under `config`) whose `key` changed, for mapping to the
/// primary objects that depend on them.
pub fn changes<K>(
    api: Api<K>,
    config: watcher::Config,
    key: fn(&K) -> Option<u64>,
) -> futures::stream::BoxStream<'static, Result<K, watcher::Error>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    watcher(api, config)
        .default_backoff()
        .applied_objects()
        .predicate_filter(key, Default::default())
        .boxed()
}
