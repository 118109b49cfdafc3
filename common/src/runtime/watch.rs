//! The watches every Rill controller sets up: an API for one kind scoped to the watched
//! namespace (or all of them), the primary watch reflected into a store and filtered on
//! generation and `requestedAt`, and the loop that drives a kube-rs controller.

use std::fmt::Debug;

use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::{Store, store};
use kube::runtime::watcher::Event;
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
    let trigger = resilient(watcher(api, config))
        // As Flux's caches: managed fields are never read from the cache, and they are often
        // the larger part of an object.
        .modify(|object| object.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(generation_or_requested_at, Default::default());
    (reader, trigger)
}

/// Whether a watch error is the API server's "410 Gone: too old resource version", which tells
/// the watcher to list again (as after an API server restart), not that anything failed.
pub fn is_expired(error: &watcher::Error) -> bool {
    matches!(error, watcher::Error::WatchError(status) if status.code == 410)
}

/// A watcher with kube-rs' default backoff for failures, except that an expired resource
/// version relists at once: the watcher has already dropped its position, and backing off
/// there (after the growing delays of an API server outage) left controllers blind for
/// tens of seconds after the server came back (found by the sandbox-restart fault drill).
pub fn resilient<K, S>(events: S) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Send + 'static,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
{
    events
        .filter(|event| {
            let expired = matches!(event, Err(e) if is_expired(e));
            if expired {
                tracing::debug!("watch expired (410 Gone): listing again");
            }
            std::future::ready(!expired)
        })
        .default_backoff()
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
    resilient(watcher(api, config))
        .applied_objects()
        .predicate_filter(key, Default::default())
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::core::Status;

    fn expired() -> watcher::Error {
        let mut status = Status::failure("too old resource version: 1 (5)", "Expired");
        status.code = 410;
        watcher::Error::WatchError(Box::new(status))
    }

    fn failed() -> watcher::Error {
        let mut status = Status::failure("internal error", "InternalError");
        status.code = 500;
        watcher::Error::WatchError(Box::new(status))
    }

    #[tokio::test]
    async fn an_expired_watch_relists_at_once_and_other_failures_back_off() {
        // kube-rs' backoff sleeps at least 800 ms after a failure before the next item.
        let after_410: Vec<Result<Event<ConfigMap>, watcher::Error>> =
            vec![Err(expired()), Ok(Event::Init)];
        let started = std::time::Instant::now();
        let out: Vec<_> = resilient(futures::stream::iter(after_410)).collect().await;
        assert!(
            matches!(out.as_slice(), [Ok(Event::Init)]),
            "the 410 is not passed on"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(600),
            "no backoff after a 410"
        );
        let after_500: Vec<Result<Event<ConfigMap>, watcher::Error>> =
            vec![Err(failed()), Ok(Event::Init)];
        let started = std::time::Instant::now();
        let out: Vec<_> = resilient(futures::stream::iter(after_500)).collect().await;
        assert!(matches!(out.as_slice(), [Err(e), Ok(Event::Init)] if !is_expired(e)));
        assert!(started.elapsed() >= std::time::Duration::from_millis(800));
    }
}
