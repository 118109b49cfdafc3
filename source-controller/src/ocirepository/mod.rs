//! The OCIRepository reconciler: the registry and artifact steps inside the frame both source
//! kinds share (`crate::reconcile` on `rill_common::runtime::frame`).

pub(crate) mod artifact;
mod client;
pub mod plan;
pub mod reference;

use rill_common::api::source_v1::OCIRepository;
use rill_common::artifact::ObjectKey;

pub use crate::Context;

fn key_of(repo: &OCIRepository) -> ObjectKey {
    crate::reconcile::key_of(repo)
}

/// Runs the OCIRepository controller until the stream ends.
pub async fn run(ctx: std::sync::Arc<Context>) {
    crate::reconcile::run::<OCIRepository>(ctx).await;
}
