//! Name references across the whole build: the last pass follows objects renamed at other
//! levels of the build (kustomize fixes references once, with every rename on record).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::slots::{NameReference, Slot, custom_slots, secondary_slots, slots};
use super::{CLUSTER_SCOPED, current_ids, namespace_of};
use crate::resource::Resource;

/// The last pass of a build, as kustomize fixes references once with every resource's whole
/// rename history: a reference that names no current object but an earlier name of exactly
/// one object of its kind (renamed at another level of the build) follows that object. The
/// candidates pass kustomize's namespace sieve (same current namespace as the referrer, unless
/// either is cluster-scoped or the object is a ServiceAccount).
pub fn fix_dangling_references(resources: &mut [Resource], custom: &[NameReference]) {
    let current = current_ids(resources);
    // (kind, earlier name) -> objects that had it; (kind, name) of every current object.
    let mut earlier: Index = HashMap::new();
    for (i, resource) in resources.iter().enumerate() {
        for name in &resource.previous_names {
            earlier
                .entry((current[i].0.clone(), name.clone()))
                .or_default()
                .push(i);
        }
    }
    // (kind, earlier name, earlier namespace) -> objects that were there.
    let mut places: Places = HashMap::new();
    for (i, resource) in resources.iter().enumerate() {
        for (name, namespace) in &resource.previous_places {
            places
                .entry((
                    current[i].0.clone(),
                    name.clone(),
                    namespace_of(namespace).to_string(),
                ))
                .or_default()
                .push(i);
        }
    }
    if earlier.is_empty() && places.is_empty() {
        return;
    }
    let names: HashSet<(&str, &str)> = current
        .iter()
        .map(|(k, n, _)| (k.as_str(), n.as_str()))
        .collect();
    let lookup = Lookup {
        current: &current,
        names: &names,
        earlier: &earlier,
        places: &places,
    };
    for (index, resource) in resources.iter_mut().enumerate() {
        let referrer = (
            current[index].2.as_str(),
            CLUSTER_SCOPED.contains(&current[index].0.as_str()),
        );
        follow_earlier_names(slots(resource), referrer, &lookup);
        follow_earlier_names(secondary_slots(resource), referrer, &lookup);
        follow_earlier_names(custom_slots(resource, custom), referrer, &lookup);
    }
}

type Index = HashMap<(String, String), Vec<usize>>;
type Places = HashMap<(String, String, String), Vec<usize>>;

/// The build's objects, indexed for [`follow_earlier_names`].
struct Lookup<'a> {
    current: &'a [(String, String, String)],
    names: &'a HashSet<(&'a str, &'a str)>,
    earlier: &'a Index,
    places: &'a Places,
}

/// [`fix_dangling_references`] for one referrer's slots.
fn follow_earlier_names(
    slots: Vec<Slot<'_>>,
    (referrer_ns, referrer_cluster): (&str, bool),
    lookup: &Lookup<'_>,
) {
    let current = lookup.current;
    for slot in slots {
        let name = if slot.map_target {
            slot.value["name"].as_str().map(str::to_string)
        } else {
            slot.value.as_str().map(str::to_string)
        };
        let Some(name) = name else { continue };
        // A `{name, namespace}` reference follows the one object that was at that place, even
        // when another object is there now (kustomize only considers objects that moved).
        if slot.map_target
            && let Some(namespace) = slot.value["namespace"].as_str()
        {
            let key = (
                slot.kind.to_string(),
                name.clone(),
                namespace_of(namespace).to_string(),
            );
            if let Some([only]) = lookup.places.get(&key).map(Vec::as_slice) {
                let (_, new_name, new_namespace) = &current[*only];
                slot.value["name"] = Value::String(new_name.clone());
                slot.value["namespace"] = Value::String(new_namespace.clone());
            }
            continue;
        }
        if lookup.names.contains(&(slot.kind, name.as_str())) {
            continue;
        }
        let key = (slot.kind.to_string(), name);
        let candidates: Vec<usize> = lookup
            .earlier
            .get(&key)
            .into_iter()
            .flatten()
            .copied()
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
