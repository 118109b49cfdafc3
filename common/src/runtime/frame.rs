//! The one reconcile frame every Rill kind runs in: suspend, the kind's steps, settled
//! conditions (Ready from a declared summary table or set by the kind), `observedGeneration`
//! and `lastHandledReconcileAt`, one status patch when something changed, metrics (duration,
//! conditions, suspend, failures by reason), events, and the requeue. A kind plugs in by
//! implementing [`Steps`]; the finalizer and the error policy are shared too.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Error as FinalizerError, Event as FinalizerEvent, finalizer};
use kube::{Client, ResourceExt};

use super::error_policy::{ErrorClass, FailureCounter, ReconcileError, RetryPolicy};
use super::events::{EventNote, EventRecorder};
use super::jitter::jittered_random;
use super::manager::ControllerRuntime;
use super::metrics::Metrics;
use super::reconcile_request::handled_value;
use super::status::patch_status_if_changed;
use crate::api::object::{FluxObject, FluxStatus};
use crate::conditions::{self, Outcome, SummaryTable};

/// The finalizer on every Flux object.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Writing the status subresource failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to patch status: {source}")]
pub struct StatusPatchError {
    /// The API error.
    #[source]
    pub source: kube::Error,
}

/// How a kind derives its Ready condition once the steps ran.
#[derive(Clone, Copy, Debug)]
pub enum ReadyRule {
    /// Ready summarises the listed conditions (the source kinds).
    Summary(&'static SummaryTable),
    /// The kind's `settle` sets Ready itself (Kustomization, image kinds).
    Explicit,
}

/// When a transient failure runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureRequeue {
    /// Exponential backoff between `--min-retry-delay` and `--max-retry-delay`, never later than
    /// the interval (Flux's source-controller).
    Backoff,
    /// A fixed delay, `spec.retryInterval` (Flux's kustomize-controller).
    After(Duration),
}

/// What one reconcile pass works on: the status being built, its conditions, and the
/// generation and time of the pass.
pub struct Pass<K: FluxObject> {
    /// The status the pass writes (conditions live in `conditions` until the end).
    pub status: K::Status,
    /// The conditions being settled.
    pub conditions: Vec<Condition>,
    /// `metadata.generation` of the object.
    pub generation: i64,
    /// When the pass started (also the `lastTransitionTime` of conditions set by the steps).
    pub now: Time,
    /// When the pass started, for durations.
    pub started: Instant,
    api: Api<K>,
    name: String,
    field_manager: &'static str,
    written: Option<K::Status>,
}

impl<K: FluxObject> Pass<K> {
    /// Writes the status as it is now (with the current conditions), so users see what a long
    /// step is doing. Failures are logged: the final patch reports the outcome.
    pub async fn write_progress(&mut self) {
        let mut snapshot = self.status.clone();
        *snapshot.conditions_mut() = Some(self.conditions.clone());
        match patch_status_if_changed(
            &self.api,
            &self.name,
            self.written.as_ref(),
            &snapshot,
            self.field_manager,
        )
        .await
        {
            Ok(_) => self.written = Some(snapshot),
            Err(e) => tracing::warn!(error = %e, "cannot write progress status"),
        }
    }
}

/// A kind's steps and how their outcome becomes conditions, events and requeues.
pub trait Steps<K: FluxObject>: Sync {
    /// What a successful pass produced.
    type Done: Send + Sync;
    /// The kind's error.
    type Error: ReconcileError + From<StatusPatchError> + Send + Sync + 'static;
    /// How Ready is derived.
    const READY: ReadyRule;
    /// Whether the success requeue is jittered by `--interval-jitter-percentage`.
    const JITTER: bool = true;

    /// Runs before the steps (for example to mark Reconciling).
    fn begin(&self, _object: &K, _pass: &mut Pass<K>) {}

    /// The kind's steps, in order; they update `pass.status` and `pass.conditions`.
    fn run<'a>(
        &'a self,
        object: &'a K,
        pass: &'a mut Pass<K>,
    ) -> impl Future<Output = Result<Self::Done, Self::Error>> + Send + 'a;

    /// Sets the conditions the result implies and says what kind of outcome it was.
    fn settle(
        &self,
        object: &K,
        pass: &mut Pass<K>,
        result: &Result<Self::Done, Self::Error>,
    ) -> Outcome;

    /// The events to publish after the status was written (`before`: the conditions the
    /// object had).
    fn events(
        &self,
        object: &K,
        before: &[Condition],
        pass: &Pass<K>,
        result: &Result<Self::Done, Self::Error>,
    ) -> Vec<EventNote>;

    /// When a transient failure runs again.
    fn failure_requeue(&self, _object: &K) -> FailureRequeue {
        FailureRequeue::Backoff
    }

    /// When a success runs again, if not at `interval` (an ImageRepository requeues at the
    /// time left until its next scan is due; `Some(None)` waits for a change).
    fn success_requeue(&self, _object: &K, _done: &Self::Done) -> Option<Option<Duration>> {
        None
    }
}

/// The controller-wide state the frame needs: the client, metrics, events and retry policy.
pub struct Frame {
    /// The controller's own client.
    pub client: Client,
    /// The metric families.
    pub metrics: Arc<Metrics>,
    /// Events (Kubernetes, and `--events-addr` when set).
    pub recorder: EventRecorder,
    /// Backoff bounds (`--min-retry-delay`, `--max-retry-delay`).
    pub retry: RetryPolicy,
    /// Consecutive failures per object.
    pub failures: FailureCounter,
    /// `--interval-jitter-percentage`.
    pub jitter_percentage: u8,
    /// The field manager of status writes.
    pub field_manager: &'static str,
}

impl Frame {
    /// The frame of the controller `runtime` describes, writing status as `field_manager`.
    pub fn new(client: Client, runtime: &ControllerRuntime, field_manager: &'static str) -> Self {
        let flags = &runtime.flags;
        Self {
            recorder: EventRecorder::new(runtime.events_client(&client), runtime.name)
                .with_forwarding(runtime.events.clone()),
            client,
            metrics: runtime.metrics.clone(),
            retry: RetryPolicy {
                min: flags.min_retry_delay,
                max: flags.max_retry_delay,
            },
            failures: FailureCounter::default(),
            jitter_percentage: flags.interval_jitter_percentage,
            field_manager,
        }
    }

    /// Runs one pass of `steps` over `object` and returns when to run again.
    pub async fn reconcile<K, S>(&self, object: &K, steps: &S) -> Result<Action, S::Error>
    where
        K: FluxObject,
        S: Steps<K>,
    {
        let kind = K::kind(&());
        let (namespace, name) = (object.namespace().unwrap_or_default(), object.name_any());
        let _timer = self.metrics.reconcile_timer(&kind, &namespace, &name);
        let suspended = object.suspended();
        self.metrics
            .record_suspend(&kind, &namespace, &name, suspended);
        if suspended {
            return Ok(Action::await_change());
        }
        let observed = object.status().cloned();
        let mut status = observed.clone().unwrap_or_default();
        let conds = status.conditions_mut().take().unwrap_or_default();
        let mut pass = Pass {
            status,
            conditions: conds,
            generation: object.meta().generation.unwrap_or(0),
            now: Time(jiff::Timestamp::now()),
            started: Instant::now(),
            api: Api::namespaced(self.client.clone(), &namespace),
            name: name.clone(),
            field_manager: self.field_manager,
            written: observed,
        };
        let before = pass.conditions.clone();
        steps.begin(object, &mut pass);
        let result = steps.run(object, &mut pass).await;
        self.settle(object, steps, &mut pass, &result);

        patch_status_if_changed(
            &pass.api,
            &name,
            pass.written.as_ref(),
            &pass.status,
            self.field_manager,
        )
        .await
        .map_err(|source| StatusPatchError { source })?;
        self.metrics
            .record_conditions(&kind, &namespace, &name, &pass.conditions, false);
        self.metrics.record_result(
            &kind,
            result.as_ref().err().map(ReconcileError::metric_label),
        );
        for note in steps.events(object, &before, &pass, &result) {
            self.publish(object, &note).await;
        }
        Ok(self.next_action(object, steps, &format!("{namespace}/{name}"), &result))
    }

    fn settle<K: FluxObject, S: Steps<K>>(
        &self,
        object: &K,
        steps: &S,
        pass: &mut Pass<K>,
        result: &Result<S::Done, S::Error>,
    ) {
        pass.now = Time(jiff::Timestamp::now());
        let outcome = steps.settle(object, pass, result);
        if conditions::finish(&mut pass.conditions, outcome) {
            *pass.status.observed_generation_mut() = Some(pass.generation);
        }
        if let (ReadyRule::Summary(table), false) = (S::READY, outcome == Outcome::Stalled) {
            conditions::summarize_ready(&mut pass.conditions, table, pass.generation, &pass.now);
        }
        let handled = handled_value(
            object.meta(),
            pass.status.last_handled_reconcile_at_mut().as_deref(),
        );
        *pass.status.last_handled_reconcile_at_mut() = handled;
        *pass.status.conditions_mut() = Some(pass.conditions.clone());
    }

    fn next_action<K: FluxObject, S: Steps<K>>(
        &self,
        object: &K,
        steps: &S,
        key: &str,
        result: &Result<S::Done, S::Error>,
    ) -> Action {
        let interval = object
            .interval()
            .and_then(|i| crate::duration::parse(i).ok());
        match result {
            Ok(done) => {
                self.failures.succeeded(key);
                if let Some(chosen) = steps.success_requeue(object, done) {
                    return chosen.map_or_else(Action::await_change, Action::requeue);
                }
                match interval {
                    Some(i) if S::JITTER => {
                        Action::requeue(jittered_random(i, self.jitter_percentage))
                    }
                    Some(i) => Action::requeue(i),
                    None => Action::await_change(),
                }
            }
            Err(e) => match e.class() {
                ErrorClass::Stalled => Action::await_change(),
                ErrorClass::Waiting(delay) => Action::requeue(delay),
                ErrorClass::Transient => match steps.failure_requeue(object) {
                    FailureRequeue::After(delay) => Action::requeue(delay),
                    FailureRequeue::Backoff => {
                        let delay = self.retry.backoff(self.failures.failed(key));
                        let cap = interval.unwrap_or(delay).max(Duration::from_secs(1));
                        Action::requeue(delay.min(cap))
                    }
                },
            },
        }
    }

    /// Publishes an event about `object`, logging (never failing) when that is impossible.
    pub async fn publish<K: FluxObject>(&self, object: &K, note: &EventNote) {
        if let Err(e) = self.recorder.publish(&object.object_ref(&()), note).await {
            tracing::warn!(error = %e, "cannot publish event");
        }
    }

    /// Runs `apply` or, when the object is being deleted, `cleanup` under Flux's finalizer (added
    /// before any side effect, removed only after `cleanup` succeeded).
    pub async fn finalized<K, E, A, C>(
        &self,
        object: Arc<K>,
        apply: A,
        cleanup: C,
    ) -> Result<Action, FinalizerError<E>>
    where
        K: FluxObject,
        E: std::error::Error + Send + 'static,
        A: AsyncFnOnce(Arc<K>) -> Result<Action, E>,
        C: AsyncFnOnce(Arc<K>) -> Result<Action, E>,
    {
        let api: Api<K> =
            Api::namespaced(self.client.clone(), &object.namespace().unwrap_or_default());
        finalizer(&api, FINALIZER, object, |event| async move {
            match event {
                FinalizerEvent::Apply(object) => apply(object).await,
                FinalizerEvent::Cleanup(object) => cleanup(object).await,
            }
        })
        .await
    }

    /// The requeue after a reconcile that returned an error (a failed status patch or
    /// finalizer update): the error's class, with backoff for transient ones.
    pub fn error_policy<K: FluxObject, E: ReconcileError>(
        &self,
        object: &K,
        error: &FinalizerError<E>,
    ) -> Action {
        let kind = K::kind(&());
        tracing::warn!(%kind, name = %object.name_any(), error = %error, "reconcile error");
        let class = match error {
            FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => {
                self.metrics.record_result(&kind, Some(e.metric_label()));
                e.class()
            }
            _ => {
                self.metrics.record_result(&kind, Some("finalizer"));
                ErrorClass::Transient
            }
        };
        let key = format!(
            "{}/{}",
            object.namespace().unwrap_or_default(),
            object.name_any()
        );
        self.retry
            .requeue_for(class, self.failures.failed(&key))
            .into()
    }
}
