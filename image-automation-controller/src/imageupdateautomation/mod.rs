//! The ImageUpdateAutomation reconciler in the shared frame: clone the GitRepository's branch
//! with its credentials, apply the setters of the selected ImagePolicies under `update.path`
//! (changing only the values' bytes), commit, push, and ask the GitRepository to fetch the new
//! commit at once. Runs when a policy's `latestRef` changes, when the source changes, and
//! every `interval`.

pub mod message;
pub mod plan;
pub mod setters;
pub mod workspace;

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use rill_common::api::image_v1::SigningKeyType;
use rill_common::api::image_v1::{ImagePolicy, ImageRef, ImageUpdateAutomation};
use rill_common::api::source_v1::GitRepository;
use rill_common::client_settings::secret_data;
use rill_common::conditions::reasons;
use rill_common::runtime::events::EventNote;
use rill_common::runtime::frame::Pass;
use rill_common::runtime::watch::{changes, drain, primary, scoped_api};
use rill_git::repository::AccessError;
use rill_git::sign::CommitSigner;

use crate::Context;
use crate::error::Error;
use crate::kind::ImageKind;
use message::MessageError;
use plan::{PlanError, pushed_message};
use workspace::WorkspaceError;

/// What a run did: the Ready message, and the push event when it pushed.
pub struct Ran {
    message: String,
    pushed: Option<EventNote>,
}

fn source_timeout(source: &GitRepository) -> std::time::Duration {
    rill_common::duration::source_timeout(source.spec.timeout.as_deref())
}

async fn source(ctx: &Context, auto: &ImageUpdateAutomation) -> Result<GitRepository, Error> {
    let own = auto.namespace().unwrap_or_default();
    let reference = &auto.spec.source_ref;
    let namespace = reference
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| own.clone());
    if namespace != own && ctx.no_cross_namespace_refs {
        return Err(Error::AccessDenied(format!(
            "cannot access GitRepository '{namespace}/{}': cross-namespace references are not allowed",
            reference.name
        )));
    }
    Api::<GitRepository>::namespaced(ctx.frame.client.clone(), &namespace)
        .get_opt(&reference.name)
        .await
        .map_err(|e| Error::Kube(e.to_string()))?
        .ok_or_else(|| Error::DependencyNotReady {
            message: format!(
                "referenced GitRepository '{namespace}/{}' not found",
                reference.name
            ),
            retry: ctx.requeue_dependency,
        })
}

/// The selected policies of the automation's namespace that have a latest image.
async fn policies(
    ctx: &Context,
    auto: &ImageUpdateAutomation,
) -> Result<BTreeMap<String, ImageRef>, Error> {
    let selector = plan::selector(auto.spec.policy_selector.as_ref())
        .map_err(|e| Error::InvalidPolicy(e.to_string()))?;
    let mut params = ListParams::default();
    if let Some(s) = &selector {
        params = params.labels(s);
    }
    let namespace = auto.namespace().unwrap_or_default();
    let list = Api::<ImagePolicy>::namespaced(ctx.frame.client.clone(), &namespace)
        .list(&params)
        .await
        .map_err(|e| Error::Kube(e.to_string()))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|p| {
            let latest = p.status.as_ref()?.latest_ref.clone()?;
            Some((p.name_any(), latest))
        })
        .collect())
}

fn access_error(e: AccessError) -> Error {
    match e {
        AccessError::Secret(e) => Error::Secret(e),
        AccessError::InvalidUrl { .. } | AccessError::SshProxy => {
            Error::InvalidSourceConfiguration(e.to_string())
        }
        e => Error::Auth(e.to_string()),
    }
}

async fn steps(
    ctx: &Context,
    auto: &ImageUpdateAutomation,
    pass: &mut Pass<ImageUpdateAutomation>,
) -> Result<Ran, Error> {
    pass.status.last_automation_run_time = Some(pass.now.clone());
    let source = source(ctx, auto).await?;
    let plan = plan::plan(auto, &source).map_err(|e| match e {
        PlanError::InvalidSourceConfiguration(m) => Error::InvalidSourceConfiguration(m),
        PlanError::Unsupported(m) => Error::Unsupported(m),
    })?;
    let observed = policies(ctx, auto).await?;
    let namespace = auto.namespace().unwrap_or_default();
    let markers: BTreeMap<String, ImageRef> = observed
        .iter()
        .map(|(name, r)| (format!("{namespace}:{name}"), r.clone()))
        .collect();
    let mut creds = rill_git::repository::access(&ctx.frame.client, &source)
        .await
        .map_err(access_error)?;
    creds.timeout = Some(source_timeout(&source));
    if let Some(last) = plan::last_observed(&plan, auto, &observed)
        && remote_head(&source.spec.url, &creds, &plan.checkout).await? == last
    {
        pass.status.observed_policies = Some(observed);
        return Ok(Ran {
            message: "repository up-to-date".into(),
            pushed: None,
        });
    }
    let signing_secret = match &plan.signing_key {
        Some((secret, _)) => Some(
            secret_data(&ctx.frame.client, &namespace, secret)
                .await
                .map_err(|e| {
                    Error::SourceManager(format!(
                        "failed configuring source manager: could not find signing key secret '{secret}': {e}"
                    ))
                })?,
        ),
        None => None,
    };
    let url = source.spec.url.clone();
    let run_plan = plan.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let signer = match (&run_plan.signing_key, &signing_secret) {
            (Some((secret, key_type)), Some(data)) => Some(signer(secret, *key_type, data)?),
            _ => None,
        };
        let dir = tempfile::tempdir().map_err(|e| WorkspaceError::Io(e.to_string()))?;
        workspace::run(
            &url,
            &creds,
            &run_plan,
            &markers,
            signer.as_ref(),
            dir.path(),
        )
    })
    .await
    .map_err(|e| Error::Git(format!("the Git task failed: {e}")))?
    .map_err(|e| match e {
        WorkspaceError::Git(e) => git_error(e),
        WorkspaceError::Path(m) => Error::InvalidSourceConfiguration(m),
        WorkspaceError::Io(m) => Error::Update(m),
        WorkspaceError::Message(MessageError::RemovedField(m)) => Error::RemovedTemplateField(m),
        WorkspaceError::Signer(m) => Error::SourceManager(m),
        WorkspaceError::Message(MessageError::Template(m)) => {
            Error::Git(format!("failed to update source: {m}"))
        }
    })?;
    pass.status.observed_policies = Some(observed);
    match outcome {
        workspace::Outcome::UpToDate { commit } => {
            pass.status.observed_source_revision = Some(format!("{}@sha1:{commit}", plan.checkout));
            Ok(Ran {
                message: "repository up-to-date".into(),
                pushed: None,
            })
        }
        workspace::Outcome::Pushed {
            commit,
            message: text,
            ..
        } => {
            let message = pushed_message(&commit, &plan, &text);
            let status = &mut pass.status;
            status.last_push_commit = Some(commit.clone());
            status.last_push_time = Some(Time(jiff::Timestamp::now()));
            status.observed_source_revision = Some(format!("{}@sha1:{commit}", plan.push));
            let tracked = source.spec.effective_ref().branch;
            if tracked.as_deref() == Some(plan.push.as_str()) {
                request_fetch(ctx, &source).await;
            }
            let revision = format!("{}@sha1:{commit}", plan.push);
            Ok(Ran {
                message: format!(
                    "pushed commit '{}' to branch '{}'",
                    &commit[..commit.len().min(7)],
                    plan.push
                ),
                pushed: Some(
                    EventNote::info(reasons::SUCCEEDED, message).with("revision", revision),
                ),
            })
        }
    }
}

fn git_error(e: rill_git::GitError) -> Error {
    match e {
        rill_git::GitError::Auth(m) => Error::Auth(m),
        e => Error::Git(e.to_string()),
    }
}

/// The commit at the head of `branch` on the remote (a reference listing, no pack).
async fn remote_head(
    url: &str,
    creds: &rill_git::auth::Credentials,
    branch: &str,
) -> Result<String, Error> {
    let (url, creds) = (url.to_string(), creds.clone());
    let refs = tokio::task::spawn_blocking(move || {
        let scratch = tempfile::tempdir().map_err(|e| rill_git::GitError::Other(e.to_string()))?;
        rill_git::ls_remote(&url, &creds, scratch.path())
    })
    .await
    .map_err(|e| Error::Git(format!("the Git task failed: {e}")))?
    .map_err(git_error)?;
    let name = format!("refs/heads/{branch}");
    Ok(refs
        .into_iter()
        .find(|r| r.name == name)
        .map(|r| r.commit)
        .unwrap_or_default())
}

/// The commit signer of the Secret `secret`'s data, as Flux reads it: `git.asc` and an optional
/// `passphrase` for gpg, `identity` and an optional `password` for ssh.
fn signer(
    secret: &str,
    key_type: SigningKeyType,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<CommitSigner, WorkspaceError> {
    let (key, pass) = match key_type {
        SigningKeyType::Gpg => ("git.asc", "passphrase"),
        SigningKeyType::Ssh => ("identity", "password"),
    };
    let Some(material) = data.get(key) else {
        let article = if key_type == SigningKeyType::Ssh {
            "an"
        } else {
            "a"
        };
        return Err(WorkspaceError::Signer(format!(
            "failed configuring source manager: signing key secret '{secret}' does not contain {article} '{key}' key"
        )));
    };
    let pass = data.get(pass).map(Vec::as_slice);
    match key_type {
        SigningKeyType::Gpg => CommitSigner::open_pgp(secret, material, pass),
        SigningKeyType::Ssh => CommitSigner::ssh(secret, material, pass),
    }
    .map_err(|e| WorkspaceError::Signer(format!("failed configuring source manager: {e}")))
}

/// Asks the GitRepository to fetch now (the `requestedAt` annotation), so the new commit reaches
/// the cluster without waiting for its interval.
async fn request_fetch(ctx: &Context, source: &GitRepository) {
    let api: Api<GitRepository> = Api::namespaced(
        ctx.frame.client.clone(),
        &source.namespace().unwrap_or_default(),
    );
    let patch = rill_common::runtime::reconcile_request::request_patch();
    if let Err(e) = api
        .patch(
            &source.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        tracing::warn!(error = %e, "cannot request a reconcile of the GitRepository");
    }
}

impl ImageKind for ImageUpdateAutomation {
    type Done = Ran;

    fn steps<'a>(
        &'a self,
        ctx: &'a Context,
        pass: &'a mut Pass<Self>,
    ) -> impl Future<Output = Result<Ran, Error>> + Send + 'a {
        steps(ctx, self, pass)
    }

    fn message(done: &Ran) -> String {
        done.message.clone()
    }

    fn event(done: &Ran) -> Option<EventNote> {
        done.pushed.clone()
    }
}

fn hash_of(value: impl Hash) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    Some(hasher.finish())
}

/// Runs the ImageUpdateAutomation controller until its watches end.
pub async fn run(ctx: Arc<Context>) {
    let client = &ctx.frame.client;
    let ns = ctx.namespace.as_deref();
    let api = scoped_api::<ImageUpdateAutomation>(client, ns);
    let (reader, trigger) = primary(api, ctx.label_selector.as_deref());
    let latest = changes(
        scoped_api::<ImagePolicy>(client, ns),
        watcher::Config::default(),
        |p| {
            hash_of(
                p.status
                    .as_ref()
                    .and_then(|s| s.latest_ref.as_ref())
                    .map(|r| (&r.name, &r.tag, &r.digest)),
            )
        },
    );
    let sources = changes(
        scoped_api::<GitRepository>(client, ns),
        watcher::Config::default(),
        |r| hash_of(r.metadata.generation),
    );
    let (by_policy, by_source) = (reader.clone(), reader.clone());
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(ctx.concurrency))
        .watches_stream(latest, move |p: ImagePolicy| {
            in_namespace(&by_policy, p.namespace())
        })
        .watches_stream(sources, move |r: GitRepository| using(&by_source, &r))
        .run(
            crate::kind::reconcile::<ImageUpdateAutomation>,
            |auto, error, ctx| ctx.frame.error_policy(auto.as_ref(), error),
            ctx,
        );
    drain(results).await;
}

fn in_namespace(
    store: &Store<ImageUpdateAutomation>,
    namespace: Option<String>,
) -> Vec<ObjectRef<ImageUpdateAutomation>> {
    store
        .state()
        .iter()
        .filter(|a| a.namespace() == namespace)
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

fn using(
    store: &Store<ImageUpdateAutomation>,
    source: &GitRepository,
) -> Vec<ObjectRef<ImageUpdateAutomation>> {
    let (namespace, name) = (source.namespace(), source.name_any());
    store
        .state()
        .iter()
        .filter(|a| {
            let reference = &a.spec.source_ref;
            let ns = reference
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| a.namespace());
            reference.name == name && ns == namespace
        })
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}
