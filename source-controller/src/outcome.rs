//! What both source reconcilers do once their steps ran: settle the conditions the Flux way
//! (failure conditions, Stalled, Reconciling, Ready) and pick the next requeue.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::runtime::controller::Action;
use rill_common::conditions::{self, Outcome, Status, types};
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError, Requeue};
use rill_common::runtime::jitter::jittered_random;

use crate::Context;
use crate::error::Error;

/// Settles the conditions after the steps; returns whether `observedGeneration` advances.
pub fn settle<T>(
    conds: &mut Vec<Condition>,
    result: &Result<T, Error>,
    generation: i64,
    now: &Time,
) -> bool {
    let outcome = match result {
        Ok(_) => {
            for t in [
                types::FETCH_FAILED,
                types::STORAGE_OPERATION_FAILED,
                types::INCLUDE_UNAVAILABLE,
                types::ARTIFACT_OUTDATED,
                types::STALLED,
            ] {
                conditions::remove(conds, t);
            }
            Outcome::Success
        }
        Err(e) if e.class() == ErrorClass::Stalled => {
            conditions::mark_stalled(conds, e.reason(), &e.to_string(), generation, now);
            Outcome::Stalled
        }
        Err(e) => {
            conditions::set(
                conds,
                e.condition(),
                Status::True,
                e.reason(),
                &e.to_string(),
                generation,
                now,
            );
            Outcome::Retrying
        }
    };
    let advance = conditions::finish(conds, outcome);
    if outcome != Outcome::Stalled {
        conditions::summarize_ready(conds, &conditions::SOURCE_SUMMARY, generation, now);
    }
    advance
}

/// The next run of `key`: the jittered interval after success; after a failure the error's
/// requeue, never later than the interval.
pub fn next_action<T>(
    ctx: &Context,
    key: &str,
    interval: &str,
    result: &Result<T, Error>,
) -> Action {
    let interval = rill_common::duration::parse(interval).unwrap_or(Duration::from_secs(60));
    match result {
        Ok(_) => {
            ctx.failures.succeeded(key);
            Action::requeue(jittered_random(interval, ctx.jitter_percentage))
        }
        Err(e) => match ctx.retry.requeue_for(e.class(), ctx.failures.failed(key)) {
            Requeue::After(d) => Action::requeue(d.min(interval.max(Duration::from_secs(1)))),
            Requeue::AwaitChange => Action::await_change(),
        },
    }
}
