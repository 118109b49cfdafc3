//! One pass of the Kustomization pipeline: source artifact, dependencies, download, build,
//! substitution, validation and staged apply, inventory, prune and health. Each step either
//! moves `status` forward or returns the error that stops the pass; nothing is pruned after a
//! failed build or apply.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Client, ResourceExt};
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::conditions::{self, Status, reasons, types};
use rill_common::runtime::frame::Pass;
use sha2::{Digest, Sha256};

use super::apply::{Applier, Change};
use super::cluster::{impersonating, service_account_user};
use super::drift::{self, DriftMode};
use super::inventory::{self, Entry};
use super::objects::{add_metadata, normalize};
use super::plan::Timing;
use super::{Context, build, decryption, dependencies, health, prune, source};
use crate::error::Error;

/// What a successful pass did.
pub struct Applied {
    /// The source revision applied.
    pub revision: String,
    /// The artifact's origin revision, if any.
    pub origin_revision: Option<String>,
    /// Every object applied or pruned, with what happened to it.
    pub changes: Vec<Change>,
    /// sha256 of the applied YAML.
    pub digest: String,
}

/// The build of a Kustomization from its unpacked artifact: decryption, the engine,
/// post-build substitution, Flux's normalisation and the owner metadata.
async fn built_objects(
    ks: &Kustomization,
    ctx: &Context,
    tree: std::sync::Arc<kustomize::file_system::MemoryTree>,
    tenant: &Client,
) -> Result<Vec<serde_json::Value>, Error> {
    let settings = &ctx.settings;
    let keys = decryption::keyring(ks, tenant, &ctx.frame.client, &settings.decryption).await?;
    let spec = ks.spec.clone();
    let mut objects = tokio::task::spawn_blocking(move || {
        let root = tree.root().to_path_buf();
        build::build(tree, &root, &spec, keys.as_ref())
    })
    .await
    .map_err(|e| Error::Build(format!("build task failed: {e}")))??;
    let namespace = ks.namespace().unwrap_or_default();
    if let Some(post) = &ks.spec.post_build {
        let vars = build::variables(&ctx.frame.client, &namespace, post).await?;
        build::substitute_all(&mut objects, &vars, post, settings.strict_substitution)?;
    }
    let common = ks.spec.common_metadata.clone().unwrap_or_default();
    let name = ks.name_any();
    for object in &mut objects {
        normalize(object);
        add_metadata(
            object,
            &common.labels.clone().unwrap_or_default(),
            &common.annotations.clone().unwrap_or_default(),
            (&name, &namespace),
        );
    }
    Ok(objects)
}

/// `spec.timeout`, or the interval minus 30 s; never below 30 s.
pub fn timeout(ks: &Kustomization) -> Duration {
    Timing::of(ks).timeout
}

/// The client for the objects of `ks`: the controller itself, or its service account.
pub fn tenant_client(ctx: &Context, ks: &Kustomization) -> Result<Client, Error> {
    let account = ks
        .spec
        .service_account_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| ctx.settings.default_service_account.clone());
    match account {
        None => Ok(ctx.frame.client.clone()),
        Some(name) => {
            let user = service_account_user(&ks.namespace().unwrap_or_default(), &name);
            impersonating(&ctx.base_config, &user, ctx.api_rate)
                .map_err(|e| Error::Kube(format!("cannot build the client for {user}: {e}")))
        }
    }
}

fn unsupported(ks: &Kustomization) -> Option<&'static str> {
    let spec = &ks.spec;
    if spec.kube_config.is_some() {
        Some("spec.kubeConfig")
    } else {
        None
    }
}

/// Every CEL expression of the spec must compile (a terminal error otherwise).
fn check_expressions(ks: &Kustomization) -> Result<(), Error> {
    let health = ks.spec.health_check_exprs.iter().flatten().flat_map(|e| {
        [Some(&e.current), e.in_progress.as_ref(), e.failed.as_ref()]
            .into_iter()
            .flatten()
    });
    let ready = ks
        .spec
        .depends_on
        .iter()
        .flatten()
        .filter_map(|d| d.ready_expr.as_ref());
    for expr in health.chain(ready).filter(|e| !e.is_empty()) {
        super::cel_expr::check(expr).map_err(|e| Error::InvalidCel(e.to_string()))?;
    }
    Ok(())
}

/// Runs the pipeline. The status is written with the Reconciling message before the
/// long-running steps, so that users see what is happening.
pub async fn run(
    ks: &Kustomization,
    ctx: &Context,
    pass: &mut Pass<Kustomization>,
) -> Result<Applied, Error> {
    if let Some(field) = unsupported(ks) {
        return Err(Error::Unsupported(format!(
            "{field} is not supported by Rill yet"
        )));
    }
    check_expressions(ks)?;
    let settings = &ctx.settings;
    let timing = Timing::of(ks);
    let artifact = source::artifact(
        &ctx.frame.client,
        ks,
        settings.no_cross_namespace_refs,
        timing.retry_interval,
        settings.requeue_dependency,
    )
    .await?;
    let revision = artifact.revision.clone();
    dependencies::check(
        &ctx.frame.client,
        ks,
        &revision,
        settings.requeue_dependency,
        settings.additive_cel_dependency_check,
    )
    .await?;

    let timeout = timing.timeout;
    let generation = ks.metadata.generation.unwrap_or(0);
    let owner = (ks.namespace().unwrap_or_default(), ks.name_any());
    let mode = ctx.drift.mode_of(ks);
    if mode == DriftMode::Detect && drift::only_drift_pending(ks, &revision, generation) {
        let drifted = ctx.drift.drifted(&owner);
        if !drifted.is_empty() {
            // Report only: nothing is applied until Git or the spec moves, or a reconcile is
            // requested.
            let now = Time(jiff::Timestamp::now());
            let message = drift::drifted_message(&drifted, &revision);
            conditions::set(
                &mut pass.conditions,
                drift::DRIFTED,
                Status::True,
                drift::DRIFT_DETECTED,
                &message,
                generation,
                &now,
            );
            let digest = pass
                .status
                .history
                .as_ref()
                .and_then(|h| h.first())
                .map(|h| h.digest.clone())
                .unwrap_or_default();
            return Ok(Applied {
                revision,
                origin_revision: pass.status.last_applied_origin_revision.clone(),
                changes: Vec::new(),
                digest,
            });
        }
    }
    let now = Time(jiff::Timestamp::now());
    let settled = pass.status.last_attempted_revision.as_deref() == Some(revision.as_str())
        && pass.status.reconcile.observed_generation == Some(generation)
        && conditions::is_true(&pass.conditions, types::READY);
    if !settled {
        let message = format!(
            "Fetching manifests for revision {revision} with a timeout of {}",
            rill_common::duration::format(timeout)
        );
        conditions::mark_reconciling(
            &mut pass.conditions,
            reasons::PROGRESSING,
            &message,
            generation,
            &now,
        );
        conditions::set(
            &mut pass.conditions,
            types::READY,
            Status::Unknown,
            reasons::PROGRESSING,
            "Reconciliation in progress",
            generation,
            &now,
        );
        pass.write_progress().await;
    }

    let corrected = match mode {
        DriftMode::Correct => ctx.drift.take_correction(&owner, generation, &revision),
        _ => None,
    };
    let tenant = tenant_client(ctx, ks)?;
    let (objects, yaml) = match corrected {
        // Drift: the last good build again, neither downloaded nor built.
        Some(yaml) => {
            let objects = kustomize::yaml::read_documents(&yaml)
                .map_err(|e| Error::Build(format!("reading the last applied build: {e}")))?;
            (objects, yaml)
        }
        None => {
            let tree =
                source::download(&ctx.artifacts, &artifact, settings.requeue_dependency).await?;
            pass.status.last_attempted_revision = Some(revision.clone());
            let objects = built_objects(ks, ctx, tree, &tenant).await?;
            let yaml: Vec<String> = objects.iter().map(kustomize::yaml::to_yaml).collect();
            (objects, yaml.join("---\n"))
        }
    };
    pass.status.last_attempted_revision = Some(revision.clone());
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(yaml.as_bytes())));

    let ignore =
        super::drift_ignore::IgnoreRules::new(ks.spec.ignore.as_deref().unwrap_or_default())
            .map_err(|e| Error::InvalidSpec(e.to_string()))?;
    let applier = Applier {
        tenant: &tenant,
        controller: &ctx.frame.client,
        mapper: &ctx.mapper,
        force: ks.spec.force == Some(true),
        options: &settings.apply,
        ignore: &ignore,
    };
    let mut changes = applier.apply(objects).await.map_err(Error::Apply)?;
    let applied: Vec<Entry> = changes.iter().map(|c| c.entry.clone()).collect();
    // The new objects are watched before the stale ones are pruned, so a prune is not drift.
    ctx.drift
        .record(
            &owner,
            mode,
            &applied,
            (generation, &revision),
            &yaml,
            &ctx.frame.client,
            &ctx.mapper,
        )
        .await;
    conditions::remove(&mut pass.conditions, drift::DRIFTED);
    let old = inventory::from_status(pass.status.inventory.as_ref());
    let mut kept = applied.clone();
    let mut prune_error = None;
    if ks.spec.prune {
        let stale = inventory::stale(&old, &applied);
        let pruned = prune::prune(
            &tenant,
            &ctx.frame.client,
            &ctx.mapper,
            &stale,
            (&owner.1, &owner.0),
        )
        .await;
        changes.extend(pruned.changes);
        if !pruned.failed.is_empty() {
            kept.extend(pruned.failed.iter().map(|(e, _)| e.clone()));
            let messages: Vec<String> = pruned.failed.into_iter().map(|(_, m)| m).collect();
            prune_error = Some(Error::Prune(format!(
                "pruning failed: {}",
                messages.join("; ")
            )));
        }
    }
    pass.status.inventory = Some(inventory::to_status(&kept));
    if let Some(e) = prune_error {
        return Err(e);
    }

    let checks = health_checks(ks, &changes);
    if checks.is_empty() {
        conditions::remove(&mut pass.conditions, types::HEALTHY);
    } else {
        let message = format!(
            "Running health checks for revision {revision} with a timeout of {}",
            rill_common::duration::format(timeout)
        );
        let now = Time(jiff::Timestamp::now());
        conditions::mark_reconciling(
            &mut pass.conditions,
            reasons::PROGRESSING,
            &message,
            generation,
            &now,
        );
        conditions::set(
            &mut pass.conditions,
            types::HEALTHY,
            Status::Unknown,
            reasons::PROGRESSING,
            &message,
            generation,
            &now,
        );
        pass.write_progress().await;
        let started = std::time::Instant::now();
        let exprs = ks.spec.health_check_exprs.clone().unwrap_or_default();
        health::wait_healthy(
            &tenant,
            &ctx.frame.client,
            &ctx.mapper,
            &checks,
            &exprs,
            timeout,
        )
        .await
        .map_err(Error::Health)?;
        let now = Time(jiff::Timestamp::now());
        let message = format!(
            "Health check passed in {}",
            rill_common::duration::format(started.elapsed())
        );
        conditions::set(
            &mut pass.conditions,
            types::HEALTHY,
            Status::True,
            reasons::SUCCEEDED,
            &message,
            generation,
            &now,
        );
    }
    Ok(Applied {
        revision,
        origin_revision: artifact
            .metadata
            .as_ref()
            .and_then(|m| m.get("org.opencontainers.image.revision").cloned()),
        changes,
        digest,
    })
}

/// The objects to health-check: with `wait`, everything applied but skipped objects; else
/// `healthChecks` (apiVersion defaults to `apps/v1`).
fn health_checks(ks: &Kustomization, changes: &[Change]) -> Vec<Entry> {
    use super::apply::Action;
    if ks.spec.wait == Some(true) {
        return changes
            .iter()
            .filter(|c| !matches!(c.action, Action::Skipped | Action::Deleted))
            .map(|c| c.entry.clone())
            .collect();
    }
    let own_ns = ks.namespace().unwrap_or_default();
    ks.spec
        .health_checks
        .iter()
        .flatten()
        .map(|h| {
            let api_version = h
                .api_version
                .clone()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "apps/v1".into());
            let (group, version) = super::cluster::split_api_version(&api_version);
            Entry {
                id: inventory::ObjectId {
                    namespace: h
                        .namespace
                        .clone()
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| own_ns.clone()),
                    name: h.name.clone(),
                    group: group.to_string(),
                    kind: h.kind.clone(),
                },
                version: version.to_string(),
            }
        })
        .collect()
}
