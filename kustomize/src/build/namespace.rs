//! The namespace step of a build: sets `metadata.namespace` and fixes RoleBinding subjects.

use serde_json::Value;

use crate::error::Error;
use crate::resource::{CLUSTER_SCOPED, Resource};

/// Which role-binding subjects the namespace step rewrites (`setRoleBindingSubjects`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum SubjectMode {
    /// Subjects named `default` and those naming a ServiceAccount of the build.
    #[default]
    DefaultOnly,
    /// Every ServiceAccount subject.
    AllServiceAccounts,
    /// Only subjects naming a ServiceAccount of the build (the name-reference rule).
    None,
}

/// Options of the NamespaceTransformer plugin; the `namespace` field uses the defaults.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct NamespaceOptions {
    /// Leave resources that already have a namespace alone.
    pub unset_only: bool,
    /// Which subjects to rewrite.
    pub subjects: SubjectMode,
}

/// Moves every namespaced resource into `namespace` and points ServiceAccount subjects of
/// role bindings at it.
pub(super) fn apply_namespace(
    resources: &mut [Resource],
    namespace: &str,
    options: NamespaceOptions,
) -> Result<(), Error> {
    let service_accounts: Vec<(String, String)> = resources
        .iter()
        .filter(|r| r.kind() == "ServiceAccount")
        .map(|r| (r.id().name, r.id().namespace))
        .collect();
    for resource in resources.iter_mut() {
        if !options.unset_only || resource.id().namespace.is_empty() {
            set_namespace(resource, namespace);
        }
        fix_subjects(resource, namespace, &service_accounts, options.subjects);
    }
    for (i, resource) in resources.iter().enumerate() {
        let id = resource.id();
        if resources[..i].iter().any(|r| r.id().same_object(&id)) {
            return Err(Error::Resource(format!(
                "namespace transformation produces ID conflict: {}",
                id.display_string()
            )));
        }
    }
    Ok(())
}

fn set_namespace(resource: &mut Resource, namespace: &str) {
    let kind = resource.kind().to_string();
    if kind == "Namespace" {
        resource.rename(namespace.to_string());
        return;
    }
    if CLUSTER_SCOPED.contains(&kind.as_str()) {
        return;
    }
    if !resource.object["metadata"].is_object() {
        resource.object["metadata"] = Value::Object(Default::default());
    }
    resource.object["metadata"]["namespace"] = Value::String(namespace.to_string());
}

/// An unset namespace means `default`.
fn or_default(namespace: &str) -> &str {
    if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

/// The namespace transformer's subject handling: ServiceAccount subjects named `default`, and
/// those naming a ServiceAccount of the build (same name and original namespace), follow the
/// new namespace; `mode` widens or narrows that.
fn fix_subjects(
    resource: &mut Resource,
    namespace: &str,
    service_accounts: &[(String, String)],
    mode: SubjectMode,
) {
    if !matches!(resource.kind(), "RoleBinding" | "ClusterRoleBinding") {
        return;
    }
    let Some(subjects) = resource
        .object
        .get_mut("subjects")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for subject in subjects {
        if subject["kind"].as_str() != Some("ServiceAccount") {
            continue;
        }
        let name = subject["name"].as_str().unwrap_or_default().to_string();
        let current = subject["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let in_build = service_accounts
            .iter()
            .any(|(n, ns)| *n == name && or_default(ns) == or_default(&current));
        let rewrite = match mode {
            SubjectMode::DefaultOnly => name == "default" || in_build,
            SubjectMode::AllServiceAccounts => true,
            SubjectMode::None => in_build,
        };
        if rewrite && let Some(map) = subject.as_object_mut() {
            map.insert("namespace".into(), Value::String(namespace.to_string()));
        }
    }
}

/// kustomize's built-in namespace field specs beyond `metadata/namespace`: service references
/// of APIServices and of CRD conversion webhooks follow the namespace when they are set.
pub(super) fn reference_specs() -> Vec<crate::fieldspec::FieldSpec> {
    [
        (
            "apiregistration.k8s.io",
            "APIService",
            "spec/service/namespace",
        ),
        (
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "spec/conversion/webhook/clientConfig/service/namespace",
        ),
    ]
    .into_iter()
    .map(|(group, kind, path)| crate::fieldspec::FieldSpec {
        group: Some(group.into()),
        version: None,
        kind: Some(kind.into()),
        path: path.into(),
        create: false,
    })
    .collect()
}
