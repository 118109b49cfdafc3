//! The reconcile frame both source kinds share: suspend, the Reconciling mark, the kind's
//! steps, settled conditions, `lastHandledReconcileAt`, one status patch when something
//! changed, metrics, the `NewArtifact` or Ready-transition event, and the requeue.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use rill_common::api::source_v1::{
    GitRepository, GitRepositoryStatus, OCIRepository, OCIRepositoryStatus,
};
use rill_common::conditions::{self, reasons};
use rill_common::runtime::events::{EventNote, Severity, ready_transition};
use rill_common::runtime::reconcile_request::handled_value;
use rill_common::runtime::status::patch_status_if_changed;
use serde::Serialize;

use crate::Context;
use crate::error::Error;
use crate::kind::SourceKind;

/// `spec.timeout` of a source, 60 s when unset or unreadable (Flux's default).
pub fn spec_timeout(timeout: Option<&str>) -> std::time::Duration {
    timeout
        .and_then(|t| rill_common::duration::parse(t).ok())
        .unwrap_or(std::time::Duration::from_secs(60))
}

/// The field manager of status writes.
pub const FIELD_MANAGER: &str = "source-controller";

/// The status fields the frame maintains.
pub struct StatusParts<'a> {
    /// `status.conditions`.
    pub conditions: &'a mut Option<Vec<Condition>>,
    /// `status.observedGeneration`.
    pub observed_generation: &'a mut Option<i64>,
    /// `status.lastHandledReconcileAt`.
    pub last_handled_reconcile_at: &'a mut Option<String>,
}

/// What the frame needs from a source kind.
pub trait SourceObject: SourceKind {
    /// The kind's status.
    type Status: Clone + Default + PartialEq + Serialize + Send;
    /// The kind name, for metrics.
    const KIND: &'static str;
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `spec.interval`.
    fn interval(&self) -> &str;
    /// The observed status.
    fn observed(&self) -> Option<&Self::Status>;
    /// The fields of a status the frame writes.
    fn parts(status: &mut Self::Status) -> StatusParts<'_>;
}

macro_rules! source_object {
    ($kind:ty, $status:ty, $name:literal) => {
        impl SourceObject for $kind {
            type Status = $status;
            const KIND: &'static str = $name;
            fn suspended(&self) -> bool {
                self.spec.suspend.unwrap_or(false)
            }
            fn interval(&self) -> &str {
                &self.spec.interval
            }
            fn observed(&self) -> Option<&Self::Status> {
                self.status.as_ref()
            }
            fn parts(status: &mut Self::Status) -> StatusParts<'_> {
                StatusParts {
                    conditions: &mut status.conditions,
                    observed_generation: &mut status.observed_generation,
                    last_handled_reconcile_at: &mut status.last_handled_reconcile_at,
                }
            }
        }
    };
}

source_object!(GitRepository, GitRepositoryStatus, "GitRepository");
source_object!(OCIRepository, OCIRepositoryStatus, "OCIRepository");

/// Reconciles `object` around `steps`, which update the status and conditions and return the
/// message of a `NewArtifact` event when they stored a new artifact.
pub async fn reconcile<K: SourceObject>(
    object: &K,
    ctx: &Context,
    steps: impl AsyncFnOnce(
        &mut K::Status,
        &mut Vec<Condition>,
        i64,
        &Time,
    ) -> Result<Option<String>, Error>,
) -> Result<Action, Error> {
    let (namespace, name) = (object.namespace().unwrap_or_default(), object.name_any());
    let _timer = ctx.metrics.reconcile_timer(K::KIND, &namespace, &name);
    let suspended = object.suspended();
    ctx.metrics
        .record_suspend(K::KIND, &namespace, &name, suspended);
    if suspended {
        return Ok(Action::await_change());
    }
    let generation = object.meta().generation.unwrap_or(0);
    let now = Time(jiff::Timestamp::now());
    let observed = object.observed().cloned();
    let mut status = observed.clone().unwrap_or_default();
    let mut conds: Vec<Condition> = K::parts(&mut status).conditions.take().unwrap_or_default();
    let before = conds.clone();
    conditions::mark_reconciling(
        &mut conds,
        reasons::PROGRESSING,
        "reconciliation in progress",
        generation,
        &now,
    );

    let result = steps(&mut status, &mut conds, generation, &now).await;
    let parts = K::parts(&mut status);
    if crate::outcome::settle(&mut conds, &result, generation, &now) {
        *parts.observed_generation = Some(generation);
    }
    *parts.last_handled_reconcile_at =
        handled_value(object.meta(), parts.last_handled_reconcile_at.as_deref());
    *parts.conditions = Some(conds.clone());
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    patch_status_if_changed(&api, &name, observed.as_ref(), &status, FIELD_MANAGER)
        .await
        .map_err(|e| Error::Kube(format!("failed to patch status: {e}")))?;
    ctx.metrics
        .record_conditions(K::KIND, &namespace, &name, &conds, false);

    let note = match &result {
        Ok(Some(message)) => Some(EventNote {
            severity: Severity::Info,
            reason: reasons::NEW_ARTIFACT.into(),
            message: message.clone(),
        }),
        _ => ready_transition(&before, &conds),
    };
    if let Some(note) = note
        && let Err(e) = ctx.recorder.publish(&object.object_ref(&()), &note).await
    {
        tracing::warn!(error = %e, "cannot publish event");
    }
    let key = format!("{namespace}/{name}");
    Ok(crate::outcome::next_action(
        ctx,
        &key,
        object.interval(),
        &result,
    ))
}
