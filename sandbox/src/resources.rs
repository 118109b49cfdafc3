//! Resource types: the built-in catalogue and the types CRDs add, with everything discovery,
//! routing, tables and server-side apply need to know about a resource.

use serde_json::Value;

/// A printer column (CRD `additionalPrinterColumns`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// JSONPath evaluated on the object.
    pub json_path: String,
    /// Shown only with `-o wide` when > 0.
    pub priority: i64,
    /// Column description.
    pub description: String,
    /// Optional format.
    pub format: String,
}

/// One servable resource (group, version, plural) and its properties.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// Version served at this entry.
    pub version: String,
    /// Plural resource name.
    pub plural: String,
    /// Singular resource name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Has a `/status` subresource.
    pub status_subresource: bool,
    /// Has a `/scale` subresource (Deployments, StatefulSets, ReplicaSets).
    pub scale_subresource: bool,
    /// `metadata.generation` is maintained.
    pub generation: bool,
    /// Only `create` is allowed (access reviews).
    pub create_only: bool,
    /// The version objects are stored at (CRDs); equals `version` for built-ins.
    pub storage_version: String,
    /// Printer columns (CRDs).
    pub printer_columns: Vec<PrinterColumn>,
    /// The structural schema (CRDs).
    pub schema: Option<Value>,
    /// Whether this type comes from a CRD.
    pub custom: bool,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The verbs of the main resource.
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.create_only {
            vec!["create"]
        } else {
            vec![
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        }
    }

    /// `Kind.group` as used in Invalid messages.
    pub fn kind_group(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// Flags of a built-in entry.
const NS: u8 = 1;
const STATUS: u8 = 2;
const GEN: u8 = 4;
const SCALE: u8 = 8;
const CREATE_ONLY: u8 = 16;

/// (group, version, plural, kind, flags, short names, categories)
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u8,
    &'static [&'static str],
    &'static [&'static str],
);

const ALL: &[&str] = &["all"];

const BUILTINS: &[Entry] = &[
    ("", "v1", "namespaces", "Namespace", STATUS, &["ns"], &[]),
    ("", "v1", "configmaps", "ConfigMap", NS, &["cm"], &[]),
    ("", "v1", "secrets", "Secret", NS, &[], &[]),
    (
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        NS,
        &["sa"],
        &[],
    ),
    ("", "v1", "services", "Service", NS | STATUS, &["svc"], ALL),
    ("", "v1", "endpoints", "Endpoints", NS, &["ep"], &[]),
    ("", "v1", "pods", "Pod", NS | STATUS, &["po"], ALL),
    ("", "v1", "nodes", "Node", STATUS, &["no"], &[]),
    (
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        STATUS,
        &["pv"],
        &[],
    ),
    (
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        NS | STATUS,
        &["pvc"],
        &[],
    ),
    ("", "v1", "events", "Event", NS, &["ev"], &[]),
    (
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        NS | STATUS,
        &["quota"],
        &[],
    ),
    ("", "v1", "limitranges", "LimitRange", NS, &["limits"], &[]),
    (
        "apps",
        "v1",
        "deployments",
        "Deployment",
        NS | STATUS | GEN | SCALE,
        &["deploy"],
        ALL,
    ),
    (
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        NS | STATUS | GEN | SCALE,
        &["rs"],
        ALL,
    ),
    (
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        NS | STATUS | GEN | SCALE,
        &["sts"],
        ALL,
    ),
    (
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        NS | STATUS | GEN,
        &["ds"],
        ALL,
    ),
    ("batch", "v1", "jobs", "Job", NS | STATUS | GEN, &[], ALL),
    (
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        NS | STATUS | GEN,
        &["cj"],
        ALL,
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        NS | STATUS | GEN,
        &["ing"],
        &[],
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        GEN,
        &[],
        &[],
    ),
    (
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        NS | GEN,
        &["netpol"],
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        NS,
        &[],
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        NS,
        &[],
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        0,
        &[],
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        0,
        &[],
        &[],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        STATUS | GEN,
        &["crd", "crds"],
        &[],
    ),
    ("events.k8s.io", "v1", "events", "Event", NS, &["ev"], &[]),
    ("coordination.k8s.io", "v1", "leases", "Lease", NS, &[], &[]),
    (
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        NS | STATUS | GEN,
        &["hpa"],
        ALL,
    ),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        NS | STATUS | GEN,
        &["pdb"],
        &[],
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        0,
        &["pc"],
        &[],
    ),
    (
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        0,
        &["sc"],
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        GEN,
        &[],
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        GEN,
        &[],
        &[],
    ),
    (
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        CREATE_ONLY,
        &[],
        &[],
    ),
    (
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        CREATE_ONLY,
        &[],
        &[],
    ),
    (
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        CREATE_ONLY,
        &[],
        &[],
    ),
    (
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        NS | CREATE_ONLY,
        &[],
        &[],
    ),
    (
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        CREATE_ONLY,
        &[],
        &[],
    ),
];

/// The built-in resource types.
pub fn builtin_types() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(
            |(group, version, plural, kind, flags, short, categories)| ResourceType {
                group: group.to_string(),
                version: version.to_string(),
                plural: plural.to_string(),
                singular: kind.to_lowercase(),
                kind: kind.to_string(),
                namespaced: flags & NS != 0,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                categories: categories.iter().map(|s| s.to_string()).collect(),
                status_subresource: flags & STATUS != 0,
                scale_subresource: flags & SCALE != 0,
                generation: flags & GEN != 0,
                create_only: flags & CREATE_ONLY != 0,
                storage_version: version.to_string(),
                printer_columns: Vec::new(),
                schema: None,
                custom: false,
            },
        )
        .collect()
}

/// The resource types a CRD object makes servable (one per served version), or an empty list
/// when it is not Established.
pub fn types_from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Vec::new();
    }
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default()
        .to_string();
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            let version = v["name"].as_str()?.to_string();
            let printer_columns = v["additionalPrinterColumns"]
                .as_array()
                .map(|cols| cols.iter().map(printer_column).collect())
                .unwrap_or_default();
            Some(ResourceType {
                group: group.to_string(),
                version,
                plural: plural.to_string(),
                singular: singular.clone(),
                kind: kind.to_string(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status_subresource: v["subresources"]["status"].is_object(),
                scale_subresource: v["subresources"]["scale"].is_object(),
                generation: true,
                create_only: false,
                storage_version: storage_version.clone(),
                printer_columns,
                schema: v["schema"].get("openAPIV3Schema").cloned(),
                custom: true,
            })
        })
        .collect()
}

fn printer_column(col: &Value) -> PrinterColumn {
    let text = |k: &str| col[k].as_str().unwrap_or_default().to_string();
    PrinterColumn {
        name: text("name"),
        type_: text("type"),
        json_path: text("jsonPath"),
        priority: col["priority"].as_i64().unwrap_or(0),
        description: text("description"),
        format: text("format"),
    }
}
