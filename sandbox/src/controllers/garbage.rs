//! Owner-reference garbage collection: background (dependents of vanished owners are
//! deleted), foreground (dependents first, then the owner) and orphan (references removed).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use super::stored_types;
use crate::resources::ResourceType;
use crate::server::ApiServer;
use crate::server::delete::delete_object;
use crate::server::meta::{finalizers, is_deleting};
use crate::store::ObjectKey;

struct Item {
    /// Index of the object's type in the pass's type list.
    rt: usize,
    key: ObjectKey,
    object: Arc<Value>,
}

/// One collection pass; whether work is left for the next one (owners waiting for their
/// dependents to go).
pub fn collect(api: &Arc<ApiServer>) -> bool {
    let types: Vec<ResourceType> = stored_types(api);
    let mut items = Vec::new();
    for (index, rt) in types.iter().enumerate() {
        let (objects, _) = api.store.list(&rt.group, &rt.plural, None);
        for object in objects {
            let key = ObjectKey::new(
                &rt.group,
                &rt.plural,
                object["metadata"]["namespace"].as_str().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default(),
            );
            items.push(Item {
                rt: index,
                key,
                object,
            });
        }
    }
    let uids: HashSet<&str> = items
        .iter()
        .filter_map(|i| i.object["metadata"]["uid"].as_str())
        .collect();
    let mut dependents: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        for owner in item.object["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(uid) = owner["uid"].as_str() {
                dependents.entry(uid.to_string()).or_default().push(index);
            }
        }
    }
    for item in &items {
        let refs = item.object["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if refs.is_empty() {
            continue;
        }
        let alive: Vec<Value> = refs
            .iter()
            .filter(|r| r["uid"].as_str().is_some_and(|u| uids.contains(u)))
            .cloned()
            .collect();
        if alive.is_empty() {
            if !is_deleting(&item.object) {
                let _ = delete_object(api, &types[item.rt], &item.key, Some("Background"));
            }
        } else if alive.len() != refs.len() {
            set_owner_refs(api, &item.key, alive);
        }
    }
    let mut waiting = false;
    for owner in items.iter().filter(|i| is_deleting(&i.object)) {
        let uid = owner.object["metadata"]["uid"].as_str().unwrap_or_default();
        let list = finalizers(&owner.object);
        let deps = dependents.get(uid).cloned().unwrap_or_default();
        if list.iter().any(|f| f == "orphan") {
            for index in &deps {
                let dep = &items[*index];
                let kept: Vec<Value> = dep.object["metadata"]["ownerReferences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["uid"].as_str() != Some(uid))
                    .cloned()
                    .collect();
                set_owner_refs(api, &dep.key, kept);
            }
            remove_finalizer(api, &owner.key, "orphan");
        } else if list.iter().any(|f| f == "foregroundDeletion") {
            if deps.is_empty() {
                remove_finalizer(api, &owner.key, "foregroundDeletion");
            } else {
                waiting = true;
            }
            for index in deps {
                let dep = &items[index];
                if !is_deleting(&dep.object) {
                    let _ = delete_object(api, &types[dep.rt], &dep.key, Some("Foreground"));
                }
            }
        }
    }
    waiting
}

fn set_owner_refs(api: &ApiServer, key: &ObjectKey, refs: Vec<Value>) {
    api.store.write(|tx| {
        let Some(current) = tx.get(key) else { return };
        let mut updated = (*current).clone();
        if refs.is_empty() {
            if let Some(meta) = updated["metadata"].as_object_mut() {
                meta.remove("ownerReferences");
            }
        } else {
            updated["metadata"]["ownerReferences"] = json!(refs);
        }
        tx.put(key.clone(), updated);
    });
}

fn remove_finalizer(api: &ApiServer, key: &ObjectKey, finalizer: &str) {
    api.store.write(|tx| {
        let Some(current) = tx.get(key) else { return };
        let remaining: Vec<String> = finalizers(&current)
            .into_iter()
            .filter(|f| f != finalizer)
            .collect();
        if remaining.is_empty() && is_deleting(&current) {
            tx.delete(key);
        } else {
            let mut updated = (*current).clone();
            updated["metadata"]["finalizers"] = json!(remaining);
            tx.put(key.clone(), updated);
        }
    });
}
