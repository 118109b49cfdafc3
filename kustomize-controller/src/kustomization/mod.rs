//! The Kustomization reconciler: watches Kustomizations, their sources' artifact revisions
//! and their dependencies' readiness; runs the pipeline under the finalizer; writes
//! conditions, inventory and history through the shared reconcile frame (`result.rs`).

pub mod apply;
pub mod apply_error;
pub mod artifact_cache;
pub mod build;
pub mod cel_expr;
pub mod cluster;
pub mod decryption;
mod deletion;
pub mod dependencies;
pub mod drift;
pub mod drift_ignore;
pub mod envsubst;
pub mod generate;
pub mod health;
pub mod inventory;
pub mod kstatus;
pub mod managed_fields;
pub mod objects;
pub mod pipeline;
pub mod plan;
pub mod prune;
mod result;
pub mod source;
mod validate;

use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::finalizer::Error as FinalizerError;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use rill_common::api::kustomize_v1::{Kustomization, SourceKind, SubstituteKind};
use rill_common::api::source_v1::{GitRepository, OCIRepository};
use rill_common::conditions::types;
use rill_common::runtime::frame::Frame;
use rill_common::runtime::watch::{changes, drain, primary, scoped_api};

use crate::error::Error;

pub use rill_common::runtime::frame::FINALIZER;
/// The field manager of status writes, as Flux names it.
pub const STATUS_MANAGER: &str = "gotk-kustomize-controller";
const KIND: &str = "Kustomization";

/// Behaviour chosen by flags.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// `--default-service-account`.
    pub default_service_account: Option<String>,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
    /// `--interval-jitter-percentage`.
    pub jitter_percentage: u8,
    /// Feature gate `StrictPostBuildSubstitutions` (on by default, as in Flux 2.9).
    pub strict_substitution: bool,
    /// Feature gate `AdditiveCELDependencyCheck`: `readyExpr` adds to the built-in check
    /// instead of replacing it.
    pub additive_cel_dependency_check: bool,
    /// `--watch-configs-label-selector`: labelled ConfigMaps and Secrets used by
    /// `postBuild.substituteFrom` trigger a reconcile when their data change (empty: off).
    pub watch_configs_selector: String,
    /// `--concurrent-ssa`, `--override-manager`, `--custom-apply-stage-kinds`.
    pub apply: apply::ApplyOptions,
    /// `--sops-age-secret`.
    pub decryption: decryption::GlobalKeys,
}

/// Shared state of the reconciler.
pub struct Context {
    /// The shared reconcile frame (the controller's own client, metrics, events, retries).
    pub frame: Frame,
    /// The controller's configuration, from which tenant clients are derived.
    pub base_config: kube::Config,
    /// Kind resolution.
    pub mapper: cluster::RestMapper,
    /// The rate limit of tenant clients.
    pub api_rate: cluster::ApiRate,
    /// Artifacts unpacked in memory, shared by the Kustomizations on one revision.
    pub artifacts: artifact_cache::ArtifactCache,
    /// The watch of applied objects that undoes (or reports) drift as it happens.
    pub drift: Arc<drift::DriftWatch>,
    /// Flag-driven behaviour.
    pub settings: Settings,
    /// The watched namespace (`None`: all).
    pub namespace: Option<String>,
    /// `--watch-label-selector`.
    pub label_selector: Option<String>,
    /// `--concurrent`.
    pub concurrency: u16,
}

fn source_key(kind: SourceKind, namespace: &str, name: &str) -> (SourceKind, String, String) {
    (kind, namespace.to_string(), name.to_string())
}

/// The Kustomizations of the store that `wanted` picks, as references to reconcile.
fn matching(
    store: &Store<Kustomization>,
    wanted: impl Fn(&Kustomization) -> bool,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .iter()
        .filter(|ks| wanted(ks))
        .map(|ks| ObjectRef::from_obj(ks.as_ref()))
        .collect()
}

fn referencing(
    store: &Store<Kustomization>,
    kind: SourceKind,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<Kustomization>> {
    matching(store, |ks| {
        source_key(
            ks.spec.source_ref.kind,
            &source::source_namespace(ks),
            &ks.spec.source_ref.name,
        ) == source_key(kind, namespace, name)
    })
}

fn dependents(store: &Store<Kustomization>, dep: &Kustomization) -> Vec<ObjectRef<Kustomization>> {
    let (name, namespace) = (dep.name_any(), dep.namespace().unwrap_or_default());
    matching(store, |ks| {
        let own = ks.namespace().unwrap_or_default();
        ks.spec.depends_on.iter().flatten().any(|d| {
            d.name == name
                && d.namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| own.clone())
                    == namespace
        })
    })
}

fn using_config(
    store: &Store<Kustomization>,
    kind: SubstituteKind,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<Kustomization>> {
    matching(store, |ks| {
        ks.namespace().as_deref() == Some(namespace)
            && ks
                .spec
                .post_build
                .iter()
                .flat_map(|p| p.substitute_from.iter().flatten())
                .any(|r| r.kind == kind && r.name == name)
    })
}

fn secret_data(secret: &Secret) -> Vec<(String, Vec<u8>)> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

fn hash_of(value: impl Hash) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    Some(hasher.finish())
}

fn readiness(ks: &Kustomization) -> Option<u64> {
    let status = ks.status.as_ref();
    let ready = status
        .and_then(|s| s.reconcile.conditions.as_deref())
        .and_then(|c| rill_common::conditions::get(c, types::READY))
        .map(|c| c.status.clone());
    hash_of((ready, status.and_then(|s| s.last_applied_revision.clone())))
}

/// Runs the Kustomization controller until the streams end.
pub async fn run(ctx: Arc<Context>) {
    let ns = ctx.namespace.as_deref();
    let client = &ctx.frame.client;
    let all = watcher::Config::default;
    let kustomizations = scoped_api::<Kustomization>(client, ns);
    let (reader, trigger) = primary(kustomizations.clone(), ctx.label_selector.as_deref());
    let git_changes = changes(scoped_api::<GitRepository>(client, ns), all(), |r| {
        hash_of(
            r.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .map(|a| &a.revision),
        )
    });
    let oci_changes = changes(scoped_api::<OCIRepository>(client, ns), all(), |r| {
        hash_of(
            r.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .map(|a| &a.revision),
        )
    });
    let own = match ctx.label_selector.as_deref() {
        Some(selector) => all().labels(selector),
        None => all(),
    };
    let ready_changes = changes(kustomizations, own, readiness);
    let selector = &ctx.settings.watch_configs_selector;
    let (cm_changes, secret_changes) = if selector.is_empty() {
        (
            futures::stream::empty().boxed(),
            futures::stream::empty().boxed(),
        )
    } else {
        let labelled = all().labels(selector);
        (
            changes(scoped_api::<ConfigMap>(client, ns), labelled.clone(), |c| {
                hash_of(&c.data)
            }),
            changes(scoped_api::<Secret>(client, ns), labelled, |s| {
                hash_of(secret_data(s))
            }),
        )
    };
    let (by_git, by_oci, by_dep) = (reader.clone(), reader.clone(), reader.clone());
    let (by_cm, by_secret) = (reader.clone(), reader.clone());
    let drift_requests = match ctx.drift.requests() {
        Some(requests) => futures::stream::unfold(requests, |mut rx| async move {
            rx.recv().await.map(|r| (r, rx))
        })
        .boxed(),
        None => futures::stream::empty().boxed(),
    };
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(ctx.concurrency))
        .watches_stream(git_changes, move |r: GitRepository| {
            referencing(
                &by_git,
                SourceKind::GitRepository,
                &r.namespace().unwrap_or_default(),
                &r.name_any(),
            )
        })
        .watches_stream(oci_changes, move |r: OCIRepository| {
            referencing(
                &by_oci,
                SourceKind::OCIRepository,
                &r.namespace().unwrap_or_default(),
                &r.name_any(),
            )
        })
        .watches_stream(ready_changes, move |ks: Kustomization| {
            dependents(&by_dep, &ks)
        })
        .watches_stream(cm_changes, move |c: ConfigMap| {
            let ns = c.namespace().unwrap_or_default();
            using_config(&by_cm, SubstituteKind::ConfigMap, &ns, &c.name_any())
        })
        .watches_stream(secret_changes, move |s: Secret| {
            let ns = s.namespace().unwrap_or_default();
            using_config(&by_secret, SubstituteKind::Secret, &ns, &s.name_any())
        })
        .reconcile_on(drift_requests)
        .run(
            reconcile,
            |ks, error, ctx| ctx.frame.error_policy(ks.as_ref(), error),
            ctx,
        );
    drain(results).await;
}

async fn reconcile(
    ks: Arc<Kustomization>,
    ctx: Arc<Context>,
) -> Result<Action, FinalizerError<Error>> {
    let frame = &ctx.frame;
    frame
        .finalized(
            ks,
            async |ks| {
                frame
                    .reconcile(ks.as_ref(), &result::Kustomizations(&ctx))
                    .await
            },
            async |ks| deletion::finalize(ks, &ctx).await,
        )
        .await
}
