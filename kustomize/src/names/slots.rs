//! Where objects name other objects: the built-in reference fields of each kind (pod specs,
//! RBAC bindings, ingresses, webhooks...) and the `nameReference` entries of `configurations`,
//! collected as mutable slots for the name-reference fix-up.

use serde_json::Value;

use crate::resource::Resource;

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
pub(super) struct Slot<'a> {
    pub(super) kind: &'a str,
    /// The name, or (for a whole-object reference) the `{name, namespace}` map.
    pub(super) value: &'a mut Value,
    /// Namespace given next to the reference (RBAC subjects), if any.
    pub(super) namespace: Option<String>,
    /// `value` is a `{name, namespace}` map whose namespace follows the referral too
    /// (webhook `clientConfig.service`, RBAC subjects).
    pub(super) map_target: bool,
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

/// The custom references split by referenced kind: one field may name objects of several
/// kinds (`rules/resourceNames` for two webhook kinds), and kustomize checks it against each
/// in turn, so each kind gets a pass of its own.
pub(super) fn custom_rounds(custom: &[NameReference]) -> Vec<Vec<NameReference>> {
    let mut rounds: Vec<Vec<NameReference>> = Vec::new();
    for reference in custom {
        match rounds.iter_mut().find(|r| r[0].kind == reference.kind) {
            Some(round) => round.push(reference.clone()),
            None => rounds.push(vec![reference.clone()]),
        }
    }
    rounds
}

pub(super) fn custom_slots<'a>(
    resource: &'a mut Resource,
    custom: &'a [NameReference],
) -> Vec<Slot<'a>> {
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

pub(super) fn slots(resource: &mut Resource) -> Vec<Slot<'_>> {
    let kind = resource.kind().to_string();
    let mut out = Vec::new();
    let object = &mut resource.object;
    if let Some((_, path)) = WORKLOADS.iter().find(|(k, _)| *k == kind) {
        if kind == "StatefulSet" {
            // The governing Service, next to the pod template.
            let Some(Value::Object(spec)) = object.get_mut("spec") else {
                return out;
            };
            for (key, value) in spec.iter_mut() {
                match key.as_str() {
                    "serviceName" => out.push(Slot {
                        kind: "Service",
                        value,
                        namespace: None,
                        map_target: false,
                    }),
                    "template" => {
                        if let Some(pod) = value.get_mut("spec") {
                            containers_slots(pod, &mut out);
                        }
                    }
                    _ => {}
                }
            }
            return out;
        }
        if let Some(pod) = at_mut(object, path) {
            containers_slots(pod, &mut out);
        }
        return out;
    }
    match kind.as_str() {
        "Role" | "ClusterRole" => role_resource_names(object, "ConfigMap", &mut out),
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
                            if subject.get("name").is_some() {
                                // The subject's namespace follows the account too.
                                out.push(Slot {
                                    kind: "ServiceAccount",
                                    value: subject,
                                    namespace: Some(namespace.unwrap_or_default()),
                                    map_target: true,
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

/// `rules[].resourceNames[]` of a Role or ClusterRole as references to objects of `kind`
/// (kustomize lists them for ConfigMaps and for Secrets, whatever the rule's resources).
fn role_resource_names<'a>(object: &'a mut Value, kind: &'static str, out: &mut Vec<Slot<'a>>) {
    let rules = object.get_mut("rules").and_then(Value::as_array_mut);
    for rule in rules.into_iter().flatten() {
        let names = rule.get_mut("resourceNames").and_then(Value::as_array_mut);
        for value in names.into_iter().flatten().filter(|v| v.is_string()) {
            out.push(Slot {
                kind,
                value,
                namespace: None,
                map_target: false,
            });
        }
    }
}

/// References a field holds to a second kind (role `resourceNames` also name Secrets),
/// rewritten in a pass of their own after [`slots`].
pub(super) fn secondary_slots(resource: &mut Resource) -> Vec<Slot<'_>> {
    let mut out = Vec::new();
    if matches!(resource.kind(), "Role" | "ClusterRole") {
        role_resource_names(&mut resource.object, "Secret", &mut out);
    }
    out
}
