//! The image controller's errors: each names its Flux condition reason and retry class.
//! Messages never carry credentials.

use std::time::Duration;

use rill_common::client_settings::SecretError;
use rill_common::conditions::reasons;
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError};
use rill_common::runtime::frame::StatusPatchError;

/// Why an image reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `spec.image` has a scheme, a tag or is not a repository name.
    #[error("{0}")]
    InvalidImage(String),
    /// A field Rill does not implement (a cloud `provider`).
    #[error("{0}")]
    Unsupported(String),
    /// The exclusion list, policy or tag filter is invalid.
    #[error("{0}")]
    InvalidPolicy(String),
    /// `digestReflectionPolicy: Always` without an interval.
    #[error("{0}")]
    IntervalNotConfigured(String),
    /// A cross-namespace read the repository does not grant.
    #[error("{0}")]
    AccessDenied(String),
    /// Credentials are missing or refused.
    #[error("{0}")]
    Auth(String),
    /// The registry could not be read.
    #[error("{0}")]
    Scan(String),
    /// The repository has no tags yet, or is missing.
    #[error("{message}")]
    DependencyNotReady {
        /// What is missing.
        message: String,
        /// `--requeue-dependency`.
        retry: Duration,
    },
    /// `spec.git` or the branches cannot work.
    #[error("{0}")]
    InvalidSourceConfiguration(String),
    /// Cloning, committing or pushing failed.
    #[error("{0}")]
    Git(String),
    /// Applying the setters failed.
    #[error("{0}")]
    Update(String),
    /// The Git side could not be set up (the signing key).
    #[error("{0}")]
    SourceManager(String),
    /// The commit message template uses a field Flux removed.
    #[error("{0}")]
    RemovedTemplateField(String),
    /// No tag qualifies.
    #[error("{0}")]
    NoCandidate(String),
    /// The tag store failed.
    #[error("{0}")]
    Storage(String),
    /// A referenced Secret is missing or unreadable.
    #[error(transparent)]
    Secret(#[from] SecretError),
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
            Error::InvalidImage(_) => reasons::IMAGE_URL_INVALID,
            Error::Unsupported(_) => reasons::UNSUPPORTED,
            Error::InvalidPolicy(_) => reasons::INVALID_POLICY,
            Error::IntervalNotConfigured(_) => reasons::INTERVAL_NOT_CONFIGURED,
            Error::AccessDenied(_) => reasons::ACCESS_DENIED,
            Error::Auth(_) | Error::Secret(SecretError::NotFound { .. }) => {
                reasons::AUTHENTICATION_FAILED
            }
            Error::Scan(_) => reasons::READ_OPERATION_FAILED,
            Error::InvalidSourceConfiguration(_) => reasons::INVALID_SOURCE_CONFIGURATION,
            Error::Git(_) => reasons::GIT_OPERATION_FAILED,
            Error::Update(_) => reasons::UPDATE_FAILED,
            Error::RemovedTemplateField(_) => reasons::REMOVED_TEMPLATE_FIELD,
            Error::SourceManager(_) => reasons::SOURCE_MANAGER_FAILED,
            Error::DependencyNotReady { .. } => reasons::DEPENDENCY_NOT_READY,
            Error::NoCandidate(_)
            | Error::Storage(_)
            | Error::Secret(_)
            | Error::Kube(_)
            | Error::Status(_) => reasons::FAILURE,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidImage(_)
            | Error::Unsupported(_)
            | Error::InvalidPolicy(_)
            | Error::IntervalNotConfigured(_)
            | Error::AccessDenied(_)
            | Error::RemovedTemplateField(_)
            | Error::InvalidSourceConfiguration(_) => ErrorClass::Stalled,
            Error::DependencyNotReady { retry, .. } => ErrorClass::Waiting(*retry),
            _ => ErrorClass::Transient,
        }
    }

    fn metric_label(&self) -> &'static str {
        match self {
            Error::InvalidImage(_) => "invalid_image",
            Error::Unsupported(_) => "unsupported",
            Error::InvalidPolicy(_) => "invalid_policy",
            Error::IntervalNotConfigured(_) => "interval_not_configured",
            Error::AccessDenied(_) => "access_denied",
            Error::Auth(_) => "auth",
            Error::Scan(_) => "scan",
            Error::InvalidSourceConfiguration(_) => "invalid_source",
            Error::Git(_) => "git",
            Error::Update(_) => "update",
            Error::RemovedTemplateField(_) => "removed_template_field",
            Error::SourceManager(_) => "source_manager",
            Error::DependencyNotReady { .. } => "dependency",
            Error::NoCandidate(_) => "no_candidate",
            Error::Storage(_) => "storage",
            Error::Secret(_) => "secret",
            Error::Kube(_) => "kube",
            Error::Status(_) => "status_patch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_stall_and_the_rest_retry() {
        let wait = Duration::from_secs(30);
        let cases = [
            (
                Error::InvalidImage("x".into()),
                "ImageURLInvalid",
                ErrorClass::Stalled,
            ),
            (
                Error::InvalidPolicy("x".into()),
                "InvalidPolicy",
                ErrorClass::Stalled,
            ),
            (
                Error::AccessDenied("x".into()),
                "AccessDenied",
                ErrorClass::Stalled,
            ),
            (
                Error::IntervalNotConfigured("x".into()),
                "IntervalNotConfigured",
                ErrorClass::Stalled,
            ),
            (
                Error::Auth("x".into()),
                "AuthenticationFailed",
                ErrorClass::Transient,
            ),
            (
                Error::Scan("x".into()),
                "ReadOperationFailed",
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
        ];
        for (error, reason, class) in cases {
            assert_eq!(
                (error.reason(), error.class()),
                (reason, class),
                "{error:?}"
            );
        }
    }
}
