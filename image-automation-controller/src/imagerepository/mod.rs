//! The ImageRepository reconciler in the shared frame: decide whether a scan is due, list the
//! registry's tags (every page), drop the excluded ones, store them on disk and record Flux's
//! scan result; requeue when the next scan is due.

pub mod image;
pub mod scan;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::{Resource, ResourceExt};
use rill_common::api::image_v1::{ImageProvider, ImageRepository, ScanResult};
use rill_common::conditions::{self, reasons};
use rill_common::oci::connect::{Access, ConnectError, connect};
use rill_common::oci::{OciUrl, Registry, RegistryError};
use rill_common::runtime::frame::Pass;
use rill_common::runtime::watch::{drain, primary, scoped_api};

use crate::Context;
use crate::error::Error;
use crate::kind::ImageKind;
use scan::{DEFAULT_EXCLUSIONS, Due, LastScan};

/// What a pass did: the Ready message, and when the next scan is due.
pub struct Scanned {
    message: String,
    next: Duration,
}

/// The exclusion list of `repo` (Flux's default when unset).
fn exclusions(repo: &ImageRepository) -> Vec<String> {
    repo.spec
        .exclusion_list
        .clone()
        .unwrap_or_else(|| DEFAULT_EXCLUSIONS.iter().map(|s| s.to_string()).collect())
}

/// `spec.timeout`, else the interval (Flux's rule), else 60 s; at least a second.
fn timeout(repo: &ImageRepository) -> Duration {
    let interval =
        rill_common::duration::or_default(Some(&repo.spec.interval), Duration::from_secs(60));
    rill_common::duration::or_default(repo.spec.timeout.as_deref(), interval)
        .max(Duration::from_secs(1))
}

/// The registry client of `repo`, with its Secrets, service account, proxy and timeout.
pub async fn registry(
    client: &kube::Client,
    repo: &ImageRepository,
    name: &image::ImageName,
) -> Result<Registry, Error> {
    let namespace = repo.namespace().unwrap_or_default();
    let name_of = |r: &Option<rill_common::api::meta::LocalObjectReference>| {
        r.as_ref().map(|r| r.name.clone())
    };
    let (secret, certs, proxy) = (
        name_of(&repo.spec.secret_ref),
        name_of(&repo.spec.cert_secret_ref),
        name_of(&repo.spec.proxy_secret_ref),
    );
    let access = Access {
        namespace: &namespace,
        secret: secret.as_deref(),
        service_account: repo.spec.service_account_name.as_deref(),
        cert_secret: certs.as_deref(),
        proxy_secret: proxy.as_deref(),
        legacy_tls_keys: true,
        timeout: timeout(repo),
    };
    let url = OciUrl {
        host: name.host.clone(),
        repository: name.repository.clone(),
        insecure: repo.spec.insecure == Some(true),
    };
    connect(client, url, &access).await.map_err(|e| match e {
        ConnectError::Secret(e) => Error::Secret(e),
        e if e.is_auth() => Error::Auth(e.to_string()),
        e => Error::Kube(e.to_string()),
    })
}

/// A registry failure as the condition shows it.
pub fn registry_error(e: RegistryError) -> Error {
    match e {
        RegistryError::Unauthorized(m) => Error::Auth(m),
        other => Error::Scan(format!("scan failed: {other}")),
    }
}

async fn steps(
    ctx: &Context,
    repo: &ImageRepository,
    pass: &mut Pass<ImageRepository>,
) -> Result<Scanned, Error> {
    if repo
        .spec
        .provider
        .is_some_and(|p| p != ImageProvider::Generic)
    {
        return Err(Error::Unsupported(
            "spec.provider other than 'generic' is not supported by Rill yet".into(),
        ));
    }
    let name = image::parse(&repo.spec.image).map_err(|e| Error::InvalidImage(e.to_string()))?;
    let canonical = name.canonical();
    let exclusions = exclusions(repo);
    let compiled = scan::compile(&exclusions)
        .map_err(|(e, err)| Error::InvalidPolicy(format!("invalid exclusion '{e}': {err}")))?;
    let interval =
        rill_common::duration::or_default(Some(&repo.spec.interval), Duration::from_secs(600));
    let (namespace, object) = (repo.namespace().unwrap_or_default(), repo.name_any());
    let have_tags = ctx
        .tags
        .contains(&namespace, &object)
        .map_err(|e| Error::Storage(format!("cannot read the tag database: {e}")))?;
    let status = &pass.status;
    let last_scan = status.last_scan_result.as_ref();
    let elapsed = last_scan.and_then(|r| r.scan_time.as_ref()).map(|t| {
        let since = jiff::Timestamp::now().duration_since(t.0);
        Duration::try_from(since).unwrap_or_default()
    });
    let requested = rill_common::runtime::reconcile_request::pending_request(
        repo.meta(),
        status.reconcile.last_handled_reconcile_at.as_deref(),
    )
    .is_some();
    let last = LastScan {
        elapsed,
        canonical: status.canonical_image_name.as_deref(),
        exclusions: status.observed_exclusion_list.as_deref(),
    };
    let ok_message = |r: &ScanResult| {
        format!(
            "successful scan: found {} tags with checksum {}",
            r.tag_count,
            r.revision.clone().unwrap_or_default()
        )
    };
    let reason = match scan::due(
        &last,
        requested,
        &canonical,
        &exclusions,
        have_tags,
        interval,
    ) {
        Due::In(left) => {
            let message = last_scan.map(ok_message).unwrap_or_default();
            return Ok(Scanned {
                message,
                next: left,
            });
        }
        Due::Now(reason) => reason,
    };
    conditions::mark_reconciling(
        &mut pass.conditions,
        reasons::PROGRESSING,
        reason.message(),
        pass.generation,
        &pass.now,
    );
    let registry = registry(&ctx.frame.client, repo, &name).await?;
    let tags = registry.tags().await.map_err(registry_error)?;
    let kept = scan::filter(tags, &compiled);
    let store = ctx.tags.clone();
    let (ns, n, to_store) = (namespace, object, kept.clone());
    tokio::task::spawn_blocking(move || store.write(&ns, &n, &to_store))
        .await
        .map_err(|e| Error::Storage(e.to_string()))?
        .map_err(|e| Error::Storage(format!("cannot write the tag database: {e}")))?;
    let result = ScanResult {
        revision: Some(scan::revision(&kept)),
        tag_count: i64::try_from(kept.len()).unwrap_or(i64::MAX),
        scan_time: Some(Time(jiff::Timestamp::now())),
        latest_tags: Some(scan::latest_tags(&kept)),
    };
    let message = ok_message(&result);
    let status = &mut pass.status;
    status.canonical_image_name = Some(canonical);
    status.observed_exclusion_list = Some(exclusions);
    status.last_scan_result = Some(result);
    Ok(Scanned {
        message,
        next: interval,
    })
}

impl ImageKind for ImageRepository {
    type Done = Scanned;

    fn steps<'a>(
        &'a self,
        ctx: &'a Context,
        pass: &'a mut Pass<Self>,
    ) -> impl Future<Output = Result<Scanned, Error>> + Send + 'a {
        steps(ctx, self, pass)
    }

    fn message(done: &Scanned) -> String {
        done.message.clone()
    }

    fn next(done: &Scanned) -> Option<Option<Duration>> {
        Some(Some(done.next))
    }

    async fn cleanup(&self, ctx: &Context) -> Result<(), Error> {
        let store = ctx.tags.clone();
        let (ns, name) = (self.namespace().unwrap_or_default(), self.name_any());
        tokio::task::spawn_blocking(move || store.remove(&ns, &name))
            .await
            .map_err(|e| Error::Storage(e.to_string()))?
            .map_err(|e| Error::Storage(e.to_string()))
    }
}

/// Runs the ImageRepository controller until its watch ends.
pub async fn run(ctx: Arc<Context>) {
    let api = scoped_api::<ImageRepository>(&ctx.frame.client, ctx.namespace.as_deref());
    let (reader, trigger) = primary(api, ctx.label_selector.as_deref());
    let results = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(ctx.concurrency))
        .run(
            crate::kind::reconcile::<ImageRepository>,
            |repo, error, ctx| ctx.frame.error_policy(repo.as_ref(), error),
            ctx,
        );
    drain(results).await;
}
