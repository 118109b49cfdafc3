//! The ImagePolicy reconciler in the shared frame: read the repository's stored tags (cross-
//! namespace only where its `accessFrom` allows), pick the newest by the policy, reflect the
//! digest as `digestReflectionPolicy` says, and record `latestRef` / `observedPreviousRef`.
//! It runs again when the repository's scan revision changes; no polling.

pub mod access;
pub mod select;

use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use rill_common::api::image_v1::{ImagePolicy, ImageRef, ImageRepository, ReflectionPolicy};
use rill_common::runtime::frame::Pass;
use rill_common::runtime::watch::{changes, drain, primary, scoped_api};

use crate::Context;
use crate::error::Error;
use crate::imagerepository::{image, registry, registry_error};
use crate::kind::ImageKind;
use select::{Filter, Policy, SelectError};

fn invalid(e: SelectError) -> Error {
    match e {
        SelectError::Invalid(m) => Error::InvalidPolicy(m),
        SelectError::NoCandidate(m) => Error::NoCandidate(m),
    }
}

/// `<name>:<tag>[@<digest>]`.
fn display(r: &ImageRef) -> String {
    match &r.digest {
        Some(d) => format!("{}:{}@{d}", r.name, r.tag),
        None => format!("{}:{}", r.name, r.tag),
    }
}

/// Flux's Ready message for a resolved policy.
pub fn resolved_message(latest: &ImageRef, previous: Option<&ImageRef>) -> String {
    let mut message = format!(
        "Latest image tag for {} resolved to {}",
        latest.name, latest.tag
    );
    if let Some(d) = &latest.digest {
        message.push_str(&format!(" with digest {d}"));
    }
    if let Some(p) = previous {
        message.push_str(&format!(" (previously {})", display(p)));
    }
    message
}

async fn repository(ctx: &Context, policy: &ImagePolicy) -> Result<ImageRepository, Error> {
    let own = policy.namespace().unwrap_or_default();
    let reference = &policy.spec.image_repository_ref;
    let namespace = reference
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| own.clone());
    let client = &ctx.frame.client;
    let repo = Api::<ImageRepository>::namespaced(client.clone(), &namespace)
        .get_opt(&reference.name)
        .await
        .map_err(|e| Error::Kube(e.to_string()))?
        .ok_or_else(|| Error::DependencyNotReady {
            message: format!(
                "referenced ImageRepository '{namespace}/{}' not found",
                reference.name
            ),
            retry: ctx.requeue_dependency,
        })?;
    let labels = if namespace == own {
        Default::default()
    } else {
        Api::<Namespace>::all(client.clone())
            .get_opt(&own)
            .await
            .map_err(|e| Error::Kube(e.to_string()))?
            .map(|n| n.labels().clone())
            .unwrap_or_default()
    };
    access::allowed(
        &own,
        &namespace,
        repo.spec.access_from.as_ref(),
        &labels,
        ctx.no_cross_namespace_refs,
    )
    .map_err(|e| Error::AccessDenied(e.to_string()))?;
    Ok(repo)
}

async fn steps(
    ctx: &Context,
    policy: &ImagePolicy,
    pass: &mut Pass<ImagePolicy>,
) -> Result<String, Error> {
    let chosen = Policy::from_spec(&policy.spec.policy).map_err(invalid)?;
    let filter = Filter::from_spec(policy.spec.filter_tags.as_ref()).map_err(invalid)?;
    let reflection = policy
        .spec
        .digest_reflection_policy
        .unwrap_or(ReflectionPolicy::Never);
    if reflection == ReflectionPolicy::Always && policy.spec.interval.is_none() {
        return Err(Error::IntervalNotConfigured(
            "spec.interval is required with digestReflectionPolicy 'Always'".into(),
        ));
    }
    let repo = repository(ctx, policy).await?;
    let (namespace, name) = (repo.namespace().unwrap_or_default(), repo.name_any());
    let store = ctx.tags.clone();
    let tags = tokio::task::spawn_blocking(move || store.read(&namespace, &name))
        .await
        .map_err(|e| Error::Storage(e.to_string()))?
        .map_err(|e| Error::Storage(format!("cannot read the tag database: {e}")))?
        .filter(|tags| !tags.is_empty())
        .ok_or_else(|| Error::DependencyNotReady {
            message: format!(
                "no tags stored for ImageRepository '{}' yet, retrying in {}",
                repo.name_any(),
                rill_common::duration::format(ctx.requeue_dependency)
            ),
            retry: ctx.requeue_dependency,
        })?;
    let tag = select::select(&chosen, filter.as_ref(), &tags).map_err(invalid)?;
    let current = pass.status.latest_ref.clone();
    let digest = match reflection {
        ReflectionPolicy::Never => None,
        ReflectionPolicy::IfNotPresent
            if current.as_ref().is_some_and(|c| {
                c.name == repo.spec.image && c.tag == tag && c.digest.is_some()
            }) =>
        {
            current.as_ref().and_then(|c| c.digest.clone())
        }
        _ => {
            let parsed =
                image::parse(&repo.spec.image).map_err(|e| Error::InvalidImage(e.to_string()))?;
            let client = registry(&ctx.frame.client, &repo, &parsed).await?;
            Some(client.digest_of(&tag).await.map_err(registry_error)?)
        }
    };
    let latest = ImageRef {
        name: repo.spec.image.clone(),
        tag,
        digest,
    };
    if current.as_ref() != Some(&latest) {
        pass.status.observed_previous_ref = current;
        pass.status.latest_ref = Some(latest.clone());
    }
    Ok(resolved_message(
        &latest,
        pass.status.observed_previous_ref.as_ref(),
    ))
}

impl ImageKind for ImagePolicy {
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

fn scan_revision(repo: &ImageRepository) -> Option<u64> {
    let revision = repo
        .status
        .as_ref()
        .and_then(|s| s.last_scan_result.as_ref())
        .and_then(|r| r.revision.clone());
    let mut hasher = DefaultHasher::new();
    revision.hash(&mut hasher);
    Some(hasher.finish())
}

/// The policies of `store` that read `repo`.
fn reading(store: &Store<ImagePolicy>, repo: &ImageRepository) -> Vec<ObjectRef<ImagePolicy>> {
    let (namespace, name) = (repo.namespace().unwrap_or_default(), repo.name_any());
    store
        .state()
        .iter()
        .filter(|p| {
            let reference = &p.spec.image_repository_ref;
            let ns = reference
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| p.namespace());
            reference.name == name && ns.as_deref() == Some(namespace.as_str())
        })
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// Runs the ImagePolicy controller until its watches end.
pub async fn run(ctx: Arc<Context>) {
    let client = &ctx.frame.client;
    let api = scoped_api::<ImagePolicy>(client, ctx.namespace.as_deref());
    let (reader, trigger) = primary(api, ctx.label_selector.as_deref());
    let scans = changes(
        scoped_api::<ImageRepository>(client, ctx.namespace.as_deref()),
        watcher::Config::default(),
        scan_revision,
    );
    let by_repo = reader.clone();
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(ctx.concurrency))
        .watches_stream(scans, move |repo: ImageRepository| reading(&by_repo, &repo))
        .run(
            crate::kind::reconcile::<ImagePolicy>,
            |policy, error, ctx| ctx.frame.error_policy(policy.as_ref(), error),
            ctx,
        );
    drain(results).await;
}
