//! Condition bookkeeping (pure): set, mark and remove conditions, derive Ready from a declared
//! table, and keep Reconciling/Stalled consistent with kstatus. Types and reasons carry Flux's
//! exact strings.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types, as Flux spells them.
pub mod types {
    /// Positive polarity: the object is fully reconciled.
    pub const READY: &str = "Ready";
    /// Abnormal-true: present only while a reconciliation is in progress.
    pub const RECONCILING: &str = "Reconciling";
    /// Abnormal-true: present only when the object needs a human to act.
    pub const STALLED: &str = "Stalled";
    /// Health-check verdict of a Kustomization.
    pub const HEALTHY: &str = "Healthy";
    /// Positive: the source artifact is in storage.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// Negative: the stored artifact is older than the upstream revision.
    pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
    /// Negative: fetching the upstream source failed.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Negative: building (a Helm chart) failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Negative: a storage operation failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// Negative: an included GitRepository has no artifact.
    pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
    /// Bi-polar: the result of signature verification.
    pub const SOURCE_VERIFIED: &str = "SourceVerified";
}

/// Condition reasons, as Flux spells them.
pub mod reasons {
    /// Generic success.
    pub const SUCCEEDED: &str = "Succeeded";
    /// Generic failure.
    pub const FAILED: &str = "Failed";
    /// Kubernetes' generic failure reason, used by the image controllers.
    pub const FAILURE: &str = "Failure";
    /// Reconciliation in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// Reconciliation in progress after a failed attempt.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// A dependency is not ready yet.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// A path is invalid.
    pub const INVALID_PATH: &str = "InvalidPath";
    /// A URL is invalid (generic form).
    pub const INVALID_URL: &str = "InvalidURL";
    /// Plain-text connections are not allowed.
    pub const INSECURE_CONNECTIONS_DISALLOWED: &str = "InsecureConnectionsDisallowed";
    /// The connection type is not supported.
    pub const UNSUPPORTED_CONNECTION_TYPE: &str = "UnsupportedConnectionType";
    /// Pruning failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Getting the source artifact failed.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Building manifests failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Health checks failed.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// Health checks were cancelled by a new revision.
    pub const HEALTH_CHECK_CANCELED: &str = "HealthCheckCanceled";
    /// A Kustomization was applied successfully.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// Applying a Kustomization failed.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A CEL expression does not compile.
    pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
    /// A feature gate needed by the spec is off.
    pub const FEATURE_GATE_DISABLED: &str = "FeatureGateDisabled";
    /// A cross-namespace reference was refused.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// The source URL does not parse.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Credentials are missing or wrong.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Signature verification failed.
    pub const VERIFICATION_ERROR: &str = "VerificationError";
    /// Creating a storage directory failed.
    pub const DIRECTORY_CREATION_FAILED: &str = "DirectoryCreationFailed";
    /// Stat on a storage file failed.
    pub const STAT_OPERATION_FAILED: &str = "StatOperationFailed";
    /// Reading a storage file failed.
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
    /// Taking the storage lock failed.
    pub const ACQUIRE_LOCK_FAILED: &str = "AcquireLockFailed";
    /// Writing an archive failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
    /// Updating a symlink in storage failed.
    pub const SYMLINK_UPDATE_FAILED: &str = "SymlinkUpdateFailed";
    /// The artifact is already up to date (event only).
    pub const ARTIFACT_UP_TO_DATE: &str = "ArtifactUpToDate";
    /// A Git operation succeeded.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// A Git operation failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// Pulling an OCI artifact failed.
    pub const OCI_ARTIFACT_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// Handling an OCI layer failed.
    pub const OCI_ARTIFACT_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// The Git repository has no commits.
    pub const EMPTY_GIT_REPOSITORY: &str = "EmptyGitRepository";
    /// A `.sourceignore` file could not be read.
    pub const SOURCE_IGNORE_ERROR: &str = "SourceIgnoreError";
    /// A path leaves its root.
    pub const ILLEGAL_PATH: &str = "IllegalPath";
    /// Copying included content failed.
    pub const COPY_FAILURE: &str = "CopyFailure";
    /// A referenced object does not exist.
    pub const NOT_FOUND: &str = "NotFound";
    /// A referenced source has no artifact yet.
    pub const NO_ARTIFACT: &str = "NoArtifact";
    /// Artifact garbage collection failed.
    pub const GARBAGE_COLLECTION_FAILED: &str = "GarbageCollectionFailed";
    /// Artifact garbage collection succeeded.
    pub const GARBAGE_COLLECTION_SUCCEEDED: &str = "GarbageCollectionSucceeded";
    /// A new artifact was stored (event).
    pub const NEW_ARTIFACT: &str = "NewArtifact";
    /// The upstream has a new revision.
    pub const NEW_REVISION: &str = "NewRevision";
    /// An included artifact changed.
    pub const INCLUDE_CHANGE: &str = "IncludeChange";
    /// An image URL is invalid.
    pub const IMAGE_URL_INVALID: &str = "ImageURLInvalid";
    /// An image policy is invalid.
    pub const INVALID_POLICY: &str = "InvalidPolicy";
    /// An ImageUpdateAutomation's `spec.git` cannot work.
    pub const INVALID_SOURCE_CONFIGURATION: &str = "InvalidSourceConfiguration";
    /// Applying setters to the checkout failed.
    pub const UPDATE_FAILED: &str = "UpdateFailed";
    /// The automation's Git side could not be set up (its signing key).
    pub const SOURCE_MANAGER_FAILED: &str = "SourceManagerFailed";
    /// The commit message template uses a field Flux removed.
    pub const REMOVED_TEMPLATE_FIELD: &str = "RemovedTemplateField";
    /// `digestReflectionPolicy: Always` without `interval`.
    pub const INTERVAL_NOT_CONFIGURED: &str = "IntervalNotConfigured";
    /// The requested feature is not supported by Rill yet.
    pub const UNSUPPORTED: &str = "Unsupported";
}

/// The three condition statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `"True"`.
    True,
    /// `"False"`.
    False,
    /// `"Unknown"`.
    Unknown,
}

impl Status {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

/// The condition of type `type_`, if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of type `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Whether the condition of type `type_` is present with status `False`.
pub fn is_false(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "False")
}

/// Sets a condition. `lastTransitionTime` is kept when the status did not change; reason,
/// message and `observedGeneration` are always updated. Conditions stay sorted: Ready first,
/// then by type.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: Status,
    reason: &str,
    message: &str,
    generation: i64,
    now: &Time,
) {
    let status = status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            if existing.status != status {
                existing.status = status.to_string();
                existing.last_transition_time = now.clone();
            }
            existing.reason = reason.to_string();
            existing.message = message.to_string();
            existing.observed_generation = Some(generation);
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            observed_generation: Some(generation),
            last_transition_time: now.clone(),
        }),
    }
    conditions.sort_by(|a, b| {
        (a.type_ != types::READY, a.type_.as_str())
            .cmp(&(b.type_ != types::READY, b.type_.as_str()))
    });
}

/// Removes the condition of type `type_`, if present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Marks the object as being reconciled (`Reconciling=True`).
pub fn mark_reconciling(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: i64,
    now: &Time,
) {
    set(
        conditions,
        types::RECONCILING,
        Status::True,
        reason,
        message,
        generation,
        now,
    );
}

/// Marks the object as stalled: `Stalled=True` and `Ready=False` with the same reason and
/// message, and no `Reconciling`.
pub fn mark_stalled(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: i64,
    now: &Time,
) {
    remove(conditions, types::RECONCILING);
    set(
        conditions,
        types::STALLED,
        Status::True,
        reason,
        message,
        generation,
        now,
    );
    set(
        conditions,
        types::READY,
        Status::False,
        reason,
        message,
        generation,
        now,
    );
}

/// Records a failed pass: `Ready=False` with the error's reason and message; for an error a
/// human must fix, `Stalled` (see [`mark_stalled`]); otherwise `Reconciling` stays as the steps
/// left it, or is set with `ProgressingWithRetry` when they set none.
pub fn mark_failed(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    stalled: bool,
    generation: i64,
    now: &Time,
) -> Outcome {
    if stalled {
        mark_stalled(conditions, reason, message, generation, now);
        return Outcome::Stalled;
    }
    set(
        conditions,
        types::READY,
        Status::False,
        reason,
        message,
        generation,
        now,
    );
    if get(conditions, types::RECONCILING).is_none() {
        mark_reconciling(
            conditions,
            reasons::PROGRESSING_WITH_RETRY,
            message,
            generation,
            now,
        );
    }
    Outcome::Retrying
}

/// The conditions a kind owns, used to derive Ready.
#[derive(Clone, Copy, Debug)]
pub struct SummaryTable {
    /// Negative-polarity conditions, highest priority first: when one is `True`, Ready is
    /// `False` with its reason and message.
    pub negative: &'static [&'static str],
    /// Positive-polarity conditions, highest priority first: one that is `False` makes Ready
    /// `False`; the first one that is `True` gives Ready its reason and message.
    pub positive: &'static [&'static str],
}

/// The Ready summary of the source kinds, in Flux's priority order.
pub const SOURCE_SUMMARY: SummaryTable = SummaryTable {
    negative: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::INCLUDE_UNAVAILABLE,
        types::ARTIFACT_OUTDATED,
    ],
    positive: &[types::SOURCE_VERIFIED, types::ARTIFACT_IN_STORAGE],
};

/// Derives Ready from the owned conditions. In priority order: `Stalled=True`, a negative
/// condition that is `True`, a positive condition that is `False` (Ready `False`), then
/// `Reconciling=True` (Ready `Unknown`), then a positive condition that is `True` (Ready
/// `True`); with none of them Ready is `Unknown`/`Progressing`.
pub fn summarize_ready(
    conditions: &mut Vec<Condition>,
    table: &SummaryTable,
    generation: i64,
    now: &Time,
) {
    let found = |type_: &str, status: &str| {
        get(conditions, type_)
            .filter(|c| c.status == status)
            .map(|c| (c.reason.clone(), c.message.clone()))
    };
    let verdict = found(types::STALLED, "True")
        .map(|rm| (Status::False, rm))
        .or_else(|| {
            table
                .negative
                .iter()
                .find_map(|t| found(t, "True"))
                .map(|rm| (Status::False, rm))
        })
        .or_else(|| {
            table
                .positive
                .iter()
                .find_map(|t| found(t, "False"))
                .map(|rm| (Status::False, rm))
        })
        .or_else(|| found(types::RECONCILING, "True").map(|rm| (Status::Unknown, rm)))
        .or_else(|| {
            table
                .positive
                .iter()
                .find_map(|t| found(t, "True"))
                .map(|rm| (Status::True, rm))
        });
    let (status, (reason, message)) = verdict.unwrap_or((
        Status::Unknown,
        (
            reasons::PROGRESSING.to_string(),
            "reconciliation in progress".to_string(),
        ),
    ));
    set(
        conditions,
        types::READY,
        status,
        &reason,
        &message,
        generation,
        now,
    );
}

/// How a reconciliation ended, as far as kstatus is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything the generation asked for was done.
    Success,
    /// An error that needs a human; no retry until the spec changes.
    Stalled,
    /// An error that will be retried.
    Retrying,
}

/// Brings Reconciling/Stalled in line with kstatus at the end of a reconciliation and says
/// whether `status.observedGeneration` may be advanced (only on success or stall).
pub fn finish(conditions: &mut Vec<Condition>, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Success => {
            remove(conditions, types::RECONCILING);
            remove(conditions, types::STALLED);
            true
        }
        Outcome::Stalled => {
            remove(conditions, types::RECONCILING);
            true
        }
        Outcome::Retrying => {
            remove(conditions, types::STALLED);
            if let Some(c) = conditions
                .iter_mut()
                .find(|c| c.type_ == types::RECONCILING)
            {
                c.reason = reasons::PROGRESSING_WITH_RETRY.to_string();
            }
            false
        }
    }
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
