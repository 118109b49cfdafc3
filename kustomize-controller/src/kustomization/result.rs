//! The Kustomization kind in the shared reconcile frame: the pipeline as its steps, conditions
//! as Flux's kustomize-controller sets them, history snapshots, change-log and result events
//! (with Flux's event metadata), and `retryInterval` after a failure.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use rill_common::api::kustomize_v1::{Kustomization, Snapshot};
use rill_common::conditions::{self, Outcome, Status, reasons, types};
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError};
use rill_common::runtime::events::EventNote;
use rill_common::runtime::frame::{FailureRequeue, Pass, ReadyRule, Steps};

use super::Context;
use super::apply::change_log;
use super::pipeline::{self, Applied};
use super::plan::Timing;
use crate::error::Error;

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

/// The frame's view of Kustomizations: the pipeline, Ready set explicitly as Flux's
/// kustomize-controller does, change-log and result events, and `retryInterval` after a
/// failure.
pub(super) struct Kustomizations<'a>(pub &'a Context);

impl Steps<Kustomization> for Kustomizations<'_> {
    type Done = Applied;
    type Error = Error;
    const READY: ReadyRule = ReadyRule::Explicit;

    fn run<'a>(
        &'a self,
        ks: &'a Kustomization,
        pass: &'a mut Pass<Kustomization>,
    ) -> impl Future<Output = Result<Applied, Error>> + Send + 'a {
        pipeline::run(ks, self.0, pass)
    }

    fn settle(
        &self,
        _ks: &Kustomization,
        pass: &mut Pass<Kustomization>,
        result: &Result<Applied, Error>,
    ) -> Outcome {
        let (generation, now) = (pass.generation, pass.now.clone());
        let conds = &mut pass.conditions;
        match result {
            Ok(applied) => {
                let status = &mut pass.status;
                status.last_applied_revision = Some(applied.revision.clone());
                status.last_applied_origin_revision = applied.origin_revision.clone();
                let message = format!("Applied revision: {}", applied.revision);
                conditions::set(
                    conds,
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
                    pass.started.elapsed(),
                    &now,
                );
                status.history = Some(history);
                Outcome::Success
            }
            Err(e) => settle_failure(conds, e, generation, &now),
        }
    }

    fn events(
        &self,
        ks: &Kustomization,
        before: &[Condition],
        pass: &Pass<Kustomization>,
        result: &Result<Applied, Error>,
    ) -> Vec<EventNote> {
        let last_applied = ks
            .status
            .as_ref()
            .and_then(|s| s.last_applied_revision.as_deref());
        report(
            ks,
            before,
            &pass.conditions,
            result,
            last_applied,
            pass.started.elapsed(),
        )
    }

    fn failure_requeue(&self, ks: &Kustomization) -> FailureRequeue {
        FailureRequeue::After(Timing::of(ks).retry_interval)
    }
}

fn settle_failure(conds: &mut Vec<Condition>, e: &Error, generation: i64, now: &Time) -> Outcome {
    let message = e.to_string();
    if matches!(e, Error::Health(_)) {
        conditions::set(
            conds,
            types::HEALTHY,
            Status::False,
            e.reason(),
            &message,
            generation,
            now,
        );
    }
    let stalled = e.class() == ErrorClass::Stalled;
    conditions::mark_failed(conds, e.reason(), &message, stalled, generation, now)
}

fn report(
    ks: &Kustomization,
    before: &[Condition],
    after: &[Condition],
    result: &Result<Applied, Error>,
    last_applied: Option<&str>,
    elapsed: Duration,
) -> Vec<EventNote> {
    let mut notes = Vec::new();
    let drifted = |c: &[Condition]| {
        conditions::get(c, super::drift::DRIFTED)
            .filter(|d| d.status == "True")
            .map(|d| d.message.clone())
    };
    if let Some(message) = drifted(after)
        && drifted(before).as_ref() != Some(&message)
    {
        notes.push(EventNote::error(super::drift::DRIFT_DETECTED, message));
    }
    match result {
        Ok(applied) => {
            let log = change_log(&applied.changes);
            if !log.is_empty() {
                notes.push(
                    EventNote::info(reasons::PROGRESSING, log)
                        .with("revision", applied.revision.clone()),
                );
            }
            let recovered =
                conditions::get(before, types::READY).is_some_and(|c| c.status != "True");
            if last_applied != Some(applied.revision.as_str()) || recovered {
                let message = format!(
                    "Reconciliation finished in {}, next run in {}",
                    rill_common::duration::format(elapsed),
                    ks.spec.interval
                );
                let mut note = EventNote::info(reasons::RECONCILIATION_SUCCEEDED, message)
                    .with("revision", applied.revision.clone())
                    .with("commit_status", "update");
                if let Some(origin) = &applied.origin_revision {
                    note = note.with("originRevision", origin.clone());
                }
                notes.push(note);
            }
        }
        Err(e) => {
            let same = |c: &[Condition]| {
                conditions::get(c, types::READY).map(|r| (r.reason.clone(), r.message.clone()))
            };
            if same(before) != same(after) {
                notes.push(EventNote::error(e.reason(), e.to_string()));
            }
        }
    }
    notes
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
