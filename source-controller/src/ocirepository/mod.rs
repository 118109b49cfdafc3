//! The OCIRepository reconciler: the registry and artifact steps inside the frame both source
//! kinds share (`crate::reconcile` on `rill_common::runtime::frame`).

mod artifact;
mod client;
pub mod reference;

use rill_common::api::source_v1::OCIRepository;
use rill_common::artifact::ObjectKey;
use rill_common::runtime::frame::Pass;

pub use crate::Context;
use crate::error::Error;

fn key_of(repo: &OCIRepository) -> ObjectKey {
    crate::reconcile::key_of(repo)
}

/// Runs the OCIRepository controller until the stream ends.
pub async fn run(ctx: std::sync::Arc<Context>) {
    crate::reconcile::run::<OCIRepository>(ctx).await;
}

/// The registry and artifact steps; returns the `NewArtifact` message when a new artifact was
/// stored.
pub(crate) async fn steps(
    repo: &OCIRepository,
    ctx: &Context,
    pass: &mut Pass<OCIRepository>,
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
    Ok(stored.new_artifact)
}
