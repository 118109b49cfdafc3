//! The `replacements` step of a build: copies a value from one resource's field into fields
//! of other resources, optionally one delimited part at a time.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::kustomization::Kustomization;
use crate::patch::Selector;
use crate::resource::Resource;
use crate::yaml::read_documents;

fn invalid(k: &Kustomization, message: String) -> Error {
    Error::Kustomization {
        path: k.path.clone(),
        message: format!("replacements: {message}"),
    }
}

/// Splits a field path on dots outside brackets: `a.[name=x.y].b` is three segments; a
/// leading dot (`.metadata.name`) is allowed.
pub fn split_path(path: &str) -> Vec<String> {
    let path = path.strip_prefix('.').unwrap_or(path);
    let mut out = vec![String::new()];
    let mut depth = 0usize;
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let (Some(escaped), Some(last)) = (chars.next(), out.last_mut()) {
                last.push(escaped);
            }
            continue;
        }
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == '.' && depth == 0 {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// Reads the first value at the path.
pub fn get_path<'a>(node: &'a Value, segments: &[String]) -> Option<&'a Value> {
    let Some((segment, rest)) = segments.split_first() else {
        return Some(node);
    };
    let child = match (node, parse_segment(segment)) {
        (Value::Array(items), Segment::Match(key, value)) => items
            .iter()
            .find(|item| item[key.as_str()] == value.as_str()),
        (Value::Array(items), Segment::Key(key)) => {
            key.parse::<usize>().ok().and_then(|i| items.get(i))
        }
        (Value::Object(map), Segment::Key(key)) => map.get(&key),
        _ => None,
    }?;
    get_path(child, rest)
}

enum Segment {
    Key(String),
    Match(String, String),
}

fn parse_segment(segment: &str) -> Segment {
    if let Some(inner) = segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        if let Some((key, value)) = inner.split_once('=') {
            return Segment::Match(key.to_string(), value.to_string());
        }
        return Segment::Key(inner.to_string());
    }
    Segment::Key(segment.to_string())
}

/// Calls `set` on every node at the path, creating missing map fields when `create`;
/// returns how many nodes were reached.
pub fn set_path(
    node: &mut Value,
    segments: &[String],
    create: bool,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<usize, String> {
    let Some((segment, rest)) = segments.split_first() else {
        set(node)?;
        return Ok(1);
    };
    match (node, parse_segment(segment)) {
        (Value::Array(items), Segment::Match(key, value)) => {
            let mut count = 0;
            for item in items
                .iter_mut()
                .filter(|i| i[key.as_str()] == value.as_str())
            {
                count += set_path(item, rest, create, set)?;
            }
            Ok(count)
        }
        (Value::Array(items), Segment::Key(key)) => {
            match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => set_path(item, rest, create, set),
                None => Ok(0),
            }
        }
        (node @ Value::Null, Segment::Key(key)) if create => {
            *node = Value::Object(Map::new());
            let Value::Object(map) = node else {
                return Ok(0);
            };
            let child = map.entry(key).or_insert(Value::Null);
            set_path(child, rest, create, set)
        }
        (Value::Object(map), Segment::Key(key)) => {
            if !map.contains_key(&key) {
                if !create {
                    return Ok(0);
                }
                map.insert(key.clone(), Value::Null);
            }
            match map.get_mut(&key) {
                Some(child) => set_path(child, rest, create, set),
                None => Ok(0),
            }
        }
        _ => Ok(0),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// The `delimiter`/`index` options: which part of a delimited string.
fn part(options: &Value) -> Option<(String, i64)> {
    let delimiter = options["delimiter"].as_str().filter(|d| !d.is_empty())?;
    Some((
        delimiter.to_string(),
        options["index"].as_i64().unwrap_or(0),
    ))
}

/// The replacement entries, with `path:` entries read from their files.
fn entries(
    k: &Kustomization,
    read: &dyn Fn(&str) -> Result<Vec<u8>, Error>,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for item in k.list("replacements")? {
        match item.get("path").and_then(Value::as_str) {
            Some(path) => {
                let text = String::from_utf8_lossy(&read(path)?).into_owned();
                let docs = read_documents(&text).map_err(|e| invalid(k, format!("{path}: {e}")))?;
                for doc in docs {
                    match doc {
                        Value::Array(list) => out.extend(list),
                        other => out.push(other),
                    }
                }
            }
            None => out.push(item),
        }
    }
    Ok(out)
}

/// Applies the `replacements` entries in order.
pub(super) fn apply_replacements(
    k: &Kustomization,
    resources: &mut [Resource],
    read: &dyn Fn(&str) -> Result<Vec<u8>, Error>,
) -> Result<(), Error> {
    for entry in entries(k, read)? {
        apply_one(k, resources, &entry)?;
    }
    Ok(())
}

/// Applies one `{source, targets}` replacement.
pub(super) fn apply_one(
    k: &Kustomization,
    resources: &mut [Resource],
    entry: &Value,
) -> Result<(), Error> {
    let source = &entry["source"];
    let selector = Selector::parse_exact(source, &k.path)?;
    let matches: Vec<&Resource> = resources.iter().filter(|r| selector.matches(r)).collect();
    let from = match matches.as_slice() {
        [one] => *one,
        [] => return Err(invalid(k, format!("nothing selected by source {source}"))),
        _ => return Err(invalid(k, format!("multiple matches for source {source}"))),
    };
    let field_path = source["fieldPath"].as_str().unwrap_or("metadata.name");
    let mut value = get_path(&from.object, &split_path(field_path))
        .cloned()
        .ok_or_else(|| {
            invalid(
                k,
                format!("fieldPath `{field_path}` is missing for replacement source {source}"),
            )
        })?;
    if let Some((delimiter, index)) = part(&source["options"]) {
        let text = scalar_text(&value).unwrap_or_default();
        let parts: Vec<&str> = text.split(delimiter.as_str()).collect();
        let picked = usize::try_from(index).ok().and_then(|i| parts.get(i));
        value = Value::String(
            picked
                .ok_or_else(|| {
                    invalid(
                        k,
                        format!("options.index {index} is out of bounds for value {text}"),
                    )
                })?
                .to_string(),
        );
    }
    for target in entry["targets"].as_array().into_iter().flatten() {
        let select = Selector::parse_exact(&target["select"], &k.path)?;
        let rejects = target["reject"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Selector::parse_exact(r, &k.path))
            .collect::<Result<Vec<_>, _>>()?;
        let create = target["options"]["create"].as_bool().unwrap_or(false);
        let target_part = part(&target["options"]);
        for resource in resources.iter_mut() {
            if !select.matches(resource) || rejects.iter().any(|r| r.matches(resource)) {
                continue;
            }
            for path in target["fieldPaths"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let segments = split_path(path);
                let mut set = |node: &mut Value| -> Result<(), String> {
                    match &target_part {
                        None => *node = value.clone(),
                        Some((delimiter, index)) => {
                            let current = scalar_text(node).unwrap_or_default();
                            let mut parts: Vec<String> = current
                                .split(delimiter.as_str())
                                .map(str::to_string)
                                .collect();
                            let new = scalar_text(&value).unwrap_or_default();
                            match usize::try_from(*index).ok().filter(|i| *i < parts.len()) {
                                Some(i) => parts[i] = new,
                                None if *index < 0 => parts.insert(0, new),
                                None => parts.push(new),
                            }
                            *node = Value::String(parts.join(delimiter));
                        }
                    }
                    Ok(())
                };
                let reached = set_path(&mut resource.object, &segments, create, &mut set)
                    .map_err(|e| invalid(k, e))?;
                if reached == 0 {
                    return Err(invalid(
                        k,
                        format!("unable to find field \"{path}\" in replacement target"),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_split_outside_brackets_and_resolve() {
        assert_eq!(
            split_path("spec.containers.[name=a.b].image"),
            ["spec", "containers", "[name=a.b]", "image"]
        );
        let pod = json!({"spec": {"containers": [{"name": "x", "image": "1"}, {"name": "a.b", "image": "2"}]}});
        assert_eq!(
            get_path(&pod, &split_path("spec.containers.[name=a.b].image")),
            Some(&json!("2"))
        );
        assert_eq!(
            get_path(&pod, &split_path("spec.containers.0.name")),
            Some(&json!("x"))
        );
        assert_eq!(get_path(&pod, &split_path("spec.missing")), None);
    }

    #[test]
    fn set_creates_only_when_asked() {
        let mut object = json!({"metadata": {"name": "a"}});
        let mut set = |v: &mut Value| {
            *v = json!("x");
            Ok(())
        };
        assert_eq!(
            set_path(&mut object, &split_path("spec.host"), false, &mut set),
            Ok(0)
        );
        assert_eq!(
            set_path(&mut object, &split_path("spec.host"), true, &mut set),
            Ok(1)
        );
        assert_eq!(object["spec"]["host"], "x");
    }
}
