//! Server-side apply of a build, as Flux does it: resolve every object, validate all of them
//! with a server-side dry-run before anything is written, then apply in stages (CRDs,
//! Namespaces and ClusterRoles; `*Class` kinds; the rest), waiting for the first two stages to
//! be Current, and skipping objects whose dry-run result equals the live object.

use super::apply_error::{ApplyError, ObjectError, is_immutable_error};
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use serde_json::Value;

use super::cluster::{Kind, RestMapper, api};
use super::drift_ignore::{IgnoreRules, keep_live, without};
use super::inventory::{Entry, ObjectId};
use super::kstatus::{Health, compute};
use super::managed_fields::cleanup_patch;
use super::objects::{force_enabled, if_not_present, is_ignored, kind_rank, merge_only, stage};

/// The field manager of applied objects.
pub const FIELD_MANAGER: &str = "kustomize-controller";

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It differed and was patched.
    Configured,
    /// It already matched.
    Unchanged,
    /// An annotation or label told Flux to leave it alone.
    Skipped,
    /// It was garbage-collected.
    Deleted,
}

impl Action {
    /// Flux's verb.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Skipped => "skipped",
            Action::Deleted => "deleted",
        }
    }
}

/// One line of the change set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The object and its version.
    pub entry: Entry,
    /// What happened.
    pub action: Action,
}

/// The apply context of one reconcile.
pub struct Applier<'a> {
    /// The client acting as the tenant.
    pub tenant: &'a Client,
    /// The controller's own client, for discovery.
    pub controller: &'a Client,
    /// Kind resolution.
    pub mapper: &'a RestMapper,
    /// `spec.force`: recreate objects whose immutable fields changed.
    pub force: bool,
    /// Flag-driven apply behaviour.
    pub options: &'a ApplyOptions,
    /// `spec.ignore`: paths drift detection skips and applies never revert.
    pub ignore: &'a IgnoreRules,
}

/// Apply behaviour chosen by flags.
#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// `--concurrent-ssa`: objects applied at once within a stage.
    pub concurrency: usize,
    /// `--override-manager`: more field managers whose fields the controller takes over.
    pub override_managers: Vec<String>,
    /// `--custom-apply-stage-kinds`: `group/Kind` entries applied before the rest.
    pub custom_stage_kinds: Vec<String>,
}

/// One object's apply result and its resolved kind.
type Outcome = (Result<Change, ObjectError>, Option<Kind>);

pub(super) struct Desired {
    pub(super) object: Value,
    pub(super) id: ObjectId,
    pub(super) version: String,
    pub(super) kind: Option<Kind>,
    pub(super) dry_run: Option<Value>,
}

impl Desired {
    fn entry(&self) -> Entry {
        Entry {
            id: self.id.clone(),
            version: self.version.clone(),
        }
    }
}

pub(super) fn status_of(e: &kube::Error) -> Option<(u16, String, String)> {
    match e {
        kube::Error::Api(s) => Some((s.code, s.reason.clone(), s.message.clone())),
        _ => None,
    }
}

/// An API error about the object `id` while doing `step`.
pub(super) fn api_error(id: &ObjectId, step: &'static str, source: kube::Error) -> ObjectError {
    ObjectError::Api {
        id: id.display(),
        step,
        source,
    }
}

pub(super) fn params(dry_run: bool) -> PatchParams {
    let mut p = PatchParams::apply(FIELD_MANAGER).force();
    p.dry_run = dry_run;
    p
}

/// Whether the dry-run result differs from the live object (labels, annotations, or anything
/// outside `metadata` and `status`).
pub fn drifted(dry_run: &Value, live: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            map.remove("status");
        }
        v
    };
    let meta = |v: &Value, f: &str| v["metadata"][f].clone();
    meta(dry_run, "labels") != meta(live, "labels")
        || meta(dry_run, "annotations") != meta(live, "annotations")
        || strip(dry_run) != strip(live)
}

pub(super) fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

impl Applier<'_> {
    /// Validates and applies `objects`; on failure the message lists what was done so far.
    pub async fn apply(&self, objects: Vec<Value>) -> Result<Vec<Change>, ApplyError> {
        let mut desired = self.resolve(objects).await?;
        self.validate(&mut desired).await?;
        let mut changes = Vec::new();
        let stage_of = |d: &Desired| {
            stage(
                &d.api_version(),
                &d.id.kind,
                &self.options.custom_stage_kinds,
            )
        };
        desired.sort_by_key(|d| (stage_of(d), kind_rank(&d.id.kind)));
        for current in 0..=3u8 {
            let batch: Vec<&mut Desired> = desired
                .iter_mut()
                .filter(|d| stage_of(d) == current)
                .collect();
            let mut applied = Vec::new();
            let pending: Vec<futures::future::BoxFuture<'_, Outcome>> = batch
                .into_iter()
                .map(|d| -> futures::future::BoxFuture<'_, _> {
                    Box::pin(async move {
                        let result = self.apply_one(d).await;
                        (result, d.kind.clone())
                    })
                })
                .collect();
            let results: Vec<Outcome> = futures::stream::iter(pending)
                .buffered(self.options.concurrency.max(1))
                .collect()
                .await;
            let mut failure = None;
            for (result, kind) in results {
                match result {
                    Ok(change) => {
                        if matches!(change.action, Action::Created | Action::Configured) {
                            applied.push((kind, change.entry.id.clone()));
                        }
                        changes.push(change);
                    }
                    Err(e) => failure = failure.or(Some(e)),
                }
            }
            if let Some(source) = failure {
                return Err(ApplyError::Partial {
                    log: change_log(&changes),
                    source: Box::new(source),
                });
            }
            if current < 2 && !applied.is_empty() {
                self.mapper.forget();
                self.wait_current(&applied)
                    .await
                    .map_err(|source| ApplyError::Partial {
                        log: change_log(&changes),
                        source: Box::new(source),
                    })?;
            }
        }
        Ok(changes)
    }

    async fn apply_one(&self, d: &mut Desired) -> Result<Change, ObjectError> {
        let skipped = Change {
            entry: d.entry(),
            action: Action::Skipped,
        };
        if is_ignored(&d.object) {
            return Ok(skipped);
        }
        if d.kind.is_none() {
            d.kind = self
                .mapper
                .resolve(self.controller, &d.api_version(), &d.id.kind)
                .await
                .map_err(|e| api_error(&d.id, "discovery failed", e))?;
        }
        let Some(kind) = d.kind.clone() else {
            return Err(ObjectError::NotServedAfterCrd {
                id: d.id.display(),
                kind: d.id.kind.clone(),
            });
        };
        let api = api(self.tenant, &kind, &d.id.namespace);
        let live = api
            .get_opt(&d.id.name)
            .await
            .map_err(|e| api_error(&d.id, "get failed", e))?
            .map(to_value);
        if let Some(live) = &live
            && (is_ignored(live) || if_not_present(&d.object))
        {
            return Ok(skipped);
        }
        let dry_run = match d.dry_run.take() {
            Some(v) => Some(v),
            None => match api
                .patch(&d.id.name, &params(true), &Patch::Apply(&d.object))
                .await
            {
                Ok(v) => Some(to_value(v)),
                Err(e) => {
                    let (code, _, message) = status_of(&e).unwrap_or_default();
                    let forced = self.force
                        || force_enabled(&d.object)
                        || live.as_ref().is_some_and(force_enabled);
                    if !(is_immutable_error(code, &message) && forced) {
                        return Err(api_error(&d.id, "dry-run failed", e));
                    }
                    None
                }
            },
        };
        let ignored = self.ignore.paths_for(&d.object);
        let cleaned = match &live {
            Some(live) if !merge_only(&d.object) && !merge_only(live) && dry_run.is_some() => {
                self.clean_up(&api, &d.id, live).await?
            }
            _ => false,
        };
        let action = match (&live, &dry_run) {
            (None, _) => Action::Created,
            (Some(_), None) => {
                self.recreate(&api, &d.id).await?;
                Action::Created
            }
            (Some(live), Some(dry))
                if cleaned || drifted(&without(dry, &ignored), &without(live, &ignored)) =>
            {
                Action::Configured
            }
            _ => Action::Unchanged,
        };
        if let Some(live) = &live
            && !ignored.is_empty()
        {
            keep_live(&mut d.object, live, &ignored);
        }
        if action != Action::Unchanged {
            api.patch(&d.id.name, &params(false), &Patch::Apply(&d.object))
                .await
                .map_err(|e| api_error(&d.id, "apply failed", e))?;
        }
        Ok(Change {
            entry: d.entry(),
            action,
        })
    }

    /// Hands fields set by `kubectl` edits to the controller; returns whether it did.
    async fn clean_up(
        &self,
        api: &kube::Api<DynamicObject>,
        id: &ObjectId,
        live: &Value,
    ) -> Result<bool, ObjectError> {
        let Some(patch) = cleanup_patch(live, &self.options.override_managers) else {
            return Ok(false);
        };
        api.patch(&id.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| api_error(id, "managed fields cleanup failed", e))?;
        Ok(true)
    }

    /// Deletes an object whose immutable fields changed and waits until it is gone.
    async fn recreate(
        &self,
        api: &kube::Api<DynamicObject>,
        id: &ObjectId,
    ) -> Result<(), ObjectError> {
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        api.delete(&id.name, &dp)
            .await
            .map_err(|e| api_error(id, "delete failed", e))?;
        for _ in 0..60 {
            match api.get_opt(&id.name).await {
                Ok(None) => return Ok(()),
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(500)).await,
                Err(e) => return Err(api_error(id, "get failed", e)),
            }
        }
        Err(ObjectError::NotDeleted { id: id.display() })
    }

    /// Waits (up to 60 s, as Flux) until the objects of a stage are Current.
    async fn wait_current(&self, applied: &[(Option<Kind>, ObjectId)]) -> Result<(), ObjectError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let mut waiting = None;
            for (kind, id) in applied {
                let Some(kind) = kind else { continue };
                let live = api(self.tenant, kind, &id.namespace)
                    .get_opt(&id.name)
                    .await
                    .map_err(|e| api_error(id, "get failed", e))?;
                match live.map(|o| compute(&to_value(o))) {
                    Some(Health::Current) => {}
                    Some(Health::Failed(message)) => {
                        return Err(ObjectError::Failed {
                            id: id.display(),
                            message,
                        });
                    }
                    Some(Health::InProgress(m)) => waiting = Some(format!("{}: {m}", id.display())),
                    None => waiting = Some(format!("{}: not found", id.display())),
                }
            }
            let Some(waiting) = waiting else {
                return Ok(());
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(ObjectError::Timeout { waiting });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Desired {
    fn api_version(&self) -> String {
        self.entry().api_version()
    }
}

/// Flux's change log: one `Kind/ns/name verb` line per created, configured or deleted object.
pub fn change_log(changes: &[Change]) -> String {
    changes
        .iter()
        .filter(|c| {
            matches!(
                c.action,
                Action::Created | Action::Configured | Action::Deleted
            )
        })
        .map(|c| format!("{} {}", c.entry.id.display(), c.action.verb()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drift_ignores_server_metadata_and_status() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "7", "labels": {"x": "1"}}, "spec": {"replicas": 1}, "status": {"ready": 1}});
        let same = json!({"metadata": {"name": "a", "resourceVersion": "8", "labels": {"x": "1"}}, "spec": {"replicas": 1}});
        let edited =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 3}});
        let relabelled =
            json!({"metadata": {"name": "a", "labels": {"x": "2"}}, "spec": {"replicas": 1}});
        assert!(!drifted(&same, &live));
        assert!(drifted(&edited, &live));
        assert!(drifted(&relabelled, &live));
    }

    #[test]
    fn change_log_lists_only_changes() {
        let change = |name: &str, action| Change {
            entry: Entry {
                id: ObjectId {
                    namespace: "apps".into(),
                    name: name.into(),
                    group: "".into(),
                    kind: "ConfigMap".into(),
                },
                version: "v1".into(),
            },
            action,
        };
        let log = change_log(&[
            change("a", Action::Created),
            change("b", Action::Unchanged),
            change("c", Action::Deleted),
        ]);
        assert_eq!(log, "ConfigMap/apps/a created\nConfigMap/apps/c deleted");
    }
}
