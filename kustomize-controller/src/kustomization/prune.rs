//! Garbage collection: delete the objects that left the inventory, but only those that still
//! carry this Kustomization's owner labels and no opt-out; objects whose delete failed stay
//! in the inventory.

use kube::Client;
use kube::api::{DeleteParams, PropagationPolicy};

use super::apply::{Action, Change};
use super::cluster::{RestMapper, api};
use super::inventory::Entry;
use super::objects::prunable;

/// The outcome of a prune: what happened, and the entries that must stay in the inventory.
pub struct Pruned {
    /// Deleted and skipped objects.
    pub changes: Vec<Change>,
    /// Entries whose deletion failed, with the errors.
    pub failed: Vec<(Entry, String)>,
}

/// Deletes the `stale` entries owned by the Kustomization `owner` (name, namespace).
pub async fn prune(
    tenant: &Client,
    controller: &Client,
    mapper: &RestMapper,
    stale: &[Entry],
    owner: (&str, &str),
) -> Pruned {
    let mut out = Pruned {
        changes: Vec::new(),
        failed: Vec::new(),
    };
    for entry in stale {
        let kind = match mapper
            .resolve(controller, &entry.api_version(), &entry.id.kind)
            .await
        {
            Ok(Some(kind)) => kind,
            // The kind is gone (its CRD was deleted), and so are its objects.
            Ok(None) => continue,
            Err(e) => {
                out.failed.push((
                    entry.clone(),
                    format!("{}: discovery failed: {e}", entry.id.display()),
                ));
                continue;
            }
        };
        let api = api(tenant, &kind, &entry.id.namespace);
        let live = match api.get_opt(&entry.id.name).await {
            Ok(Some(live)) => serde_json::to_value(live).unwrap_or_default(),
            Ok(None) => continue,
            Err(e) => {
                out.failed.push((
                    entry.clone(),
                    format!("{} get failed: {e}", entry.id.display()),
                ));
                continue;
            }
        };
        if !prunable(&live, owner.0, owner.1) {
            out.changes.push(Change {
                entry: entry.clone(),
                action: Action::Skipped,
            });
            continue;
        }
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match api.delete(&entry.id.name, &params).await {
            Ok(_) => out.changes.push(Change {
                entry: entry.clone(),
                action: Action::Deleted,
            }),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => out.failed.push((
                entry.clone(),
                format!("{} delete failed: {e}", entry.id.display()),
            )),
        }
    }
    out
}
