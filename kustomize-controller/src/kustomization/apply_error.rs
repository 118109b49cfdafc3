//! Why validating, applying or health-checking a build failed, one typed cause each (an API
//! call on one object, a kind nobody serves, a timeout, ...) with the messages Flux's users
//! read; the pipeline maps them to `ReconciliationFailed` and `HealthCheckFailed`.

/// Whether an API error means the object must be recreated to take the change, as Flux's
/// `ssa.IsImmutableError` decides it (and kubectl before it): any Conflict or Invalid answer,
/// or a message (from a CEL rule or a webhook) saying a field is immutable.
pub fn is_immutable_error(code: u16, message: &str) -> bool {
    code == 409
        || code == 422
        || message.contains("is immutable")
        || message.contains("immutable field")
}

/// What went wrong with one object.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// An API call about the object failed (`Kind/ns/name dry-run failed (Reason): ...`).
    #[error("{}", describe(.id, .step, .source))]
    Api {
        /// `Kind/namespace/name`.
        id: String,
        /// What was being done (`dry-run failed`, `apply failed`, ...).
        step: &'static str,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Reading the object back failed.
    #[error("{id} get failed: {source}")]
    Get {
        /// `Kind/namespace/name`.
        id: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Discovery of the object's kind failed.
    #[error("{id}: discovery failed: {source}")]
    Discovery {
        /// `Kind/name` or `Kind/namespace/name`.
        id: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Nobody serves the kind and no CRD of the build defines it.
    #[error("{id}: no matches for kind \"{kind}\" in version \"{api_version}\"")]
    NoMatch {
        /// `Kind/name`.
        id: String,
        /// The kind.
        kind: String,
        /// Its apiVersion.
        api_version: String,
    },
    /// The kind's CRD was applied but the kind is still not served.
    #[error("{id}: no matches for kind \"{kind}\" after its CRD was applied")]
    NotServedAfterCrd {
        /// `Kind/namespace/name`.
        id: String,
        /// The kind.
        kind: String,
    },
    /// A namespaced object without a namespace.
    #[error("{id}: namespace not specified: set metadata.namespace or spec.targetNamespace")]
    NoNamespace {
        /// `Kind/name`.
        id: String,
    },
    /// An object to recreate (immutable fields changed) did not go away.
    #[error("{id} was not deleted in time for its recreation")]
    NotDeleted {
        /// `Kind/namespace/name`.
        id: String,
    },
    /// An object of an early stage (CRDs, namespaces) failed to become ready.
    #[error("{id} failed: {message}")]
    Failed {
        /// `Kind/namespace/name`.
        id: String,
        /// kstatus' message.
        message: String,
    },
    /// An object of an early stage was still not ready after 60 s.
    #[error("timeout waiting for {waiting}")]
    Timeout {
        /// `Kind/namespace/name: why`.
        waiting: String,
    },
}

fn describe(id: &str, step: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.reason.is_empty() => {
            format!("{id} {step} ({}): {}", s.reason, s.message)
        }
        _ => format!("{id} {step}: {e}"),
    }
}

/// Why a build was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Objects refused before anything was written (all of them, one per line).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<ObjectError>),
    /// An object failed after others were applied: Flux's change log comes first.
    #[error("{}", if .log.is_empty() { .source.to_string() } else { format!("{}\n{}", .log, .source) })]
    Partial {
        /// The change log so far.
        log: String,
        /// What failed.
        #[source]
        source: Box<ObjectError>,
    },
}

impl From<ObjectError> for ApplyError {
    fn from(e: ObjectError) -> Self {
        ApplyError::Refused(vec![e])
    }
}

/// Why the health checks failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// An object is Failed.
    #[error("{id} status: 'Failed': {message}")]
    Failed {
        /// `Kind/namespace/name`.
        id: String,
        /// kstatus' (or the CEL expression's) message.
        message: String,
    },
    /// Objects were still in progress at the timeout.
    #[error("health check failed after {after}: timeout waiting for: [{}]", .waiting.join(", "))]
    Timeout {
        /// The timeout, as Flux prints it.
        after: String,
        /// `Kind/namespace/name status: 'InProgress': why`, one per object.
        waiting: Vec<String>,
    },
    /// Reading an object failed.
    #[error(transparent)]
    Object(Box<ObjectError>),
}

impl From<ObjectError> for HealthError {
    fn from(e: ObjectError) -> Self {
        HealthError::Object(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn immutable_errors_as_flux_reads_them() {
        for (code, message, want) in [
            (
                422,
                "The Job \"a\" is invalid: spec.template: Invalid value: {}: field is immutable",
                true,
            ),
            (
                422,
                "The Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: [\"None\"]: may not change once set",
                true,
            ),
            (409, "Operation cannot be fulfilled", true),
            (
                400,
                "admission webhook denied the request: spec.size is immutable",
                true,
            ),
            (403, "forbidden", false),
            (500, "etcd timeout", false),
        ] {
            assert_eq!(
                super::is_immutable_error(code, message),
                want,
                "{code} {message}"
            );
        }
    }

    use super::*;

    #[test]
    fn messages_read_as_fluxs() {
        let refused = ApplyError::Refused(vec![
            ObjectError::NoMatch {
                id: "Widget/w".into(),
                kind: "Widget".into(),
                api_version: "example.com/v1".into(),
            },
            ObjectError::NoNamespace {
                id: "ConfigMap/c".into(),
            },
        ]);
        assert_eq!(
            refused.to_string(),
            "Widget/w: no matches for kind \"Widget\" in version \"example.com/v1\"\nConfigMap/c: namespace not specified: set metadata.namespace or spec.targetNamespace"
        );
        let partial = |log: &str| ApplyError::Partial {
            log: log.into(),
            source: Box::new(ObjectError::Timeout {
                waiting: "CustomResourceDefinition/x: not found".into(),
            }),
        };
        assert_eq!(
            partial("Namespace/apps created").to_string(),
            "Namespace/apps created\ntimeout waiting for CustomResourceDefinition/x: not found"
        );
        assert_eq!(
            partial("").to_string(),
            "timeout waiting for CustomResourceDefinition/x: not found"
        );
        let health = HealthError::Timeout {
            after: "30s".into(),
            waiting: vec!["Deployment/apps/web status: 'InProgress': 0/1 ready".into()],
        };
        assert_eq!(
            health.to_string(),
            "health check failed after 30s: timeout waiting for: [Deployment/apps/web status: 'InProgress': 0/1 ready]"
        );
    }
}
