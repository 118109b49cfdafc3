//! The bootstrap RBAC policy and namespaces every new sandbox starts with.

use serde_json::{Value, json};

const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

/// The seeded ClusterRoles and ClusterRoleBindings, the aggregated roles already holding what
/// the aggregation controller would give them.
pub fn policy() -> Vec<Value> {
    let mut objects = seeded();
    let roles: Vec<std::sync::Arc<Value>> = objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole")
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    // view feeds edit feeds admin: three rounds reach the fixed point.
    let mut roles = roles;
    for _ in 0..3 {
        let updated: Vec<std::sync::Arc<Value>> = roles
            .iter()
            .map(|r| {
                if r["aggregationRule"].is_object() {
                    let mut r = (**r).clone();
                    r["rules"] = Value::Array(crate::controllers::aggregation::aggregated_rules(
                        &r, &roles,
                    ));
                    std::sync::Arc::new(r)
                } else {
                    r.clone()
                }
            })
            .collect();
        roles = updated;
    }
    for object in &mut objects {
        if let Some(role) = roles.iter().find(|r| {
            object["kind"] == "ClusterRole" && r["metadata"]["name"] == object["metadata"]["name"]
        }) {
            *object = (**role).clone();
        }
    }
    objects
}

/// Upstream's rules of the bootstrap roles (see the file's `_source`).
const UPSTREAM_RULES: &str = include_str!("bootstrap_rules.json");

fn seeded() -> Vec<Value> {
    let upstream: Value = serde_json::from_str(UPSTREAM_RULES).unwrap_or_default();
    let rules = |name: &str| upstream[name].clone();
    // As in Kubernetes, `admin`, `edit` and `view` aggregate the ClusterRoles labelled
    // `aggregate-to-<role>` (their own rules live in `system:aggregate-to-*`), view is within
    // edit and edit within admin; view reads no Secrets, admin adds the namespace's RBAC
    // objects (without `bind` or `escalate`).
    let role = |name: &str, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}, "rules": rules})
    };
    let labelled = |mut role: Value, label: &str| {
        role["metadata"]["labels"][label] = json!("true");
        role
    };
    let aggregating = |name: &str, labels: &[&str]| {
        let mut aggregating = role(name, json!([]));
        for label in labels {
            aggregating["metadata"]["labels"][*label] = json!("true");
        }
        aggregating["aggregationRule"] = json!({"clusterRoleSelectors": [
            {"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{name}"): "true"}}]});
        aggregating
    };
    let binding = |name: &str, role: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
            .collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
    };
    vec![
        role(
            "cluster-admin",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        ),
        aggregating("admin", &[]),
        aggregating("edit", &[AGGREGATE_TO_ADMIN]),
        aggregating("view", &[AGGREGATE_TO_EDIT]),
        labelled(
            role(
                "system:aggregate-to-admin",
                rules("system:aggregate-to-admin"),
            ),
            AGGREGATE_TO_ADMIN,
        ),
        labelled(
            role(
                "system:aggregate-to-edit",
                rules("system:aggregate-to-edit"),
            ),
            AGGREGATE_TO_EDIT,
        ),
        labelled(
            role(
                "system:aggregate-to-view",
                rules("system:aggregate-to-view"),
            ),
            AGGREGATE_TO_VIEW,
        ),
        role("system:discovery", rules("system:discovery")),
        role("system:basic-user", rules("system:basic-user")),
        role(
            "system:public-info-viewer",
            rules("system:public-info-viewer"),
        ),
        binding("cluster-admin", "cluster-admin", &["system:masters"]),
        binding(
            "system:discovery",
            "system:discovery",
            &["system:authenticated"],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            &["system:authenticated"],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

/// The namespaces present at start.
pub const NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bootstrap_roles_carry_upstreams_rules() {
        let upstream: Value = serde_json::from_str(UPSTREAM_RULES).unwrap();
        let policy = policy();
        let role = |name: &str| {
            policy
                .iter()
                .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == name)
                .unwrap()
                .clone()
        };
        for name in [
            "system:aggregate-to-admin",
            "system:aggregate-to-edit",
            "system:aggregate-to-view",
            "system:basic-user",
            "system:discovery",
            "system:public-info-viewer",
        ] {
            assert!(
                upstream[name].as_array().is_some_and(|r| !r.is_empty()),
                "{name}"
            );
            assert_eq!(role(name)["rules"], upstream[name], "{name}");
        }
        // Aggregation: admin holds edit's and view's rules, view none that reads Secrets.
        let admin = role("admin")["rules"].to_string();
        assert!(admin.contains("localsubjectaccessreviews") && admin.contains("pods/exec"));
        assert!(!role("view")["rules"].to_string().contains("secrets"));
    }
}
