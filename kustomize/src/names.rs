//! Name transformations and name-reference fix-up: `namePrefix`/`nameSuffix`, and updating
//! every field that refers to a renamed object (ConfigMaps and Secrets in pod specs, service
//! accounts, roles, services, claims...), as kustomize's name-reference transformer does.

use serde_json::Value;

use crate::fieldspec::FieldSpec;
use crate::resource::{CLUSTER_SCOPED, Resource};

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

const WORKLOADS: &[(&str, &[&str])] = &[
    ("Pod", &["spec"]),
    ("Deployment", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("ReplicationController", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

fn at_mut<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, key| node.get_mut(*key))
}

/// A place that may hold a reference: the value to rewrite and the referenced kind.
struct Slot<'a> {
    kind: &'a str,
    /// The name, or (for a whole-object reference) the `{name, namespace}` map.
    value: &'a mut Value,
    /// Namespace given next to the reference (RBAC subjects), if any.
    namespace: Option<String>,
    /// `value` is a `{name, namespace}` map whose namespace follows the referral too
    /// (webhook `clientConfig.service`).
    map_target: bool,
}

fn containers_slots<'a>(pod: &'a mut Value, out: &mut Vec<Slot<'a>>) {
    let Value::Object(spec) = pod else { return };
    for (key, value) in spec.iter_mut() {
        match key.as_str() {
            "serviceAccountName" | "serviceAccount" => out.push(Slot {
                kind: "ServiceAccount",
                value,
                namespace: None,
                map_target: false,
            }),
            "priorityClassName" => out.push(Slot {
                kind: "PriorityClass",
                value,
                namespace: None,
                map_target: false,
            }),
            "imagePullSecrets" => {
                for item in value.as_array_mut().into_iter().flatten() {
                    if let Some(v) = item.get_mut("name") {
                        out.push(Slot {
                            kind: "Secret",
                            value: v,
                            namespace: None,
                            map_target: false,
                        });
                    }
                }
            }
            "volumes" => {
                for volume in value.as_array_mut().into_iter().flatten() {
                    let Value::Object(volume) = volume else {
                        continue;
                    };
                    for (vkey, source) in volume.iter_mut() {
                        match vkey.as_str() {
                            "configMap" => push(source, "name", "ConfigMap", out),
                            "secret" => push(source, "secretName", "Secret", out),
                            "persistentVolumeClaim" => {
                                push(source, "claimName", "PersistentVolumeClaim", out)
                            }
                            "projected" => {
                                for s in source
                                    .get_mut("sources")
                                    .and_then(Value::as_array_mut)
                                    .into_iter()
                                    .flatten()
                                {
                                    let Value::Object(s) = s else { continue };
                                    for (skey, inner) in s.iter_mut() {
                                        match skey.as_str() {
                                            "configMap" => push(inner, "name", "ConfigMap", out),
                                            "secret" => push(inner, "name", "Secret", out),
                                            _ => {}
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            "containers" | "initContainers" | "ephemeralContainers" => {
                for container in value.as_array_mut().into_iter().flatten() {
                    let Value::Object(container) = container else {
                        continue;
                    };
                    for (ckey, cvalue) in container.iter_mut() {
                        match ckey.as_str() {
                            "env" => {
                                for env in cvalue.as_array_mut().into_iter().flatten() {
                                    let Some(Value::Object(from)) = env.get_mut("valueFrom") else {
                                        continue;
                                    };
                                    for (fkey, r) in from.iter_mut() {
                                        match fkey.as_str() {
                                            "configMapKeyRef" => push(r, "name", "ConfigMap", out),
                                            "secretKeyRef" => push(r, "name", "Secret", out),
                                            _ => {}
                                        }
                                    }
                                }
                            }
                            "envFrom" => {
                                for from in cvalue.as_array_mut().into_iter().flatten() {
                                    let Value::Object(from) = from else { continue };
                                    for (fkey, r) in from.iter_mut() {
                                        match fkey.as_str() {
                                            "configMapRef" => push(r, "name", "ConfigMap", out),
                                            "secretRef" => push(r, "name", "Secret", out),
                                            _ => {}
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn push<'a>(holder: &'a mut Value, field: &str, kind: &'static str, out: &mut Vec<Slot<'a>>) {
    if let Some(value) = holder.get_mut(field) {
        out.push(Slot {
            kind,
            value,
            namespace: None,
            map_target: false,
        });
    }
}

/// A `nameReference` entry of `configurations`: fields (per referrer) that hold names of
/// objects of `kind`.
#[derive(Clone, Debug)]
pub struct NameReference {
    /// The referenced kind.
    pub kind: String,
    /// Where referrers hold the name.
    pub field_specs: Vec<crate::fieldspec::FieldSpec>,
}

impl NameReference {
    /// Parses one `nameReference` entry.
    pub fn parse(value: &Value) -> Option<Self> {
        let kind = value.get("kind")?.as_str()?.to_string();
        let field_specs = value
            .get("fieldSpecs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(crate::fieldspec::FieldSpec::parse)
            .collect();
        Some(Self { kind, field_specs })
    }
}

fn custom_slots<'a>(resource: &'a mut Resource, custom: &'a [NameReference]) -> Vec<Slot<'a>> {
    let id = resource.id();
    let mut wanted: Vec<(&'a str, Vec<&'a str>)> = Vec::new();
    for reference in custom {
        for spec in reference.field_specs.iter().filter(|s| s.matches(&id)) {
            wanted.push((reference.kind.as_str(), spec.path.split('/').collect()));
        }
    }
    let mut found = Vec::new();
    if !wanted.is_empty() {
        collect_many(&mut resource.object, &wanted, &mut found);
    }
    found
        .into_iter()
        .map(|(kind, value)| Slot {
            kind,
            value,
            namespace: None,
            map_target: false,
        })
        .collect()
}

/// Walks several paths in one mutable pass (paths sharing a prefix descend together; lists
/// are walked element by element; a list at the end yields its string items).
fn collect_many<'a>(
    value: &'a mut Value,
    paths: &[(&'a str, Vec<&'a str>)],
    out: &mut Vec<(&'a str, &'a mut Value)>,
) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect_many(item, paths, out);
            }
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let here: Vec<(&'a str, Vec<&'a str>)> = paths
                    .iter()
                    .filter(|(_, p)| {
                        p.first().map(|f| f.trim_end_matches("[]")) == Some(key.as_str())
                    })
                    .map(|(k, p)| (*k, p[1..].to_vec()))
                    .collect();
                if here.is_empty() {
                    continue;
                }
                if let Some((kind, _)) = here.iter().find(|(_, p)| p.is_empty()) {
                    match child {
                        Value::Array(items) => {
                            out.extend(
                                items
                                    .iter_mut()
                                    .filter(|i| i.is_string())
                                    .map(|v| (*kind, v)),
                            );
                        }
                        other => out.push((kind, other)),
                    }
                    continue;
                }
                collect_many(child, &here, out);
            }
        }
        _ => {}
    }
}

fn slots(resource: &mut Resource) -> Vec<Slot<'_>> {
    let kind = resource.kind().to_string();
    let mut out = Vec::new();
    let object = &mut resource.object;
    if let Some((_, path)) = WORKLOADS.iter().find(|(k, _)| *k == kind) {
        if let Some(pod) = at_mut(object, path) {
            containers_slots(pod, &mut out);
        }
        return out;
    }
    match kind.as_str() {
        "RoleBinding" | "ClusterRoleBinding" => {
            let Value::Object(map) = object else {
                return out;
            };
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "roleRef" => {
                        let target = if value["kind"] == "Role" {
                            "Role"
                        } else {
                            "ClusterRole"
                        };
                        push(value, "name", target, &mut out);
                    }
                    "subjects" => {
                        for subject in value.as_array_mut().into_iter().flatten() {
                            if subject["kind"] != "ServiceAccount" {
                                continue;
                            }
                            let namespace = subject["namespace"].as_str().map(str::to_string);
                            if let Some(v) = subject.get_mut("name") {
                                out.push(Slot {
                                    kind: "ServiceAccount",
                                    value: v,
                                    namespace: Some(namespace.unwrap_or_default()),
                                    map_target: false,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        "ServiceAccount" => {
            let Value::Object(map) = object else {
                return out;
            };
            for (key, value) in map.iter_mut() {
                if key == "imagePullSecrets" || key == "secrets" {
                    for item in value.as_array_mut().into_iter().flatten() {
                        push(item, "name", "Secret", &mut out);
                    }
                }
            }
        }
        "Ingress" => {
            let Some(Value::Object(spec)) = object.get_mut("spec") else {
                return out;
            };
            for (key, value) in spec.iter_mut() {
                match key.as_str() {
                    "tls" => {
                        for tls in value.as_array_mut().into_iter().flatten() {
                            push(tls, "secretName", "Secret", &mut out);
                        }
                    }
                    "defaultBackend" => {
                        if let Some(service) = value.get_mut("service") {
                            push(service, "name", "Service", &mut out);
                        }
                    }
                    "rules" => {
                        for rule in value.as_array_mut().into_iter().flatten() {
                            for path in rule
                                .get_mut("http")
                                .and_then(|h| h.get_mut("paths"))
                                .and_then(Value::as_array_mut)
                                .into_iter()
                                .flatten()
                            {
                                if let Some(service) =
                                    path.get_mut("backend").and_then(|b| b.get_mut("service"))
                                {
                                    push(service, "name", "Service", &mut out);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
            let webhooks = object.get_mut("webhooks").and_then(Value::as_array_mut);
            for webhook in webhooks.into_iter().flatten() {
                if let Some(service) = webhook
                    .get_mut("clientConfig")
                    .and_then(|c| c.get_mut("service"))
                    .filter(|s| s.is_object())
                {
                    let namespace = service["namespace"].as_str().map(str::to_string);
                    out.push(Slot {
                        kind: "Service",
                        value: service,
                        namespace,
                        map_target: true,
                    });
                }
            }
        }
        "ValidatingAdmissionPolicyBinding" => {
            if let Some(spec) = object.get_mut("spec") {
                push(spec, "policyName", "ValidatingAdmissionPolicy", &mut out);
            }
        }
        "APIService" => {
            if let Some(service) = object.get_mut("spec").and_then(|s| s.get_mut("service")) {
                push(service, "name", "Service", &mut out);
            }
        }
        "HorizontalPodAutoscaler" => {
            if let Some(target) = object
                .get_mut("spec")
                .and_then(|s| s.get_mut("scaleTargetRef"))
            {
                let kind = match target["kind"].as_str() {
                    Some("Deployment") => "Deployment",
                    Some("StatefulSet") => "StatefulSet",
                    Some("ReplicaSet") => "ReplicaSet",
                    _ => return out,
                };
                push(target, "name", kind, &mut out);
            }
        }
        "PersistentVolumeClaim" => {
            if let Some(Value::Object(spec)) = object.get_mut("spec") {
                for (key, value) in spec.iter_mut() {
                    match key.as_str() {
                        "volumeName" => out.push(Slot {
                            kind: "PersistentVolume",
                            value,
                            namespace: None,
                            map_target: false,
                        }),
                        "storageClassName" => out.push(Slot {
                            kind: "StorageClass",
                            value,
                            namespace: None,
                            map_target: false,
                        }),
                        _ => {}
                    }
                }
            }
        }
        _ => {}
    }
    out
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
    let current: Vec<(String, String, String)> = resources
        .iter()
        .map(|r| {
            let id = r.id();
            (id.kind, id.name, id.namespace)
        })
        .collect();
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
    for (index, resource) in resources.iter_mut().enumerate() {
        let referrer_namespace = before
            .before(resource.serial)
            .map(|id| id.2.clone())
            .unwrap_or_else(|| current[index].2.clone());
        let cluster_scoped = CLUSTER_SCOPED.contains(&current[index].0.as_str());
        let referrer = (referrer_namespace.as_str(), cluster_scoped);
        let builtin = slots(resource);
        rewrite(builtin, referrer, &by_name, &current)?;
        let extra = custom_slots(resource, custom);
        rewrite(extra, referrer, &by_name, &current)?;
    }
    Ok(())
}

type ByName<'a> = std::collections::HashMap<(&'a str, &'a str), Vec<(usize, &'a str)>>;

/// Rewrites the references found in `slots` to the new names of renamed objects. `referrer`
/// is the referring object's namespace and whether its kind is cluster-scoped (a
/// cluster-scoped referrer without an explicit namespace may point into any namespace).
fn rewrite(
    slots: Vec<Slot<'_>>,
    (referrer_namespace, referrer_cluster_scoped): (&str, bool),
    by_name: &ByName<'_>,
    current: &[(String, String, String)],
) -> Result<(), String> {
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
                CLUSTER_SCOPED.contains(&slot.kind)
                    || (referrer_cluster_scoped && slot.namespace.is_none())
                    // kustomize lets ServiceAccounts through its namespace sieve: a workload
                    // may name one from another namespace.
                    || (slot.kind == "ServiceAccount" && slot.namespace.is_none())
                    || namespace_of(old_ns) == namespace_of(&wanted_ns)
                    // An explicit namespace next to the reference (RBAC subjects) may already
                    // have followed the namespace transformer.
                    || (slot.namespace.is_some()
                        && namespace_of(&current[*i].2) == namespace_of(&wanted_ns))
            })
            .map(|(i, _)| *i)
            .collect();
        match candidates.as_slice() {
            [] => {}
            [only] if slot.map_target => {
                let (_, new_name, new_namespace) = &current[*only];
                slot.value["name"] = Value::String(new_name.clone());
                if slot.value.get("namespace").is_some() {
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
