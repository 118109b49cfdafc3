//! What every Flux kind has in common, as two small traits the reconcile frame works from:
//! the status fields it maintains ([`FluxStatus`]) and the spec fields it reads
//! ([`FluxObject`]).

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::image_v1::{
    ImagePolicy, ImagePolicyStatus, ImageRepository, ImageRepositoryStatus, ImageUpdateAutomation,
    ImageUpdateAutomationStatus,
};
use super::kustomize_v1::{Kustomization, KustomizationStatus};
use super::notification_v1::{Receiver, ReceiverStatus};
use super::source_v1::{GitRepository, GitRepositoryStatus, OCIRepository, OCIRepositoryStatus};

/// The status fields every Flux kind carries (`meta.ReconcileRequestStatus` and conditions).
pub trait FluxStatus: Clone + Default + PartialEq + Serialize + Debug + Send + Sync {
    /// `status.conditions` (empty when unset).
    fn conditions(&self) -> &[Condition];
    /// `status.conditions`.
    fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>>;
    /// `status.observedGeneration`.
    fn observed_generation_mut(&mut self) -> &mut Option<i64>;
    /// `status.lastHandledReconcileAt`.
    fn last_handled_reconcile_at_mut(&mut self) -> &mut Option<String>;
}

/// A namespaced Flux kind as the reconcile frame sees it.
pub trait FluxObject:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The kind's status.
    type Status: FluxStatus;
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `spec.interval` as written (`None` when the kind has no interval set).
    fn interval(&self) -> Option<&str>;
    /// The observed status.
    fn status(&self) -> Option<&Self::Status>;
}

macro_rules! flux_kind {
    ($kind:ty, $status:ty, |$spec:ident| $interval:expr) => {
        impl FluxStatus for $status {
            fn conditions(&self) -> &[Condition] {
                self.reconcile.conditions.as_deref().unwrap_or_default()
            }
            fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>> {
                &mut self.reconcile.conditions
            }
            fn observed_generation_mut(&mut self) -> &mut Option<i64> {
                &mut self.reconcile.observed_generation
            }
            fn last_handled_reconcile_at_mut(&mut self) -> &mut Option<String> {
                &mut self.reconcile.last_handled_reconcile_at
            }
        }

        impl FluxObject for $kind {
            type Status = $status;
            fn suspended(&self) -> bool {
                self.spec.suspend == Some(true)
            }
            fn interval(&self) -> Option<&str> {
                let $spec = &self.spec;
                $interval
            }
            fn status(&self) -> Option<&Self::Status> {
                self.status.as_ref()
            }
        }
    };
}

flux_kind!(GitRepository, GitRepositoryStatus, |s| Some(&s.interval));
flux_kind!(OCIRepository, OCIRepositoryStatus, |s| Some(&s.interval));
flux_kind!(Kustomization, KustomizationStatus, |s| Some(&s.interval));
flux_kind!(ImageRepository, ImageRepositoryStatus, |s| Some(
    &s.interval
));
flux_kind!(ImagePolicy, ImagePolicyStatus, |s| s.interval.as_deref());
flux_kind!(
    ImageUpdateAutomation,
    ImageUpdateAutomationStatus,
    |s| Some(&s.interval)
);
flux_kind!(Receiver, ReceiverStatus, |s| s
    .interval
    .as_deref()
    .or(Some("10m")));
