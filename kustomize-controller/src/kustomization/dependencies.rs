//! `dependsOn`: every listed Kustomization must exist, have observed its generation, be
//! Ready, and, when it uses the same source, have applied the same revision.

use std::time::Duration;

use kube::api::Api;
use kube::{Client, ResourceExt};
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::conditions::{self, types};

use crate::error::Error;

/// Why a dependency is not ready, or `None` when it is (pure).
pub fn not_ready(dep: &Kustomization, same_source_revision: Option<&str>) -> Option<String> {
    let status = dep.status.as_ref();
    let conds = status
        .and_then(|s| s.reconcile.conditions.as_deref())
        .unwrap_or_default();
    if conds.is_empty() {
        return Some("is not ready".into());
    }
    if dep.metadata.generation != status.and_then(|s| s.reconcile.observed_generation) {
        return Some("is not ready: the latest generation is not observed yet".into());
    }
    if !conditions::is_true(conds, types::READY) {
        return Some("is not ready".into());
    }
    if let Some(revision) = same_source_revision
        && status.and_then(|s| s.last_applied_revision.as_deref()) != Some(revision)
    {
        return Some(format!(
            "is not ready: revision {revision} is not applied yet"
        ));
    }
    None
}

/// Checks every dependency of `ks`; `revision` is the revision of `ks`'s own source.
pub async fn check(
    client: &Client,
    ks: &Kustomization,
    revision: &str,
    requeue: Duration,
    additive: bool,
) -> Result<(), Error> {
    let own_ns = ks.namespace().unwrap_or_default();
    for dep in ks.spec.depends_on.iter().flatten() {
        let ns = dep
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| own_ns.clone());
        let wait = |why: String| Error::DependencyNotReady {
            message: format!(
                "dependency '{ns}/{}' {why}; dependencies do not meet ready condition, retrying in {}",
                dep.name,
                rill_common::duration::format(requeue)
            ),
            retry: requeue,
        };
        let found = Api::<Kustomization>::namespaced(client.clone(), &ns)
            .get_opt(&dep.name)
            .await
            .map_err(|e| Error::Kube(format!("cannot read dependency '{ns}/{}': {e}", dep.name)))?;
        let Some(found) = found else {
            return Err(wait("not found".into()));
        };
        let same_source = found.spec.source_ref.kind == ks.spec.source_ref.kind
            && found.spec.source_ref.name == ks.spec.source_ref.name
            && super::source::source_namespace(&found) == super::source::source_namespace(ks);
        let expr = dep.ready_expr.as_deref().filter(|e| !e.is_empty());
        if let Some(expr) = expr {
            let this = serde_json::to_value(ks).unwrap_or_default();
            let other = serde_json::to_value(&found).unwrap_or_default();
            match super::cel_expr::evaluate(expr, &[("self", &this), ("dep", &other)]) {
                Ok(true) => {}
                Ok(false) => return Err(wait(format!("does not meet readyExpr {expr:?}"))),
                Err(e) => return Err(wait(e.to_string())),
            }
        }
        if (expr.is_none() || additive)
            && let Some(why) = not_ready(&found, same_source.then_some(revision))
        {
            return Err(wait(why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(generation: i64, observed: i64, ready: &str, applied: &str) -> Kustomization {
        serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "d", "namespace": "ns", "generation": generation},
            "spec": {"interval": "1m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "s"}},
            "status": {"observedGeneration": observed, "lastAppliedRevision": applied,
                "conditions": [{"type": "Ready", "status": ready, "reason": "x", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn readiness_follows_flux_rules() {
        let cases = [
            (dep(1, 1, "True", "main@sha1:a"), None, true),
            (dep(2, 1, "True", "main@sha1:a"), None, false),
            (dep(1, 1, "False", "main@sha1:a"), None, false),
            (dep(1, 1, "True", "main@sha1:a"), Some("main@sha1:a"), true),
            (dep(1, 1, "True", "main@sha1:a"), Some("main@sha1:b"), false),
        ];
        for (d, revision, ready) in cases {
            assert_eq!(not_ready(&d, revision).is_none(), ready, "{revision:?}");
        }
    }
}
