//! The GitRepository reconciler: the steps storage -> source -> artifact inside the frame
//! both source kinds share (`crate::reconcile` on `rill_common::runtime::frame`).

pub(crate) mod artifact;
pub mod plan;
pub mod source;
mod tree_archive;

pub use tree_archive::ArchiveCache;

use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::ObjectKey;

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
