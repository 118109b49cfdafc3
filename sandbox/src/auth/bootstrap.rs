//! The bootstrap RBAC policy and namespaces every new sandbox starts with.

use serde_json::{Value, json};

/// The seeded ClusterRoles and ClusterRoleBindings.
pub fn policy() -> Vec<Value> {
    let discovery_urls = json!([
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/openapi",
        "/openapi/*",
        "/version",
        "/version/",
        "/healthz",
        "/livez",
        "/readyz"
    ]);
    let workloads = json!([
        {"apiGroups": [""], "resources": ["configmaps", "secrets", "services", "serviceaccounts", "pods", "pods/log", "endpoints", "persistentvolumeclaims", "events", "limitranges", "resourcequotas"], "verbs": ["*"]},
        {"apiGroups": ["apps", "batch", "autoscaling", "policy", "networking.k8s.io", "coordination.k8s.io", "events.k8s.io"], "resources": ["*"], "verbs": ["*"]}
    ]);
    let admin_rules = {
        let mut rules = workloads.as_array().cloned().unwrap_or_default();
        // As Kubernetes' admin: RBAC objects of the namespace, without `bind` or `escalate`.
        rules.push(json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}));
        Value::Array(rules)
    };
    // As in Kubernetes, view is within edit, and edit within admin (no Secrets for view).
    let read = json!([
        {"apiGroups": [""], "resources": ["configmaps", "services", "serviceaccounts", "pods", "pods/log", "endpoints", "persistentvolumeclaims", "events", "limitranges", "resourcequotas"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps", "batch", "autoscaling", "policy", "networking.k8s.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]}
    ]);
    let role = |name: &str, rules: Value| json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}, "rules": rules});
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
        role("admin", admin_rules),
        role("edit", workloads),
        role("view", read),
        role(
            "system:discovery",
            json!([{"nonResourceURLs": discovery_urls, "verbs": ["get"]}]),
        ),
        role(
            "system:basic-user",
            json!([{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]),
        ),
        role(
            "system:public-info-viewer",
            json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
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
