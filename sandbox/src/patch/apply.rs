//! Server-side apply and managed-field bookkeeping: conflicts, forced ownership transfer,
//! merging by list/map type, removal of fields a manager stopped applying, and `Update`
//! entries for every other kind of write.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::fields::{
    Path, Resolver, display_path, field_set, from_fields_v1, merge_applied, owned_view,
    prune_empty_parents, remove_at, to_fields_v1, value_at,
};
use crate::error::ApiError;
use crate::resources::ResourceType;

/// One managedFields entry.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Value,
    subresource: String,
    fields: BTreeSet<Path>,
}

impl Entry {
    fn same_identity(
        &self,
        manager: &str,
        operation: &str,
        api_version: &str,
        subresource: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == "Apply" || self.api_version == api_version)
    }

    fn describe(&self) -> String {
        let mut text = format!("\"{}\"", self.manager);
        if self.operation == "Update" {
            text.push_str(&format!(" using {}", self.api_version));
        }
        if !self.subresource.is_empty() {
            text.push_str(&format!(" with subresource \"{}\"", self.subresource));
        }
        text
    }
}

fn read_entries(object: &Value) -> Vec<Entry> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["manager"].is_string() || e["fieldsV1"].is_object())
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or_default().to_string(),
                    operation: e["operation"].as_str().unwrap_or("Update").to_string(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
                    time: e["time"].clone(),
                    subresource: e["subresource"].as_str().unwrap_or_default().to_string(),
                    fields: from_fields_v1(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_entries(object: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if list.is_empty() {
        if let Some(meta) = object["metadata"].as_object_mut() {
            meta.remove("managedFields");
        }
    } else {
        object["metadata"]["managedFields"] = Value::Array(list);
    }
}

/// The parameters of one apply.
pub struct ApplyParams<'a> {
    /// `fieldManager`.
    pub manager: &'a str,
    /// `force=true`.
    pub force: bool,
    /// Whether this is the `/status` endpoint.
    pub status_endpoint: bool,
    /// The API version of the request.
    pub api_version: &'a str,
    /// The current time (RFC 3339).
    pub now: &'a str,
}

/// Applies `config` to `live` (or to a new object built from `config`'s identity).
pub fn server_side_apply(
    live: Option<&Value>,
    config: &Value,
    rt: &ResourceType,
    params: &ApplyParams,
) -> Result<Value, ApiError> {
    let resolver = Resolver::for_type(rt);
    let mut object = match live {
        Some(live) => live.clone(),
        None => json!({
            "apiVersion": config["apiVersion"],
            "kind": config["kind"],
            "metadata": {"name": config["metadata"]["name"], "namespace": config["metadata"]["namespace"]},
        }),
    };
    if object["metadata"]["namespace"].is_null()
        && let Some(meta) = object["metadata"].as_object_mut()
    {
        meta.remove("namespace");
    }
    let subresource = if params.status_endpoint { "status" } else { "" };
    let mut entries = read_entries(&object);
    let config_view = owned_view(config, rt, params.status_endpoint);
    let applied = field_set(&config_view, &resolver);
    let live_view = owned_view(&object, rt, params.status_endpoint);
    let mine =
        |e: &Entry| e.same_identity(params.manager, "Apply", params.api_version, subresource);

    let mut conflicts: BTreeMap<usize, Vec<Path>> = BTreeMap::new();
    for path in applied
        .iter()
        .filter(|p| p.last().is_some_and(|e| e != "."))
    {
        let Some(live_value) = value_at(&live_view, path) else {
            continue;
        };
        if value_at(&config_view, path) == Some(live_value) {
            continue;
        }
        for (i, entry) in entries.iter().enumerate() {
            if !mine(entry) && entry.fields.contains(path) {
                conflicts.entry(i).or_default().push(path.clone());
            }
        }
    }
    if !conflicts.is_empty() {
        if !params.force {
            return Err(conflict_error(&entries, &conflicts));
        }
        for (i, paths) in &conflicts {
            for path in paths {
                entries[*i].fields.remove(path);
            }
        }
    }

    let previous = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    merge_applied(&mut object, &config_view, &resolver, &mut Vec::new());
    let others: Vec<&Entry> = entries.iter().filter(|e| !mine(e)).collect();
    let owned_by_others = |p: &[String]| {
        others
            .iter()
            .any(|e| e.fields.iter().any(|f| f.starts_with(p)))
    };
    for path in previous.difference(&applied) {
        if !others.iter().any(|e| e.fields.contains(path)) {
            remove_at(&mut object, path);
            prune_empty_parents(&mut object, path, &owned_by_others);
        }
    }

    let changed = previous != applied;
    match entries.iter_mut().find(|e| mine(e)) {
        Some(entry) => {
            if changed {
                entry.time = json!(params.now);
            }
            entry.fields = applied;
            entry.api_version = params.api_version.to_string();
        }
        None => entries.push(Entry {
            manager: params.manager.to_string(),
            operation: "Apply".into(),
            api_version: params.api_version.to_string(),
            time: json!(params.now),
            subresource: subresource.to_string(),
            fields: applied,
        }),
    }
    write_entries(&mut object, entries);
    Ok(object)
}

fn conflict_error(entries: &[Entry], conflicts: &BTreeMap<usize, Vec<Path>>) -> ApiError {
    let total: usize = conflicts.values().map(Vec::len).sum();
    let mut causes = Vec::new();
    let mut groups = Vec::new();
    for (i, paths) in conflicts {
        let who = entries[*i].describe();
        for p in paths {
            causes.push(json!({"reason": "FieldManagerConflict", "message": format!("conflict with {who}"), "field": display_path(p)}));
        }
        groups.push((
            who,
            paths.iter().map(|p| display_path(p)).collect::<Vec<_>>(),
        ));
    }
    let message = if total == 1 {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            groups[0].0, groups[0].1[0]
        )
    } else {
        let body: Vec<String> = groups
            .iter()
            .map(|(who, paths)| {
                format!(
                    "conflicts with {who}:\n{}",
                    paths
                        .iter()
                        .map(|p| format!("- {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })
            .collect();
        format!("Apply failed with {total} conflicts: {}", body.join("\n"))
    };
    ApiError::conflict_message(message, json!({"causes": causes}))
}

/// Records a non-apply write: the paths it changed or added move to the writer's `Update`
/// entry; paths that disappeared leave every entry. A client-supplied `managedFields` that
/// differs from the stored one replaces the bookkeeping instead (`[{}]` clears it).
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    rt: &ResourceType,
    manager: &str,
    api_version: &str,
    status_endpoint: bool,
    now: &str,
) {
    let requested = new["metadata"].get("managedFields").cloned();
    let stored = old
        .map(|o| o["metadata"]["managedFields"].clone())
        .unwrap_or(Value::Null);
    if let Some(requested) = requested.filter(|r| *r != stored && !r.is_null()) {
        let entries = read_entries(&json!({"metadata": {"managedFields": requested}}));
        write_entries(new, entries);
        return;
    }
    let resolver = Resolver::for_type(rt);
    let mut entries = old.map(read_entries).unwrap_or_default();
    let new_view = owned_view(new, rt, status_endpoint);
    let old_view = old
        .map(|o| owned_view(o, rt, status_endpoint))
        .unwrap_or(json!({}));
    let new_set = field_set(&new_view, &resolver);
    let old_set = field_set(&old_view, &resolver);
    let changed: BTreeSet<Path> = new_set
        .iter()
        .filter(|p| {
            if p.last().is_some_and(|e| e == ".") {
                !old_set.contains(*p)
            } else {
                value_at(&old_view, p) != value_at(&new_view, p)
            }
        })
        .cloned()
        .collect();
    let removed: Vec<&Path> = old_set.difference(&new_set).collect();
    for entry in &mut entries {
        for path in &changed {
            entry.fields.remove(path);
        }
        for path in &removed {
            entry.fields.remove(*path);
        }
    }
    if !changed.is_empty() {
        let subresource = if status_endpoint { "status" } else { "" };
        match entries
            .iter_mut()
            .find(|e| e.same_identity(manager, "Update", api_version, subresource))
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.time = json!(now);
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: api_version.to_string(),
                time: json!(now),
                subresource: subresource.to_string(),
                fields: changed,
            }),
        }
    }
    write_entries(new, entries);
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
