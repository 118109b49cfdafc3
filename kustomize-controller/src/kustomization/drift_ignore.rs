//! `spec.ignore` (pure): JSON-pointer paths, optionally limited to a target selector, that
//! drift detection skips and that an apply never reverts (the live value is kept).

use std::path::Path;

use rill_common::api::kustomize_v1::{IgnoreRule, Selector};
use serde_json::{Value, json};

/// The compiled rules of one Kustomization.
pub struct IgnoreRules {
    rules: Vec<(Vec<String>, Option<kustomize::patch::Selector>)>,
}

fn selector_value(target: &Selector) -> Value {
    json!({
        "group": target.group, "version": target.version, "kind": target.kind,
        "name": target.name, "namespace": target.namespace,
        "labelSelector": target.label_selector, "annotationSelector": target.annotation_selector,
    })
}

/// A `spec.ignore` rule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreRuleError {
    /// The target selector does not compile.
    #[error("{0}")]
    Selector(#[source] kustomize::Error),
    /// A path is not a JSON pointer.
    #[error("spec.ignore: {0:?} is not a JSON pointer")]
    Path(String),
}

impl IgnoreRules {
    /// Compiles the rules; a bad selector regex is an error naming it.
    pub fn new(rules: &[IgnoreRule]) -> Result<Self, IgnoreRuleError> {
        let mut out = Vec::new();
        for rule in rules {
            let selector = rule
                .target
                .as_ref()
                .map(|t| {
                    kustomize::patch::Selector::parse(&selector_value(t), Path::new("spec.ignore"))
                })
                .transpose()
                .map_err(IgnoreRuleError::Selector)?;
            for path in &rule.paths {
                if !path.is_empty() && !path.starts_with('/') {
                    return Err(IgnoreRuleError::Path(path.clone()));
                }
            }
            out.push((rule.paths.clone(), selector));
        }
        Ok(Self { rules: out })
    }

    /// The ignored paths that apply to `object`.
    pub fn paths_for(&self, object: &Value) -> Vec<String> {
        let resource = kustomize::resource::Resource::new(object.clone());
        self.rules
            .iter()
            .filter(|(_, selector)| selector.as_ref().is_none_or(|s| s.matches(&resource)))
            .flat_map(|(paths, _)| paths.iter().cloned())
            .collect()
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Removes the value at `pointer`, if any.
pub fn remove(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = unescape(last);
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// Sets `pointer` to `new`, creating objects on the way.
pub fn set(value: &mut Value, pointer: &str, new: Value) {
    let mut current = value;
    let tokens: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        if let Value::Array(items) = current {
            match token.parse::<usize>() {
                Ok(n) if n < items.len() => current = &mut items[n],
                _ => return,
            }
            if last {
                *current = new;
                return;
            }
            continue;
        }
        if !current.is_object() {
            *current = json!({});
        }
        let Some(map) = current.as_object_mut() else {
            return;
        };
        if last {
            map.insert(token.clone(), new);
            return;
        }
        current = map.entry(token.clone()).or_insert_with(|| json!({}));
    }
}

/// A copy of `object` without the ignored paths (for drift comparison).
pub fn without(object: &Value, paths: &[String]) -> Value {
    let mut copy = object.clone();
    for path in paths {
        remove(&mut copy, path);
    }
    copy
}

/// Keeps the live value of every ignored path in the payload to apply.
pub fn keep_live(payload: &mut Value, live: &Value, paths: &[String]) {
    for path in paths {
        match live.pointer(path) {
            Some(v) => set(payload, path, v.clone()),
            None => remove(payload, path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(target_kind: Option<&str>) -> IgnoreRules {
        let rule = IgnoreRule {
            paths: vec!["/spec/replicas".into(), "/metadata/annotations/a~1b".into()],
            target: target_kind.map(|k| Selector {
                kind: Some(k.into()),
                ..Default::default()
            }),
        };
        IgnoreRules::new(&[rule]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn paths_follow_the_target() {
        let deploy =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}});
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        assert_eq!(rules(Some("Deployment")).paths_for(&deploy).len(), 2);
        assert!(rules(Some("Deployment")).paths_for(&cm).is_empty());
        assert_eq!(rules(None).paths_for(&cm).len(), 2);
        assert!(
            IgnoreRules::new(&[IgnoreRule {
                paths: vec!["spec".into()],
                target: None
            }])
            .is_err()
        );
    }

    #[test]
    fn live_values_win_on_ignored_paths() {
        let paths = vec![
            "/spec/replicas".to_string(),
            "/metadata/annotations/a~1b".to_string(),
        ];
        let live = json!({"spec": {"replicas": 5}, "metadata": {}});
        let mut payload =
            json!({"spec": {"replicas": 1, "x": 1}, "metadata": {"annotations": {"a/b": "c"}}});
        keep_live(&mut payload, &live, &paths);
        assert_eq!(
            payload,
            json!({"spec": {"replicas": 5, "x": 1}, "metadata": {"annotations": {}}})
        );
        assert_eq!(
            without(&payload, &paths),
            json!({"spec": {"x": 1}, "metadata": {"annotations": {}}})
        );
    }
}
