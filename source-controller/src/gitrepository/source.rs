//! The source step: credentials from the Secret, the remote revision, the up-to-date check,
//! the checkout, and the included GitRepositories' artifacts copied in.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use kube::Api;
use rill_common::api::meta::Artifact;
use rill_common::api::source_v1::{GitRepository, GitRepositoryInclude, GitRepositoryStatus};
use rill_common::artifact::{Storage, UnpackLimits, unpack_tar_gz};
use rill_common::conditions::reasons;

use super::Context;
use crate::error::Error;
use rill_git::auth::{Credentials, redact};
use rill_git::reference::{RefError, Target, resolve};
use rill_git::repository::AccessError;
use rill_git::{self as git, Checkout, FetchPlan, GitError};

use super::plan::GitPlan;

/// Checks the URL before anything touches the network.
pub fn validate_url(url: &str) -> Result<&str, Error> {
    rill_git::repository::scheme_of(url).map_err(access_error)
}

/// A GitRepository access error as this controller reports it.
fn access_error(e: AccessError) -> Error {
    match e {
        AccessError::InvalidUrl { .. } => Error::InvalidUrl(e.to_string()),
        AccessError::SshProxy => Error::Unsupported(e.to_string()),
        AccessError::Secret(e) => Error::Secret(e),
        e => Error::Auth(e.to_string()),
    }
}

/// Reads the `secretRef` and `proxySecretRef` Secrets and turns them into credentials.
pub async fn load_credentials(repo: &GitRepository, ctx: &Context) -> Result<Credentials, Error> {
    rill_git::repository::access(&ctx.frame.client, repo)
        .await
        .map_err(access_error)
}

pub(super) fn git_error(context: &str, url: &str, e: GitError) -> Error {
    let url = redact(url, &[]);
    match e {
        GitError::Auth(m) => Error::Auth(format!("{context} '{url}': {m}")),
        GitError::Empty => {
            Error::EmptyRepository(format!("{context} '{url}': repository is empty"))
        }
        GitError::NotFound(m) | GitError::Other(m) => Error::Git(format!("{context} '{url}': {m}")),
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    timeout: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(join)) => Err(Error::Git(format!("{what} panicked: {join}"))),
        Err(_) => Err(Error::Git(format!(
            "{what} timed out after {}",
            rill_common::duration::format(timeout)
        ))),
    }
}

/// Asks the remote which commit the plan's reference points to.
pub async fn remote_target(plan: &GitPlan, creds: &Credentials) -> Result<Target, Error> {
    let (url, timeout) = (plan.url.clone(), plan.timeout);
    let scratch = tempfile::tempdir()
        .map_err(|e| Error::Storage(format!("cannot create a temporary directory: {e}")))?;
    let scratch_path = scratch.path().to_path_buf();
    let creds_for_call = creds.clone();
    let url_for_call = url.clone();
    let refs = blocking(timeout, "listing remote references", move || {
        git::ls_remote(&url_for_call, &creds_for_call, &scratch_path)
    })
    .await?
    .map_err(|e| git_error("unable to list remote references of", &url, e))?;
    resolve(&plan.reference, &refs).map_err(|e| match e {
        RefError::Invalid(m) => Error::InvalidSpec(m),
        RefError::NotFound(m) => Error::Git(m),
    })
}

/// Fetches and checks out the target into `dir`.
pub async fn checkout(
    git_plan: &GitPlan,
    creds: &Credentials,
    target: &Target,
    dir: &Path,
) -> Result<Checkout, Error> {
    let timeout = git_plan.timeout;
    let plan = FetchPlan {
        refspecs: target.refspecs.clone(),
        depth: target.depth,
        commit: target.commit.clone(),
        sparse: git_plan.sparse(),
        submodules: git_plan.submodules(),
    };
    let (url, creds, dir_owned) = (git_plan.url.clone(), creds.clone(), dir.to_path_buf());
    let url_for_call = url.clone();
    blocking(timeout, "cloning", move || {
        git::checkout(&url_for_call, &creds, &plan, &dir_owned)
    })
    .await?
    .map_err(|e| {
        git_error(
            "failed to checkout and determine revision: unable to clone",
            &url,
            e,
        )
    })
}

/// Whether the stored artifact already reflects the target and the content-affecting spec.
pub fn up_to_date(
    plan: &GitPlan,
    status: &GitRepositoryStatus,
    target: &Target,
    included: &[Artifact],
    artifact_verified: bool,
) -> bool {
    let Some(artifact) = &status.artifact else {
        return false;
    };
    artifact_verified
        && artifact.revision == target.revision
        && status.observed_ignore == plan.ignore
        && status.observed_recurse_submodules.unwrap_or(false) == plan.submodules()
        && status.observed_include.clone().unwrap_or_default() == plan.includes()
        && status.observed_sparse_checkout.clone().unwrap_or_default() == plan.sparse()
        && status
            .included_artifacts
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|a| &a.digest)
            .eq(included.iter().map(|a| &a.digest))
}

/// The artifacts of the included GitRepositories, in `spec.include` order.
pub async fn included_artifacts(
    repo: &GitRepository,
    plan: &GitPlan,
    ctx: &Context,
) -> Result<Vec<Artifact>, Error> {
    let namespace = repo.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<GitRepository> = Api::namespaced(ctx.frame.client.clone(), namespace);
    let mut artifacts = Vec::new();
    for include in plan.includes() {
        let name = include.repository.name;
        let retry = ctx.requeue_dependency;
        let other = api
            .get_opt(&name)
            .await
            .map_err(|e| Error::Kube(e.to_string()))?
            .ok_or_else(|| Error::IncludeUnavailable {
                reason: reasons::NOT_FOUND,
                message: format!("could not get resource for include '{name}': not found"),
                retry,
            })?;
        let artifact =
            other
                .status
                .and_then(|s| s.artifact)
                .ok_or_else(|| Error::IncludeUnavailable {
                    reason: reasons::NO_ARTIFACT,
                    message: format!("no artifact available for include '{name}'"),
                    retry,
                })?;
        artifacts.push(artifact);
    }
    Ok(artifacts)
}

/// Joins `relative` under `root`, refusing anything that climbs out.
pub fn secure_join(root: &Path, relative: &str) -> Result<PathBuf, Error> {
    let mut out = root.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::InvalidSpec(format!(
                    "illegal path '{relative}': it leaves the repository"
                )));
            }
        }
    }
    Ok(out)
}

/// Copies each included artifact's `fromPath` to `toPath` inside the checkout (blocking: run
/// it on the blocking pool).
pub fn copy_includes(
    includes: &[GitRepositoryInclude],
    storage: &Storage,
    artifacts: &[Artifact],
    checkout: &Path,
) -> Result<(), Error> {
    for (include, artifact) in includes.iter().zip(artifacts) {
        let storage_err = |e: String| {
            Error::Storage(format!(
                "failed to include '{}': {e}",
                include.repository.name
            ))
        };
        let file = storage
            .local_path(&artifact.path)
            .map_err(|e| storage_err(e.to_string()))?;
        let unpacked = tempfile::tempdir().map_err(|e| storage_err(e.to_string()))?;
        let reader = std::fs::File::open(&file).map_err(|e| storage_err(e.to_string()))?;
        unpack_tar_gz(reader, unpacked.path(), &UnpackLimits::default())
            .map_err(|e| storage_err(e.to_string()))?;
        let from = secure_join(unpacked.path(), include.from_path.as_deref().unwrap_or(""))?;
        let to = secure_join(
            checkout,
            include
                .to_path
                .as_deref()
                .unwrap_or(&include.repository.name),
        )?;
        if to.exists() {
            std::fs::remove_dir_all(&to).map_err(|e| storage_err(e.to_string()))?;
        }
        copy_tree(&from, &to).map_err(|e| storage_err(e.to_string()))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_use() {
        for good in [
            "https://example.com/org/repo.git",
            "http://127.0.0.1:8080/repo",
            "ssh://git@host:2222/repo.git",
        ] {
            assert!(validate_url(good).is_ok(), "{good}");
        }
        for bad in [
            "git@github.com:org/repo.git",
            "ftp://host/repo",
            "https://",
            "https://host",
            "https:///repo",
        ] {
            assert!(
                matches!(validate_url(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
        let err = validate_url("ftp://user:hunter22@host/repo").unwrap_err();
        assert!(!err.to_string().contains("hunter22"));
    }

    #[test]
    fn include_paths_stay_inside() {
        let root = Path::new("/checkout");
        assert_eq!(
            secure_join(root, "base/app").unwrap(),
            Path::new("/checkout/base/app")
        );
        assert_eq!(secure_join(root, "./x").unwrap(), Path::new("/checkout/x"));
        assert!(secure_join(root, "../escape").is_err());
        assert!(secure_join(root, "a/../../b").is_err());
    }
}
