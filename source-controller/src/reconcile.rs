//! The source kinds in the shared reconcile frame (`rill_common::runtime::frame`): the watch,
//! the finalizer (cleanup removes the object's artifacts), Flux's source conditions with Ready
//! summarised from `SOURCE_SUMMARY`, the `NewArtifact` or Ready-transition event, and
//! exponential backoff after a failure.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use rill_common::api::meta::Artifact;
use rill_common::api::object::FluxObject;
use rill_common::api::source_v1::{GitRepository, OCIRepository};
use rill_common::artifact::ObjectKey;
use rill_common::conditions::{self, Outcome, reasons};
use rill_common::runtime::events::{EventNote, ready_transition};
use rill_common::runtime::frame::{Pass, ReadyRule, Steps};
use rill_common::runtime::watch::{drain, primary, scoped_api};

use crate::Context;
use crate::error::Error;

/// `spec.timeout` of a source, 60 s when unset or unreadable (Flux's default).
pub fn spec_timeout(timeout: Option<&str>) -> std::time::Duration {
    rill_common::duration::source_timeout(timeout)
}

/// The field manager of status writes.
pub const FIELD_MANAGER: &str = "source-controller";

/// A source kind: its steps, and where its status keeps the artifact.
pub trait SourceKind: FluxObject {
    /// Runs the kind's steps; returns the message of a `NewArtifact` event when a new artifact
    /// was stored.
    fn steps<'a>(
        &'a self,
        ctx: &'a Context,
        pass: &'a mut Pass<Self>,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send + 'a;

    /// The artifact recorded in a status.
    fn artifact(status: &Self::Status) -> Option<&Artifact>;
}

impl SourceKind for GitRepository {
    fn steps<'a>(
        &'a self,
        ctx: &'a Context,
        pass: &'a mut Pass<Self>,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send + 'a {
        crate::gitrepository::artifact::run_steps(self, ctx, pass)
    }

    fn artifact(status: &Self::Status) -> Option<&Artifact> {
        status.artifact.as_ref()
    }
}

impl SourceKind for OCIRepository {
    fn steps<'a>(
        &'a self,
        ctx: &'a Context,
        pass: &'a mut Pass<Self>,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send + 'a {
        crate::ocirepository::artifact::run_steps(self, ctx, pass)
    }

    fn artifact(status: &Self::Status) -> Option<&Artifact> {
        status.artifact.as_ref()
    }
}

/// The frame's view of the source kinds.
pub struct Sources<'a>(pub &'a Context);

impl<K: SourceKind> Steps<K> for Sources<'_> {
    type Done = Option<String>;
    type Error = Error;
    const READY: ReadyRule = ReadyRule::Summary(&conditions::SOURCE_SUMMARY);

    fn begin(&self, _object: &K, pass: &mut Pass<K>) {
        conditions::mark_reconciling(
            &mut pass.conditions,
            reasons::PROGRESSING,
            "reconciliation in progress",
            pass.generation,
            &pass.now,
        );
    }

    fn run<'a>(
        &'a self,
        object: &'a K,
        pass: &'a mut Pass<K>,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send + 'a {
        object.steps(self.0, pass)
    }

    fn settle(
        &self,
        _object: &K,
        pass: &mut Pass<K>,
        result: &Result<Self::Done, Error>,
    ) -> Outcome {
        crate::outcome::settle(&mut pass.conditions, result, pass.generation, &pass.now)
    }

    fn events(
        &self,
        _object: &K,
        before: &[Condition],
        pass: &Pass<K>,
        result: &Result<Self::Done, Error>,
    ) -> Vec<EventNote> {
        let note = match result {
            Ok(Some(message)) => Some(EventNote::info(reasons::NEW_ARTIFACT, message.clone())),
            _ => ready_transition(before, &pass.conditions),
        };
        let artifact = K::artifact(&pass.status);
        note.map(|n| match artifact {
            Some(a) => n
                .with("revision", a.revision.clone())
                .with("digest", a.digest.clone().unwrap_or_default()),
            None => n,
        })
        .into_iter()
        .collect()
    }
}

/// Where the artifacts of an object live in storage.
pub fn key_of<K: FluxObject>(object: &K) -> ObjectKey {
    ObjectKey::new(
        &K::kind(&()),
        &object.namespace().unwrap_or_default(),
        &object.name_any(),
    )
}

/// Runs the controller of the source kind `K` until its watch ends.
pub async fn run<K: SourceKind>(ctx: Arc<Context>) {
    let api = scoped_api::<K>(&ctx.frame.client, ctx.namespace.as_deref());
    let (reader, trigger) = primary(api, ctx.label_selector.as_deref());
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(ctx.concurrency))
        .run(
            reconcile::<K>,
            |object, error, ctx| ctx.frame.error_policy(object.as_ref(), error),
            ctx,
        );
    drain(results).await;
}

async fn reconcile<K: SourceKind>(
    object: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, kube::runtime::finalizer::Error<Error>> {
    let frame = &ctx.frame;
    frame
        .finalized(
            object,
            async |object| frame.reconcile(object.as_ref(), &Sources(&ctx)).await,
            async |object| {
                let storage = ctx.storage.clone();
                let key = key_of(object.as_ref());
                tokio::task::spawn_blocking(move || storage.remove_all(&key))
                    .await
                    .map_err(|e| Error::Storage(e.to_string()))?
                    .map_err(|e| Error::Storage(e.to_string()))?;
                let (ns, name) = (object.namespace().unwrap_or_default(), object.name_any());
                frame
                    .metrics
                    .record_conditions(&K::kind(&()), &ns, &name, &[], true);
                Ok(Action::await_change())
            },
        )
        .await
}
