//! Field sets for server-side apply: how lists and maps merge (from the kind's schema, CRD or
//! upstream built-in definitions, or a built-in table), the set of paths an object sets (FieldsV1), and reading, merging and
//! removing values at such paths.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::schema::Schema;
use crate::resources::ResourceType;

/// How a list merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// Union of scalars.
    Set,
    /// Items matched by these key fields.
    Map(Vec<String>),
}

/// One path element in FieldsV1 form: `f:<name>`, `k:<json>`, `v:<json>` or `.`.
pub type Path = Vec<String>;

/// Answers list and map types for field-name paths of one resource type.
pub struct Resolver<'a> {
    schema: Schema<'a>,
}

impl<'a> Resolver<'a> {
    /// The resolver for a resource type: its schema (a CRD's, or a built-in kind's upstream
    /// definitions), the built-in table for kinds without one.
    pub fn for_type(rt: &'a ResourceType) -> Self {
        Self {
            schema: Schema::for_type(rt),
        }
    }

    /// The list type of the field at `names`.
    pub fn list_type(&self, names: &[String]) -> ListType {
        if !self.schema.is_known() {
            return builtin_list_type(names);
        }
        match self.schema.extension_str(names, "x-kubernetes-list-type") {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                self.schema
                    .extension(names, "x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }

    /// Whether the map or struct at `names` is atomic.
    pub fn map_is_atomic(&self, names: &[String]) -> bool {
        if names.is_empty() {
            return false;
        }
        if self.schema.is_known() {
            return self.schema.extension_str(names, "x-kubernetes-map-type") == Some("atomic");
        }
        names.last().is_some_and(|n| n == "selector") && names.len() > 1
    }
}

/// The list types of common built-in fields, for built-in kinds without upstream definitions.
fn builtin_list_type(names: &[String]) -> ListType {
    let Some(last) = names.last() else {
        return ListType::Atomic;
    };
    let within = |parent: &str| names[..names.len() - 1].iter().any(|n| n == parent);
    let keys = |k: &[&str]| ListType::Map(k.iter().map(|s| s.to_string()).collect());
    match last.as_str() {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => keys(&["name"]),
        "ports"
            if within("containers")
                || within("initContainers")
                || within("ephemeralContainers") =>
        {
            keys(&["containerPort", "protocol"])
        }
        "ports" if names.first().is_some_and(|n| n == "spec") && names.len() == 2 => {
            keys(&["port", "protocol"])
        }
        "volumeMounts" => keys(&["mountPath"]),
        "ownerReferences" => keys(&["uid"]),
        "finalizers" if names.len() == 2 && names[0] == "metadata" => ListType::Set,
        "conditions" => keys(&["type"]),
        "hostAliases" => keys(&["ip"]),
        _ => ListType::Atomic,
    }
}

/// The key value of a list-map item; a missing `protocol` defaults to `TCP` as in Kubernetes.
pub fn item_key(item: &Value, keys: &[String]) -> Value {
    let mut map = Map::new();
    for key in keys {
        match item.get(key) {
            Some(v) => {
                map.insert(key.clone(), v.clone());
            }
            None if key == "protocol" => {
                map.insert(key.clone(), json!("TCP"));
            }
            None => {}
        }
    }
    Value::Object(map)
}

/// The part of an object that field ownership covers: labels, annotations, finalizers and
/// owner references of the metadata, and everything but identity (and `status` when it is a
/// subresource, or only `status` for the status endpoint).
pub fn owned_view(object: &Value, rt: &ResourceType, status_endpoint: bool) -> Value {
    let mut view = Map::new();
    let Some(map) = object.as_object() else {
        return Value::Object(view);
    };
    if status_endpoint {
        if let Some(status) = map.get("status") {
            view.insert("status".into(), status.clone());
        }
        return Value::Object(view);
    }
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "status" if rt.status_subresource => {}
            "metadata" => {
                let mut meta = Map::new();
                for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(v) = value.get(field).filter(|v| !v.is_null()) {
                        meta.insert(field.into(), v.clone());
                    }
                }
                if !meta.is_empty() {
                    view.insert("metadata".into(), Value::Object(meta));
                }
            }
            _ => {
                view.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(view)
}

/// Every path an object sets.
pub fn field_set(view: &Value, resolver: &Resolver) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    collect(view, resolver, &mut Vec::new(), &mut Vec::new(), &mut out);
    out
}

fn collect(
    value: &Value,
    resolver: &Resolver,
    names: &mut Vec<String>,
    prefix: &mut Path,
    out: &mut BTreeSet<Path>,
) {
    match value {
        Value::Object(map) if !map.is_empty() && !resolver.map_is_atomic(names) => {
            for (key, child) in map {
                names.push(key.clone());
                prefix.push(format!("f:{key}"));
                collect(child, resolver, names, prefix, out);
                prefix.pop();
                names.pop();
            }
        }
        Value::Array(items) if !prefix.is_empty() => match resolver.list_type(names) {
            ListType::Atomic => {
                out.insert(prefix.clone());
            }
            ListType::Set => {
                for item in items {
                    let mut p = prefix.clone();
                    p.push(format!("v:{item}"));
                    out.insert(p);
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    prefix.push(format!("k:{}", item_key(item, &keys)));
                    let mut own = prefix.clone();
                    own.push(".".into());
                    out.insert(own);
                    if let Value::Object(fields) = item {
                        for (key, child) in fields {
                            names.push(key.clone());
                            prefix.push(format!("f:{key}"));
                            collect(child, resolver, names, prefix, out);
                            prefix.pop();
                            names.pop();
                        }
                    }
                    prefix.pop();
                }
            }
        },
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
        }
    }
}

/// FieldsV1 JSON from a set of paths.
pub fn to_fields_v1(set: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for element in path {
            let entry = node
                .entry(element.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            node = match entry {
                Value::Object(m) => m,
                _ => break,
            };
        }
    }
    Value::Object(root)
}

/// The set of paths in FieldsV1 JSON (every empty object is a leaf).
pub fn from_fields_v1(fields: &Value) -> BTreeSet<Path> {
    fn walk(node: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
        match node.as_object() {
            Some(map) if !map.is_empty() => {
                for (k, v) in map {
                    prefix.push(k.clone());
                    walk(v, prefix, out);
                    prefix.pop();
                }
            }
            _ => {
                if !prefix.is_empty() {
                    out.insert(prefix.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

fn find_item<'v>(items: &'v [Value], element: &str) -> Option<(usize, &'v Value)> {
    if let Some(key) = element.strip_prefix("k:") {
        let key: Value = serde_json::from_str(key).ok()?;
        let keys: Vec<String> = key.as_object()?.keys().cloned().collect();
        items
            .iter()
            .enumerate()
            .find(|(_, item)| item_key(item, &keys) == key)
    } else if let Some(v) = element.strip_prefix("v:") {
        let v: Value = serde_json::from_str(v).ok()?;
        items.iter().enumerate().find(|(_, item)| **item == v)
    } else {
        None
    }
}

/// The value at a path, if present.
pub fn value_at<'v>(object: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut node = object;
    for element in path {
        node = match element.as_str() {
            "." => node,
            e if e.starts_with("f:") => node.get(&e[2..])?,
            e => find_item(node.as_array()?, e)?.1,
        };
    }
    Some(node)
}

/// Removes the value at a path: a field, or a whole list item for `k:`/`v:` leaves and `.`.
pub fn remove_at(object: &mut Value, path: &[String]) {
    let path: &[String] = if path.last().is_some_and(|e| e == ".") {
        &path[..path.len() - 1]
    } else {
        path
    };
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let Some(parent) = value_at_mut(object, parent_path) else {
        return;
    };
    if let Some(name) = last.strip_prefix("f:") {
        if let Some(map) = parent.as_object_mut() {
            map.remove(name);
        }
    } else if let Some(items) = parent.as_array_mut()
        && let Some((index, _)) = find_item(items, last)
    {
        items.remove(index);
    }
}

fn value_at_mut<'v>(object: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut node = object;
    for element in path {
        node = match element.as_str() {
            "." => node,
            e if e.starts_with("f:") => node.get_mut(&e[2..])?,
            e => {
                let index = find_item(node.as_array()?, e)?.0;
                node.as_array_mut()?.get_mut(index)?
            }
        };
    }
    Some(node)
}

/// Merges an applied configuration into a live object following the list and map types.
pub fn merge_applied(
    live: &mut Value,
    config: &Value,
    resolver: &Resolver,
    names: &mut Vec<String>,
) {
    match config {
        Value::Object(cfg) if live.is_object() && !resolver.map_is_atomic(names) => {
            if let Value::Object(target) = live {
                for (key, value) in cfg {
                    names.push(key.clone());
                    match target.get_mut(key) {
                        Some(existing) => merge_applied(existing, value, resolver, names),
                        None => {
                            target.insert(key.clone(), value.clone());
                        }
                    }
                    names.pop();
                }
            }
        }
        Value::Array(items) if live.is_array() => match resolver.list_type(names) {
            ListType::Atomic => *live = config.clone(),
            ListType::Set => {
                if let Value::Array(target) = live {
                    for item in items {
                        if !target.contains(item) {
                            target.push(item.clone());
                        }
                    }
                }
            }
            ListType::Map(keys) => {
                if let Value::Array(target) = live {
                    for item in items {
                        let key = item_key(item, &keys);
                        match target.iter_mut().find(|t| item_key(t, &keys) == key) {
                            Some(existing) => merge_applied(existing, item, resolver, names),
                            None => target.push(item.clone()),
                        }
                    }
                }
            }
        },
        _ => *live = config.clone(),
    }
}

/// `.spec.containers[name="app"].image` for a path.
pub fn display_path(path: &[String]) -> String {
    let mut text = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            text.push('.');
            text.push_str(name);
        } else if let Some(key) = element.strip_prefix("k:") {
            let parsed: Value = serde_json::from_str(key).unwrap_or(Value::Null);
            let parts: Vec<String> = parsed
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            text.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = element.strip_prefix("v:") {
            text.push_str(&format!("[{v}]"));
        }
    }
    text
}

/// Removes objects emptied by field removal along `path`, unless someone owns them.
pub fn prune_empty_parents(object: &mut Value, path: &[String], owned: &dyn Fn(&[String]) -> bool) {
    for len in (1..path.len()).rev() {
        let parent = &path[..len];
        if parent.last().is_some_and(|e| !e.starts_with("f:")) || owned(parent) {
            continue;
        }
        let empty =
            value_at(object, parent).is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
        if empty {
            remove_at(object, parent);
        }
    }
}
