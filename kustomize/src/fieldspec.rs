//! Field specs: where in which kinds a transformer writes (kustomize's `FieldSpec`), and the
//! walk that reaches those fields, creating missing maps when the spec says so.

use serde_json::{Map, Value};

use crate::resource::{ResId, Resource};

/// One place a transformer touches, as written in kustomize's built-in tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinSpec {
    /// API group the resource must have, or `None` for any.
    pub group: Option<&'static str>,
    /// API version the resource must have, or `None` for any.
    pub version: Option<&'static str>,
    /// Kind the resource must have, or `None` for any.
    pub kind: Option<&'static str>,
    /// Slash-separated path; `name[]` marks a list, but lists are walked either way.
    pub path: &'static str,
    /// Whether missing maps along the path are created.
    pub create: bool,
}

/// One place a transformer touches: a slash-separated path in resources of a kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSpec {
    /// API group the resource must have, or `None` for any.
    pub group: Option<String>,
    /// API version the resource must have, or `None` for any.
    pub version: Option<String>,
    /// Kind the resource must have, or `None` for any.
    pub kind: Option<String>,
    /// Slash-separated path; `name[]` marks a list, but lists are walked either way.
    pub path: String,
    /// Whether missing maps along the path are created.
    pub create: bool,
}

/// Owned field specs from a built-in table.
pub fn builtin(table: &[BuiltinSpec]) -> Vec<FieldSpec> {
    table
        .iter()
        .map(|b| FieldSpec {
            group: b.group.map(str::to_string),
            version: b.version.map(str::to_string),
            kind: b.kind.map(str::to_string),
            path: b.path.to_string(),
            create: b.create,
        })
        .collect()
}

impl FieldSpec {
    /// Parses a user-written field spec (`group`, `version`, `kind`, `path`, `create`).
    pub fn parse(value: &Value) -> Option<Self> {
        let text = |field: &str| {
            value
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Some(Self {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
            path: text("path")?,
            create: value
                .get("create")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// Whether the spec applies to the resource's group, version and kind.
    pub fn applies_to(&self, resource: &Resource) -> bool {
        self.matches(&resource.id())
    }

    /// Whether the spec applies to a resource with this id.
    pub fn matches(&self, id: &ResId) -> bool {
        self.matches_gvk(&id.group, &id.version, &id.kind)
    }

    /// Whether the spec applies to this group, version and kind.
    pub fn matches_gvk(&self, group: &str, version: &str, kind: &str) -> bool {
        self.group.as_ref().is_none_or(|g| g == group)
            && self.version.as_ref().is_none_or(|v| v == version)
            && self.kind.as_ref().is_none_or(|k| k == kind)
    }
}

const fn spec(
    group: Option<&'static str>,
    version: Option<&'static str>,
    kind: Option<&'static str>,
    path: &'static str,
    create: bool,
) -> BuiltinSpec {
    BuiltinSpec {
        group,
        version,
        kind,
        path,
        create,
    }
}

const APPS: Option<&str> = Some("apps");
const BATCH: Option<&str> = Some("batch");
const NETWORKING: Option<&str> = Some("networking.k8s.io");
const V1: Option<&str> = Some("v1");

/// Labels on the object and on the pod templates it stamps out.
pub const METADATA_LABELS: &[BuiltinSpec] = &[
    spec(None, None, None, "metadata/labels", true),
    spec(
        None,
        V1,
        Some("ReplicationController"),
        "spec/template/metadata/labels",
        true,
    ),
    spec(
        None,
        None,
        Some("Deployment"),
        "spec/template/metadata/labels",
        true,
    ),
    spec(
        None,
        None,
        Some("ReplicaSet"),
        "spec/template/metadata/labels",
        true,
    ),
    spec(
        None,
        None,
        Some("DaemonSet"),
        "spec/template/metadata/labels",
        true,
    ),
    spec(
        APPS,
        None,
        Some("StatefulSet"),
        "spec/template/metadata/labels",
        true,
    ),
    spec(
        APPS,
        None,
        Some("StatefulSet"),
        "spec/volumeClaimTemplates[]/metadata/labels",
        true,
    ),
    spec(
        BATCH,
        None,
        Some("Job"),
        "spec/template/metadata/labels",
        true,
    ),
    spec(
        BATCH,
        None,
        Some("CronJob"),
        "spec/jobTemplate/metadata/labels",
        true,
    ),
    spec(
        BATCH,
        None,
        Some("CronJob"),
        "spec/jobTemplate/spec/template/metadata/labels",
        true,
    ),
];

const AFFINITY: [&str; 5] = [
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
];

/// Selectors that must keep matching the labels `commonLabels` adds.
pub const SELECTOR_LABELS: &[BuiltinSpec] = &[
    spec(None, V1, Some("Service"), "spec/selector", true),
    spec(
        None,
        V1,
        Some("ReplicationController"),
        "spec/selector",
        true,
    ),
    spec(
        None,
        None,
        Some("Deployment"),
        "spec/selector/matchLabels",
        true,
    ),
    spec(APPS, None, Some("Deployment"), AFFINITY[0], false),
    spec(APPS, None, Some("Deployment"), AFFINITY[1], false),
    spec(APPS, None, Some("Deployment"), AFFINITY[2], false),
    spec(APPS, None, Some("Deployment"), AFFINITY[3], false),
    spec(APPS, None, Some("Deployment"), AFFINITY[4], false),
    spec(
        None,
        None,
        Some("ReplicaSet"),
        "spec/selector/matchLabels",
        true,
    ),
    spec(
        None,
        None,
        Some("DaemonSet"),
        "spec/selector/matchLabels",
        true,
    ),
    spec(
        APPS,
        None,
        Some("StatefulSet"),
        "spec/selector/matchLabels",
        true,
    ),
    spec(APPS, None, Some("StatefulSet"), AFFINITY[0], false),
    spec(APPS, None, Some("StatefulSet"), AFFINITY[1], false),
    spec(APPS, None, Some("StatefulSet"), AFFINITY[2], false),
    spec(APPS, None, Some("StatefulSet"), AFFINITY[3], false),
    spec(APPS, None, Some("StatefulSet"), AFFINITY[4], false),
    spec(BATCH, None, Some("Job"), "spec/selector/matchLabels", false),
    spec(
        BATCH,
        None,
        Some("CronJob"),
        "spec/jobTemplate/spec/selector/matchLabels",
        false,
    ),
    spec(
        Some("policy"),
        None,
        Some("PodDisruptionBudget"),
        "spec/selector/matchLabels",
        false,
    ),
    spec(
        NETWORKING,
        None,
        Some("NetworkPolicy"),
        "spec/podSelector/matchLabels",
        false,
    ),
    spec(
        NETWORKING,
        None,
        Some("NetworkPolicy"),
        "spec/ingress/from/podSelector/matchLabels",
        false,
    ),
    spec(
        NETWORKING,
        None,
        Some("NetworkPolicy"),
        "spec/egress/to/podSelector/matchLabels",
        false,
    ),
];

/// Annotations on the object and on the pod templates it stamps out.
pub const ANNOTATIONS: &[BuiltinSpec] = &[
    spec(None, None, None, "metadata/annotations", true),
    spec(
        None,
        V1,
        Some("ReplicationController"),
        "spec/template/metadata/annotations",
        true,
    ),
    spec(
        None,
        None,
        Some("Deployment"),
        "spec/template/metadata/annotations",
        true,
    ),
    spec(
        None,
        None,
        Some("ReplicaSet"),
        "spec/template/metadata/annotations",
        true,
    ),
    spec(
        None,
        None,
        Some("DaemonSet"),
        "spec/template/metadata/annotations",
        true,
    ),
    spec(
        None,
        None,
        Some("StatefulSet"),
        "spec/template/metadata/annotations",
        true,
    ),
    spec(
        BATCH,
        None,
        Some("Job"),
        "spec/template/metadata/annotations",
        true,
    ),
    spec(
        BATCH,
        None,
        Some("CronJob"),
        "spec/jobTemplate/metadata/annotations",
        true,
    ),
    spec(
        BATCH,
        None,
        Some("CronJob"),
        "spec/jobTemplate/spec/template/metadata/annotations",
        true,
    ),
];

/// Replica counts of the scalable workloads.
pub const REPLICAS: &[BuiltinSpec] = &[
    spec(None, None, Some("Deployment"), "spec/replicas", true),
    spec(
        None,
        None,
        Some("ReplicationController"),
        "spec/replicas",
        true,
    ),
    spec(None, None, Some("ReplicaSet"), "spec/replicas", true),
    spec(None, None, Some("StatefulSet"), "spec/replicas", true),
];

/// What a transformer does at a reached field: gets the parent map, the field name and the
/// spec that led there.
pub type Setter<'a> = dyn FnMut(&mut Map<String, Value>, &str, &FieldSpec) + 'a;

/// Calls `set` on every field the specs reach in the resource. The callback receives the
/// parent map and the last path segment; lists met on the way are walked element by element.
pub fn visit(resource: &mut Resource, specs: &[FieldSpec], set: &mut Setter<'_>) {
    let (group, version, kind) = resource.gvk();
    let (group, version, kind) = (group.to_string(), version.to_string(), kind.to_string());
    for spec in specs
        .iter()
        .filter(|s| s.matches_gvk(&group, &version, &kind))
    {
        let segments: Vec<&str> = spec.path.split('/').collect();
        walk(&mut resource.object, &segments, spec, set);
    }
}

fn walk(node: &mut Value, segments: &[&str], spec: &FieldSpec, set: &mut Setter<'_>) {
    if let Value::Array(items) = node {
        for item in items {
            walk(item, segments, spec, set);
        }
        return;
    }
    let Value::Object(map) = node else { return };
    let Some((segment, rest)) = segments.split_first() else {
        return;
    };
    let (first, is_list) = match segment.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (*segment, false),
    };
    if rest.is_empty() {
        set(map, first, spec);
        return;
    }
    if is_list {
        // Lists are never created (there is no element to put the field in), but kyaml turns
        // a null list field into an empty list on the way.
        if map.get(first).is_some_and(Value::is_null) {
            map.insert(first.to_string(), Value::Array(Vec::new()));
        }
    } else if map.get(first).is_none_or(Value::is_null) {
        if !spec.create {
            return;
        }
        map.insert(first.to_string(), Value::Object(Map::new()));
    }
    if let Some(child) = map.get_mut(first) {
        walk(child, rest, spec, set);
    }
}

/// Sets string entries in the map at the reached field, creating the map when allowed.
pub fn set_entries(resource: &mut Resource, specs: &[FieldSpec], entries: &[(String, String)]) {
    visit(resource, specs, &mut |parent, field, spec| {
        let missing = parent.get(field).is_none_or(Value::is_null);
        if missing {
            if !spec.create {
                return;
            }
            parent.insert(field.to_string(), Value::Object(Map::new()));
        }
        if let Some(Value::Object(target)) = parent.get_mut(field) {
            for (key, value) in entries {
                target.insert(key.clone(), Value::String(value.clone()));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_segments_never_create_but_turn_null_into_empty_lists() {
        let spec = |create| FieldSpec {
            path: "spec/containers[]/image".into(),
            create,
            ..FieldSpec::default()
        };
        let cases = [
            (
                json!({"spec": {"containers": null}}),
                true,
                json!({"spec": {"containers": []}}),
            ),
            (
                json!({"spec": {"containers": null}}),
                false,
                json!({"spec": {"containers": []}}),
            ),
            (json!({"spec": {}}), true, json!({"spec": {}})),
        ];
        for (object, create, want) in cases {
            let mut r = Resource::new(object);
            visit(&mut r, &[spec(create)], &mut |_, _, _| {});
            assert_eq!(r.object, want, "create={create}");
        }
    }

    #[test]
    fn labels_reach_selectors_and_templates() {
        let mut deployment = Resource::new(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"affinity": {"podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"podAffinityTerm": {"labelSelector": {"matchLabels": {"x": "y"}}}}
                ]}}}}}
        }));
        let labels = [("app".to_string(), "web".to_string())];
        set_entries(&mut deployment, &builtin(METADATA_LABELS), &labels);
        set_entries(&mut deployment, &builtin(SELECTOR_LABELS), &labels);
        let o = &deployment.object;
        assert_eq!(o["metadata"]["labels"]["app"], "web");
        assert_eq!(o["spec"]["selector"]["matchLabels"]["app"], "web");
        assert_eq!(o["spec"]["template"]["metadata"]["labels"]["app"], "web");
        let term = &o["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            [0];
        assert_eq!(
            term["podAffinityTerm"]["labelSelector"]["matchLabels"]["app"],
            "web"
        );
        assert!(o["spec"]["template"]["spec"]["topologySpreadConstraints"].is_null());
    }

    #[test]
    fn specs_filter_by_group_version_kind() {
        let service = Resource::new(json!({"apiVersion": "v1", "kind": "Service"}));
        let other = Resource::new(json!({"apiVersion": "v2", "kind": "Service"}));
        let selector = &builtin(SELECTOR_LABELS)[0];
        assert!(selector.applies_to(&service));
        assert!(!selector.applies_to(&other));
    }
}
