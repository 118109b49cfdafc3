//! The builtin `ValueAddTransformer` plugin: writes a value (by default the name of the
//! kustomization's directory) into fields of the selected resources, either replacing the
//! field or inserting it as a segment of a slash-separated path.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::kustomization::Kustomization;
use crate::patch::Selector;
use crate::resource::Resource;

/// Inserts `value` into a slash-separated `path` at 1-based `position` (appended when past
/// the end); an empty path becomes the value.
pub(super) fn insert_segment(path: &str, value: &str, position: usize) -> String {
    if path.is_empty() {
        return value.to_string();
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    let at = position.saturating_sub(1).min(parts.len());
    parts.insert(at, value);
    parts.join("/")
}

fn set_at(object: &mut Value, fields: &[&str], value: &str, position: usize) {
    let Some((last, parents)) = fields.split_last() else {
        return;
    };
    let mut node = object;
    for field in parents {
        if !node.is_object() {
            return;
        }
        let map = node.as_object_mut().map(|m| {
            m.entry(field.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
        });
        let Some(next) = map else { return };
        if next.is_null() {
            *next = Value::Object(Map::new());
        }
        node = next;
    }
    let Some(map) = node.as_object_mut() else {
        return;
    };
    let current = map.get(*last).and_then(Value::as_str).unwrap_or_default();
    let new = if position == 0 {
        value.to_string()
    } else {
        insert_segment(current, value, position)
    };
    map.insert(last.to_string(), Value::String(new));
}

/// Applies a `ValueAddTransformer` config.
pub(super) fn apply(
    k: &Kustomization,
    config: &Value,
    resources: &mut [Resource],
) -> Result<(), Error> {
    let value = match config["value"].as_str().filter(|v| !v.is_empty()) {
        Some(value) => value.to_string(),
        None => k
            .canonical_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    for target in config["targets"].as_array().into_iter().flatten() {
        let Some(field_path) = target["fieldPath"].as_str().filter(|p| !p.is_empty()) else {
            return Err(Error::Kustomization {
                path: k.path.clone(),
                message: "ValueAddTransformer: every target needs a fieldPath".into(),
            });
        };
        let position = target["filePathPosition"].as_u64().unwrap_or(0) as usize;
        let selector = match target.get("selector").filter(|s| !s.is_null()) {
            Some(selector) => Some(Selector::parse(selector, &k.path)?),
            None => None,
        };
        let fields: Vec<&str> = field_path.split('/').collect();
        for resource in resources
            .iter_mut()
            .filter(|r| selector.as_ref().is_none_or(|s| s.matches(r)))
        {
            set_at(&mut resource.object, &fields, &value, position);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_replace_fields_or_join_paths() {
        let cases = [
            ("projects", 2, "projects/cat"),
            ("a/b/c", 1, "cat/a/b/c"),
            ("a/b", 9, "a/b/cat"),
            ("", 2, "cat"),
        ];
        for (path, position, want) in cases {
            assert_eq!(
                insert_segment(path, "cat", position),
                want,
                "{path} @ {position}"
            );
        }
        let mut object = serde_json::json!({"metadata": {"name": "x"}});
        set_at(&mut object, &["metadata", "namespace"], "cat", 0);
        set_at(&mut object, &["spec", "ref"], "cat", 2);
        assert_eq!(object["metadata"]["namespace"], "cat");
        assert_eq!(object["spec"]["ref"], "cat");
    }
}
