//! Name references across the whole build: the last pass follows objects renamed at other
//! levels of the build (kustomize fixes references once, with every rename on record).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::slots::{NameReference, Slot, custom_rounds, custom_slots, secondary_slots, slots};
use super::{current_ids, namespace_of};
use crate::resource::Resource;

/// The last pass of a build, as kustomize fixes references once with every resource's whole
/// rename history: a reference that names no current object but an earlier name of exactly
/// one object of its kind (renamed at another level of the build) follows that object. The
/// candidates pass kustomize's namespace sieve (same current namespace as the referrer, unless
/// either is cluster-scoped or the object is a ServiceAccount).
pub fn fix_dangling_references(resources: &mut [Resource], custom: &[NameReference]) {
    let current = current_ids(resources);
    let cluster: Vec<bool> = resources.iter().map(Resource::is_cluster_scoped).collect();
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
    // kustomize only considers objects with an id history (renamed or moved) as referrals: a
    // current object that never changed does not hold a reference to its name.
    let names: HashSet<(&str, &str)> = current
        .iter()
        .zip(resources.iter())
        .filter(|(_, r)| {
            !(r.previous_names.is_empty()
                && r.previous_places.is_empty()
                && r.previous_ids.is_empty())
        })
        .map(|((k, n, _), _)| (k.as_str(), n.as_str()))
        .collect();
    let lookup = Lookup {
        current: &current,
        cluster: &cluster,
        names: &names,
        earlier: &earlier,
        places: &places,
    };
    let rounds = custom_rounds(custom);
    for (index, resource) in resources.iter_mut().enumerate() {
        let referrer = (current[index].2.as_str(), cluster[index]);
        follow_earlier_names(slots(resource), referrer, &lookup);
        follow_earlier_names(secondary_slots(resource), referrer, &lookup);
        for round in &rounds {
            follow_earlier_names(custom_slots(resource, round), referrer, &lookup);
        }
    }
}

type Index = HashMap<(String, String), Vec<usize>>;
type Places = HashMap<(String, String, String), Vec<usize>>;

/// The build's objects, indexed for [`follow_earlier_names`].
struct Lookup<'a> {
    current: &'a [(String, String, String)],
    /// Whether each current object is cluster-scoped.
    cluster: &'a [bool],
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
                    || lookup.cluster[i]
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

/// A ClusterRoleBinding a patch turned into a RoleBinding: kustomize points its subjects at
/// ServiceAccounts once, at the end of the build, when it is already namespaced, and a
/// namespaced binding reaches only accounts in its own namespace or in a namespace its
/// subjects name. A subject that named no namespace and was pointed at an account elsewhere
/// (while the binding was cluster-scoped) goes back to what the file wrote.
pub fn unbind_subjects_of_former_cluster_bindings(resources: &mut [Resource]) {
    for binding in resources.iter_mut() {
        let was_cluster = binding
            .previous_ids
            .iter()
            .any(|(kind, _)| kind == "ClusterRoleBinding");
        if binding.kind() != "RoleBinding" || !was_cluster || binding.original_subjects.is_empty() {
            continue;
        }
        let own = namespace_of(&binding.id().namespace).to_string();
        let written: Vec<&str> = binding
            .original_subjects
            .iter()
            .filter_map(|(_, ns)| ns.as_deref())
            .collect();
        let allowed = |ns: &str| namespace_of(ns) == own || written.contains(&ns);
        let originals = binding.original_subjects.clone();
        let subjects = binding
            .object
            .get_mut("subjects")
            .and_then(Value::as_array_mut);
        let accounts = subjects
            .into_iter()
            .flatten()
            .filter(|s| s["kind"] == "ServiceAccount");
        for (subject, (name, namespace)) in accounts.zip(originals) {
            let Some(now) = subject["namespace"].as_str().map(str::to_string) else {
                continue;
            };
            if namespace.is_some() || name == "default" || allowed(&now) {
                continue;
            }
            if let Some(map) = subject.as_object_mut() {
                map.remove("namespace");
                map.insert("name".into(), Value::String(name));
            }
        }
    }
}

/// The ServiceAccount subjects of a role binding, as `(name, namespace)`.
pub fn service_account_subjects(object: &Value) -> Vec<(String, Option<String>)> {
    if !matches!(
        object["kind"].as_str(),
        Some("RoleBinding" | "ClusterRoleBinding")
    ) {
        return Vec::new();
    }
    object["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == "ServiceAccount")
        .filter_map(|s| {
            let name = s["name"].as_str()?.to_string();
            Some((name, s["namespace"].as_str().map(str::to_string)))
        })
        .collect()
}

/// kustomize resolves a role binding's ServiceAccount subject once, over the whole build: of
/// the accounts renamed or moved from the name the file wrote (in the namespace it wrote, if
/// any), they must all be the same object now, else the build fails. Per level, each base saw
/// only its own accounts; this is the check across them.
pub fn check_subject_referrals(resources: &[Resource]) -> Result<(), String> {
    let mut by_earlier_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, resource) in resources.iter().enumerate() {
        if resource.kind() != "ServiceAccount" {
            continue;
        }
        let mut names: Vec<&str> = resource
            .previous_places
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            by_earlier_name.entry(name).or_default().push(i);
        }
    }
    if by_earlier_name.is_empty() {
        return Ok(());
    }
    for binding in resources.iter().filter(|r| !r.original_subjects.is_empty()) {
        for (name, namespace) in &binding.original_subjects {
            let candidates: Vec<usize> = by_earlier_name
                .get(name.as_str())
                .into_iter()
                .flatten()
                .filter(|&&i| {
                    namespace.as_ref().is_none_or(|ns| {
                        let r = &resources[i];
                        namespace_of(&r.id().namespace) == namespace_of(ns)
                            || r.previous_places
                                .iter()
                                .any(|(n, pns)| n == name && namespace_of(pns) == namespace_of(ns))
                    })
                })
                .copied()
                .collect();
            let distinct = |list: &[usize]| {
                let mut ids: Vec<(String, String)> = list
                    .iter()
                    .map(|&i| {
                        let id = resources[i].id();
                        (id.name, id.namespace)
                    })
                    .collect();
                ids.sort();
                ids.dedup();
                ids
            };
            if distinct(&candidates).len() <= 1 {
                continue;
            }
            // kustomize then prefers the accounts renamed like the binding (same prefixes and
            // suffixes, an empty list matching anything first).
            let alike = |either_empty: bool| {
                candidates
                    .iter()
                    .copied()
                    .filter(|&i| same_affixes(binding, &resources[i], either_empty))
                    .collect::<Vec<usize>>()
            };
            let loose = alike(true);
            if distinct(&loose).len() <= 1 {
                continue;
            }
            let strict: Vec<usize> = alike(false)
                .into_iter()
                .filter(|i| loose.contains(i))
                .collect();
            let distinct = distinct(&strict);
            if distinct.len() > 1 {
                let listed: Vec<String> = distinct
                    .iter()
                    .map(|(n, ns)| {
                        format!(
                            "ServiceAccount.v1.[noGrp]/{n}.{}",
                            if ns.is_empty() { "[noNs]" } else { ns }
                        )
                    })
                    .collect();
                return Err(format!(
                    "updating name reference in 'subjects' field of '{}': found multiple possible referrals: {}",
                    binding.id().display_string(),
                    listed.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// kustomize's `PrefixesSuffixesEquals`: both lists end the same way (the shorter is the end
/// of the longer); with `either_empty`, an empty list on either side matches.
fn same_affixes(a: &Resource, b: &Resource, either_empty: bool) -> bool {
    let same_ending = |x: &[String], y: &[String]| {
        let (short, long) = if x.len() <= y.len() { (x, y) } else { (y, x) };
        if short.is_empty() {
            return long.is_empty();
        }
        long.ends_with(short)
    };
    let fits = |x: &[String], y: &[String]| {
        (either_empty && (x.is_empty() || y.is_empty())) || same_ending(x, y)
    };
    fits(&a.prefixes, &b.prefixes) && fits(&a.suffixes, &b.suffixes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with_affixes(prefixes: &[&str], suffixes: &[&str]) -> Resource {
        let mut r = Resource::new(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "x"}}));
        r.prefixes = prefixes.iter().map(|s| s.to_string()).collect();
        r.suffixes = suffixes.iter().map(|s| s.to_string()).collect();
        r
    }

    #[test]
    fn affixes_match_when_the_shorter_list_ends_the_longer() {
        let binding = with_affixes(&["pfx-", "a-"], &["-sfx", "-a"]);
        let cases = [
            (with_affixes(&["pfx-", "a-"], &["-sfx", "-a"]), false, true),
            (with_affixes(&["a-"], &["-a"]), false, true),
            (with_affixes(&["pfx-", "b-"], &["-sfx", "-b"]), false, false),
            (with_affixes(&[], &[]), false, false),
            (with_affixes(&[], &[]), true, true),
        ];
        for (account, either_empty, want) in cases {
            assert_eq!(
                same_affixes(&binding, &account, either_empty),
                want,
                "{:?} {:?} {either_empty}",
                account.prefixes,
                account.suffixes
            );
        }
    }
}
