//! Reviews: SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview and
//! SelfSubjectRulesReview, answered by the RBAC authorizer, and SelfSubjectReview (who the
//! requester is taken for).

use axum::response::Response;
use serde_json::{Value, json};

use super::request::ResourcePath;
use super::respond::json_response;
use super::{ApiServer, RequestContext};
use crate::auth::identity::UserInfo;
use crate::auth::rbac::{Attributes, Authorizer, RbacAuthorizer};
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;

fn attributes(spec: &Value, namespace_override: Option<&str>) -> Attributes {
    if let Some(ra) = spec.get("resourceAttributes").filter(|r| r.is_object()) {
        let s = |k: &str| ra[k].as_str().unwrap_or_default().to_string();
        Attributes {
            verb: s("verb"),
            group: s("group"),
            resource: s("resource"),
            subresource: s("subresource"),
            namespace: namespace_override
                .map(str::to_string)
                .unwrap_or_else(|| s("namespace")),
            name: s("name"),
            path: String::new(),
        }
    } else {
        let nra = &spec["nonResourceAttributes"];
        Attributes::non_resource(
            nra["verb"].as_str().unwrap_or_default(),
            nra["path"].as_str().unwrap_or_default(),
        )
    }
}

/// POST of a review: evaluates and echoes it with `status`.
pub fn create(
    api: &ApiServer,
    rt: &ResourceType,
    ctx: &RequestContext,
    path: &ResourcePath,
    mut body: Value,
) -> ApiResult<Response> {
    let authorizer = RbacAuthorizer { store: &api.store };
    let create = Attributes::resource(
        "create",
        &rt.group,
        &rt.plural,
        path.namespace.as_deref().unwrap_or(""),
        "",
    );
    if !authorizer.allowed(&ctx.user, &create) {
        return Err(ApiError::forbidden(create.forbidden_message(&ctx.user)));
    }
    let spec = body["spec"].clone();
    let status = match rt.kind.as_str() {
        "SelfSubjectAccessReview" => decision(&authorizer, &ctx.user, &attributes(&spec, None)),
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let user = UserInfo {
                name: spec["user"].as_str().unwrap_or_default().to_string(),
                groups: spec["groups"]
                    .as_array()
                    .map(|g| {
                        g.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            decision(
                &authorizer,
                &user,
                &attributes(&spec, path.namespace.as_deref()),
            )
        }
        // `kubectl auth whoami`: who the server takes the requester for.
        "SelfSubjectReview" => json!({"userInfo": {
            "username": ctx.user.name,
            "groups": ctx.user.groups,
        }}),
        "SelfSubjectRulesReview" => rules(
            api,
            &ctx.user,
            spec["namespace"].as_str().unwrap_or_default(),
        ),
        _ => return Err(ApiError::unknown_resource()),
    };
    body["status"] = status;
    body["apiVersion"] = json!(rt.api_version());
    body["kind"] = json!(rt.kind);
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    Ok(json_response(201, &body))
}

fn decision(authorizer: &dyn Authorizer, user: &UserInfo, attrs: &Attributes) -> Value {
    let allowed = authorizer.allowed(user, attrs);
    let mut status = json!({"allowed": allowed});
    if allowed {
        status["reason"] = json!("allowed by RBAC");
    }
    status
}

fn rules(api: &ApiServer, user: &UserInfo, namespace: &str) -> Value {
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    let subject = |s: &Value| match s["kind"].as_str() {
        Some("User") => s["name"].as_str() == Some(user.name.as_str()),
        Some("Group") => user
            .groups
            .iter()
            .any(|g| Some(g.as_str()) == s["name"].as_str()),
        Some("ServiceAccount") => {
            user.name
                == format!(
                    "system:serviceaccount:{}:{}",
                    s["namespace"].as_str().unwrap_or_default(),
                    s["name"].as_str().unwrap_or_default()
                )
        }
        _ => false,
    };
    let mut bindings: Vec<(Value, &str)> = api
        .store
        .list("rbac.authorization.k8s.io", "clusterrolebindings", None)
        .0
        .iter()
        .map(|b| ((**b).clone(), ""))
        .collect();
    bindings.extend(
        api.store
            .list("rbac.authorization.k8s.io", "rolebindings", Some(namespace))
            .0
            .iter()
            .map(|b| ((**b).clone(), namespace)),
    );
    for (binding, ns) in bindings {
        if !binding["subjects"]
            .as_array()
            .is_some_and(|s| s.iter().any(subject))
        {
            continue;
        }
        let role_ref = &binding["roleRef"];
        let key = if role_ref["kind"] == "Role" {
            crate::store::ObjectKey::new(
                "rbac.authorization.k8s.io",
                "roles",
                ns,
                role_ref["name"].as_str().unwrap_or_default(),
            )
        } else {
            crate::store::ObjectKey::new(
                "rbac.authorization.k8s.io",
                "clusterroles",
                "",
                role_ref["name"].as_str().unwrap_or_default(),
            )
        };
        for rule in api
            .store
            .get(&key)
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
        {
            if rule.get("nonResourceURLs").is_some() {
                non_resource_rules.push(
                    json!({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}),
                );
            } else {
                resource_rules.push(rule);
            }
        }
    }
    if user.groups.iter().any(|g| g == "system:masters") {
        resource_rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        non_resource_rules.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
    }
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}
