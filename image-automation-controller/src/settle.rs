//! How the image kinds settle a pass, as Flux's image controllers do: Ready=True `Succeeded`
//! with the kind's message; a failure as every kind records it (`conditions::mark_failed`).

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
            Outcome::Success
        }
        Err(e) => {
            let stalled = e.class() == ErrorClass::Stalled;
            conditions::mark_failed(conds, e.reason(), &e.to_string(), stalled, generation, now)
        }
    }
}
