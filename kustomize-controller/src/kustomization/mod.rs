//! The Kustomization reconciler: watches Kustomizations, their sources' artifact revisions
//! and their dependencies' readiness; runs the pipeline under the finalizer; writes
//! conditions, inventory and history in one status patch when something changed; publishes
//! Flux's events; requeues at the interval (or the retry interval after a failure).

pub mod apply;
pub mod build;
pub mod cel_expr;
pub mod cluster;
mod deletion;
pub mod dependencies;
pub mod drift_ignore;
pub mod envsubst;
pub mod generate;
pub mod health;
pub mod inventory;
pub mod kstatus;
pub mod managed_fields;
pub mod objects;
pub mod pipeline;
pub mod prune;
mod result;
pub mod source;
mod validate;

use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::finalizer::{Error as FinalizerError, Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use rill_common::api::kustomize_v1::{Kustomization, SourceKind, SubstituteKind};
use rill_common::api::source_v1::{GitRepository, OCIRepository};
use rill_common::artifact::Fetcher;
use rill_common::conditions::types;
use rill_common::runtime::events::EventRecorder;
use rill_common::runtime::metrics::Metrics;
use rill_common::runtime::watch::{drain, primary, scoped_api};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The finalizer on every Flux object.
pub const FINALIZER: &str = "finalizers.fluxcd.io";
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
}

/// Shared state of the reconciler.
pub struct Context {
    /// The controller's own client.
    pub client: Client,
    /// The controller's configuration, from which tenant clients are derived.
    pub base_config: kube::Config,
    /// Kind resolution.
    pub mapper: cluster::RestMapper,
    /// Artifact downloads.
    pub fetcher: Fetcher,
    /// Events.
    pub recorder: EventRecorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Flag-driven behaviour.
    pub settings: Settings,
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
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| rill_common::conditions::get(c, types::READY))
        .map(|c| c.status.clone());
    hash_of((ready, status.and_then(|s| s.last_applied_revision.clone())))
}

/// Runs the Kustomization controller until the streams end.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, concurrency: u16) {
    let ns = namespace.as_deref();
    let all = watcher::Config::default;
    let kustomizations = scoped_api::<Kustomization>(&ctx.client, ns);
    let (reader, trigger) = primary(kustomizations.clone());
    let git_changes = changes(scoped_api::<GitRepository>(&ctx.client, ns), all(), |r| {
        hash_of(
            r.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .map(|a| &a.revision),
        )
    });
    let oci_changes = changes(scoped_api::<OCIRepository>(&ctx.client, ns), all(), |r| {
        hash_of(
            r.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .map(|a| &a.revision),
        )
    });
    let ready_changes = changes(kustomizations, all(), readiness);
    let selector = &ctx.settings.watch_configs_selector;
    let (cm_changes, secret_changes) = if selector.is_empty() {
        (
            futures::stream::empty().boxed(),
            futures::stream::empty().boxed(),
        )
    } else {
        let labelled = all().labels(selector);
        (
            changes(
                scoped_api::<ConfigMap>(&ctx.client, ns),
                labelled.clone(),
                |c| hash_of(&c.data),
            ),
            changes(scoped_api::<Secret>(&ctx.client, ns), labelled, |s| {
                hash_of(secret_data(s))
            }),
        )
    };
    let (by_git, by_oci, by_dep) = (reader.clone(), reader.clone(), reader.clone());
    let (by_cm, by_secret) = (reader.clone(), reader.clone());
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(concurrency))
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
        .run(reconcile, error_policy, ctx);
    drain(results).await;
}

/// A secondary watch: objects of `api` whose `key` changed.
fn changes<K>(
    api: Api<K>,
    config: watcher::Config,
    key: fn(&K) -> Option<u64>,
) -> BoxStream<'static, Result<K, watcher::Error>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    watcher(api, config)
        .default_backoff()
        .applied_objects()
        .predicate_filter(key, Default::default())
        .boxed()
}

fn error_policy(
    _ks: Arc<Kustomization>,
    error: &FinalizerError<Error>,
    _ctx: Arc<Context>,
) -> Action {
    tracing::warn!(error = %error, "Kustomization reconcile error");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(
    ks: Arc<Kustomization>,
    ctx: Arc<Context>,
) -> Result<Action, FinalizerError<Error>> {
    let namespace = ks.namespace().unwrap_or_default();
    let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, ks, |event| async {
        match event {
            FinalizerEvent::Apply(ks) => result::reconcile_and_report(ks, &ctx).await,
            FinalizerEvent::Cleanup(ks) => deletion::finalize(ks, &ctx).await,
        }
    })
    .await
}

/// Publishes an event about `ks`, logging (never failing) when that is impossible.
async fn publish(ctx: &Context, ks: &Kustomization, note: rill_common::runtime::events::EventNote) {
    if let Err(e) = ctx.recorder.publish(&ks.object_ref(&()), &note).await {
        tracing::warn!(error = %e, "cannot publish event");
    }
}
