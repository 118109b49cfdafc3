//! RBAC kinds: `SetDefaults_Subject` and the role reference's group, and the checks of
//! `ValidatePolicyRule` and the bindings' validation (role kinds, subjects, a `roleRef` that
//! cannot change).

use serde_json::{Value, json};

use super::field_errors::FieldErrors;

const GROUP: &str = "rbac.authorization.k8s.io";

/// Defaults of bindings: the role reference's group, and User/Group subjects' group.
pub fn default_binding(binding: &mut Value) {
    if binding["roleRef"].is_object()
        && binding["roleRef"]["apiGroup"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        binding["roleRef"]["apiGroup"] = json!(GROUP);
    }
    for subject in super::list_mut(binding, "subjects") {
        if matches!(subject["kind"].as_str(), Some("User" | "Group"))
            && subject["apiGroup"].as_str().is_none_or(str::is_empty)
        {
            subject["apiGroup"] = json!(GROUP);
        }
    }
}

/// `ValidatePolicyRule` for every rule of a Role (`namespaced`) or ClusterRole.
pub fn validate_role(role: &Value, namespaced: bool, errors: &mut FieldErrors) {
    let len = |rule: &Value, f: &str| rule[f].as_array().map_or(0, Vec::len);
    for (i, rule) in role["rules"].as_array().into_iter().flatten().enumerate() {
        let at = format!("rules[{i}]");
        if len(rule, "verbs") == 0 {
            errors.required(
                &format!("{at}.verbs"),
                "verbs must contain at least one value",
            );
        }
        if len(rule, "nonResourceURLs") > 0 {
            let field = format!("{at}.nonResourceURLs");
            if namespaced {
                errors.invalid(
                    &field,
                    &rule["nonResourceURLs"],
                    "namespaced rules cannot apply to non-resource URLs",
                );
            }
            if len(rule, "apiGroups") > 0
                || len(rule, "resources") > 0
                || len(rule, "resourceNames") > 0
            {
                errors.invalid(
                    &field,
                    &rule["nonResourceURLs"],
                    "rules cannot apply to both regular resources and non-resource URLs",
                );
            }
            continue;
        }
        if len(rule, "apiGroups") == 0 {
            errors.required(
                &format!("{at}.apiGroups"),
                "resource rules must supply at least one api group",
            );
        }
        if len(rule, "resources") == 0 {
            errors.required(
                &format!("{at}.resources"),
                "resource rules must supply at least one resource",
            );
        }
    }
}

/// Validates a RoleBinding (`namespaced`) or ClusterRoleBinding (`old` on updates).
pub fn validate_binding(
    new: &Value,
    old: Option<&Value>,
    namespaced: bool,
    errors: &mut FieldErrors,
) {
    let role_ref = &new["roleRef"];
    if role_ref["apiGroup"] != GROUP {
        errors.not_supported("roleRef.apiGroup", &role_ref["apiGroup"], &[GROUP]);
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    match role_ref["kind"].as_str() {
        None | Some("") => errors.required("roleRef.kind", ""),
        Some(kind) if !kinds.contains(&kind) => {
            errors.not_supported("roleRef.kind", &role_ref["kind"], kinds)
        }
        Some(_) => {}
    }
    if role_ref["name"].as_str().is_none_or(str::is_empty) {
        errors.required("roleRef.name", "");
    }
    for (i, subject) in new["subjects"].as_array().into_iter().flatten().enumerate() {
        let at = format!("subjects[{i}]");
        if subject["name"].as_str().is_none_or(str::is_empty) {
            errors.required(&format!("{at}.name"), "");
        }
        match subject["kind"].as_str().unwrap_or_default() {
            "ServiceAccount" => {
                if subject["apiGroup"].as_str().is_some_and(|g| !g.is_empty()) {
                    errors.not_supported(&format!("{at}.apiGroup"), &subject["apiGroup"], &[""]);
                }
                if !namespaced && subject["namespace"].as_str().is_none_or(str::is_empty) {
                    errors.required(&format!("{at}.namespace"), "");
                }
            }
            "User" | "Group" => {
                if subject["apiGroup"] != GROUP {
                    errors.not_supported(&format!("{at}.apiGroup"), &subject["apiGroup"], &[GROUP]);
                }
            }
            _ => errors.not_supported(
                &format!("{at}.kind"),
                &subject["kind"],
                &["ServiceAccount", "User", "Group"],
            ),
        }
    }
    if let Some(old) = old
        && old["roleRef"] != new["roleRef"]
    {
        errors.invalid("roleRef", &new["roleRef"], "cannot change roleRef");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_defaults_and_errors_as_upstream() {
        let mut binding = json!({"roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "ann"}, {"kind": "ServiceAccount", "name": "sa"}]});
        default_binding(&mut binding);
        assert_eq!(binding["roleRef"]["apiGroup"], GROUP);
        assert_eq!(binding["subjects"][0]["apiGroup"], GROUP);
        assert!(binding["subjects"][1]["apiGroup"].is_null());
        let mut errors = FieldErrors::default();
        validate_binding(&binding, None, false, &mut errors);
        assert_eq!(errors.lines(), ["subjects[1].namespace: Required value"]);

        let mut changed = binding.clone();
        changed["roleRef"]["name"] = json!("edit");
        let mut errors = FieldErrors::default();
        validate_binding(&changed, Some(&binding), true, &mut errors);
        assert_eq!(
            errors.lines(),
            [
                "roleRef: Invalid value: {\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"edit\"}: cannot change roleRef",
            ]
        );

        let role = json!({"rules": [{"apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, {"verbs": ["get"]}]});
        let mut errors = FieldErrors::default();
        validate_role(&role, true, &mut errors);
        assert_eq!(
            errors.lines(),
            [
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
                "rules[2].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[2].resources: Required value: resource rules must supply at least one resource",
            ]
        );
    }
}
