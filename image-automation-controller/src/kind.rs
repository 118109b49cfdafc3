//! What the four image kinds share in the frame: Ready set as Flux's image controllers set it
//! (`settle.rs`), the kind's own event or a Ready transition, the exact interval (no jitter),
//! and the finalizer. A kind only supplies its steps and its Ready message.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Error as FinalizerError;
use rill_common::api::object::FluxObject;
use rill_common::conditions::Outcome;
use rill_common::runtime::events::{EventNote, ready_transition};
use rill_common::runtime::frame::{Pass, ReadyRule, Steps};

use crate::Context;
use crate::error::Error;

/// An image kind's steps and what their result means.
pub trait ImageKind: FluxObject {
    /// What a successful pass produced.
    type Done: Send + Sync;

    /// The kind's steps.
    fn steps<'a>(
        &'a self,
        ctx: &'a Context,
        pass: &'a mut Pass<Self>,
    ) -> impl Future<Output = Result<Self::Done, Error>> + Send + 'a;

    /// The Ready message of a success.
    fn message(done: &Self::Done) -> String;

    /// An event to publish instead of the Ready transition (a push).
    fn event(_done: &Self::Done) -> Option<EventNote> {
        None
    }

    /// When a success runs again, if not at `interval`.
    fn next(_done: &Self::Done) -> Option<Option<Duration>> {
        None
    }

    /// Cleanup when the object is deleted.
    fn cleanup(&self, _ctx: &Context) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }
}

/// The frame's view of an image kind.
pub struct Kind<'a>(pub &'a Context);

impl<K: ImageKind> Steps<K> for Kind<'_> {
    type Done = K::Done;
    type Error = Error;
    const READY: ReadyRule = ReadyRule::Explicit;
    const JITTER: bool = false;

    fn run<'a>(
        &'a self,
        object: &'a K,
        pass: &'a mut Pass<K>,
    ) -> impl Future<Output = Result<K::Done, Error>> + Send + 'a {
        object.steps(self.0, pass)
    }

    fn settle(&self, _object: &K, pass: &mut Pass<K>, result: &Result<K::Done, Error>) -> Outcome {
        let (generation, now) = (pass.generation, pass.now.clone());
        crate::settle::settle(&mut pass.conditions, result, K::message, generation, &now)
    }

    fn events(
        &self,
        _object: &K,
        before: &[Condition],
        pass: &Pass<K>,
        result: &Result<K::Done, Error>,
    ) -> Vec<EventNote> {
        match result.as_ref().ok().and_then(K::event) {
            Some(note) => vec![note],
            None => ready_transition(before, &pass.conditions)
                .into_iter()
                .collect(),
        }
    }

    fn success_requeue(&self, _object: &K, done: &K::Done) -> Option<Option<Duration>> {
        K::next(done)
    }
}

/// One reconcile of an image kind under Flux's finalizer.
pub async fn reconcile<K: ImageKind>(
    object: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, FinalizerError<Error>> {
    let frame = &ctx.frame;
    frame
        .finalized(
            object,
            async |object| frame.reconcile(object.as_ref(), &Kind(&ctx)).await,
            async |object| {
                object.cleanup(&ctx).await?;
                Ok(Action::await_change())
            },
        )
        .await
}
