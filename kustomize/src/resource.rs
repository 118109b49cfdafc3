//! Resources and their identity (group, version, kind, namespace, name), and kustomize's
//! legacy output order.

use std::cmp::Ordering;

use serde_json::Value;

/// One resource of a build.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The object.
    pub object: Value,
    /// Names it had before renames (prefixes, suffixes), oldest first; selectors match them too.
    pub previous_names: Vec<String>,
    /// `(kind, name)` it had before a patch changed its kind, oldest first.
    pub previous_ids: Vec<(String, String)>,
    /// `(name, namespace)` it had before each rename or move, oldest first.
    pub previous_places: Vec<(String, String)>,
    /// For role bindings: the ServiceAccount subjects as the file wrote them (name, namespace).
    pub original_subjects: Vec<(String, Option<String>)>,
    /// Name prefixes applied to it, innermost first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied to it, innermost first.
    pub suffixes: Vec<String>,
    /// Generated and waiting for its content-hash suffix.
    pub needs_hash: bool,
    /// Identifies the resource across transformations that add, remove or reorder others.
    pub serial: u64,
    /// Where the resource came from (for `buildMetadata: [originAnnotations]`).
    pub origin: Option<Origin>,
    /// The transformers that ran while the resource was in the build, in order (recorded only
    /// for `buildMetadata: [transformerAnnotations]`).
    pub transformations: Vec<std::sync::Arc<Configured>>,
    /// Mapping values the source file spelled `null` or `~` (strategic merge keeps them).
    pub explicit_nulls: crate::yaml::ExplicitNulls,
}

/// A generator or transformer: the file that configured it and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configured {
    /// The kustomization or plugin configuration file (absolute path).
    pub configured_in: std::path::PathBuf,
    /// `builtin` for the kustomization's own fields, else the plugin config's apiVersion.
    pub api_version: String,
    /// `ConfigMapGenerator`, `PrefixTransformer`, ... or the plugin config's kind.
    pub kind: String,
    /// The plugin config's name (empty for built-in fields).
    pub name: String,
    /// The plugin config's namespace (usually empty).
    pub namespace: String,
}

/// Where a resource came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file (absolute path).
    File(std::path::PathBuf),
    /// A generator (a kustomization field or a plugin config).
    Generator(std::sync::Arc<Configured>),
}

static NEXT_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The identity of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResId {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` when unset).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Resource {
    /// A resource with no rename history.
    pub fn new(object: Value) -> Self {
        Self {
            object,
            previous_names: Vec::new(),
            previous_ids: Vec::new(),
            previous_places: Vec::new(),
            original_subjects: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            serial: NEXT_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            origin: None,
            transformations: Vec::new(),
            explicit_nulls: Vec::new(),
        }
    }

    /// Renames the resource, remembering the old name.
    pub fn rename(&mut self, name: String) {
        let old = self.object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if old != name {
            let namespace = self.object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.previous_places.push((old.clone(), namespace));
            self.previous_names.push(old);
            self.object["metadata"]["name"] = Value::String(name);
        }
    }

    /// The `(name, namespace)` the resource had when it entered the build.
    pub fn original_place(&self) -> (String, String) {
        let id = self.id();
        let name = self.previous_names.first().cloned().unwrap_or(id.name);
        let namespace = self
            .previous_places
            .first()
            .map(|(_, ns)| ns.clone())
            .unwrap_or(id.namespace);
        (name, namespace)
    }

    /// The `(name, namespace)` of the current id and of every earlier one.
    pub fn ids(&self) -> Vec<(String, String)> {
        let id = self.id();
        let mut ids: Vec<(String, String)> = self.previous_places.clone();
        ids.extend(
            self.previous_names
                .iter()
                .map(|name| (name.clone(), id.namespace.clone())),
        );
        ids.push((id.name, id.namespace));
        ids
    }

    /// The current name and every previous one.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.object["metadata"]["name"]
            .as_str()
            .into_iter()
            .chain(self.previous_names.iter().map(String::as_str))
    }

    /// The identity of the resource.
    pub fn id(&self) -> ResId {
        let api_version = self.object["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        let meta = &self.object["metadata"];
        ResId {
            group,
            version,
            kind: self.object["kind"].as_str().unwrap_or_default().to_string(),
            namespace: meta["namespace"].as_str().unwrap_or_default().to_string(),
            name: meta["name"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// Whether kustomize knows the resource's kind to be cluster-scoped (its built-in schema,
    /// matched on apiVersion and kind; unknown kinds are namespaced).
    pub fn is_cluster_scoped(&self) -> bool {
        crate::openapi::builtin::is_cluster_scoped(
            self.object["apiVersion"].as_str().unwrap_or_default(),
            self.object["kind"].as_str().unwrap_or_default(),
        )
    }

    /// Group, version and kind, borrowed.
    pub fn gvk(&self) -> (&str, &str, &str) {
        let api_version = self.object["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        (group, version, self.kind())
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
}

impl ResId {
    /// kustomize's `Gvk.String()`: `group_version_kind` with `~G`, `~V`, `~K` for empty parts.
    pub fn gvk_string(&self) -> String {
        let part = |s: &str, empty: &str| {
            if s.is_empty() {
                empty.to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{}_{}_{}",
            part(&self.group, "~G"),
            part(&self.version, "~V"),
            part(&self.kind, "~K")
        )
    }

    /// kustomize's `ResId.String()`: `Kind.version.group/name.namespace`.
    pub fn display_string(&self) -> String {
        let or = |s: &str, empty: &str| {
            if s.is_empty() {
                empty.to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{}.{}.{}/{}.{}",
            self.kind,
            self.version,
            or(&self.group, "[noGrp]"),
            self.name,
            or(&self.namespace, "[noNs]")
        )
    }

    fn sort_string(&self) -> String {
        let ns = if self.namespace.is_empty() {
            "~X"
        } else {
            &self.namespace
        };
        let name = if self.name.is_empty() {
            "~N"
        } else {
            &self.name
        };
        format!("{}|{ns}|{name}", self.gvk_string())
    }

    /// A key equal for ids that name the same object (group, kind, name, and the namespace
    /// with empty read as `default`), see [`ResId::same_object`].
    pub fn object_key(&self) -> (String, String, String, String) {
        let namespace = if self.namespace.is_empty() {
            "default".to_string()
        } else {
            self.namespace.clone()
        };
        (
            self.group.clone(),
            self.kind.clone(),
            self.name.clone(),
            namespace,
        )
    }

    /// Whether two ids name the same object (an empty namespace equals `default`).
    pub fn same_object(&self, other: &ResId) -> bool {
        let ns = |s: &str| {
            if s.is_empty() {
                "default".to_string()
            } else {
                s.to_string()
            }
        };
        self.group == other.group
            && self.kind == other.kind
            && self.name == other.name
            && ns(&self.namespace) == ns(&other.namespace)
    }
}

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn kind_rank<S: AsRef<str>>(kind: &str, first: &[S], last: &[S]) -> i64 {
    if let Some(i) = first.iter().position(|k| k.as_ref() == kind) {
        return i as i64 - first.len() as i64;
    }
    if let Some(i) = last.iter().position(|k| k.as_ref() == kind) {
        return 1 + i as i64;
    }
    0
}

/// kustomize's legacy order.
pub fn legacy_order(a: &ResId, b: &ResId) -> Ordering {
    legacy_order_with(a, b, ORDER_FIRST, ORDER_LAST)
}

/// The legacy order with `sortOptions.legacySortOptions`' own first and last kinds.
pub fn legacy_order_with<S: AsRef<str>>(a: &ResId, b: &ResId, first: &[S], last: &[S]) -> Ordering {
    let same_gvk = a.group == b.group && a.version == b.version && a.kind == b.kind;
    if !same_gvk {
        let (ra, rb) = (
            kind_rank(&a.kind, first, last),
            kind_rank(&b.kind, first, last),
        );
        if ra != rb {
            return ra.cmp(&rb);
        }
        return a.gvk_string().cmp(&b.gvk_string());
    }
    a.sort_string().cmp(&b.sort_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn id(api: &str, kind: &str, ns: &str, name: &str) -> ResId {
        Resource::new(
            json!({"apiVersion": api, "kind": kind, "metadata": {"namespace": ns, "name": name}}),
        )
        .id()
    }

    #[test]
    fn legacy_order_puts_namespaces_first_and_webhooks_last() {
        let mut ids = [
            id(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "",
                "v",
            ),
            id("apps/v1", "Deployment", "a", "d"),
            id("example.com/v1", "Widget", "a", "w"),
            id("v1", "Namespace", "", "a"),
            id("v1", "ConfigMap", "a", "b"),
            id("v1", "ConfigMap", "a", "a"),
            id("batch/v1", "Job", "a", "j"),
        ];
        ids.sort_by(legacy_order);
        let kinds: Vec<String> = ids
            .iter()
            .map(|i| format!("{}/{}", i.kind, i.name))
            .collect();
        assert_eq!(
            kinds,
            [
                "Namespace/a",
                "ConfigMap/a",
                "ConfigMap/b",
                "Deployment/d",
                "Job/j",
                "Widget/w",
                "ValidatingWebhookConfiguration/v"
            ]
        );
    }
}
