//! The webhook server: `POST /hook/<digest>` finds the Receiver publishing that path, checks
//! the call, and annotates each listed object (by name, or `*` with `matchLabels`) with
//! `reconcile.fluxcd.io/requestedAt`. Unknown paths answer 404, bad signatures 401 with
//! nothing annotated, bodies over 1 MiB 413 with `Connection: close` (the rest of the body is
//! never read, so the connection cannot carry another request).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use rill_common::api::notification_v1::{Receiver, ReceiverResource};

use super::verify::{Verdict, verify};
use super::{ReceiverStore, token, webhook_path};
use crate::Context;

/// The largest body accepted.
pub const MAX_BODY: usize = 1 << 20;

#[derive(Clone)]
struct Shared {
    ctx: Arc<Context>,
    receivers: ReceiverStore,
}

/// The router of the webhook server.
pub fn router(ctx: Arc<Context>, receivers: ReceiverStore) -> Router {
    Router::new()
        .route("/hook/{digest}", post(hook))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(close_after_refused_body))
        .with_state(Shared { ctx, receivers })
}

/// A body refused for its size was not read to its end: the client must not reuse the
/// connection (a keep-alive client would otherwise send its next request into the unread rest).
async fn close_after_refused_body(mut response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The API of a kind a Receiver may annotate.
fn resource(kind: &str, api_version: Option<&str>) -> Option<ApiResource> {
    let (default_version, plural) = match kind {
        "GitRepository" => ("source.toolkit.fluxcd.io/v1", "gitrepositories"),
        "OCIRepository" => ("source.toolkit.fluxcd.io/v1", "ocirepositories"),
        "Kustomization" => ("kustomize.toolkit.fluxcd.io/v1", "kustomizations"),
        "ImageRepository" => ("image.toolkit.fluxcd.io/v1", "imagerepositories"),
        "ImagePolicy" => ("image.toolkit.fluxcd.io/v1", "imagepolicies"),
        "ImageUpdateAutomation" => ("image.toolkit.fluxcd.io/v1", "imageupdateautomations"),
        _ => return None,
    };
    let api_version = api_version
        .filter(|v| !v.is_empty())
        .unwrap_or(default_version);
    let (group, version) = api_version.split_once('/')?;
    Some(ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural.into(),
    })
}

async fn annotate(
    ctx: &Context,
    receiver: &Receiver,
    target: &ReceiverResource,
) -> Result<usize, String> {
    let own = receiver.namespace().unwrap_or_default();
    let namespace = target
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| own.clone());
    if namespace != own && ctx.no_cross_namespace_refs {
        return Err(format!(
            "cross-namespace reference to '{namespace}' refused"
        ));
    }
    let api_resource = resource(&target.kind, target.api_version.as_deref())
        .ok_or_else(|| format!("kind '{}' is not served by Rill", target.kind))?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.frame.client.clone(), &namespace, &api_resource);
    let names = if target.name == "*" {
        let selector: Vec<String> = target
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let list = api
            .list(&ListParams::default().labels(&selector.join(",")))
            .await
            .map_err(|e| e.to_string())?;
        list.items.iter().map(|o| o.name_any()).collect()
    } else {
        vec![target.name.clone()]
    };
    let patch = rill_common::runtime::reconcile_request::request_patch();
    for name in &names {
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| format!("{}/{namespace}/{name}: {e}", target.kind))?;
    }
    Ok(names.len())
}

async fn hook(
    State(shared): State<Shared>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = format!("/hook/{digest}");
    let found = shared.receivers.state().into_iter().find(|r| {
        r.spec.suspend != Some(true)
            && r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(path.as_str())
    });
    let Some(receiver) = found else {
        return (StatusCode::NOT_FOUND, "no receiver for this path\n".into());
    };
    let ctx = &shared.ctx;
    let Ok(secret) = token(&ctx.frame.client, &receiver).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot read the receiver's token\n".into(),
        );
    };
    let (name, namespace) = (
        receiver.name_any(),
        receiver.namespace().unwrap_or_default(),
    );
    if webhook_path(&secret, &name, &namespace) != path {
        // The token changed since the path was published.
        return (StatusCode::NOT_FOUND, "no receiver for this path\n".into());
    }
    let lowered: BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let events = receiver.spec.events.clone().unwrap_or_default();
    match verify(
        receiver.spec.receiver_type,
        &secret,
        &events,
        &lowered,
        &body,
    ) {
        Verdict::Reject(why) => {
            tracing::info!(receiver = %format!("{namespace}/{name}"), %why, "webhook refused");
            (StatusCode::UNAUTHORIZED, format!("{why}\n"))
        }
        Verdict::Ignore(why) => (StatusCode::OK, format!("ignored: {why}\n")),
        Verdict::Accept => {
            let mut failures = Vec::new();
            for target in &receiver.spec.resources {
                if let Err(e) = annotate(ctx, &receiver, target).await {
                    failures.push(e);
                }
            }
            if failures.is_empty() {
                (StatusCode::OK, "ok\n".into())
            } else {
                tracing::warn!(receiver = %format!("{namespace}/{name}"), errors = ?failures, "some resources were not annotated");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{}\n", failures.join("; ")),
                )
            }
        }
    }
}
