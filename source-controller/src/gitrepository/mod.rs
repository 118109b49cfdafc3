//! The GitRepository reconciler: finalizer, suspend, then the steps storage -> source ->
//! artifact, then conditions, one status patch when something changed, events on
//! transitions, and the requeue the outcome asks for.

mod artifact;
pub mod ignore;
pub mod reference;
pub mod source;
mod tree_archive;

pub use tree_archive::ArchiveCache;

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::ObjectKey;
use rill_common::conditions::{self, reasons};
use rill_common::runtime::events::{EventNote, Severity, ready_transition};
use rill_common::runtime::reconcile_request::handled_value;
use rill_common::runtime::status::patch_status_if_changed;

use crate::error::Error;

pub use crate::kind::FINALIZER;
/// The field manager of status writes.
pub const FIELD_MANAGER: &str = "source-controller";
const KIND: &str = "GitRepository";

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
    let namespace = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    let _timer = ctx.metrics.reconcile_timer(KIND, &namespace, &name);
    let suspended = repo.spec.suspend.unwrap_or(false);
    ctx.metrics
        .record_suspend(KIND, &namespace, &name, suspended);
    if suspended {
        return Ok(Action::await_change());
    }
    let generation = repo.metadata.generation.unwrap_or(0);
    let now = Time(jiff::Timestamp::now());
    let observed = repo.status.clone();
    let mut status = observed.clone().unwrap_or_default();
    let mut conds: Vec<Condition> = status.conditions.take().unwrap_or_default();
    let before = conds.clone();
    conditions::mark_reconciling(
        &mut conds,
        reasons::PROGRESSING,
        "reconciliation in progress",
        generation,
        &now,
    );

    let result = artifact::run_steps(&repo, ctx, &mut status, &mut conds, generation, &now).await;
    if crate::outcome::settle(&mut conds, &result, generation, &now) {
        status.observed_generation = Some(generation);
    }
    status.last_handled_reconcile_at =
        handled_value(&repo.metadata, status.last_handled_reconcile_at.as_deref());
    status.conditions = Some(conds.clone());

    let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    patch_status_if_changed(&api, &name, observed.as_ref(), &status, FIELD_MANAGER)
        .await
        .map_err(|e| Error::Kube(format!("failed to patch status: {e}")))?;
    ctx.metrics
        .record_conditions(KIND, &namespace, &name, &conds, false);
    publish_events(&repo, ctx, &before, &conds, &result).await;

    let key = format!("{namespace}/{name}");
    Ok(crate::outcome::next_action(
        ctx,
        &key,
        &repo.spec.interval,
        &result,
    ))
}

async fn publish_events(
    repo: &GitRepository,
    ctx: &Context,
    before: &[Condition],
    after: &[Condition],
    result: &Result<Success, Error>,
) {
    let note = match result {
        Ok(Success {
            new_artifact: Some(summary),
        }) => Some(EventNote {
            severity: Severity::Info,
            reason: reasons::NEW_ARTIFACT.into(),
            message: format!("stored artifact for commit '{summary}'"),
        }),
        _ => ready_transition(before, after),
    };
    if let Some(note) = note
        && let Err(e) = ctx.recorder.publish(&repo.object_ref(&()), &note).await
    {
        tracing::warn!(error = %e, "cannot publish event");
    }
}
