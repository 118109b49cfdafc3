//! The GitRepository reconciler: the steps storage -> source -> artifact inside the frame
//! both source kinds share (`crate::reconcile` on `rill_common::runtime::frame`).

mod artifact;
pub mod reference;
pub mod source;
mod tree_archive;

pub use tree_archive::ArchiveCache;

use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::ObjectKey;
use rill_common::runtime::frame::Pass;

use crate::error::Error;

pub use crate::reconcile::FIELD_MANAGER;
pub use rill_common::runtime::frame::FINALIZER;

pub use crate::Context;

/// Runs the GitRepository controller until the stream ends.
pub async fn run(ctx: std::sync::Arc<Context>) {
    crate::reconcile::run::<GitRepository>(ctx).await;
}

fn key_of(repo: &GitRepository) -> ObjectKey {
    crate::reconcile::key_of(repo)
}

/// What a successful run produced.
struct Success {
    new_artifact: Option<String>,
}

/// The steps storage -> source -> artifact; returns the `NewArtifact` message when a new
/// artifact was stored.
pub(crate) async fn steps(
    repo: &GitRepository,
    ctx: &Context,
    pass: &mut Pass<GitRepository>,
) -> Result<Option<String>, Error> {
    let stored = artifact::run_steps(
        repo,
        ctx,
        &mut pass.status,
        &mut pass.conditions,
        pass.generation,
        &pass.now,
    )
    .await?;
    Ok(stored
        .new_artifact
        .map(|summary| format!("stored artifact for commit '{summary}'")))
}
