//! The source step: find the referenced GitRepository or OCIRepository (refusing
//! cross-namespace references under lockdown), take its artifact, then have it downloaded,
//! verified and unpacked into memory once per revision by the artifact cache.

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::{Client, ResourceExt};
use kustomize::file_system::MemoryTree;
use rill_common::api::kustomize_v1::{Kustomization, SourceKind};
use rill_common::api::meta::Artifact;
use rill_common::api::source_v1::{GitRepository, OCIRepository};
use rill_common::artifact::FetchError;

use super::artifact_cache::ArtifactCache;
use crate::error::Error;

/// The namespace a source reference points into.
pub fn source_namespace(ks: &Kustomization) -> String {
    ks.spec
        .source_ref
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| ks.namespace().unwrap_or_default())
}

/// `Kind/namespace/name` of the source.
pub fn source_display(ks: &Kustomization) -> String {
    format!(
        "{:?}/{}/{}",
        ks.spec.source_ref.kind,
        source_namespace(ks),
        ks.spec.source_ref.name
    )
}

/// Finds the source's artifact.
pub async fn artifact(
    client: &Client,
    ks: &Kustomization,
    no_cross_namespace_refs: bool,
    retry_interval: Duration,
    requeue_dependency: Duration,
) -> Result<Artifact, Error> {
    let namespace = source_namespace(ks);
    let own = ks.namespace().unwrap_or_default();
    let name = &ks.spec.source_ref.name;
    if no_cross_namespace_refs && namespace != own {
        return Err(Error::AccessDenied(format!(
            "can't access '{}', cross-namespace references have been blocked",
            source_display(ks)
        )));
    }
    let found = match ks.spec.source_ref.kind {
        SourceKind::GitRepository => Api::<GitRepository>::namespaced(client.clone(), &namespace)
            .get_opt(name)
            .await
            .map(|o| o.map(|r| r.status.and_then(|s| s.artifact))),
        SourceKind::OCIRepository => Api::<OCIRepository>::namespaced(client.clone(), &namespace)
            .get_opt(name)
            .await
            .map(|o| o.map(|r| r.status.and_then(|s| s.artifact))),
        other => {
            return Err(Error::Unsupported(format!(
                "spec.sourceRef.kind {other:?} is not supported by Rill yet"
            )));
        }
    };
    match found {
        Ok(Some(Some(artifact))) => Ok(artifact),
        Ok(Some(None)) => Err(Error::Artifact {
            message: format!(
                "Source artifact not found, retrying in {}",
                rill_common::duration::format(requeue_dependency)
            ),
            retry: Some(requeue_dependency),
        }),
        Ok(None) => Err(Error::Artifact {
            message: format!("Source '{}' not found", source_display(ks)),
            retry: Some(retry_interval),
        }),
        Err(e) => Err(Error::Kube(format!(
            "cannot read source '{}': {e}",
            source_display(ks)
        ))),
    }
}

/// The artifact's files: downloaded, verified and unpacked into memory by the cache, or
/// shared from an earlier build on the same revision.
pub async fn download(
    cache: &ArtifactCache,
    artifact: &Artifact,
    requeue_dependency: Duration,
) -> Result<Arc<MemoryTree>, Error> {
    match cache.get(artifact).await {
        Ok(tree) => Ok(tree),
        Err(FetchError::NotFound { .. }) => Err(Error::Artifact {
            message: "Source is not ready, artifact not found".into(),
            retry: Some(requeue_dependency),
        }),
        Err(e) => Err(Error::Artifact {
            message: format!("failed to download artifact: {e}"),
            retry: None,
        }),
    }
}
