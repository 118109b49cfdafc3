//! ClusterRole aggregation, as kube-controller-manager's `clusterrole-aggregation` controller
//! does it: a ClusterRole with an `aggregationRule` holds the rules of every other ClusterRole
//! one of its selectors matches (roles taken in name order, each rule once). This is how
//! `admin`, `edit` and `view` gain the rules of roles labelled
//! `rbac.authorization.k8s.io/aggregate-to-<role>: "true"`, such as Flux's `flux-edit`.

use std::sync::Arc;

use serde_json::Value;

use crate::selectors::object_selector_matches as matches;
use crate::server::ApiServer;
use crate::store::ObjectKey;

const GROUP: &str = "rbac.authorization.k8s.io";

/// The rules `role` aggregates from `all` (ClusterRoles sorted by name).
pub fn aggregated_rules(role: &Value, all: &[Arc<Value>]) -> Vec<Value> {
    let name = &role["metadata"]["name"];
    let mut rules: Vec<Value> = Vec::new();
    for selector in role["aggregationRule"]["clusterRoleSelectors"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for source in all {
            if &source["metadata"]["name"] == name
                || !matches(selector, &source["metadata"]["labels"])
            {
                continue;
            }
            for rule in source["rules"].as_array().into_iter().flatten() {
                if !rules.contains(rule) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    rules
}

/// One pass: every aggregating ClusterRole whose rules differ from what its selectors gather
/// is rewritten.
pub fn aggregate(api: &ApiServer) {
    let (mut roles, _) = api.store.list(GROUP, "clusterroles", None);
    roles.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    for role in roles
        .iter()
        .filter(|r| r["aggregationRule"]["clusterRoleSelectors"].is_array())
    {
        let rules = Value::Array(aggregated_rules(role, &roles));
        let current = if role["rules"].is_array() {
            role["rules"].clone()
        } else {
            Value::Array(Vec::new())
        };
        if current == rules {
            continue;
        }
        let key = ObjectKey::new(
            GROUP,
            "clusterroles",
            "",
            role["metadata"]["name"].as_str().unwrap_or_default(),
        );
        api.store.write(|tx| {
            let Some(stored) = tx.get(&key) else { return };
            if stored["aggregationRule"] != role["aggregationRule"] {
                // Changed since the list: the next pass sees it.
                return;
            }
            let mut updated = (*stored).clone();
            updated["rules"] = rules.clone();
            tx.put(key.clone(), updated);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role(name: &str, labels: Value, rules: Value) -> Arc<Value> {
        Arc::new(json!({"metadata": {"name": name, "labels": labels}, "rules": rules}))
    }

    #[test]
    fn selectors_gather_rules_by_role_name_each_once() {
        let get = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]});
        let flux =
            json!({"apiGroups": ["source.toolkit.fluxcd.io"], "resources": ["*"], "verbs": ["*"]});
        let all = vec![
            role("a-view", json!({"aggregate-to-view": "true"}), json!([get])),
            role(
                "b-flux",
                json!({"aggregate-to-view": "true", "tier": "gitops"}),
                json!([flux, get]),
            ),
            role("c-other", json!({"tier": "web"}), json!([{"verbs": ["x"]}])),
        ];
        let cases = [
            (
                json!([{"matchLabels": {"aggregate-to-view": "true"}}]),
                vec![get.clone(), flux.clone()],
            ),
            (
                json!([{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gitops"]}]}]),
                vec![flux.clone(), get.clone()],
            ),
            (
                json!([{"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}]),
                vec![get.clone()],
            ),
            (
                json!([{"matchLabels": {"aggregate-to-view": "false"}}]),
                vec![],
            ),
        ];
        for (selectors, want) in cases {
            let aggregating = json!({"metadata": {"name": "view"},
                "aggregationRule": {"clusterRoleSelectors": selectors}});
            assert_eq!(aggregated_rules(&aggregating, &all), want, "{selectors}");
        }
    }
}
