//! The OCIRepository steps: verify the stored artifact, resolve the wanted tag or digest on
//! the registry, and unless the stored artifact is current pull the manifest and the selected
//! layer, extract (with ignore rules) or copy it, and store it as `<manifest digest>.tar.gz`.

use std::time::SystemTime;

use rill_common::api::source_v1::{OCILayerOperation, OCIRepository};
use rill_common::artifact::{UnpackLimits, unpack_tar_gz};
use rill_common::conditions::{self, Status, reasons, types};

use super::client::registry;
use super::plan::OciPlan;
use super::reference::{SelectError, Wanted, pick_semver, revision};
use super::{Context, key_of};
use crate::error::Error;
use crate::outcome::{check_storage, mark_outdated};
use rill_common::ignore::IgnoreRules;
use rill_common::oci::RegistryError;
use rill_common::runtime::frame::Pass;

fn pull_error(e: RegistryError) -> Error {
    match e {
        RegistryError::Unauthorized(m) => Error::Auth(m),
        other => Error::Pull(other.to_string()),
    }
}

/// What a run stored: `Some(event message)` when a new artifact was written.
/// Runs the steps, updating the pass's status and conditions; returns the `NewArtifact`
/// message when a new artifact was stored.
pub(crate) async fn run_steps(
    repo: &OCIRepository,
    ctx: &Context,
    pass: &mut Pass<OCIRepository>,
) -> Result<Option<String>, Error> {
    let (generation, now) = (pass.generation, &pass.now);
    let (status, conds) = (&mut pass.status, &mut pass.conditions);
    let plan = OciPlan::of(repo)?;
    let url = plan.url.clone();

    let key = key_of(repo);
    let verified = check_storage(
        &ctx.storage,
        &key,
        &mut status.artifact,
        conds,
        generation,
        now,
    );

    let client = registry(&ctx.frame.client, repo, &plan).await?;
    let (tag, digest) = match plan.wanted.clone() {
        Wanted::Digest(digest) => (None, digest),
        Wanted::Semver { range, filter } => {
            let tags = client.tags().await.map_err(pull_error)?;
            let tag = pick_semver(&range, filter.as_deref(), &tags).map_err(|e| match e {
                SelectError::NoMatch(_) => Error::Pull(e.to_string()),
                _ => Error::InvalidReference(e),
            })?;
            let digest = client.digest_of(&tag).await.map_err(pull_error)?;
            (Some(tag), digest)
        }
        Wanted::Tag(tag) => {
            let digest = client.digest_of(&tag).await.map_err(pull_error)?;
            (Some(tag), digest)
        }
    };
    let revision = revision(tag.as_deref(), &digest);
    let up_to_date = verified
        && status
            .artifact
            .as_ref()
            .is_some_and(|a| a.revision == revision)
        && status.observed_ignore == plan.ignore
        && status.observed_layer_selector == plan.layer_selector;
    let stored_message = format!("stored artifact for digest '{revision}'");
    if up_to_date {
        conditions::set(
            conds,
            types::ARTIFACT_IN_STORAGE,
            Status::True,
            reasons::SUCCEEDED,
            &stored_message,
            generation,
            now,
        );
        return Ok(None);
    }
    if status.artifact.is_some() {
        let message = format!("new revision '{revision}' for '{}'", url.display());
        mark_outdated(conds, &message, generation, now);
    }

    let manifest = client.manifest(&digest).await.map_err(pull_error)?;
    let selector = plan.layer_selector.clone().unwrap_or_default();
    let layers = &manifest.document.layers;
    let layer = match selector.media_type.as_deref().filter(|m| !m.is_empty()) {
        Some(media_type) => layers
            .iter()
            .find(|l| l.media_type == media_type)
            .ok_or_else(|| {
                Error::Layer(format!(
                    "failed to find layer with media type '{media_type}' in artifact"
                ))
            })?,
        None => layers
            .first()
            .ok_or_else(|| Error::Layer("no layers found in artifact".into()))?,
    };
    if layer.digest.is_empty() {
        return Err(Error::Layer("the layer has no digest".into()));
    }
    let limit = UnpackLimits::default().max_total_bytes;
    let blob = client
        .blob(&layer.digest, limit)
        .await
        .map_err(pull_error)?;

    let file = format!("{digest}.tar.gz");
    let storage = ctx.storage.clone();
    let (ignore, rev, stored_at, key_for_store) = (
        plan.ignore.clone(),
        revision.clone(),
        now.clone(),
        key.clone(),
    );
    let copy = selector.operation == Some(OCILayerOperation::Copy);
    let mut artifact = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        if copy {
            return storage
                .store_bytes(&key_for_store, &file, &blob[..], &rev, stored_at)
                .map_err(|e| Error::Storage(format!("failed to store the layer: {e}")));
        }
        let workdir = tempfile::tempdir()
            .map_err(|e| Error::Storage(format!("cannot create a temporary directory: {e}")))?;
        let limits = UnpackLimits::default();
        unpack_tar_gz(&blob[..], workdir.path(), &limits).map_err(|e| {
            Error::Layer(format!(
                "failed to extract layer contents from artifact: {e}"
            ))
        })?;
        let rules = IgnoreRules::load(workdir.path(), ignore.as_deref())
            .map_err(|e| Error::Ignore(e.to_string()))?;
        let exclude = |path: &std::path::Path, is_dir: bool| rules.excluded(path, is_dir);
        storage
            .store_directory(
                &key_for_store,
                &file,
                workdir.path(),
                &exclude,
                &rev,
                stored_at,
            )
            .map_err(|e| Error::Storage(format!("failed to archive artifact: {e}")))
    })
    .await
    .map_err(|e| Error::Storage(format!("archiving panicked: {e}")))??;
    let annotations = manifest.document.annotations;
    artifact.metadata = Some(annotations).filter(|m| !m.is_empty());
    let changed = status.artifact.as_ref().map(|a| &a.revision) != Some(&artifact.revision)
        || status.artifact.as_ref().and_then(|a| a.digest.as_ref()) != artifact.digest.as_ref();
    let mut event = format!(
        "stored artifact with revision '{revision}' from '{}'",
        url.display()
    );
    if let Some(meta) = &artifact.metadata {
        if let Some(source) = meta.get("org.opencontainers.image.source") {
            event.push_str(&format!(", origin source '{source}'"));
        }
        if let Some(origin) = meta.get("org.opencontainers.image.revision") {
            event.push_str(&format!(", origin revision '{origin}'"));
        }
    }
    let file_name = artifact.path.rsplit('/').next().map(str::to_string);
    status.url = Some(artifact.url.clone());
    status.artifact = Some(artifact);
    status.observed_ignore = plan.ignore.clone();
    status.observed_layer_selector = plan.layer_selector.clone();
    conditions::set(
        conds,
        types::ARTIFACT_IN_STORAGE,
        Status::True,
        reasons::SUCCEEDED,
        &stored_message,
        generation,
        now,
    );
    if let Err(e) = ctx
        .storage
        .garbage_collect(&key, file_name.as_deref(), SystemTime::now())
    {
        tracing::warn!(error = %e, "artifact garbage collection failed");
    }
    Ok(changed.then_some(event))
}
