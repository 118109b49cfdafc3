//! How the image kinds settle a pass, as Flux's image controllers do: Ready=True `Succeeded`
//! with the kind's message; on failure Ready=False with the error's reason, Stalled for errors
//! a human must fix, Reconciling kept with `ProgressingWithRetry` for the others; events on
//! Ready transitions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use rill_common::conditions::{self, Outcome, Status, reasons, types};
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError};

use crate::error::Error;

/// Sets the conditions of a result whose success message is `ok`.
pub fn settle<T>(
    conds: &mut Vec<Condition>,
    result: &Result<T, Error>,
    ok: impl FnOnce(&T) -> String,
    generation: i64,
    now: &Time,
) -> Outcome {
    match result {
        Ok(done) => {
            let message = ok(done);
            conditions::set(
                conds,
                types::READY,
                Status::True,
                reasons::SUCCEEDED,
                &message,
                generation,
                now,
            );
            conditions::remove(conds, types::STALLED);
            Outcome::Success
        }
        Err(e) => {
            let message = e.to_string();
            conditions::set(
                conds,
                types::READY,
                Status::False,
                e.reason(),
                &message,
                generation,
                now,
            );
            if e.class() == ErrorClass::Stalled {
                conditions::mark_stalled(conds, e.reason(), &message, generation, now);
                return Outcome::Stalled;
            }
            conditions::mark_reconciling(
                conds,
                reasons::PROGRESSING_WITH_RETRY,
                &message,
                generation,
                now,
            );
            Outcome::Retrying
        }
    }
}
