//! The drift watch: the objects of every Kustomization's inventory are watched (metadata only,
//! one watch per kind in use, selected by the owner label the controller sets), and a change
//! made outside Git, or a deletion, is acted on at once: in `correct` mode the Kustomization is
//! reconciled again with its last good build (no download, no build while the revision and
//! generation have not moved); in `detect` mode the reconcile only reports it (`Drifted`).

pub mod decide;
mod watch;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::Client;
use kube::runtime::reflector::ObjectRef;
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::runtime::metrics::Metrics;
use tokio::sync::mpsc;

pub use decide::{DriftMode, MODE_ANNOTATION};

use super::cluster::RestMapper;
use super::inventory::{Entry, ObjectId};

/// A Kustomization, by namespace and name.
pub type Owner = (String, String);

/// The last build a Kustomization applied, kept to correct drift without rebuilding.
struct Build {
    generation: i64,
    revision: String,
    /// The applied objects as one YAML stream.
    yaml: Box<str>,
}

/// A Kustomization's share of the watch.
struct Owned {
    mode: DriftMode,
    objects: Vec<Arc<ObjectId>>,
    build: Build,
}

/// One labelled object the watches have seen.
#[derive(Default)]
struct Watched {
    /// The Kustomization that applied it, once its apply is recorded.
    owner: Option<Arc<Owner>>,
    /// The taken-over managers' writes it showed last.
    writes: decide::Writes,
}

#[derive(Default)]
struct State {
    objects: HashMap<Arc<ObjectId>, Watched>,
    owners: HashMap<Owner, Owned>,
    /// Kustomizations asked to correct drift.
    pending: HashSet<Owner>,
    /// Objects seen drifted, per Kustomization (until the next apply).
    drifted: HashMap<Owner, BTreeSet<String>>,
    /// `(group, version, kind)` with a running watch.
    watched: HashSet<(String, String, String)>,
}

impl State {
    /// Detaches a Kustomization's objects (keeping their writes: the watch still sees them).
    fn release(&mut self, owner: &Owner) -> Option<Owned> {
        let owned = self.owners.remove(owner)?;
        for id in &owned.objects {
            if let Some(watched) = self.objects.get_mut(id)
                && watched.owner.as_deref() == Some(owner)
            {
                watched.owner = None;
            }
        }
        Some(owned)
    }
}

/// What the watches share with the reconciler.
pub struct DriftWatch {
    state: Mutex<State>,
    requests: mpsc::UnboundedSender<ObjectRef<Kustomization>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<Kustomization>>>>,
    /// `--drift-mode`: the mode of Kustomizations without the annotation.
    pub default_mode: DriftMode,
    override_managers: Vec<String>,
    metrics: Arc<Metrics>,
}

impl DriftWatch {
    /// A drift watch acting in `default_mode` unless a Kustomization says otherwise; edits by
    /// `override_managers` count like kubectl's.
    pub fn new(
        default_mode: DriftMode,
        override_managers: Vec<String>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let (requests, receiver) = mpsc::unbounded_channel();
        Arc::new(Self {
            state: Mutex::default(),
            requests,
            receiver: Mutex::new(Some(receiver)),
            default_mode,
            override_managers,
            metrics,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reconcile requests drift makes (taken once, by the controller).
    pub fn requests(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef<Kustomization>>> {
        self.receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The mode of a Kustomization.
    pub fn mode_of(&self, ks: &Kustomization) -> DriftMode {
        DriftMode::of(ks.metadata.annotations.as_ref(), self.default_mode)
    }

    /// Records what a Kustomization just applied (its objects, and the build as YAML) and
    /// starts watching the kinds not watched yet. In `off` mode it is forgotten instead.
    #[allow(clippy::too_many_arguments)]
    pub async fn record(
        self: &Arc<Self>,
        owner: &Owner,
        mode: DriftMode,
        entries: &[Entry],
        (generation, revision): (i64, &str),
        yaml: &str,
        client: &Client,
        mapper: &RestMapper,
    ) {
        if mode == DriftMode::Off {
            self.forget(owner);
            return;
        }
        let new_kinds: Vec<(String, String, String)> = {
            let mut state = self.lock();
            state.release(owner);
            let shared = Arc::new(owner.clone());
            let mut objects = Vec::with_capacity(entries.len());
            for entry in entries {
                let id = match state.objects.get_key_value(&entry.id) {
                    Some((id, _)) => Arc::clone(id),
                    None => Arc::new(entry.id.clone()),
                };
                state.objects.entry(Arc::clone(&id)).or_default().owner = Some(Arc::clone(&shared));
                objects.push(id);
            }
            state.owners.insert(
                owner.clone(),
                Owned {
                    mode,
                    objects,
                    build: Build {
                        generation,
                        revision: revision.to_string(),
                        yaml: yaml.into(),
                    },
                },
            );
            state.drifted.remove(owner);
            let kinds: HashSet<(String, String, String)> = entries
                .iter()
                .map(|e| (e.id.group.clone(), e.version.clone(), e.id.kind.clone()))
                .filter(|k| !state.watched.contains(k))
                .collect();
            state.watched.extend(kinds.iter().cloned());
            kinds.into_iter().collect()
        };
        self.metrics
            .record_drift("Kustomization", &owner.0, &owner.1, 0);
        for (group, version, kind) in new_kinds {
            let api_version = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            match mapper.resolve(client, &api_version, &kind).await {
                Ok(Some(resolved)) => {
                    watch::spawn(client.clone(), resolved.resource, Arc::clone(self));
                }
                _ => {
                    // Not resolvable now: the next apply of that kind tries again.
                    self.lock().watched.remove(&(group, version, kind));
                }
            }
        }
    }

    /// Stops acting for a Kustomization (deleted, or drift off).
    pub fn forget(&self, owner: &Owner) {
        let mut state = self.lock();
        state.release(owner);
        state.pending.remove(owner);
        state.drifted.remove(owner);
        drop(state);
        self.metrics
            .record_drift("Kustomization", &owner.0, &owner.1, 0);
    }

    /// The last applied build, if a drift correction was asked for and the Kustomization's
    /// generation and source revision are still those it was built from.
    pub fn take_correction(
        &self,
        owner: &Owner,
        generation: i64,
        revision: &str,
    ) -> Option<String> {
        let mut state = self.lock();
        if !state.pending.remove(owner) {
            return None;
        }
        let build = &state.owners.get(owner)?.build;
        (build.generation == generation && build.revision == revision)
            .then(|| build.yaml.to_string())
    }

    /// The objects of a Kustomization seen drifted since its last apply (`detect` mode).
    pub fn drifted(&self, owner: &Owner) -> Vec<String> {
        self.lock()
            .drifted
            .get(owner)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The watched objects of a kind that a listing did not return.
    fn missing(&self, group: &str, kind: &str, listed: &HashSet<ObjectId>) -> Vec<ObjectId> {
        self.lock()
            .objects
            .iter()
            .filter(|(id, watched)| {
                watched.owner.is_some()
                    && id.group == group
                    && id.kind == kind
                    && !listed.contains(id.as_ref())
            })
            .map(|(id, _)| ObjectId::clone(id))
            .collect()
    }

    /// A watched object changed (`deleted`, or its managed fields say who wrote last).
    fn observed(&self, id: &ObjectId, deleted: bool, entries: &[ManagedFieldsEntry]) {
        let now = decide::takeover_writes(entries, &self.override_managers);
        let mut state = self.lock();
        // Every labelled object's writes are remembered, also before its Kustomization's
        // apply is recorded, so that the first edit after the apply is recognised.
        let (drift, owner) = if deleted {
            let owner = match state.objects.get(id) {
                Some(watched) if watched.owner.is_some() => watched.owner.clone(),
                _ => {
                    state.objects.remove(id);
                    None
                }
            };
            if let Some(watched) = state.objects.get_mut(id) {
                watched.writes.clear();
            }
            (true, owner)
        } else {
            let watched = match state.objects.get_mut(id) {
                Some(watched) => watched,
                None => state.objects.entry(Arc::new(id.clone())).or_default(),
            };
            let before = std::mem::replace(&mut watched.writes, now);
            let seen_before = !before.is_empty() || watched.owner.is_some();
            let drift = decide::is_drift(seen_before.then_some(&before), &watched.writes);
            (drift, watched.owner.clone())
        };
        let Some(owner) = owner.filter(|_| drift) else {
            return;
        };
        let owner = Owner::clone(&owner);
        let Some(mode) = state.owners.get(&owner).map(|o| o.mode) else {
            return;
        };
        let drifted = state.drifted.entry(owner.clone()).or_default();
        drifted.insert(id.display());
        let count = drifted.len();
        if mode == DriftMode::Correct {
            state.pending.insert(owner.clone());
        }
        drop(state);
        tracing::info!(object = %id.display(), kustomization = %format!("{}/{}", owner.0, owner.1), ?mode, deleted, "drift");
        self.metrics
            .record_drift("Kustomization", &owner.0, &owner.1, count);
        let request = ObjectRef::new(&owner.1).within(&owner.0);
        let _ = self.requests.send(request);
    }
}

/// The condition a `detect`-mode Kustomization carries while its objects drifted.
pub const DRIFTED: &str = "Drifted";
/// The reason of [`DRIFTED`] and of its event.
pub const DRIFT_DETECTED: &str = "DriftDetected";

/// Whether nothing but drift asks a Kustomization to apply: its last apply was this revision
/// and generation, it is Ready, and no `requestedAt` waits to be handled.
pub fn only_drift_pending(ks: &Kustomization, revision: &str, generation: i64) -> bool {
    let Some(status) = ks.status.as_ref() else {
        return false;
    };
    let requested = rill_common::runtime::reconcile_request::requested_at(&ks.metadata);
    let ready = status
        .reconcile
        .conditions
        .as_deref()
        .and_then(|c| rill_common::conditions::get(c, rill_common::conditions::types::READY))
        .is_some_and(|c| c.status == "True");
    ready
        && status.last_applied_revision.as_deref() == Some(revision)
        && status.reconcile.observed_generation == Some(generation)
        && (requested.is_none()
            || requested == status.reconcile.last_handled_reconcile_at.as_deref())
}

/// The message of [`DRIFTED`]: what drifted from which revision.
pub fn drifted_message(objects: &[String], revision: &str) -> String {
    const SHOWN: usize = 10;
    let mut listed = objects
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if objects.len() > SHOWN {
        listed.push_str(&format!(" and {} more", objects.len() - SHOWN));
    }
    format!(
        "{} object(s) changed outside Git since revision {revision} was applied: {listed}",
        objects.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_lists_at_most_ten_objects() {
        let few = vec!["Deployment/apps/web".to_string()];
        assert_eq!(
            drifted_message(&few, "main@sha1:abc"),
            "1 object(s) changed outside Git since revision main@sha1:abc was applied: Deployment/apps/web"
        );
        let many: Vec<String> = (0..12).map(|i| format!("ConfigMap/apps/c{i}")).collect();
        let message = drifted_message(&many, "r");
        assert!(message.starts_with("12 object(s)"), "{message}");
        assert!(
            message.ends_with("ConfigMap/apps/c9 and 2 more"),
            "{message}"
        );
    }
}
