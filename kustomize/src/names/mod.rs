//! Name transformations and name-reference fix-up: `namePrefix`/`nameSuffix`, and updating
//! every field that refers to a renamed object (ConfigMaps and Secrets in pod specs, service
//! accounts, roles, services, claims...), as kustomize's name-reference transformer does.

use serde_json::Value;

mod history;
mod slots;

pub use history::{
    check_subject_referrals, fix_dangling_references, service_account_subjects,
    unbind_subjects_of_former_cluster_bindings,
};
pub use slots::NameReference;
use slots::{Slot, custom_rounds, custom_slots, secondary_slots, slots};

use crate::fieldspec::FieldSpec;
use crate::resource::Resource;

/// Kinds whose names prefixes and suffixes never touch.
/// Kinds kustomize never prefixes or suffixes: `(group, kind)`, `None` for any group.
const UNPREFIXED: &[(Option<&str>, &str)] = &[
    (None, "Namespace"),
    (None, "CustomResourceDefinition"),
    (Some("apiregistration.k8s.io"), "APIService"),
];

/// The default field specs of `namePrefix` and `nameSuffix`.
pub fn default_name_specs() -> Vec<FieldSpec> {
    vec![FieldSpec {
        path: "metadata/name".into(),
        ..FieldSpec::default()
    }]
}

/// Adds `prefix` and `suffix` at the places `specs` name: `metadata/name` renames the resource
/// (kept in its rename history), other paths change the string found there.
pub fn prefix_suffix(resources: &mut [Resource], prefix: &str, suffix: &str, specs: &[FieldSpec]) {
    for resource in resources.iter_mut() {
        let id = resource.id();
        if UNPREFIXED
            .iter()
            .any(|(group, kind)| id.kind == *kind && group.is_none_or(|g| g == id.group))
        {
            continue;
        }
        for spec in specs.iter().filter(|s| s.matches(&id)) {
            if spec.path == "metadata/name" {
                let name = resource.object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default();
                let renamed = format!("{prefix}{name}{suffix}");
                resource.rename(renamed);
                if !prefix.is_empty() {
                    resource.prefixes.push(prefix.to_string());
                }
                if !suffix.is_empty() {
                    resource.suffixes.push(suffix.to_string());
                }
                continue;
            }
            crate::fieldspec::visit(
                resource,
                std::slice::from_ref(spec),
                &mut |parent, field, _| {
                    if let Some(Value::String(value)) = parent.get_mut(field) {
                        *value = format!("{prefix}{value}{suffix}");
                    }
                },
            );
        }
    }
}

/// The identity of every resource before this level's transformations.
#[derive(Clone, Debug)]
pub struct Snapshot {
    ids: std::collections::HashMap<u64, (String, String, String)>,
}

impl Snapshot {
    /// Records `(kind, name, namespace)` of each resource, in order.
    pub fn take(resources: &[Resource]) -> Self {
        Self {
            ids: resources
                .iter()
                .map(|r| {
                    let id = r.id();
                    (r.serial, (id.kind, id.name, id.namespace))
                })
                .collect(),
        }
    }

    /// The `(kind, name, namespace)` the resource with this serial had, if it existed.
    fn before(&self, serial: u64) -> Option<&(String, String, String)> {
        self.ids.get(&serial)
    }
}

/// `(kind, name, namespace)` of every resource, in order.
fn current_ids(resources: &[Resource]) -> Vec<(String, String, String)> {
    resources
        .iter()
        .map(|r| {
            let id = r.id();
            (id.kind, id.name, id.namespace)
        })
        .collect()
}

fn namespace_of(ns: &str) -> &str {
    if ns.is_empty() { "default" } else { ns }
}

/// Rewrites references to resources renamed since `before` was taken; a reference that could
/// mean several renamed objects is an error, as in kustomize.
pub fn fix_references(
    resources: &mut [Resource],
    before: &Snapshot,
    custom: &[NameReference],
) -> Result<(), String> {
    for resource in resources.iter() {
        if !matches!(resource.kind(), "RoleBinding" | "ClusterRoleBinding") {
            continue;
        }
        let subjects = resource.object["subjects"].as_array().into_iter().flatten();
        for subject in subjects.filter(|s| s["kind"] == "ServiceAccount") {
            if subject
                .get("namespace")
                .is_some_and(|ns| ns.is_null() || ns == "")
            {
                return Err(format!(
                    "Invalid Input: namespace is blank for resource \"{}\"",
                    resource.id().display_string()
                ));
            }
        }
    }
    let current = current_ids(resources);
    let cluster: Vec<bool> = resources.iter().map(Resource::is_cluster_scoped).collect();
    let original: Vec<String> = resources.iter().map(|r| r.original_place().1).collect();
    let known = Known {
        current: &current,
        cluster: &cluster,
        original_namespace: &original,
    };
    let renamed: Vec<(usize, &(String, String, String))> = resources
        .iter()
        .enumerate()
        .filter_map(|(i, r)| before.before(r.serial).map(|old| (i, old)))
        .filter(|(i, old)| current[*i].1 != old.1 || current[*i].2 != old.2)
        .collect();
    if renamed.is_empty() {
        return Ok(());
    }
    let mut by_name: std::collections::HashMap<(&str, &str), Vec<(usize, &str)>> =
        std::collections::HashMap::new();
    for (i, (kind, old_name, old_ns)) in &renamed {
        by_name
            .entry((kind.as_str(), old_name.as_str()))
            .or_default()
            .push((*i, old_ns.as_str()));
    }
    let rounds = custom_rounds(custom);
    for (index, resource) in resources.iter_mut().enumerate() {
        let referrer_namespace = before
            .before(resource.serial)
            .map(|id| id.2.clone())
            .unwrap_or_else(|| current[index].2.clone());
        let referrer = (referrer_namespace.as_str(), cluster[index]);
        let builtin = slots(resource);
        rewrite(builtin, referrer, &by_name, &known)?;
        rewrite(secondary_slots(resource), referrer, &by_name, &known)?;
        for round in &rounds {
            rewrite(custom_slots(resource, round), referrer, &by_name, &known)?;
        }
    }
    Ok(())
}

/// What is known of each object of the build, by index.
struct Known<'a> {
    /// `(kind, name, namespace)` now.
    current: &'a [(String, String, String)],
    /// Whether its kind is cluster-scoped.
    cluster: &'a [bool],
    /// The namespace it had when it entered the build.
    original_namespace: &'a [String],
}

type ByName<'a> = std::collections::HashMap<(&'a str, &'a str), Vec<(usize, &'a str)>>;

/// Rewrites the references found in `slots` to the new names of renamed objects. `referrer`
/// is the referring object's namespace and whether its kind is cluster-scoped (a
/// cluster-scoped referrer without an explicit namespace may point into any namespace).
fn rewrite(
    slots: Vec<Slot<'_>>,
    (referrer_namespace, referrer_cluster_scoped): (&str, bool),
    by_name: &ByName<'_>,
    known: &Known<'_>,
) -> Result<(), String> {
    let (current, cluster) = (known.current, known.cluster);
    for slot in slots {
        let name = if slot.map_target {
            slot.value["name"].as_str().map(str::to_string)
        } else {
            slot.value.as_str().map(str::to_string)
        };
        let Some(name) = name else {
            continue;
        };
        let wanted_ns = slot
            .namespace
            .clone()
            .unwrap_or_else(|| referrer_namespace.to_string());
        let candidates: Vec<usize> = by_name
            .get(&(slot.kind, name.as_str()))
            .into_iter()
            .flatten()
            .filter(|(i, old_ns)| {
                cluster[*i]
                    || (referrer_cluster_scoped && slot.namespace.is_none())
                    // kustomize lets ServiceAccounts through its namespace sieve: a workload
                    // may name one from another namespace.
                    || (slot.kind == "ServiceAccount" && slot.namespace.is_none())
                    || namespace_of(old_ns) == namespace_of(&wanted_ns)
                    // An explicit namespace next to the reference (RBAC subjects) may already
                    // have followed the namespace transformer.
                    || (slot.namespace.is_some()
                        && namespace_of(&current[*i].2) == namespace_of(&wanted_ns))
                    // ... or still name the namespace the object had when it entered the
                    // build (kustomize groups candidates by their original namespace first).
                    || (slot.map_target
                        && slot.value.get("namespace").is_some()
                        && namespace_of(&known.original_namespace[*i]) == namespace_of(&wanted_ns))
            })
            .map(|(i, _)| *i)
            .collect();
        match candidates.as_slice() {
            [] => {}
            [only] if slot.map_target => {
                let (_, new_name, new_namespace) = &current[*only];
                slot.value["name"] = Value::String(new_name.clone());
                // kustomize leaves the namespace when the referral has none.
                if slot.value.get("namespace").is_some() && !new_namespace.is_empty() {
                    slot.value["namespace"] = Value::String(new_namespace.clone());
                }
            }
            [only] => *slot.value = Value::String(current[*only].1.clone()),
            several => {
                let names: Vec<String> = several
                    .iter()
                    .map(|i| format!("{}/{}.{}", current[*i].0, current[*i].1, current[*i].2))
                    .collect();
                return Err(format!(
                    "updating name reference to {} '{name}': found multiple possible referrals: {}",
                    slot.kind,
                    names.join(", ")
                ));
            }
        }
    }
    Ok(())
}
