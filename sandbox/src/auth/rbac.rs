//! The RBAC authorizer: ClusterRoleBindings, then RoleBindings of the request's namespace,
//! with Kubernetes' rule matching (verbs, groups, resources, subresources, resourceNames,
//! non-resource URLs). `system:masters` bypasses RBAC.

use serde_json::Value;

use super::identity::UserInfo;
use crate::store::Store;

/// What a request wants to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// RBAC verb.
    pub verb: String,
    /// API group.
    pub group: String,
    /// Resource (plural).
    pub resource: String,
    /// Subresource, or empty.
    pub subresource: String,
    /// Namespace, or empty.
    pub namespace: String,
    /// Object name, or empty.
    pub name: String,
    /// Non-resource path (when `resource` is empty).
    pub path: String,
}

impl Attributes {
    /// A resource request.
    pub fn resource(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// A non-resource request (`/api`, `/version`...).
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Self {
            verb: verb.into(),
            path: path.into(),
            ..Self::default()
        }
    }

    /// The message of a denial, as the API server words it.
    pub fn forbidden_message(&self, user: &UserInfo) -> String {
        if self.resource.is_empty() {
            return format!(
                "forbidden: User \"{}\" cannot {} path \"{}\"",
                user.name, self.verb, self.path
            );
        }
        let resource = if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        let qualified = if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        let subject = if self.name.is_empty() {
            qualified
        } else {
            format!("{qualified} \"{}\"", self.name)
        };
        let scope = if self.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", self.namespace)
        };
        format!(
            "{subject} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            user.name, self.verb, self.group
        )
    }
}

/// Decides requests.
pub trait Authorizer {
    /// Whether `user` may do `attrs`.
    fn allowed(&self, user: &UserInfo, attrs: &Attributes) -> bool;
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn subject_matches(subject: &Value, user: &UserInfo) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str() {
        Some("User") => name == user.name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject["namespace"].as_str().unwrap_or_default();
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// Whether one policy rule allows the request.
pub fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    let verbs = strings(&rule["verbs"]);
    if !verbs.iter().any(|v| *v == "*" || *v == attrs.verb) {
        return false;
    }
    if attrs.resource.is_empty() {
        return strings(&rule["nonResourceURLs"]).iter().any(|url| {
            *url == "*"
                || *url == attrs.path
                || url
                    .strip_suffix('*')
                    .is_some_and(|prefix| attrs.path.starts_with(prefix))
        });
    }
    let groups = strings(&rule["apiGroups"]);
    if !groups.iter().any(|g| *g == "*" || *g == attrs.group) {
        return false;
    }
    let combined = if attrs.subresource.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    let resources = strings(&rule["resources"]);
    let resource_ok = resources.iter().any(|r| {
        *r == "*"
            || *r == combined
            || (!attrs.subresource.is_empty() && *r == format!("*/{}", attrs.subresource))
    });
    if !resource_ok {
        return false;
    }
    let names = strings(&rule["resourceNames"]);
    names.is_empty() || (!attrs.name.is_empty() && names.contains(&attrs.name.as_str()))
}

/// Where roles and bindings are read from: the store, or a write transaction on it.
pub trait RbacObjects {
    /// One object.
    fn object(&self, key: &crate::store::ObjectKey) -> Option<std::sync::Arc<Value>>;
    /// The objects of an RBAC resource (in one namespace).
    fn objects(&self, resource: &str, namespace: Option<&str>) -> Vec<std::sync::Arc<Value>>;
}

impl RbacObjects for Store {
    fn object(&self, key: &crate::store::ObjectKey) -> Option<std::sync::Arc<Value>> {
        self.get(key)
    }
    fn objects(&self, resource: &str, namespace: Option<&str>) -> Vec<std::sync::Arc<Value>> {
        self.list("rbac.authorization.k8s.io", resource, namespace)
            .0
    }
}

impl RbacObjects for crate::store::Tx<'_> {
    fn object(&self, key: &crate::store::ObjectKey) -> Option<std::sync::Arc<Value>> {
        self.get(key)
    }
    fn objects(&self, resource: &str, namespace: Option<&str>) -> Vec<std::sync::Arc<Value>> {
        self.list("rbac.authorization.k8s.io", resource, namespace)
    }
}

/// RBAC over the objects of a store (or of a write transaction).
pub struct RbacAuthorizer<'a, S: RbacObjects + ?Sized = Store> {
    /// Where roles and bindings are read.
    pub store: &'a S,
}

impl<S: RbacObjects + ?Sized> RbacAuthorizer<'_, S> {
    /// The rules of the role a binding refers to (a Role in `namespace`, or a ClusterRole).
    pub fn role_rules(&self, role_ref: &Value, namespace: &str) -> Vec<Value> {
        let name = role_ref["name"].as_str().unwrap_or_default();
        let key = match role_ref["kind"].as_str() {
            Some("Role") => {
                crate::store::ObjectKey::new("rbac.authorization.k8s.io", "roles", namespace, name)
            }
            _ => {
                crate::store::ObjectKey::new("rbac.authorization.k8s.io", "clusterroles", "", name)
            }
        };
        self.store
            .object(&key)
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    }
}

impl<S: RbacObjects + ?Sized> Authorizer for RbacAuthorizer<'_, S> {
    fn allowed(&self, user: &UserInfo, attrs: &Attributes) -> bool {
        if user.groups.iter().any(|g| g == "system:masters") {
            return true;
        }
        for binding in self.store.objects("clusterrolebindings", None) {
            if binding["subjects"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| subject_matches(s, user)))
                && self
                    .role_rules(&binding["roleRef"], "")
                    .iter()
                    .any(|r| rule_allows(r, attrs))
            {
                return true;
            }
        }
        if !attrs.namespace.is_empty() {
            for binding in self.store.objects("rolebindings", Some(&attrs.namespace)) {
                if binding["subjects"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| subject_matches(s, user)))
                    && self
                        .role_rules(&binding["roleRef"], &attrs.namespace)
                        .iter()
                        .any(|r| rule_allows(r, attrs))
                {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rules_match_verbs_groups_resources_and_names() {
        let rule = json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps", "pods/log"], "resourceNames": ["cfg"]});
        let get = |r: &str, s: &str, n: &str| Attributes {
            subresource: s.into(),
            ..Attributes::resource("get", "", r, "a", n)
        };
        assert!(rule_allows(&rule, &get("configmaps", "", "cfg")));
        assert!(!rule_allows(&rule, &get("configmaps", "", "other")));
        assert!(!rule_allows(&rule, &get("configmaps", "", "")));
        assert!(!rule_allows(&rule, &get("secrets", "", "cfg")));
        assert!(rule_allows(&rule, &get("pods", "log", "cfg")));
        let wildcard = json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/status"]});
        assert!(rule_allows(&wildcard, &get("widgets", "status", "")));
        assert!(!rule_allows(&wildcard, &get("widgets", "", "")));
        let urls = json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*", "/version"]});
        assert!(rule_allows(
            &urls,
            &Attributes::non_resource("get", "/apis/apps/v1")
        ));
        assert!(rule_allows(
            &urls,
            &Attributes::non_resource("get", "/version")
        ));
        assert!(!rule_allows(
            &urls,
            &Attributes::non_resource("get", "/healthz")
        ));
    }

    #[test]
    fn forbidden_messages_match_the_apiserver() {
        let user = UserInfo {
            name: "system:serviceaccount:team-a:sa".into(),
            groups: vec![],
        };
        let attrs = Attributes::resource("create", "", "configmaps", "team-a", "");
        assert_eq!(
            attrs.forbidden_message(&user),
            "configmaps is forbidden: User \"system:serviceaccount:team-a:sa\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team-a\""
        );
        let attrs = Attributes::resource("get", "apps", "deployments", "", "web");
        assert!(
            attrs
                .forbidden_message(&user)
                .starts_with("deployments.apps \"web\" is forbidden")
        );
        assert!(
            attrs
                .forbidden_message(&user)
                .ends_with("at the cluster scope")
        );
    }
}
