//! Drift decisions (pure): the mode a Kustomization asks for, and which change to one of its
//! objects is drift to act on: a new write, in the managed fields, of a manager whose edits the
//! controller takes over (`kubectl*`, `before-first-apply`, `--override-manager`); the
//! controller's own writes, status writes and other controllers' writes (an HPA's `replicas`)
//! are never fought.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

/// The annotation that chooses a Kustomization's drift mode (Flux ignores it).
pub const MODE_ANNOTATION: &str = "rill.dev/drift";

/// What the controller does when an applied object drifts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftMode {
    /// Re-apply the last good build at once.
    Correct,
    /// Report it (a `Drifted` condition, an event, a gauge) and change nothing.
    Detect,
    /// Do not watch.
    Off,
}

impl DriftMode {
    /// The mode a value of [`MODE_ANNOTATION`] names.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "correct" => Some(Self::Correct),
            "detect" => Some(Self::Detect),
            "off" => Some(Self::Off),
            _ => None,
        }
    }

    /// The mode of a Kustomization with these annotations: the annotation's, else `default`
    /// (a value that names no mode counts as absent).
    pub fn of(annotations: Option<&BTreeMap<String, String>>, default: Self) -> Self {
        annotations
            .and_then(|a| a.get(MODE_ANNOTATION))
            .and_then(|v| Self::parse(v))
            .unwrap_or(default)
    }
}

/// Whether `manager`'s edits are undone (the managers whose fields the apply takes over).
pub fn taken_over(manager: &str, override_managers: &[String]) -> bool {
    manager.starts_with("kubectl")
        || manager == "before-first-apply"
        || override_managers.iter().any(|m| m == manager)
}

/// The writes of taken-over managers an object's managed fields record: `(manager, time)` of
/// each entry that is not a status write.
pub type Writes = Vec<(String, Option<String>)>;

/// The taken-over managers' writes recorded in `entries`.
pub fn takeover_writes(entries: &[ManagedFieldsEntry], override_managers: &[String]) -> Writes {
    let mut writes: Writes = entries
        .iter()
        .filter(|e| e.subresource.as_deref() != Some("status"))
        .filter_map(|e| {
            let manager = e.manager.as_deref()?;
            taken_over(manager, override_managers).then(|| {
                (
                    manager.to_string(),
                    e.time.as_ref().map(|t| t.0.to_string()),
                )
            })
        })
        .collect();
    writes.sort();
    writes
}

/// Whether an object whose taken-over writes were `before` (`None`: not seen yet) and are now
/// `now` was just edited outside Git: a write of a taken-over manager appeared or got newer.
/// The controller's own writes (and other controllers') add no such entry, so they never count,
/// even in the same second as an edit.
pub fn is_drift(before: Option<&Writes>, now: &Writes) -> bool {
    match before {
        None => false,
        Some(before) => now.iter().any(|write| !before.contains(write)),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn entry(manager: &str, second: i64, subresource: Option<&str>) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some("Update".into()),
            subresource: subresource.map(str::to_string),
            time: Some(Time(
                jiff::Timestamp::from_second(second).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            )),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn a_new_or_newer_write_by_a_taken_over_manager_is_drift() {
        let own = entry("kustomize-controller", 10, None);
        let extra = vec!["my-script".to_string()];
        let writes = |entries: Vec<ManagedFieldsEntry>| takeover_writes(&entries, &extra);
        let applied = writes(vec![own.clone()]);
        let cases = [
            (
                "kubectl edit",
                Some(applied.clone()),
                vec![own.clone(), entry("kubectl-edit", 10, None)],
                true,
            ),
            (
                "kubectl scale",
                Some(applied.clone()),
                vec![own.clone(), entry("kubectl", 11, Some("scale"))],
                true,
            ),
            (
                "the same kubectl entry again",
                Some(writes(vec![entry("kubectl", 11, None)])),
                vec![own.clone(), entry("kubectl", 11, None)],
                false,
            ),
            (
                "a later kubectl edit",
                Some(writes(vec![entry("kubectl", 11, None)])),
                vec![entry("kubectl", 12, None)],
                true,
            ),
            (
                "the controller's own write",
                Some(applied.clone()),
                vec![entry("kustomize-controller", 12, None)],
                false,
            ),
            (
                "an HPA is not fought",
                Some(applied.clone()),
                vec![
                    own.clone(),
                    entry("kube-controller-manager", 12, Some("scale")),
                ],
                false,
            ),
            (
                "status writes are not drift",
                Some(applied.clone()),
                vec![own.clone(), entry("kubectl", 12, Some("status"))],
                false,
            ),
            (
                "an override manager",
                Some(applied.clone()),
                vec![own.clone(), entry("my-script", 12, None)],
                true,
            ),
            (
                "first sight is the baseline",
                None,
                vec![entry("kubectl-edit", 12, None)],
                false,
            ),
            (
                "an entry taken over by the apply",
                Some(writes(vec![entry("kubectl", 11, None)])),
                vec![own.clone()],
                false,
            ),
        ];
        for (name, before, now, want) in cases {
            assert_eq!(is_drift(before.as_ref(), &writes(now)), want, "{name}");
        }
    }

    #[test]
    fn the_annotation_chooses_the_mode() {
        let annotated = |v: &str| BTreeMap::from([(MODE_ANNOTATION.to_string(), v.to_string())]);
        let cases = [
            (Some(annotated("detect")), DriftMode::Detect),
            (Some(annotated(" Off ")), DriftMode::Off),
            (Some(annotated("correct")), DriftMode::Correct),
            (Some(annotated("sometimes")), DriftMode::Correct),
            (None, DriftMode::Correct),
        ];
        for (annotations, want) in cases {
            assert_eq!(
                DriftMode::of(annotations.as_ref(), DriftMode::Correct),
                want
            );
        }
        assert_eq!(DriftMode::of(None, DriftMode::Off), DriftMode::Off);
    }
}
