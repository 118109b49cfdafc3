//! Name references across the whole build: the last pass follows objects renamed at other
//! levels of the build (kustomize fixes references once, with every rename on record).

use serde_json::Value;

use super::slots::{NameReference, Slot, custom_slots, slots};
use super::{CLUSTER_SCOPED, namespace_of};
use crate::resource::Resource;

/// The last pass of a build, as kustomize fixes references once with every resource's whole
/// rename history: a reference that names no current object but an earlier name of exactly
/// one object of its kind (renamed at another level of the build) follows that object. The
/// candidates pass kustomize's namespace sieve (same current namespace as the referrer, unless
/// either is cluster-scoped or the object is a ServiceAccount).
pub fn fix_dangling_references(resources: &mut [Resource], custom: &[NameReference]) {
    let current: Vec<(String, String, String)> = resources
        .iter()
        .map(|r| {
            let id = r.id();
            (id.kind, id.name, id.namespace)
        })
        .collect();
    let previous: Vec<Vec<String>> = resources.iter().map(|r| r.previous_names.clone()).collect();
    if previous.iter().all(Vec::is_empty) {
        return;
    }
    for (index, resource) in resources.iter_mut().enumerate() {
        let referrer = (
            current[index].2.as_str(),
            CLUSTER_SCOPED.contains(&current[index].0.as_str()),
        );
        follow_earlier_names(slots(resource), referrer, &current, &previous);
        follow_earlier_names(
            custom_slots(resource, custom),
            referrer,
            &current,
            &previous,
        );
    }
}

/// [`fix_dangling_references`] for one referrer's slots.
fn follow_earlier_names(
    slots: Vec<Slot<'_>>,
    (referrer_ns, referrer_cluster): (&str, bool),
    current: &[(String, String, String)],
    previous: &[Vec<String>],
) {
    for slot in slots {
        let name = if slot.map_target {
            slot.value["name"].as_str().map(str::to_string)
        } else {
            slot.value.as_str().map(str::to_string)
        };
        let Some(name) = name else { continue };
        if current.iter().any(|(k, n, _)| k == slot.kind && *n == name) {
            continue;
        }
        let candidates: Vec<usize> = (0..current.len())
            .filter(|&i| current[i].0 == slot.kind && previous[i].contains(&name))
            .filter(|&i| {
                referrer_cluster
                    || CLUSTER_SCOPED.contains(&slot.kind)
                    || slot.kind == "ServiceAccount"
                    || namespace_of(&current[i].2) == namespace_of(referrer_ns)
            })
            .collect();
        let Some(&first) = candidates.first() else {
            continue;
        };
        if candidates.iter().any(|&i| current[i].1 != current[first].1) {
            continue;
        }
        let (_, new_name, new_namespace) = &current[first];
        if slot.map_target {
            slot.value["name"] = Value::String(new_name.clone());
            if slot.value.get("namespace").is_some() {
                slot.value["namespace"] = Value::String(new_namespace.clone());
            }
        } else {
            *slot.value = Value::String(new_name.clone());
        }
    }
}
