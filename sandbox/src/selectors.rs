//! Label and field selectors, parsed once and matched against JSON objects.

use serde_json::Value;

pub use label_selector::{LabelSelector, labels_of, split_top_level};

/// A parsed field selector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
];

impl FieldSelector {
    /// Parses `a=b,c!=d` for the fields this resource supports.
    pub fn parse(text: &str, resource: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in split_top_level(text) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: {part:?}; can't understand {part:?}"
                ));
            };
            let field = field.trim();
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || (resource == "events" && EVENT_FIELDS.contains(&field))
                || (resource == "namespaces" && field == "status.phase")
                || (resource == "pods" && matches!(field, "status.phase" | "spec.nodeName"));
            if !supported {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(Self(terms))
    }

    /// Whether the object matches.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let actual = field_value(object, field);
            (actual.as_deref() == Some(value.as_str()) || (actual.is_none() && value.is_empty()))
                == *equal
        })
    }

    /// The name an equality term pins, if any (for RBAC resourceNames on list/watch).
    pub fn pinned_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, eq, _)| f == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }
}

fn field_value(object: &Value, field: &str) -> Option<String> {
    let mut node = object;
    for part in field.split('.') {
        node = node.get(part)?;
    }
    match node {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Whether `selector` (a `LabelSelector` object: `matchLabels`, `matchExpressions`) matches
/// `labels`; an empty selector matches everything, as `metav1.LabelSelectorAsSelector` makes it.
pub fn object_selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels[key].as_str();
    let match_labels = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k).is_some() && label(k) == v.as_str());
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap_or_default();
            let mut values = e["values"].as_array().into_iter().flatten();
            match e["operator"].as_str().unwrap_or_default() {
                "In" => label(key).is_some_and(|l| values.any(|v| v.as_str() == Some(l))),
                "NotIn" => label(key).is_none_or(|l| !values.any(|v| v.as_str() == Some(l))),
                "Exists" => label(key).is_some(),
                "DoesNotExist" => label(key).is_none(),
                _ => false,
            }
        });
    match_labels && expressions
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn field_selectors_support_names_and_event_fields() {
        let ev = json!({"metadata": {"name": "e1", "namespace": "a"}, "involvedObject": {"uid": "u1", "kind": "Widget"}});
        let sel =
            FieldSelector::parse("involvedObject.uid=u1,involvedObject.kind=Widget", "events")
                .unwrap();
        assert!(sel.matches(&ev));
        assert!(
            !FieldSelector::parse("metadata.name!=e1", "events")
                .unwrap()
                .matches(&ev)
        );
        assert_eq!(
            FieldSelector::parse("metadata.name=x", "configmaps")
                .unwrap()
                .pinned_name(),
            Some("x")
        );
        assert!(FieldSelector::parse("spec.foo=x", "configmaps").is_err());
    }
}
