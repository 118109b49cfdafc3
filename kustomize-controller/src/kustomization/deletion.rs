//! Deleting a Kustomization: prune its inventory when the deletion policy says so (never when
//! suspended), optionally wait for the objects to be gone, then let the finalizer go.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use rill_common::api::kustomize_v1::{DeletionPolicy, Kustomization};
use rill_common::conditions::reasons;
use rill_common::runtime::events::EventNote;

use super::apply::change_log;
use super::pipeline::{tenant_client, timeout};
use super::{Context, KIND, inventory, prune};
use crate::error::Error;

/// Whether objects are deleted with the Kustomization (pure).
pub fn deletes_objects(policy: Option<DeletionPolicy>, prune: bool, suspended: bool) -> bool {
    if suspended {
        return false;
    }
    match policy.unwrap_or(DeletionPolicy::MirrorPrune) {
        DeletionPolicy::MirrorPrune => prune,
        DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
        DeletionPolicy::Orphan => false,
    }
}

pub(super) async fn finalize(ks: Arc<Kustomization>, ctx: &Context) -> Result<Action, Error> {
    let (namespace, name) = (ks.namespace().unwrap_or_default(), ks.name_any());
    // Deleting the objects (or orphaning them) is not drift.
    ctx.drift.forget(&(namespace.clone(), name.clone()));
    let entries = inventory::from_status(ks.status.as_ref().and_then(|s| s.inventory.as_ref()));
    let policy = ks.spec.deletion_policy;
    if !entries.is_empty() && deletes_objects(policy, ks.spec.prune, ks.spec.suspend == Some(true))
    {
        let tenant = tenant_client(ctx, &ks)?;
        let pruned = prune::prune(
            &tenant,
            &ctx.frame.client,
            &ctx.mapper,
            &entries,
            (&name, &namespace),
        )
        .await;
        let log = change_log(&pruned.changes);
        if !log.is_empty() {
            ctx.frame
                .publish(ks.as_ref(), &EventNote::info(reasons::PROGRESSING, log))
                .await;
        }
        for (_, message) in &pruned.failed {
            tracing::warn!(kustomization = %format!("{namespace}/{name}"), %message, "object left behind on deletion");
        }
        if policy == Some(DeletionPolicy::WaitForTermination) {
            let deadline = tokio::time::Instant::now() + timeout(&ks);
            while tokio::time::Instant::now() < deadline {
                let mut remaining = 0;
                for entry in &entries {
                    if let Ok(Some(kind)) = ctx
                        .mapper
                        .resolve(&ctx.frame.client, &entry.api_version(), &entry.id.kind)
                        .await
                        && let Ok(Some(_)) =
                            super::cluster::api(&tenant, &kind, &entry.id.namespace)
                                .get_opt(&entry.id.name)
                                .await
                    {
                        remaining += 1;
                    }
                }
                if remaining == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    ctx.frame
        .metrics
        .record_conditions(KIND, &namespace, &name, &[], true);
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_policy_matrix() {
        use DeletionPolicy::*;
        let cases = [
            (None, true, false, true),
            (None, false, false, false),
            (Some(MirrorPrune), true, false, true),
            (Some(Delete), false, false, true),
            (Some(WaitForTermination), false, false, true),
            (Some(Orphan), true, false, false),
            (Some(Delete), true, true, false),
        ];
        for (policy, prune, suspended, want) in cases {
            assert_eq!(
                deletes_objects(policy, prune, suspended),
                want,
                "{policy:?} {prune} {suspended}"
            );
        }
    }
}
