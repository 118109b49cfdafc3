//! The storage and artifact steps: verify and collect the stored artifacts, then (unless the
//! stored artifact is current) check out, apply ignore rules and archive the new revision.

use std::time::SystemTime;

use rill_common::api::source_v1::GitRepository;
use rill_common::conditions::{self, Status, reasons, types};
use rill_common::runtime::frame::Pass;

use super::plan::GitPlan;
use super::source::{
    checkout, copy_includes, included_artifacts, load_credentials, remote_target, up_to_date,
};
use super::{Context, key_of, tree_archive};
use crate::error::Error;
use crate::outcome::{check_storage, mark_outdated};
use rill_common::ignore::IgnoreRules;

/// Runs storage -> source -> artifact, updating the pass's status and conditions as it goes;
/// returns the `NewArtifact` message when a new artifact was stored.
pub(crate) async fn run_steps(
    repo: &GitRepository,
    ctx: &Context,
    pass: &mut Pass<GitRepository>,
) -> Result<Option<String>, Error> {
    let (generation, now) = (pass.generation, &pass.now);
    let (status, conds) = (&mut pass.status, &mut pass.conditions);
    let plan = GitPlan::of(repo)?;

    // Storage: the recorded artifact must still be on disk with its digest.
    let key = key_of(repo);
    let verified = check_storage(
        &ctx.storage,
        &key,
        &mut status.artifact,
        conds,
        generation,
        now,
    );

    // Source.
    let timeout = plan.timeout;
    let mut creds = load_credentials(repo, ctx).await?;
    creds.timeout = Some(timeout);
    let included = included_artifacts(repo, &plan, ctx).await?;
    let target = remote_target(&plan, &creds).await?;
    if up_to_date(&plan, status, &target, &included, verified) {
        let revision = target.revision.clone();
        conditions::set(
            conds,
            types::ARTIFACT_IN_STORAGE,
            Status::True,
            reasons::SUCCEEDED,
            &format!("stored artifact for revision '{revision}'"),
            generation,
            now,
        );
        return Ok(None);
    }
    if status.artifact.is_some() {
        let message = format!("new upstream revision '{}'", target.revision);
        mark_outdated(conds, &message, generation, now);
    }
    let file = format!("{}.tar.gz", target.commit);
    let (artifact, summary) = if tree_archive::applies(&plan, included.len()) {
        tree_archive::fetch_and_archive(
            &plan,
            &creds,
            &target,
            &ctx.storage,
            &key,
            &file,
            now,
            &ctx.archives,
        )
        .await?
    } else {
        let workdir = tempfile::tempdir()
            .map_err(|e| Error::Storage(format!("cannot create a temporary directory: {e}")))?;
        let checked_out = checkout(&plan, &creds, &target, workdir.path()).await?;
        let storage = ctx.storage.clone();
        let (includes, artifacts, ignore, root) = (
            plan.includes(),
            included.clone(),
            plan.ignore.clone(),
            workdir.path().to_path_buf(),
        );
        let rules = tokio::task::spawn_blocking(move || {
            copy_includes(&includes, &storage, &artifacts, &root)?;
            IgnoreRules::load(&root, ignore.as_deref()).map_err(|e| Error::Ignore(e.to_string()))
        })
        .await
        .map_err(|e| Error::Storage(format!("including artifacts panicked: {e}")))??;
        let storage = ctx.storage.clone();
        let (source, revision, stored_at, file) = (
            workdir.path().to_path_buf(),
            target.revision.clone(),
            now.clone(),
            file.clone(),
        );
        let key_for_store = key.clone();
        let artifact = tokio::task::spawn_blocking(move || {
            let exclude = |path: &std::path::Path, is_dir: bool| rules.excluded(path, is_dir);
            storage.store_directory(
                &key_for_store,
                &file,
                &source,
                &exclude,
                &revision,
                stored_at,
            )
        })
        .await
        .map_err(|e| Error::Storage(format!("archiving panicked: {e}")))?
        .map_err(|e| Error::Storage(format!("failed to archive artifact: {e}")))?;
        (artifact, checked_out.summary)
    };
    let changed =
        status.artifact.as_ref().and_then(|a| a.digest.as_ref()) != artifact.digest.as_ref();
    let file_name = artifact.path.rsplit('/').next().map(str::to_string);
    status.artifact = Some(artifact);
    status.included_artifacts = (!included.is_empty()).then_some(included);
    status.observed_ignore = plan.ignore.clone();
    status.observed_recurse_submodules = plan.recurse_submodules;
    status.observed_include = plan.include.clone();
    status.observed_sparse_checkout = plan.sparse_checkout.clone();
    conditions::set(
        conds,
        types::ARTIFACT_IN_STORAGE,
        Status::True,
        reasons::SUCCEEDED,
        &format!("stored artifact for revision '{}'", target.revision),
        generation,
        now,
    );
    if let Err(e) = ctx
        .storage
        .garbage_collect(&key, file_name.as_deref(), SystemTime::now())
    {
        tracing::warn!(error = %e, "artifact garbage collection failed");
    }
    let summary: String = summary.chars().take(50).collect();
    Ok(changed.then_some(format!("stored artifact for commit '{summary}'")))
}
