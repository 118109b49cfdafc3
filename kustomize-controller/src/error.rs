//! The kustomize-controller's errors: each names its Flux condition reason and how the
//! reconcile is retried. Messages never carry Secret values.

use std::time::Duration;

use rill_common::conditions::reasons;
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError};
use rill_common::runtime::frame::StatusPatchError;

/// Why a Kustomization reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field Rill does not implement yet; a human must change the spec.
    #[error("{0}")]
    Unsupported(String),
    /// A cross-namespace source reference refused by `--no-cross-namespace-refs`.
    #[error("{0}")]
    AccessDenied(String),
    /// The spec is invalid in a way the schema cannot catch.
    #[error("{0}")]
    InvalidSpec(String),
    /// A CEL expression of the spec does not compile.
    #[error("{0}")]
    InvalidCel(String),
    /// The source is missing, has no artifact, or the artifact cannot be fetched.
    #[error("{message}")]
    Artifact {
        /// What happened.
        message: String,
        /// When to look again.
        retry: Option<Duration>,
    },
    /// Generating, building or substituting the manifests failed.
    #[error("{0}")]
    Build(String),
    /// A dependency is not ready.
    #[error("{message}")]
    DependencyNotReady {
        /// Which dependency and why.
        message: String,
        /// `--requeue-dependency`.
        retry: Duration,
    },
    /// Validation or apply failed (the message holds the change log so far).
    #[error(transparent)]
    Apply(#[from] crate::kustomization::apply_error::ApplyError),
    /// Garbage collection failed.
    #[error("{0}")]
    Prune(String),
    /// Health checks failed or timed out.
    #[error(transparent)]
    Health(#[from] crate::kustomization::apply_error::HealthError),
    /// The Kubernetes API failed.
    #[error("{0}")]
    Kube(String),
    /// The status could not be written.
    #[error(transparent)]
    Status(#[from] StatusPatchError),
}

impl ReconcileError for Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Unsupported(_) => reasons::UNSUPPORTED,
            Error::AccessDenied(_) => reasons::ACCESS_DENIED,
            Error::InvalidSpec(_) => reasons::INVALID_PATH,
            Error::InvalidCel(_) => reasons::INVALID_CEL_EXPRESSION,
            Error::Artifact { .. } => reasons::ARTIFACT_FAILED,
            Error::Build(_) => reasons::BUILD_FAILED,
            Error::DependencyNotReady { .. } => reasons::DEPENDENCY_NOT_READY,
            Error::Apply(_) | Error::Kube(_) | Error::Status(_) => reasons::RECONCILIATION_FAILED,
            Error::Prune(_) => reasons::PRUNE_FAILED,
            Error::Health(_) => reasons::HEALTH_CHECK_FAILED,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Error::Unsupported(_)
            | Error::AccessDenied(_)
            | Error::InvalidSpec(_)
            | Error::InvalidCel(_) => ErrorClass::Stalled,
            Error::Artifact {
                retry: Some(delay), ..
            }
            | Error::DependencyNotReady { retry: delay, .. } => ErrorClass::Waiting(*delay),
            _ => ErrorClass::Transient,
        }
    }

    fn metric_label(&self) -> &'static str {
        match self {
            Error::Unsupported(_) => "unsupported",
            Error::AccessDenied(_) => "access_denied",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::InvalidCel(_) => "invalid_cel",
            Error::Artifact { .. } => "artifact",
            Error::Build(_) => "build",
            Error::DependencyNotReady { .. } => "dependency",
            Error::Apply(_) => "apply",
            Error::Prune(_) => "prune",
            Error::Health(_) => "health",
            Error::Kube(_) => "kube",
            Error::Status(_) => "status_patch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kustomization::apply_error::{ApplyError, HealthError};

    #[test]
    fn each_error_has_its_flux_reason_and_retry_class() {
        let wait = Duration::from_secs(30);
        let cases = [
            (
                Error::Unsupported("x".into()),
                "Unsupported",
                ErrorClass::Stalled,
            ),
            (
                Error::AccessDenied("x".into()),
                "AccessDenied",
                ErrorClass::Stalled,
            ),
            (
                Error::Artifact {
                    message: "x".into(),
                    retry: Some(wait),
                },
                "ArtifactFailed",
                ErrorClass::Waiting(wait),
            ),
            (
                Error::Artifact {
                    message: "x".into(),
                    retry: None,
                },
                "ArtifactFailed",
                ErrorClass::Transient,
            ),
            (
                Error::Build("x".into()),
                "BuildFailed",
                ErrorClass::Transient,
            ),
            (
                Error::DependencyNotReady {
                    message: "x".into(),
                    retry: wait,
                },
                "DependencyNotReady",
                ErrorClass::Waiting(wait),
            ),
            (
                Error::Apply(ApplyError::Refused(Vec::new())),
                "ReconciliationFailed",
                ErrorClass::Transient,
            ),
            (
                Error::Prune("x".into()),
                "PruneFailed",
                ErrorClass::Transient,
            ),
            (
                Error::Health(HealthError::Timeout {
                    after: "1m".into(),
                    waiting: Vec::new(),
                }),
                "HealthCheckFailed",
                ErrorClass::Transient,
            ),
        ];
        for (error, reason, class) in cases {
            assert_eq!(error.reason(), reason, "{error:?}");
            assert_eq!(error.class(), class, "{error:?}");
        }
    }
}
