//! The GitRepository reconciler: the steps storage -> source -> artifact inside the frame
//! both source kinds share (`crate::reconcile`: suspend, conditions, one status patch when
//! something changed, events, requeue).

mod artifact;
pub mod ignore;
pub mod reference;
pub mod source;
mod tree_archive;

pub use tree_archive::ArchiveCache;

use std::sync::Arc;

use kube::runtime::controller::Action;
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::ObjectKey;

use crate::error::Error;

pub use crate::kind::FINALIZER;
pub use crate::reconcile::FIELD_MANAGER;

pub use crate::Context;

/// Runs the GitRepository controller until the stream ends.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, concurrency: u16) {
    crate::kind::run::<GitRepository>(ctx, namespace, concurrency, |repo, ctx| {
        Box::pin(async move { apply(repo, &ctx).await })
    })
    .await;
}

fn key_of(repo: &GitRepository) -> ObjectKey {
    crate::kind::key_of(repo)
}

/// What a successful run produced.
struct Success {
    new_artifact: Option<String>,
}

async fn apply(repo: Arc<GitRepository>, ctx: &Context) -> Result<Action, Error> {
    crate::reconcile::reconcile(
        repo.as_ref(),
        ctx,
        async |status, conds, generation, now| {
            let stored = artifact::run_steps(&repo, ctx, status, conds, generation, now).await?;
            Ok(stored
                .new_artifact
                .map(|summary| format!("stored artifact for commit '{summary}'")))
        },
    )
    .await
}
