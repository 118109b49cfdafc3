//! The namespace step of a build: sets `metadata.namespace` and fixes RoleBinding subjects.

use serde_json::Value;

use crate::error::Error;
use crate::resource::Resource;

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
#[derive(Clone, Copy, Debug)]
pub(super) struct NamespaceOptions {
    /// Leave resources that already have a namespace alone.
    pub unset_only: bool,
    /// Which subjects to rewrite.
    pub subjects: SubjectMode,
    /// Rename core `v1` Namespace objects to the namespace (kustomize's default field specs
    /// hold `metadata/name` for kind Namespace; a plugin's own field specs may not).
    pub rename_namespaces: bool,
}

impl Default for NamespaceOptions {
    fn default() -> Self {
        Self {
            unset_only: false,
            subjects: SubjectMode::default(),
            rename_namespaces: true,
        }
    }
}

/// Moves every namespaced resource into `namespace` and points ServiceAccount subjects of
/// role bindings at it.
pub(super) fn apply_namespace(
    resources: &mut [Resource],
    namespace: &str,
    options: NamespaceOptions,
) -> Result<(), Error> {
    // ServiceAccounts that move: subjects naming them follow (kustomize's name references).
    let service_accounts: Vec<(String, String)> = resources
        .iter()
        .filter(|r| r.kind() == "ServiceAccount")
        .map(Resource::id)
        .filter(|id| !options.unset_only || id.namespace.is_empty())
        .map(|id| (id.name, id.namespace))
        .collect();
    for resource in resources.iter_mut() {
        if !options.unset_only || resource.id().namespace.is_empty() {
            set_namespace(resource, namespace, options.rename_namespaces);
        }
        fix_subjects(resource, namespace, &service_accounts, options);
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

fn set_namespace(resource: &mut Resource, namespace: &str, rename_namespaces: bool) {
    let id = resource.id();
    let core_namespace = id.kind == "Namespace" && id.group.is_empty();
    if core_namespace && rename_namespaces {
        resource.rename(namespace.to_string());
        return;
    }
    // Scope as kustomize's schema knows it: a `Namespace` of another API group, or a kind it
    // does not know, is namespaced.
    if core_namespace || resource.is_cluster_scoped() {
        return;
    }
    if !resource.object["metadata"].is_object() {
        resource.object["metadata"] = Value::Object(Default::default());
    }
    let id = resource.id();
    if id.namespace != namespace {
        resource.previous_places.push((id.name, id.namespace));
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

/// The namespace transformer's subject handling: subjects named `default` (any kind), and
/// ServiceAccount subjects naming a ServiceAccount of the build that moves (same name and
/// original namespace), follow the new namespace; the mode widens or narrows that, and
/// `unset_only` keeps subjects that name a namespace.
fn fix_subjects(
    resource: &mut Resource,
    namespace: &str,
    service_accounts: &[(String, String)],
    options: NamespaceOptions,
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
        let service_account = subject["kind"].as_str() == Some("ServiceAccount");
        let name = subject["name"].as_str().unwrap_or_default().to_string();
        let current = subject["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if options.unset_only && !current.is_empty() {
            continue;
        }
        // A subject without a namespace names the build's only ServiceAccount of that name.
        let named: Vec<&(String, String)> = service_accounts
            .iter()
            .filter(|(n, _)| *n == name)
            .collect();
        let in_build = service_account
            && (named
                .iter()
                .any(|(_, ns)| or_default(ns) == or_default(&current))
                || (current.is_empty() && named.len() == 1));
        let rewrite = match options.subjects {
            SubjectMode::DefaultOnly => name == "default" || in_build,
            SubjectMode::AllServiceAccounts => service_account,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn binding(subjects: Value) -> Resource {
        Resource::new(json!({"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding", "metadata": {"name": "b"}, "subjects": subjects}))
    }

    #[test]
    fn subjects_follow_the_mode_and_unset_only() {
        let subjects = json!([
            {"kind": "ServiceAccount", "name": "default", "namespace": "old"},
            {"kind": "ServiceAccount", "name": "other"},
            {"kind": "User", "name": "default"},
        ]);
        let cases = [
            (SubjectMode::DefaultOnly, false, ["new", "", "new"]),
            (SubjectMode::AllServiceAccounts, false, ["new", "new", ""]),
            (SubjectMode::AllServiceAccounts, true, ["old", "new", ""]),
            (SubjectMode::None, false, ["old", "", ""]),
        ];
        for (mode, unset_only, want) in cases {
            let mut resources = vec![binding(subjects.clone())];
            let options = NamespaceOptions {
                unset_only,
                subjects: mode,
                ..NamespaceOptions::default()
            };
            apply_namespace(&mut resources, "new", options).unwrap();
            let got: Vec<&str> = resources[0].object["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["namespace"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(got, want, "{mode:?} unset_only={unset_only}");
        }
    }

    #[test]
    fn a_subject_without_namespace_follows_the_only_service_account_of_its_name() {
        let sa = |ns: &str| {
            Resource::new(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "runner", "namespace": ns}}))
        };
        let cases = [(vec![sa("base")], "new"), (vec![sa("a"), sa("b")], "")];
        for (accounts, want) in cases {
            let mut resources = accounts;
            resources.push(binding(
                json!([{"kind": "ServiceAccount", "name": "runner"}]),
            ));
            apply_namespace(&mut resources, "new", NamespaceOptions::default()).unwrap_or_default();
            let subject = &resources.last().unwrap().object["subjects"][0];
            assert_eq!(subject["namespace"].as_str().unwrap_or_default(), want);
        }
    }

    #[test]
    fn only_core_namespaces_are_renamed_and_only_when_asked() {
        let cases = [
            ("v1", true, ("new", "")),
            ("v1", false, ("ns", "")),
            ("servicebus.azure.com/v1", true, ("ns", "new")),
        ];
        for (api, rename, (name, namespace)) in cases {
            let mut resources = vec![Resource::new(
                json!({"apiVersion": api, "kind": "Namespace", "metadata": {"name": "ns"}}),
            )];
            let options = NamespaceOptions {
                rename_namespaces: rename,
                ..NamespaceOptions::default()
            };
            apply_namespace(&mut resources, "new", options).unwrap();
            let id = resources[0].id();
            assert_eq!(
                (id.name.as_str(), id.namespace.as_str()),
                (name, namespace),
                "{api}"
            );
        }
    }
}
