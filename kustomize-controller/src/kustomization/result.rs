//! Turning a pipeline pass into status and events: conditions as Flux sets them, history
//! snapshots, `lastHandledReconcileAt`, one status patch when something changed, change-log
//! and error events, and the next requeue.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use rill_common::api::kustomize_v1::{Kustomization, KustomizationStatus, Snapshot};
use rill_common::conditions::{self, Outcome, Status, reasons, types};
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError};
use rill_common::runtime::events::{EventNote, Severity};
use rill_common::runtime::jitter::jittered_random;
use rill_common::runtime::reconcile_request::handled_value;
use rill_common::runtime::status::patch_status_if_changed;

use super::apply::change_log;
use super::pipeline::{self, Applied};
use super::{Context, KIND, STATUS_MANAGER, publish};
use crate::error::Error;

fn interval(ks: &Kustomization) -> Duration {
    rill_common::duration::parse(&ks.spec.interval).unwrap_or(Duration::from_secs(60))
}

fn retry_interval(ks: &Kustomization) -> Duration {
    ks.spec
        .retry_interval
        .as_deref()
        .and_then(|t| rill_common::duration::parse(t).ok())
        .unwrap_or_else(|| interval(ks))
}

/// Upserts a history snapshot keyed by digest and status, newest first, at most five.
pub fn record_history(
    history: &mut Vec<Snapshot>,
    digest: &str,
    reason: &str,
    revision: &str,
    duration: Duration,
    now: &Time,
) {
    let duration = rill_common::duration::format(duration);
    if let Some(i) = history
        .iter()
        .position(|s| s.digest == digest && s.last_reconciled_status == reason)
    {
        let mut entry = history.remove(i);
        entry.last_reconciled = now.clone();
        entry.last_reconciled_duration = duration;
        entry.total_reconciliations += 1;
        history.insert(0, entry);
    } else {
        history.insert(
            0,
            Snapshot {
                digest: digest.to_string(),
                first_reconciled: now.clone(),
                last_reconciled: now.clone(),
                last_reconciled_duration: duration,
                last_reconciled_status: reason.to_string(),
                total_reconciliations: 1,
                metadata: Some([("revision".to_string(), revision.to_string())].into()),
            },
        );
    }
    history.truncate(5);
}

async fn write_status(
    ctx: &Context,
    ks: &Kustomization,
    observed: Option<&KustomizationStatus>,
    status: &KustomizationStatus,
) -> Result<(), Error> {
    let api: Api<Kustomization> =
        Api::namespaced(ctx.client.clone(), &ks.namespace().unwrap_or_default());
    patch_status_if_changed(&api, &ks.name_any(), observed, status, STATUS_MANAGER)
        .await
        .map(|_| ())
        .map_err(|e| Error::Kube(format!("failed to patch status: {e}")))
}

/// Runs one reconcile of `ks` and reports it.
pub(super) async fn reconcile_and_report(
    ks: Arc<Kustomization>,
    ctx: &Context,
) -> Result<Action, Error> {
    let (namespace, name) = (ks.namespace().unwrap_or_default(), ks.name_any());
    let _timer = ctx.metrics.reconcile_timer(KIND, &namespace, &name);
    let suspended = ks.spec.suspend == Some(true);
    ctx.metrics
        .record_suspend(KIND, &namespace, &name, suspended);
    if suspended {
        return Ok(Action::await_change());
    }
    let started = std::time::Instant::now();
    let generation = ks.metadata.generation.unwrap_or(0);
    let observed = ks.status.clone();
    let mut status = observed.clone().unwrap_or_default();
    let mut conds: Vec<Condition> = status.conditions.take().unwrap_or_default();
    let before = conds.clone();
    let last_applied = status.last_applied_revision.clone();

    let progress_ks = ks.clone();
    let progress_ctx_client = ctx.client.clone();
    let written = std::sync::Mutex::new(observed.clone());
    let progress = |snapshot: KustomizationStatus| -> futures::future::BoxFuture<'static, ()> {
        let ks = progress_ks.clone();
        let client = progress_ctx_client.clone();
        let previous = written
            .lock()
            .map(|mut w| w.replace(snapshot.clone()))
            .ok()
            .flatten();
        Box::pin(async move {
            let api: Api<Kustomization> =
                Api::namespaced(client, &ks.namespace().unwrap_or_default());
            if let Err(e) = patch_status_if_changed(
                &api,
                &ks.name_any(),
                previous.as_ref(),
                &snapshot,
                STATUS_MANAGER,
            )
            .await
            {
                tracing::warn!(error = %e, "cannot write progress status");
            }
        })
    };
    let result = pipeline::run(&ks, ctx, &mut status, &mut conds, &progress).await;
    let written = written.into_inner().unwrap_or_else(|e| e.into_inner());

    let now = Time(jiff::Timestamp::now());
    let outcome = match &result {
        Ok(applied) => {
            status.last_applied_revision = Some(applied.revision.clone());
            status.last_applied_origin_revision = applied.origin_revision.clone();
            let message = format!("Applied revision: {}", applied.revision);
            conditions::set(
                &mut conds,
                types::READY,
                Status::True,
                reasons::RECONCILIATION_SUCCEEDED,
                &message,
                generation,
                &now,
            );
            let mut history = status.history.take().unwrap_or_default();
            record_history(
                &mut history,
                &applied.digest,
                reasons::RECONCILIATION_SUCCEEDED,
                &applied.revision,
                started.elapsed(),
                &now,
            );
            status.history = Some(history);
            Outcome::Success
        }
        Err(e) => {
            conditions::set(
                &mut conds,
                types::READY,
                Status::False,
                e.reason(),
                &e.to_string(),
                generation,
                &now,
            );
            if matches!(e, Error::Health(_)) {
                conditions::set(
                    &mut conds,
                    types::HEALTHY,
                    Status::False,
                    e.reason(),
                    &e.to_string(),
                    generation,
                    &now,
                );
            }
            if e.class() == ErrorClass::Stalled {
                conditions::set(
                    &mut conds,
                    types::STALLED,
                    Status::True,
                    e.reason(),
                    &e.to_string(),
                    generation,
                    &now,
                );
                Outcome::Stalled
            } else {
                if conditions::get(&conds, types::RECONCILING).is_none() {
                    conditions::mark_reconciling(
                        &mut conds,
                        reasons::PROGRESSING_WITH_RETRY,
                        &e.to_string(),
                        generation,
                        &now,
                    );
                }
                Outcome::Retrying
            }
        }
    };
    if conditions::finish(&mut conds, outcome) {
        status.observed_generation = Some(generation);
    }
    status.last_handled_reconcile_at =
        handled_value(&ks.metadata, status.last_handled_reconcile_at.as_deref());
    status.conditions = Some(conds.clone());
    write_status(ctx, &ks, written.as_ref(), &status).await?;
    ctx.metrics
        .record_conditions(KIND, &namespace, &name, &conds, false);
    report(
        ctx,
        &ks,
        &before,
        &conds,
        &result,
        last_applied.as_deref(),
        started.elapsed(),
    )
    .await;

    Ok(match result {
        Ok(_) => Action::requeue(jittered_random(
            interval(&ks),
            ctx.settings.jitter_percentage,
        )),
        Err(e) => match e.class() {
            ErrorClass::Stalled => Action::await_change(),
            ErrorClass::Waiting(delay) => Action::requeue(delay),
            ErrorClass::Transient => Action::requeue(retry_interval(&ks)),
        },
    })
}

async fn report(
    ctx: &Context,
    ks: &Kustomization,
    before: &[Condition],
    after: &[Condition],
    result: &Result<Applied, Error>,
    last_applied: Option<&str>,
    elapsed: Duration,
) {
    match result {
        Ok(applied) => {
            let log = change_log(&applied.changes);
            if !log.is_empty() {
                let note = EventNote {
                    severity: Severity::Info,
                    reason: reasons::PROGRESSING.into(),
                    message: log,
                };
                publish(ctx, ks, note).await;
            }
            let recovered =
                conditions::get(before, types::READY).is_some_and(|c| c.status != "True");
            if last_applied != Some(applied.revision.as_str()) || recovered {
                let message = format!(
                    "Reconciliation finished in {}, next run in {}",
                    rill_common::duration::format(elapsed),
                    ks.spec.interval
                );
                let note = EventNote {
                    severity: Severity::Info,
                    reason: reasons::RECONCILIATION_SUCCEEDED.into(),
                    message,
                };
                publish(ctx, ks, note).await;
            }
        }
        Err(e) => {
            let same = |c: &[Condition]| {
                conditions::get(c, types::READY).map(|r| (r.reason.clone(), r.message.clone()))
            };
            if same(before) != same(after) {
                let note = EventNote {
                    severity: Severity::Error,
                    reason: e.reason().into(),
                    message: e.to_string(),
                };
                publish(ctx, ks, note).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_upserts_by_digest_and_status_and_keeps_five() {
        let now = Time(jiff::Timestamp::UNIX_EPOCH);
        let mut history = Vec::new();
        let d = Duration::from_secs(1);
        record_history(
            &mut history,
            "sha256:a",
            "ReconciliationSucceeded",
            "r1",
            d,
            &now,
        );
        record_history(
            &mut history,
            "sha256:a",
            "ReconciliationSucceeded",
            "r1",
            d,
            &now,
        );
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].total_reconciliations, 2);
        for i in 0..6 {
            record_history(
                &mut history,
                &format!("sha256:{i}"),
                "ReconciliationSucceeded",
                "r",
                d,
                &now,
            );
        }
        assert_eq!(history.len(), 5);
        assert_eq!(history[0].digest, "sha256:5");
    }
}
