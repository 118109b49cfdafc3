//! The source-controller's errors: each says which condition it sets, with which Flux reason,
//! and how the reconcile is retried.

use std::time::Duration;

use rill_common::client_settings::SecretError;
use rill_common::conditions::{reasons, types};
use rill_common::runtime::error_policy::{ErrorClass, ReconcileError};
use rill_common::runtime::frame::StatusPatchError;

/// Why a GitRepository reconcile failed. Messages never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL cannot be used; a human must fix the spec.
    #[error("{0}")]
    InvalidUrl(String),
    /// The spec asks for something wrong (bad ref, bad semver range); a human must fix it.
    #[error("{0}")]
    InvalidSpec(String),
    /// An OCIRepository's semver range or filter does not parse; a human must fix it.
    #[error(transparent)]
    InvalidReference(crate::ocirepository::reference::SelectError),
    /// A field Rill does not implement yet.
    #[error("{0}")]
    Unsupported(String),
    /// Credentials are missing, malformed or refused.
    #[error("{0}")]
    Auth(String),
    /// The Git operation failed.
    #[error("{0}")]
    Git(String),
    /// Pulling from an OCI registry failed.
    #[error("{0}")]
    Pull(String),
    /// The selected OCI layer could not be found, extracted or copied.
    #[error("{0}")]
    Layer(String),
    /// The repository has no commits.
    #[error("{0}")]
    EmptyRepository(String),
    /// `.sourceignore` or `spec.ignore` does not parse.
    #[error("{0}")]
    Ignore(String),
    /// Writing or reading the artifact storage failed.
    #[error("{0}")]
    Storage(String),
    /// An included GitRepository is missing or has no artifact yet.
    #[error("{message}")]
    IncludeUnavailable {
        /// `NotFound` or `NoArtifact`.
        reason: &'static str,
        /// What is missing.
        message: String,
        /// When to look again.
        retry: Duration,
    },
    /// The Kubernetes API failed.
    #[error("{0}")]
    Kube(String),
    /// A referenced Secret is missing or cannot be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The status could not be written.
    #[error(transparent)]
    Status(#[from] StatusPatchError),
}

impl Error {
    /// The condition type the error sets to True (`Stalled` for errors that need a human).
    pub fn condition(&self) -> &'static str {
        match self {
            Error::InvalidUrl(_)
            | Error::InvalidSpec(_)
            | Error::InvalidReference(_)
            | Error::Unsupported(_) => types::STALLED,
            Error::Storage(_) | Error::Ignore(_) => types::STORAGE_OPERATION_FAILED,
            Error::IncludeUnavailable { .. } => types::INCLUDE_UNAVAILABLE,
            _ => types::FETCH_FAILED,
        }
    }
}

impl ReconcileError for Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::InvalidUrl(_) => reasons::URL_INVALID,
            Error::InvalidSpec(_) => reasons::GIT_OPERATION_FAILED,
            Error::InvalidReference(_) => reasons::OCI_ARTIFACT_PULL_FAILED,
            Error::Unsupported(_) => reasons::UNSUPPORTED,
            Error::Auth(_) => reasons::AUTHENTICATION_FAILED,
            Error::Git(_) => reasons::GIT_OPERATION_FAILED,
            Error::Pull(_) => reasons::OCI_ARTIFACT_PULL_FAILED,
            Error::Layer(_) => reasons::OCI_ARTIFACT_LAYER_OPERATION_FAILED,
            Error::EmptyRepository(_) => reasons::EMPTY_GIT_REPOSITORY,
            Error::Ignore(_) => reasons::SOURCE_IGNORE_ERROR,
            Error::Storage(_) => reasons::ARCHIVE_OPERATION_FAILED,
            Error::IncludeUnavailable { reason, .. } => reason,
            Error::Secret(SecretError::NotFound { .. }) => reasons::AUTHENTICATION_FAILED,
            Error::Kube(_) | Error::Secret(_) | Error::Status(_) => reasons::FAILED,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidUrl(_)
            | Error::InvalidSpec(_)
            | Error::InvalidReference(_)
            | Error::Unsupported(_) => ErrorClass::Stalled,
            Error::IncludeUnavailable { retry, .. } => ErrorClass::Waiting(*retry),
            _ => ErrorClass::Transient,
        }
    }

    fn metric_label(&self) -> &'static str {
        match self {
            Error::InvalidUrl(_) => "invalid_url",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::InvalidReference(_) => "invalid_reference",
            Error::Unsupported(_) => "unsupported",
            Error::Auth(_) => "auth",
            Error::Git(_) => "git",
            Error::Pull(_) => "oci_pull",
            Error::Layer(_) => "oci_layer",
            Error::EmptyRepository(_) => "empty_repository",
            Error::Ignore(_) => "ignore",
            Error::Storage(_) => "storage",
            Error::IncludeUnavailable { .. } => "include_unavailable",
            Error::Kube(_) => "kube",
            Error::Secret(_) => "secret",
            Error::Status(_) => "status_patch",
        }
    }
}
