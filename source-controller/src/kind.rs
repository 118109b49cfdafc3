//! The controller skeleton both source kinds run on: the scoped primary watch, the finalizer
//! (cleanup removes the object's artifacts and metrics), the error policy, and a hook for the
//! kind's own reconcile; and reading a referenced Secret.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::finalizer::{Error as FinalizerError, Event as FinalizerEvent, finalizer};
use kube::{Resource, ResourceExt};
use rill_common::artifact::ObjectKey;
use rill_common::runtime::error_policy::ErrorClass;
use rill_common::runtime::watch::{drain, primary, scoped_api};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Context;
use crate::error::Error;

/// The finalizer on every Flux object.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// A kind's reconcile of one object that is not being deleted.
pub type ApplyFn<K> = fn(Arc<K>, Arc<Context>) -> BoxFuture<'static, Result<Action, Error>>;

/// What a source kind needs from its API type.
pub trait SourceKind:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> SourceKind for K where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static
{
}

/// Where the artifacts of an object live in storage.
pub fn key_of<K: SourceKind>(object: &K) -> ObjectKey {
    ObjectKey::new(
        &K::kind(&()),
        &object.namespace().unwrap_or_default(),
        &object.name_any(),
    )
}

/// Runs the controller of kind `K` until its watch ends.
pub async fn run<K: SourceKind>(
    ctx: Arc<Context>,
    namespace: Option<String>,
    concurrency: u16,
    apply: ApplyFn<K>,
) {
    let (reader, trigger) = primary(scoped_api::<K>(&ctx.client, namespace.as_deref()));
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .run(
            move |object, ctx| reconcile(object, ctx, apply),
            error_policy::<K>,
            ctx,
        );
    drain(results).await;
}

fn error_policy<K: SourceKind>(
    _object: Arc<K>,
    error: &FinalizerError<Error>,
    ctx: Arc<Context>,
) -> Action {
    tracing::warn!(kind = %K::kind(&()), error = %error, "reconcile error");
    ctx.retry.requeue_for(ErrorClass::Transient, 3).into()
}

async fn reconcile<K: SourceKind>(
    object: Arc<K>,
    ctx: Arc<Context>,
    apply: ApplyFn<K>,
) -> Result<Action, FinalizerError<Error>> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, object, |event| async {
        match event {
            FinalizerEvent::Apply(object) => apply(object, ctx.clone()).await,
            FinalizerEvent::Cleanup(object) => {
                ctx.storage
                    .remove_all(&key_of(object.as_ref()))
                    .map_err(|e| Error::Storage(e.to_string()))?;
                let (ns, name) = (object.namespace().unwrap_or_default(), object.name_any());
                ctx.metrics
                    .record_conditions(&K::kind(&()), &ns, &name, &[], true);
                Ok(Action::await_change())
            }
        }
    })
    .await
}

/// The data of the Secret `namespace/name` (`data` and `stringData`), for credentials.
pub async fn secret_data(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| Error::Kube(format!("failed to get secret '{namespace}/{name}': {e}")))?
        .ok_or_else(|| {
            Error::Auth(format!(
                "failed to get secret '{namespace}/{name}': secrets \"{name}\" not found"
            ))
        })?;
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    for (k, v) in secret.string_data.unwrap_or_default() {
        data.insert(k, v.into_bytes());
    }
    Ok(data)
}
