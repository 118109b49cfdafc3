//! The Receiver: its reconciler publishes `status.webhookPath`
//! (`/hook/<sha256(token + name + namespace)>`), and the webhook server (`--receiver-addr`)
//! checks each call (`verify.rs`) and annotates the listed objects with
//! `reconcile.fluxcd.io/requestedAt` (`server.rs`), which makes an ImageRepository scan at once.

pub mod server;
pub mod verify;

use std::future::Future;
use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::Store;
use rill_common::api::notification_v1::Receiver;
use rill_common::client_settings::secret_data;
use rill_common::runtime::frame::Pass;
use rill_common::runtime::watch::{drain, primary, scoped_api};
use sha2::{Digest, Sha256};

use crate::Context;
use crate::error::Error;
use crate::kind::ImageKind;

/// `/hook/` + hex sha256 of token, name and namespace, as Flux computes it.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{token}{name}{namespace}").as_bytes());
    format!("/hook/{}", hex::encode(digest))
}

/// The token of a Receiver (`token` key of its Secret).
pub async fn token(client: &kube::Client, receiver: &Receiver) -> Result<String, Error> {
    let namespace = receiver.namespace().unwrap_or_default();
    let name = &receiver.spec.secret_ref.name;
    let data = secret_data(client, &namespace, name).await?;
    data.get("token")
        .map(|t| String::from_utf8_lossy(t).trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Auth(format!("secret '{namespace}/{name}' has no 'token' key")))
}

async fn steps(
    ctx: &Context,
    receiver: &Receiver,
    pass: &mut Pass<Receiver>,
) -> Result<String, Error> {
    let spec = &receiver.spec;
    if !verify::supported(spec.receiver_type) {
        return Err(Error::Unsupported(format!(
            "receiver type {:?} is not supported by Rill yet",
            spec.receiver_type
        )));
    }
    let cel = spec.resource_filter.is_some() || spec.resources.iter().any(|r| r.filter.is_some());
    if cel {
        return Err(Error::Unsupported(
            "CEL filters (resourceFilter, resources[].filter) are not supported by Rill yet".into(),
        ));
    }
    let token = token(&ctx.frame.client, receiver).await?;
    let path = webhook_path(
        &token,
        &receiver.name_any(),
        &receiver.namespace().unwrap_or_default(),
    );
    pass.status.webhook_path = Some(path.clone());
    Ok(format!("Receiver initialized for path: {path}"))
}

impl ImageKind for Receiver {
    type Done = String;

    fn steps<'a>(
        &'a self,
        ctx: &'a Context,
        pass: &'a mut Pass<Self>,
    ) -> impl Future<Output = Result<String, Error>> + Send + 'a {
        steps(ctx, self, pass)
    }

    fn message(done: &String) -> String {
        done.clone()
    }
}

/// Runs the Receiver controller and the webhook server on `listener` until they end.
pub async fn run(ctx: Arc<Context>, listener: Option<tokio::net::TcpListener>) {
    let api = scoped_api::<Receiver>(&ctx.frame.client, ctx.namespace.as_deref());
    let (reader, trigger) = primary(api, ctx.label_selector.as_deref());
    if let Some(listener) = listener {
        let app = server::router(ctx.clone(), reader.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the webhook receiver stopped");
            }
        });
    }
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(ctx.concurrency))
        .run(
            crate::kind::reconcile::<Receiver>,
            |receiver, error, ctx| ctx.frame.error_policy(receiver.as_ref(), error),
            ctx,
        );
    drain(results).await;
}

/// The Receivers of the store, for the server.
pub type ReceiverStore = Store<Receiver>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_fluxs_digest_of_token_name_and_namespace() {
        let path = webhook_path("token", "name", "ns");
        assert_eq!(
            path,
            format!("/hook/{}", hex::encode(Sha256::digest(b"tokennamens")))
        );
        assert_ne!(path, webhook_path("token", "name", "other"));
    }
}
