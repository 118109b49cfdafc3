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

/// Splits a field path as kyaml's `SmarterPathSplitter` does: on dots, except after a
/// backslash and inside brackets (`a.[name=x.y].b` is three parts); a bracketed part without
/// `=` that spans dots is a field name (`[cert-manager.io/inject-ca-from]`); a leading dot is
/// allowed.
pub fn split_path(path: &str) -> Vec<String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    if parts.len() > 1 && parts[0].is_empty() {
        parts.remove(0);
    }
    let mut split: Vec<String> = Vec::new();
    for part in parts {
        match split.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(part);
            }
            _ => split.push(part.to_string()),
        }
    }
    let mut result = Vec::new();
    let mut i = 0;
    while i < split.len() {
        let element = &split[i];
        if element.starts_with('[') && !element.ends_with(']') {
            let mut bracketed = vec![element.clone()];
            while i < split.len() - 1 {
                i += 1;
                bracketed.push(split[i].clone());
                if split[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                result.push(joined);
            } else {
                result.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            result.push(element.clone());
        }
        i += 1;
    }
    result
}

/// Reads the value at the path as kyaml's `Lookup` does: `[k=v]` picks the first item whose
/// `k` reads exactly `v` (`[=v]` a scalar item), a number an index, `-` the last item.
/// Wildcards are refused.
pub fn lookup<'a>(node: &'a Value, segments: &[String]) -> Result<Option<&'a Value>, String> {
    let Some((segment, rest)) = segments.split_first() else {
        return Ok(Some(node));
    };
    if segment == "*" {
        return Err("wildcard is not supported in PathGetter".into());
    }
    let child = match (node, parse_segment(segment)) {
        (_, Segment::Invalid) => return Err(NO_EQUALS.into()),
        (Value::Array(items), Segment::Match(key, value)) if key.is_empty() => items
            .iter()
            .find(|item| scalar_text(item).as_deref() == Some(value.as_str())),
        (Value::Array(items), Segment::Match(key, value)) => items.iter().find(|item| {
            item.get(key.as_str())
                .and_then(scalar_text)
                .is_some_and(|t| t == value)
        }),
        (Value::Array(items), Segment::Key(key)) if key == "-" => items.last(),
        (Value::Array(items), Segment::Key(key)) => match key.parse::<i64>() {
            Ok(index) if index < 0 => {
                return Err(format!("array index {index} cannot be negative"));
            }
            Ok(index) => usize::try_from(index).ok().and_then(|i| items.get(i)),
            Err(_) => None,
        },
        (Value::Object(map), Segment::Key(key)) => map.get(&key),
        _ => None,
    };
    match child {
        Some(child) => lookup(child, rest),
        None => Ok(None),
    }
}

enum Segment {
    Key(String),
    Match(String, String),
    /// `[x]` without `=`.
    Invalid,
}

fn parse_segment(segment: &str) -> Segment {
    if segment.len() >= 2 && segment.starts_with('[') && segment.ends_with(']') {
        let inner = &segment[1..segment.len() - 1];
        return match inner.split_once('=') {
            Some((key, value)) => Segment::Match(key.to_string(), value.to_string()),
            None => Segment::Invalid,
        };
    }
    Segment::Key(segment.to_string())
}

const NO_EQUALS: &str = "list path element must contain fieldName=fieldValue for element to match";

/// What a created node starts as: a list before `[k=v]` or an index, a map before a field,
/// `Null` (a scalar, or the value itself) at the end.
fn created_for(next: Option<&String>) -> Value {
    match next {
        Some(n) if (n.starts_with('[') && n.ends_with(']')) || n.parse::<usize>().is_ok() => {
            Value::Array(Vec::new())
        }
        Some(_) => Value::Object(Map::new()),
        None => Value::Null,
    }
}

fn wrong_kind(node: &Value, expected: &str) -> String {
    let kind = match node {
        Value::Object(_) => "MappingNode",
        Value::Array(_) => "SequenceNode",
        _ => "ScalarNode",
    };
    format!("wrong node kind: expected {expected} but got {kind}")
}

/// Calls `set` on every node at the path as kyaml's `PathMatcher` finds them: `*` is every
/// item, `[k=v]` every item whose `k` matches the Go regexp `v` (unanchored, as kyaml does),
/// a number one item; with `create`, missing fields, `[k=v]` items and the item just past
/// the end are made. Returns how many nodes were reached.
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
    if node.is_null() && !create {
        return Ok(0);
    }
    if segment == "*" {
        let Value::Array(items) = node else {
            return Err(wrong_kind(node, "SequenceNode"));
        };
        let mut count = 0;
        for item in items.iter_mut() {
            count += set_path(item, rest, create, set)?;
        }
        return Ok(count);
    }
    if let Ok(index) = segment.parse::<usize>() {
        let Value::Array(items) = node else {
            return Err(wrong_kind(node, "SequenceNode"));
        };
        if items.len() == index && create {
            items.push(created_for(rest.first()));
        }
        let found = items.len();
        return match items.get_mut(index) {
            Some(item) => set_path(item, rest, create, set),
            None => Err(format!(
                "index {index} specified but only {found} elements found"
            )),
        };
    }
    let parsed = parse_segment(segment);
    if matches!(parsed, Segment::Invalid) {
        return Err(NO_EQUALS.into());
    }
    if let Segment::Match(key, pattern) = parsed {
        if node.is_null() {
            *node = Value::Array(Vec::new());
        }
        let Value::Array(items) = node else {
            return Err(wrong_kind(node, "SequenceNode"));
        };
        let regex = crate::go_regex::compile(&pattern, false).map_err(|e| e.to_string())?;
        let selected = |item: &Value| {
            let field = if key.is_empty() {
                Some(item)
            } else {
                item.get(key.as_str()).filter(|f| !f.is_null())
            };
            field
                .and_then(scalar_text)
                .is_some_and(|text| regex.is_match(text.trim()))
        };
        let mut count = 0;
        for item in items.iter_mut().filter(|i| selected(i)) {
            count += set_path(item, rest, create, set)?;
        }
        if count > 0 || !create {
            return Ok(count);
        }
        let value =
            crate::yaml::resolve::plain_value(&pattern).unwrap_or(Value::String(pattern.clone()));
        items.push(if key.is_empty() {
            value
        } else {
            Value::Object(Map::from_iter([(key, value)]))
        });
        return set_path(node, segments, create, set);
    }
    let Segment::Key(key) = parse_segment(segment) else {
        return Ok(0);
    };
    if node.is_null() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else {
        return Err(wrong_kind(node, "MappingNode"));
    };
    if !map.contains_key(&key) {
        if !create {
            return Ok(0);
        }
        map.insert(key.clone(), created_for(rest.first()));
    }
    match map.get_mut(&key) {
        Some(child) => set_path(child, rest, create, set),
        None => Ok(0),
    }
}

/// Puts `value` in place of a target field as kyaml does: a scalar target keeps its type
/// and takes the value's text (a number copied into a string field stays a string), a new
/// field reads the text as YAML would, anything else is replaced.
fn put(target: &mut Value, value: &Value) {
    let Some(text) = scalar_text(value) else {
        *target = value.clone();
        return;
    };
    *target = match target {
        Value::String(_) => Value::String(text),
        Value::Number(_) => crate::yaml::resolve::plain_value(&text)
            .ok()
            .filter(Value::is_number)
            .unwrap_or(Value::String(text)),
        Value::Bool(_) => crate::yaml::resolve::plain_value(&text)
            .ok()
            .filter(Value::is_boolean)
            .unwrap_or(Value::String(text)),
        Value::Null => crate::yaml::resolve::plain_value(&text).unwrap_or(Value::String(text)),
        _ => value.clone(),
    };
}

/// kyaml's `IsNilOrEmpty`: missing, null, or an empty map or list.
fn is_nil_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
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
    let found = lookup(&from.object, &split_path(field_path))
        .map_err(|e| invalid(k, format!("error looking up replacement source: {e}")))?;
    let mut value = found
        .filter(|v| !is_nil_or_empty(v))
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
                        None => put(node, &value),
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
                            put(node, &Value::String(parts.join(delimiter)));
                        }
                    }
                    Ok(())
                };
                let retrieval = if create {
                    format!("unable to find or create field \"{path}\" in replacement target")
                } else {
                    format!("unable to find field \"{path}\" in replacement target")
                };
                let reached = set_path(&mut resource.object, &segments, create, &mut set)
                    .map_err(|e| invalid(k, format!("{retrieval}: {e}")))?;
                if reached == 0 {
                    return Err(invalid(k, retrieval));
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
        let get = |p: &str| lookup(&pod, &split_path(p));
        assert_eq!(
            get("spec.containers.[name=a.b].image"),
            Ok(Some(&json!("2")))
        );
        assert_eq!(get("spec.containers.0.name"), Ok(Some(&json!("x"))));
        assert_eq!(get("spec.containers.-.name"), Ok(Some(&json!("a.b"))));
        assert_eq!(get("spec.missing"), Ok(None));
        assert!(get("spec.containers.*.name").is_err());
        assert!(get("spec.containers.-1.name").is_err());
    }

    /// Each case is what `kubectl kustomize` (v5.5.0) did with the same target path.
    #[test]
    fn targets_are_found_as_kyaml_path_matcher_finds_them() {
        let object = json!({"spec": {"containers": [
            {"name": "web", "env": [{"name": "PORT", "value": "x"}], "ports": [{"containerPort": 80}]},
            {"name": "side", "env": [{"name": "PORT", "value": "1"}]}
        ], "dnsNames": ["a", "b"], "replicas": 1}});
        let cases: Vec<(&str, bool, Result<usize, ()>)> = vec![
            ("spec.containers.*.env.[name=PORT].value", false, Ok(2)),
            // `[k=v]` is an unanchored Go regexp.
            (
                "spec.containers.[name=we].ports.0.containerPort",
                false,
                Ok(1),
            ),
            ("spec.dnsNames.*", false, Ok(2)),
            ("spec.containers.*.missing", false, Ok(0)),
            ("spec.containers.*.missing", true, Ok(2)),
            ("spec.containers.5.name", false, Err(())),
            ("spec.containers.2.name", true, Ok(1)),
            ("spec.replicas.*", false, Err(())),
            ("spec.containers.[name=new].image", true, Ok(1)),
        ];
        for (path, create, want) in cases {
            let mut target = object.clone();
            let got = set_path(&mut target, &split_path(path), create, &mut |v| {
                *v = json!("set");
                Ok(())
            });
            assert_eq!(got.map_err(|_| ()), want, "{path} create={create}");
        }
    }

    #[test]
    fn a_scalar_target_keeps_its_type() {
        let cases = [
            (json!("placeholder"), json!(8080), json!("8080")),
            (json!(1), json!("3"), json!(3)),
            (json!(1), json!("three"), json!("three")),
            (json!(null), json!("8080"), json!(8080)),
            (json!(true), json!("false"), json!(false)),
            (json!({"a": 1}), json!("x"), json!("x")),
            (json!("x"), json!(["a"]), json!(["a"])),
        ];
        for (mut target, value, want) in cases {
            put(&mut target, &value);
            assert_eq!(target, want, "{value}");
        }
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
