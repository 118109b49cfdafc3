//! RFC 6902 JSON patch with the behaviour of Kubernetes' implementation: a `test` against a
//! missing member of an existing object passes when the expected value is `null` (kube-rs'
//! finalizer helper relies on it), and any failing operation rejects the whole patch.

use serde_json::Value;

/// Applies a JSON patch document (an array of operations) to `target`.
pub fn apply_json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let ops = patch
        .as_array()
        .ok_or("the patch must be a JSON array of operations")?;
    let mut working = target.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut working, op).map_err(|e| format!("operation {i}: {e}"))?;
    }
    *target = working;
    Ok(())
}

fn pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a Value, String> {
    op.get(name).ok_or_else(|| format!("missing {name:?}"))
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), String> {
    let kind = field(op, "op")?.as_str().ok_or("op must be a string")?;
    let path = pointer(field(op, "path")?.as_str().ok_or("path must be a string")?)?;
    match kind {
        "add" => add(doc, &path, field(op, "value")?.clone()),
        "remove" => remove(doc, &path).map(|_| ()),
        "replace" => {
            let slot =
                get_mut(doc, &path).ok_or_else(|| format!("path {} not found", join(&path)))?;
            *slot = field(op, "value")?.clone();
            Ok(())
        }
        "move" => {
            let from = pointer(field(op, "from")?.as_str().ok_or("from must be a string")?)?;
            let value = remove(doc, &from)?;
            add(doc, &path, value)
        }
        "copy" => {
            let from = pointer(field(op, "from")?.as_str().ok_or("from must be a string")?)?;
            let value = get(doc, &from)
                .cloned()
                .ok_or_else(|| format!("path {} not found", join(&from)))?;
            add(doc, &path, value)
        }
        "test" => {
            let expected = field(op, "value")?;
            match get(doc, &path) {
                Some(actual) if actual == expected => Ok(()),
                None if expected.is_null() && parent_exists(doc, &path) => Ok(()),
                _ => Err(format!("testing value {} failed", join(&path))),
            }
        }
        other => Err(format!("unknown operation {other:?}")),
    }
}

fn join(path: &[String]) -> String {
    path.iter().map(|p| format!("/{p}")).collect()
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => token
            .parse::<usize>()
            .ok()
            .and_then(move |i| items.get_mut(i)),
        _ => None,
    })
}

fn parent_exists(doc: &Value, path: &[String]) -> bool {
    path.split_last()
        .is_some_and(|(_, parent)| get(doc, parent).is_some_and(Value::is_object))
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parent_path)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    let parent =
        get_mut(doc, parent_path).ok_or_else(|| format!("path {} not found", join(parent_path)))?;
    match parent {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("invalid index {last:?}"))?
            };
            if index > items.len() {
                return Err(format!("index {index} out of bounds"));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("path {} is not a container", join(parent_path))),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, String> {
    let (last, parent_path) = path
        .split_last()
        .ok_or("cannot remove the whole document")?;
    let parent =
        get_mut(doc, parent_path).ok_or_else(|| format!("path {} not found", join(parent_path)))?;
    match parent {
        Value::Object(map) => map
            .remove(last)
            .ok_or_else(|| format!("path {} not found", join(path))),
        Value::Array(items) => {
            let index = last
                .parse::<usize>()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if index >= items.len() {
                return Err(format!("index {index} out of bounds"));
            }
            Ok(items.remove(index))
        }
        _ => Err(format!("path {} not found", join(path))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kube_rs_finalizer_patches_work() {
        let mut obj = json!({"metadata": {"name": "w1"}});
        let add = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}
        ]);
        apply_json_patch(&mut obj, &add).unwrap();
        assert_eq!(obj["metadata"]["finalizers"], json!(["x"]));
        let remove = json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "x"},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ]);
        apply_json_patch(&mut obj, &remove).unwrap();
        assert_eq!(obj["metadata"]["finalizers"], json!([]));
    }

    #[test]
    fn a_failing_operation_rejects_the_whole_patch() {
        let mut obj = json!({"a": 1});
        let patch = json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 3}]);
        assert!(apply_json_patch(&mut obj, &patch).is_err());
        assert_eq!(obj, json!({"a": 1}));
        let missing_parent = json!([{"op": "test", "path": "/x/y", "value": null}]);
        assert!(apply_json_patch(&mut obj, &missing_parent).is_err());
    }

    #[test]
    fn add_move_copy_and_escapes() {
        let mut obj = json!({"metadata": {"annotations": {}}, "list": [1, 3]});
        let patch = json!([
            {"op": "add", "path": "/metadata/annotations/a~1b", "value": "v"},
            {"op": "add", "path": "/list/1", "value": 2},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "copy", "from": "/list/0", "path": "/first"},
            {"op": "move", "from": "/first", "path": "/moved"}
        ]);
        apply_json_patch(&mut obj, &patch).unwrap();
        assert_eq!(
            obj,
            json!({"metadata": {"annotations": {"a/b": "v"}}, "list": [1, 2, 3, 4], "moved": 1})
        );
    }
}
