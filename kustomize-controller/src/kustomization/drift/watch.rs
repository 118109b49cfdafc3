//! One metadata-only watch per kind in use, over the objects carrying the controller's owner
//! label: modifications and deletions go to the drift watch; after a re-list (a restarted
//! watch) objects that vanished meanwhile count as deleted.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, PartialObjectMeta};
use kube::runtime::watcher::{self, Event, watcher};

use super::DriftWatch;
use crate::kustomization::inventory::ObjectId;

/// The owner label every applied object carries.
const OWNER_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";

fn id_of(resource: &ApiResource, meta: &ObjectMeta) -> ObjectId {
    ObjectId {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        group: resource.group.clone(),
        kind: resource.kind.clone(),
    }
}

/// Starts the watch of `resource`'s objects; it runs for the life of the process.
pub(super) fn spawn(client: Client, resource: ApiResource, drift: Arc<DriftWatch>) {
    tokio::spawn(async move {
        // Metadata only: the watch holds no object bodies.
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &resource);
        let config = watcher::Config::default().labels(OWNER_LABEL);
        let mut events = rill_common::runtime::watch::resilient(watcher(api, config)).boxed();
        // Objects listed since the watch (re)started, to find those deleted meanwhile.
        let mut listed: Option<HashSet<ObjectId>> = None;
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Apply(meta)) => {
                    let id = id_of(&resource, &meta.metadata);
                    drift.observed(
                        &id,
                        false,
                        meta.metadata.managed_fields.as_deref().unwrap_or_default(),
                    );
                }
                Ok(Event::Delete(meta)) => {
                    let id = id_of(&resource, &meta.metadata);
                    drift.observed(&id, true, &[]);
                }
                Ok(Event::Init) => listed = Some(HashSet::new()),
                Ok(Event::InitApply(meta)) => {
                    let id = id_of(&resource, &meta.metadata);
                    drift.observed(
                        &id,
                        false,
                        meta.metadata.managed_fields.as_deref().unwrap_or_default(),
                    );
                    if let Some(seen) = listed.as_mut() {
                        seen.insert(id);
                    }
                }
                Ok(Event::InitDone) => {
                    if let Some(seen) = listed.take() {
                        for id in drift.missing(&resource.group, &resource.kind, &seen) {
                            drift.observed(&id, true, &[]);
                        }
                    }
                }
                Err(e) => tracing::debug!(kind = %resource.kind, error = %e, "drift watch"),
            }
        }
    });
}
