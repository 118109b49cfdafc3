//! The background controllers a cluster would run: namespace termination, CRD cleanup,
//! ClusterRole aggregation, owner-reference garbage collection and the workload simulator
//! (Deployment rollouts through ReplicaSets, the workloads' Pods, other Pods bound to the one
//! node and started, workload status).

pub mod aggregation;
pub mod defaults;
mod events;
mod garbage;
mod kubelet;
mod namespaces;
pub mod nodes;
mod pods;
mod rollouts;
mod workloads;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::resources::ResourceType;
use crate::server::ApiServer;
use crate::store::{EventType, StoredEvent};

/// What the writes since the last pass ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Due {
    namespaces: bool,
    crds: bool,
    garbage: bool,
    cluster_roles: bool,
}

impl Due {
    const ALL: Due = Due {
        namespaces: true,
        crds: true,
        garbage: true,
        cluster_roles: true,
    };

    /// Notes one change: only deletions, owner references and objects being deleted concern
    /// the garbage collector; only namespace and CRD changes start their controllers.
    fn note(&mut self, event: &StoredEvent) {
        let meta = &event.object["metadata"];
        let deleting = meta.get("deletionTimestamp").is_some_and(|t| !t.is_null());
        let owned = meta["ownerReferences"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        self.garbage |= event.type_ == EventType::Deleted || deleting || owned;
        self.namespaces |= event.key.group.is_empty()
            && (event.key.resource == "namespaces"
                || (event.key.resource == "serviceaccounts" && event.type_ == EventType::Deleted)
                || (event.key.resource == "configmaps" && event.key.name == namespaces::ROOT_CA));
        self.crds |= event.key.resource == "customresourcedefinitions";
        self.cluster_roles |=
            event.key.group == "rbac.authorization.k8s.io" && event.key.resource == "clusterroles";
    }
}

/// Everything full-scanned at least this often, whatever the writes said.
const FULL_PASS: Duration = Duration::from_secs(5);

/// Runs the controller passes the writes ask for, debounced (a garbage-collection scan walks
/// every object, so a burst of ConfigMap writes must not start one per write), every pass at
/// least every [`FULL_PASS`], and the workload simulator after each write.
pub async fn run(api: Arc<ApiServer>) {
    let mut seen = api.store.current_rv();
    let mut due = Due::ALL;
    // Controllers with work left (a namespace still terminating) run again next pass.
    let mut pending = Due::default();
    let mut last_full = Instant::now();
    loop {
        let notified = api.changed.notified();
        tokio::select! {
            _ = notified => tokio::time::sleep(Duration::from_millis(20)).await,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        match api.store.events_after(seen) {
            Ok(events) => {
                for event in &events {
                    due.note(event);
                }
                seen = events.last().map_or(seen, |e| e.rv);
            }
            Err(_) => {
                due = Due::ALL;
                seen = api.store.current_rv();
            }
        }
        if last_full.elapsed() >= FULL_PASS {
            due = Due::ALL;
            last_full = Instant::now();
        }
        if due.namespaces {
            namespaces::namespace_defaults(&api);
        }
        if due.namespaces || pending.namespaces {
            pending.namespaces = namespaces::terminate(&api);
        }
        if due.crds || pending.crds {
            pending.crds = namespaces::cleanup_crds(&api);
        }
        if due.cluster_roles {
            aggregation::aggregate(&api);
        }
        if due.garbage || pending.garbage {
            pending.garbage = garbage::collect(&api);
        }
        due = Due::default();
        if api.options.simulate_workloads {
            rollouts::reconcile(&api);
            // One read of the Pods for both; the kubelet writes only over the version read.
            let (pods, _) = api.store.list("", "pods", None);
            pods::reconcile(&api, &pods);
            kubelet::reconcile(&api, &pods);
            workloads::simulate(&api);
        }
    }
}

/// One type per stored resource (its storage version).
fn stored_types(api: &ApiServer) -> Vec<ResourceType> {
    api.all_types()
        .into_iter()
        .filter(|t| t.version == t.storage_version && !t.create_only)
        .collect()
}
