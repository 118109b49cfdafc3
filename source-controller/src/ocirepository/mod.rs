//! The OCIRepository reconciler: the registry and artifact steps inside the frame both source
//! kinds share (`crate::reconcile`: suspend, conditions, one status patch when something
//! changed, events, requeue).

mod artifact;
mod client;

use std::sync::Arc;

use kube::runtime::controller::Action;
use rill_common::api::source_v1::OCIRepository;
use rill_common::artifact::ObjectKey;

pub use crate::Context;
use crate::error::Error;

fn key_of(repo: &OCIRepository) -> ObjectKey {
    crate::kind::key_of(repo)
}

/// Runs the OCIRepository controller until the stream ends.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, concurrency: u16) {
    crate::kind::run::<OCIRepository>(ctx, namespace, concurrency, |repo, ctx| {
        Box::pin(async move { apply(repo, &ctx).await })
    })
    .await;
}

async fn apply(repo: Arc<OCIRepository>, ctx: &Context) -> Result<Action, Error> {
    crate::reconcile::reconcile(
        repo.as_ref(),
        ctx,
        async |status, conds, generation, now| {
            let stored = artifact::run_steps(&repo, ctx, status, conds, generation, now).await?;
            Ok(stored.new_artifact)
        },
    )
    .await
}
