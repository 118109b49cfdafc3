//! A GitRepository's spec normalised once at the start of a reconcile: unsupported settings
//! refused, the URL checked, the reference and the timeout resolved; the steps read the plan,
//! never the spec (pure).

use std::time::Duration;

use rill_common::api::source_v1::{
    GitProvider, GitRepository, GitRepositoryInclude, GitRepositoryRef,
};

use super::source::validate_url;
use crate::error::Error;
use crate::outcome::refuse_unsupported;

/// What one reconcile of a GitRepository works from.
#[derive(Clone, Debug, PartialEq)]
pub struct GitPlan {
    /// The repository URL (checked).
    pub url: String,
    /// The reference to check out (the spec's, or the default branch).
    pub reference: GitRepositoryRef,
    /// `spec.timeout` (Flux's default 60 s).
    pub timeout: Duration,
    /// `spec.ignore`.
    pub ignore: Option<String>,
    /// `spec.include` as written (recorded in `observedInclude`).
    pub include: Option<Vec<GitRepositoryInclude>>,
    /// `spec.recurseSubmodules` as written.
    pub recurse_submodules: Option<bool>,
    /// `spec.sparseCheckout` as written.
    pub sparse_checkout: Option<Vec<String>>,
}

impl GitPlan {
    /// The plan of `repo`, or why it cannot run.
    pub fn of(repo: &GitRepository) -> Result<GitPlan, Error> {
        let spec = &repo.spec;
        let generic = spec.provider.is_none_or(|p| p == GitProvider::Generic);
        refuse_unsupported(spec.verify.is_some(), generic, "commits")?;
        validate_url(&spec.url)?;
        Ok(GitPlan {
            url: spec.url.clone(),
            reference: spec.effective_ref(),
            timeout: crate::reconcile::spec_timeout(spec.timeout.as_deref()),
            ignore: spec.ignore.clone(),
            include: spec.include.clone(),
            recurse_submodules: spec.recurse_submodules,
            sparse_checkout: spec.sparse_checkout.clone(),
        })
    }

    /// The included repositories, in order.
    pub fn includes(&self) -> Vec<GitRepositoryInclude> {
        self.include.clone().unwrap_or_default()
    }

    /// Whether submodules are checked out.
    pub fn submodules(&self) -> bool {
        self.recurse_submodules.unwrap_or(false)
    }

    /// The directories of a sparse checkout (none: everything).
    pub fn sparse(&self) -> Vec<String> {
        self.sparse_checkout.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(spec: serde_json::Value) -> GitRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "r", "namespace": "default"}, "spec": spec
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn specs_become_plans_or_refusals() {
        let plan = GitPlan::of(&repo(
            serde_json::json!({"url": "https://example.invalid/r.git", "interval": "1m"}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.timeout, Duration::from_secs(60));
        assert_eq!(plan.reference.branch.as_deref(), Some("master"));
        assert!(!plan.submodules() && plan.sparse().is_empty() && plan.includes().is_empty());
        let plan = GitPlan::of(&repo(
            serde_json::json!({"url": "ssh://git@example.invalid/r.git", "interval": "1m",
            "timeout": "2m30s", "ref": {"tag": "v1"}, "recurseSubmodules": true}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.timeout, Duration::from_secs(150));
        assert_eq!(plan.reference.tag.as_deref(), Some("v1"));
        assert!(plan.submodules());
        for bad in [
            serde_json::json!({"url": "ftp://example.invalid/r.git", "interval": "1m"}),
            serde_json::json!({"url": "https://example.invalid/r.git", "interval": "1m", "verify": {"mode": "HEAD", "secretRef": {"name": "k"}}}),
        ] {
            assert!(GitPlan::of(&repo(bad)).is_err());
        }
    }
}
