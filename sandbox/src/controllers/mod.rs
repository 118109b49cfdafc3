//! The background controllers a cluster would run: namespace termination, CRD cleanup,
//! owner-reference garbage collection and the workload simulator.

pub mod defaults;
mod garbage;
mod namespaces;
mod workloads;

use std::sync::Arc;
use std::time::Duration;

use crate::resources::ResourceType;
use crate::server::ApiServer;

/// Runs every controller pass after each write (debounced) and at least every 500 ms.
pub async fn run(api: Arc<ApiServer>) {
    loop {
        let notified = api.changed.notified();
        tokio::select! {
            _ = notified => tokio::time::sleep(Duration::from_millis(20)).await,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        namespaces::terminate(&api);
        namespaces::cleanup_crds(&api);
        garbage::collect(&api);
        if api.options.simulate_workloads {
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
