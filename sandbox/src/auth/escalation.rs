//! RBAC escalation prevention, as the API server's RBAC storage enforces it: a Role or
//! ClusterRole is written only by a user who already holds every permission it grants (or may
//! `escalate` it), a RoleBinding or ClusterRoleBinding only by a user who holds every
//! permission of the role it binds (or may `bind` that role) — in the binding's namespace, or
//! cluster-wide for a ClusterRoleBinding. Updates that leave the rules (or the role reference
//! and subjects) as they were are not checked again, as in Kubernetes.

use serde_json::Value;

use super::identity::UserInfo;
use super::rbac::{Attributes, Authorizer};

const RBAC: &str = "rbac.authorization.k8s.io";

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Every single permission a rule grants, as request attributes in `namespace`.
fn permissions(rule: &Value, namespace: &str) -> Vec<Attributes> {
    let verbs = strings(&rule["verbs"]);
    let mut out = Vec::new();
    for url in strings(&rule["nonResourceURLs"]) {
        for verb in &verbs {
            out.push(Attributes::non_resource(verb, url));
        }
    }
    let names = strings(&rule["resourceNames"]);
    let names = if names.is_empty() { vec![""] } else { names };
    for group in strings(&rule["apiGroups"]) {
        for resource in strings(&rule["resources"]) {
            let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
            for verb in &verbs {
                for name in &names {
                    out.push(Attributes {
                        subresource: subresource.to_string(),
                        ..Attributes::resource(verb, group, resource, namespace, name)
                    });
                }
            }
        }
    }
    out
}

fn describe(attrs: &Attributes) -> String {
    if attrs.resource.is_empty() {
        return format!(
            "{{NonResourceURLs:[\"{}\"], Verbs:[\"{}\"]}}",
            attrs.path, attrs.verb
        );
    }
    let resource = if attrs.subresource.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    let names = if attrs.name.is_empty() {
        String::new()
    } else {
        format!(", ResourceNames:[\"{}\"]", attrs.name)
    };
    format!(
        "{{APIGroups:[\"{}\"], Resources:[\"{resource}\"]{names}, Verbs:[\"{}\"]}}",
        attrs.group, attrs.verb
    )
}

/// The permissions of `rules` (granted in `namespace`) that `user` does not hold.
fn not_held(
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    rules: &[Value],
    namespace: &str,
) -> Vec<String> {
    rules
        .iter()
        .flat_map(|rule| permissions(rule, namespace))
        .filter(|attrs| !authorizer.allowed(user, attrs))
        .map(|attrs| describe(&attrs))
        .collect()
}

fn refusal(resource: &str, name: &str, user: &UserInfo, missing: &[String], hint: &str) -> String {
    format!(
        "{resource}.{RBAC} \"{name}\" is forbidden: user \"{}\" (groups={:?}) is attempting to grant RBAC permissions not currently held:\n{}\n{hint}",
        user.name,
        user.groups,
        missing.join("\n")
    )
}

/// Refuses the write of `new` (replacing `old`) to RBAC `resource` in `namespace` when it
/// would grant `user` more than it holds; `role_rules` reads the rules a role reference names.
pub fn check(
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    resource: &str,
    namespace: &str,
    (old, new): (Option<&Value>, &Value),
    role_rules: &dyn Fn(&Value, &str) -> Vec<Value>,
) -> Result<(), String> {
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    match resource {
        "roles" | "clusterroles" => {
            if old.is_some_and(|o| o["rules"] == new["rules"]) {
                return Ok(());
            }
            let escalate = Attributes::resource("escalate", RBAC, resource, namespace, name);
            if authorizer.allowed(user, &escalate) {
                return Ok(());
            }
            let rules = new["rules"].as_array().cloned().unwrap_or_default();
            let missing = not_held(authorizer, user, &rules, namespace);
            if missing.is_empty() {
                return Ok(());
            }
            Err(refusal(resource, name, user, &missing, ""))
        }
        "rolebindings" | "clusterrolebindings" => {
            if old
                .is_some_and(|o| o["roleRef"] == new["roleRef"] && o["subjects"] == new["subjects"])
            {
                return Ok(());
            }
            let role_ref = &new["roleRef"];
            let role_resource = match role_ref["kind"].as_str() {
                Some("Role") => "roles",
                _ => "clusterroles",
            };
            let role_name = role_ref["name"].as_str().unwrap_or_default();
            let bind = Attributes::resource("bind", RBAC, role_resource, namespace, role_name);
            if authorizer.allowed(user, &bind) {
                return Ok(());
            }
            let rules = role_rules(role_ref, namespace);
            let missing = not_held(authorizer, user, &rules, namespace);
            if missing.is_empty() {
                return Ok(());
            }
            Err(refusal(resource, name, user, &missing, ""))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A user holding exactly `rules` in `namespace` (and nothing cluster-wide).
    struct Holds(Vec<Value>, &'static str);

    impl Authorizer for Holds {
        fn allowed(&self, _user: &UserInfo, attrs: &Attributes) -> bool {
            (attrs.namespace == self.1 || attrs.resource.is_empty())
                && self
                    .0
                    .iter()
                    .any(|r| super::super::rbac::rule_allows(r, attrs))
        }
    }

    fn user() -> UserInfo {
        UserInfo {
            name: "system:serviceaccount:team-a:tenant".into(),
            groups: vec![],
        }
    }

    #[test]
    fn a_tenant_cannot_grant_or_bind_more_than_it_holds() {
        let admin_in_team = Holds(
            vec![
                json!({"apiGroups": ["", "apps"], "resources": ["*"], "verbs": ["*"]}),
                json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
                    "verbs": ["create", "get", "list", "update", "patch", "delete"]}),
            ],
            "team-a",
        );
        let cluster_admin = vec![json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})];
        let view = vec![
            json!({"apiGroups": [""], "resources": ["configmaps", "pods/log"], "verbs": ["get", "list"]}),
        ];
        let rules_of = |role_ref: &Value, _: &str| match role_ref["name"].as_str() {
            Some("cluster-admin") => cluster_admin.clone(),
            _ => view.clone(),
        };
        let binding = |role: &str| {
            json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": "team-a"}]})
        };
        let cases = [
            ("rolebindings", "team-a", binding("view"), true),
            ("rolebindings", "team-a", binding("cluster-admin"), false),
            ("rolebindings", "team-b", binding("view"), false),
            (
                "roles",
                "team-a",
                json!({"metadata": {"name": "r"}, "rules": view}),
                true,
            ),
            (
                "roles",
                "team-a",
                json!({"metadata": {"name": "r"}, "rules": cluster_admin}),
                false,
            ),
            ("clusterrolebindings", "", binding("view"), false),
        ];
        for (resource, namespace, object, want) in cases {
            let got = check(
                &admin_in_team,
                &user(),
                resource,
                namespace,
                (None, &object),
                &rules_of,
            );
            assert_eq!(got.is_ok(), want, "{resource} in {namespace}: {got:?}");
        }
        let refused = check(
            &admin_in_team,
            &user(),
            "rolebindings",
            "team-a",
            (None, &binding("cluster-admin")),
            &rules_of,
        )
        .unwrap_err();
        assert!(
            refused.contains("is attempting to grant RBAC permissions not currently held"),
            "{refused}"
        );
        // An update that keeps the role reference and subjects is not checked again.
        let escalated = binding("cluster-admin");
        let mut relabelled = escalated.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        assert!(
            check(
                &admin_in_team,
                &user(),
                "rolebindings",
                "team-a",
                (Some(&escalated), &relabelled),
                &rules_of
            )
            .is_ok()
        );
    }
}
