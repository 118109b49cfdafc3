//! What both source reconcilers share: the storage step, the outdated-artifact conditions, and
//! the conditions a pass's result implies (failure conditions, Stalled).

use std::time::SystemTime;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use rill_common::api::meta::Artifact;
use rill_common::artifact::{ObjectKey, Storage};
use rill_common::conditions::{self, Outcome, Status, reasons, types};
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError};

use crate::error::Error;

/// Sets the conditions a pass's result implies (failure conditions, Stalled) and says what kind
/// of outcome it was; the frame then finishes Reconciling/Stalled and summarises Ready.
pub fn settle<T>(
    conds: &mut Vec<Condition>,
    result: &Result<T, Error>,
    generation: i64,
    now: &Time,
) -> Outcome {
    match result {
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
    }
}

/// The storage step shared by the source kinds: a recorded artifact that is no longer on disk
/// with its digest is dropped, the URL follows the current advertised address, and older
/// files are garbage-collected. Returns whether the recorded artifact verified.
pub fn check_storage(
    storage: &Storage,
    key: &ObjectKey,
    artifact: &mut Option<Artifact>,
    conds: &mut Vec<Condition>,
    generation: i64,
    now: &Time,
) -> bool {
    let verified = artifact.as_ref().is_some_and(|a| storage.verify(a));
    if artifact.is_some() && !verified {
        *artifact = None;
        conditions::remove(conds, types::ARTIFACT_IN_STORAGE);
        conditions::mark_reconciling(
            conds,
            reasons::PROGRESSING,
            "building artifact: disappeared from storage",
            generation,
            now,
        );
    }
    if let Some(a) = artifact.as_mut() {
        a.url = storage.url_for(&a.path);
    }
    let current = artifact
        .as_ref()
        .and_then(|a| a.path.rsplit('/').next().map(str::to_string));
    if let Err(e) = storage.garbage_collect(key, current.as_deref(), SystemTime::now()) {
        tracing::warn!(error = %e, "artifact garbage collection failed");
    }
    verified
}

/// Marks the stored artifact as outdated by a new upstream revision (`message` says which).
pub fn mark_outdated(conds: &mut Vec<Condition>, message: &str, generation: i64, now: &Time) {
    conditions::set(
        conds,
        types::ARTIFACT_OUTDATED,
        Status::True,
        reasons::NEW_REVISION,
        message,
        generation,
        now,
    );
    conditions::mark_reconciling(
        conds,
        reasons::PROGRESSING,
        &format!("building artifact: {message}"),
        generation,
        now,
    );
}

/// Refuses the source fields Rill does not implement: `spec.verify` (what it would verify is
/// named) and a `spec.provider` other than `generic`.
pub fn refuse_unsupported(
    verify: bool,
    generic_provider: bool,
    verified: &str,
) -> Result<(), Error> {
    if verify {
        return Err(Error::Unsupported(format!(
            "spec.verify is not supported by Rill yet: {verified} are not verified"
        )));
    }
    if !generic_provider {
        return Err(Error::Unsupported(
            "spec.provider other than 'generic' is not supported by Rill yet".into(),
        ));
    }
    Ok(())
}
