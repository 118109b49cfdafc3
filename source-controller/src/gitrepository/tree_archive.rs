//! The fast path of the artifact step: fetch into a bare repository and archive the commit's
//! tree straight from the object database, with no checkout on disk. Used when the spec has no
//! includes, submodules or sparse checkout (those need a working tree).

use std::collections::HashMap;
use std::sync::Mutex;

use super::plan::GitPlan;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rill_common::api::meta::Artifact;
use rill_common::artifact::{ObjectKey, Storage};

use super::source::{blocking, git_error};
use crate::error::Error;
use rill_git::auth::Credentials;
use rill_git::reference::Target;
use rill_git::{self as git, FetchPlan, tree};

/// (URL, commit, `spec.ignore`): what decides the content of a fast-path archive.
type CacheKey = (String, String, Option<String>);

/// Archives already made, by (URL, commit, `spec.ignore`): a commit's tree never changes, so
/// GitRepositories that point at the same repository and commit share one fetch and copy the
/// stored archive.
#[derive(Default)]
pub struct ArchiveCache {
    entries: Mutex<HashMap<CacheKey, Artifact>>,
}

impl ArchiveCache {
    fn get(&self, key: &CacheKey) -> Option<Artifact> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn put(&self, key: CacheKey, artifact: Artifact) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= 4096 {
            entries.clear();
        }
        entries.insert(key, artifact);
    }
}

/// Whether the fast path applies to the spec.
pub fn applies(plan: &GitPlan, includes: usize) -> bool {
    includes == 0 && !plan.submodules() && plan.sparse().is_empty()
}

/// Fetches the target commit and stores its tree as `file`; returns the artifact and the
/// commit's summary line.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_and_archive(
    git_plan: &GitPlan,
    creds: &Credentials,
    target: &Target,
    storage: &Storage,
    key: &ObjectKey,
    file: &str,
    now: &Time,
    cache: &ArchiveCache,
) -> Result<(Artifact, String), Error> {
    let timeout = git_plan.timeout;
    let cache_key = (
        git_plan.url.clone(),
        target.commit.clone(),
        git_plan.ignore.clone(),
    );
    if let Some(cached) = cache.get(&cache_key).filter(|a| storage.verify(a))
        && let Ok(path) = storage.local_path(&cached.path)
        && let Ok(source) = std::fs::File::open(path)
    {
        let artifact = storage
            .store_bytes(key, file, source, &target.revision, now.clone())
            .map_err(|e| Error::Storage(format!("failed to copy artifact: {e}")))?;
        let summary = cached
            .metadata
            .as_ref()
            .and_then(|m| m.get("summary").cloned())
            .unwrap_or_default();
        return Ok((artifact, summary));
    }
    let plan = FetchPlan {
        refspecs: target.refspecs.clone(),
        depth: target.depth,
        commit: target.commit.clone(),
        sparse: Vec::new(),
        submodules: false,
    };
    let url = git_plan.url.clone();
    let spec_ignore = git_plan.ignore.clone();
    let (creds, storage, key, file, revision, now) = (
        creds.clone(),
        storage.clone(),
        key.clone(),
        file.to_string(),
        target.revision.clone(),
        now.clone(),
    );
    let url_for_call = url.clone();
    let (artifact, summary) = blocking(
        timeout,
        "cloning",
        move || -> Result<(Artifact, String), Error> {
            let scratch = tempfile::tempdir()
                .map_err(|e| Error::Storage(format!("cannot create a temporary directory: {e}")))?;
            let clone_error = |e| {
                git_error(
                    "failed to checkout and determine revision: unable to clone",
                    &url_for_call,
                    e,
                )
            };
            let fetched = git::fetch(&url_for_call, &creds, &plan, scratch.path(), true)
                .map_err(clone_error)?;
            let (oid, summary) = git::fetched_commit(&fetched, &plan).map_err(clone_error)?;
            let items = tree::items(&fetched, oid)
                .map_err(|e| Error::Git(format!("cannot read the tree of {}: {e}", plan.commit)))?;
            let rules = tree::ignore_rules(&fetched, &items, spec_ignore.as_deref())
                .map_err(|e| Error::Ignore(e.to_string()))?;
            let artifact = storage
                .store_entries(
                    &key,
                    &file,
                    &mut |sink| tree::emit(&fetched, &items, &rules, sink),
                    &revision,
                    now,
                )
                .map_err(|e| Error::Storage(format!("failed to archive artifact: {e}")))?;
            Ok((artifact, summary))
        },
    )
    .await??;
    let mut remembered = artifact.clone();
    remembered.metadata = Some([("summary".to_string(), summary.clone())].into());
    cache.put(cache_key, remembered);
    Ok((artifact, summary))
}
