//! Lists the schema merges by key (kyaml's associative sequences), reproduced step by step:
//! the key values of every item of the patch and the target, multi-key values that differ
//! only by an empty value merged, each key's items merged, then the target's items laid back
//! over the result. Its quirks are kustomize's output, so they are kept: of target items
//! sharing a key only the last survives, an item without the key drops every item that has
//! one, and a patch item missing a secondary key (`protocol`) is not matched.

use serde_json::Value;

/// A key field's text as kyaml reads it: scalars as written, anything else empty.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// The values of `keys` in an item, empty where the item lacks one (`ElementValuesList`).
fn key_values(item: &Value, keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| item.get(k).map(text).unwrap_or_default())
        .collect()
}

/// Two key value lists name the same item when they share a value and differ only where
/// one of them is empty; the merged values fill the empty ones.
fn matching(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut merged = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            merged.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else {
            merged.push(if x.is_empty() { y.clone() } else { x.clone() });
        }
    }
    common.then_some(merged)
}

/// The keys (and their values) that some item has a value for; all of them when none has.
fn valid_keys(
    all: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let has_value = |i: usize| all.iter().any(|v| v.get(i).is_some_and(|x| !x.is_empty()));
    if !(0..keys.len()).any(has_value) {
        return (keys.to_vec(), values.to_vec());
    }
    let chosen: Vec<usize> = (0..keys.len()).filter(|&i| has_value(i)).collect();
    (
        chosen.iter().map(|&i| keys[i].clone()).collect(),
        chosen
            .iter()
            .filter_map(|&i| values.get(i).cloned())
            .collect(),
    )
}

/// The first map item whose key fields read exactly these values (`ElementList`).
fn find_exact(list: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    list.iter().position(|item| {
        item.is_object()
            && keys
                .iter()
                .zip(values)
                .all(|(k, v)| item.get(k).is_some_and(|f| text(f) == *v))
    })
}

/// Whether an item matches a setter's keys: an empty value matches any value of a field
/// that is present (`FieldMatcher` with a string value).
fn setter_matches(item: &Value, keys: &[String], values: &[String]) -> bool {
    if values.is_empty() {
        return false;
    }
    let mut matched = false;
    for (j, key) in keys.iter().enumerate() {
        // A key without a value repeats the previous key's verdict, as kyaml's loop does.
        let Some(value) = values.get(j) else { break };
        matched = if key.is_empty() {
            !item.is_object() && !item.is_array() && text(item) == *value
        } else {
            item.get(key)
                .is_some_and(|f| value.is_empty() || text(f) == *value)
        };
        if !matched {
            return false;
        }
    }
    matched
}

/// kyaml's `ElementSetter`: replaces every item matching `keys`/`values` with `element`
/// (removes them when it is `None`), appending it when none matched; empty items are dropped
/// on the way.
fn set_element(list: &mut Vec<Value>, element: Option<&Value>, keys: &[String], values: &[String]) {
    let keys: Vec<String> = if keys.is_empty() {
        vec![String::new()]
    } else {
        keys.to_vec()
    };
    let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
    let mut found_any = false;
    let old = std::mem::take(list);
    for item in old {
        let empty = item.is_null() || item.as_object().is_some_and(|m| m.is_empty());
        if empty {
            continue;
        }
        if !item.is_object() && mapping_setter {
            list.push(item);
            continue;
        }
        if !setter_matches(&item, &keys, values) {
            if !values.is_empty() {
                list.push(item);
            }
            continue;
        }
        found_any = true;
        if let Some(element) = element {
            list.push(element.clone());
        }
    }
    if let Some(element) = element
        && !found_any
    {
        list.push(element.clone());
    }
}

/// Merges the patch's `patch` list (None when the patch does not mention the list) into the
/// target's `dest` by `keys`. `merge_item` merges one target item with its patch item (either
/// may be absent) and gives `None` when the result is deleted.
pub fn merge_keyed(
    dest: &mut Vec<Value>,
    patch: Option<&[Value]>,
    keys: &[String],
    mut merge_item: impl FnMut(Option<&Value>, Option<&Value>) -> Option<Value>,
) {
    if keys.is_empty() {
        merge_set(dest, patch);
        return;
    }
    // The patch's items first (kustomize prepends what patches add).
    let mut all: Vec<Vec<String>> = Vec::new();
    for item in patch.into_iter().flatten().chain(dest.iter()) {
        let values = key_values(item, keys);
        if !all.contains(&values) {
            all.push(values);
        }
    }
    if all.is_empty() {
        return;
    }
    if keys.len() > 1 {
        for i in 0..all.len() {
            for j in 0..all.len() {
                if let Some(merged) = matching(&all[i], &all[j]) {
                    all[i] = merged.clone();
                    all[j] = merged;
                }
            }
        }
    }
    let mut added: Vec<Value> = Vec::new();
    let mut last_keys = keys.to_vec();
    for values in &all {
        let (set_keys, set_values) = valid_keys(&all, values, keys);
        let (find_keys, find_values) =
            valid_keys(std::slice::from_ref(&set_values), &set_values, &set_keys);
        let at = find_exact(dest, &find_keys, &find_values);
        let from_patch = patch.and_then(|p| find_exact(p, &find_keys, &find_values).map(|i| &p[i]));
        let merged = merge_item(at.map(|i| &dest[i]), from_patch);
        last_keys.clone_from(&set_keys);
        let Some(mut merged) = merged.filter(|m| !m.as_object().is_some_and(|o| o.is_empty()))
        else {
            set_element(dest, None, &set_keys, &set_values);
            continue;
        };
        for (key, value) in set_keys.iter().zip(&set_values) {
            if let Some(map) = merged.as_object_mut()
                && !map.contains_key(key)
                && !value.is_empty()
            {
                map.insert(key.clone(), Value::String(value.clone()));
            }
        }
        // The target's item is merged in place: it is what goes back over the result.
        if let Some(i) = at {
            dest[i] = merged.clone();
        }
        set_element(&mut added, Some(&merged), &set_keys, &set_values);
    }
    // Lay the target's items back over the merged ones.
    for item in std::mem::take(dest) {
        let mut values = Vec::new();
        for key in &last_keys {
            match item.get(key) {
                Some(field) => values.push(text(field)),
                None => added.push(item.clone()),
            }
        }
        if last_keys.len() > 1 {
            set_element(&mut added, None, &last_keys, &values);
        }
        set_element(&mut added, Some(&item), &last_keys, &values);
    }
    *dest = added;
}

/// A list of scalars merged as a set (`finalizers`): the patch's values first, then the
/// target's others, each once.
fn merge_set(dest: &mut Vec<Value>, patch: Option<&[Value]>) {
    let mut merged: Vec<Value> = Vec::with_capacity(dest.len());
    let mut seen: Vec<String> = Vec::new();
    for item in patch.into_iter().flatten().chain(dest.iter()) {
        let key = text(item);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        // The target's own item stands for a value both have.
        let own = dest.iter().find(|d| text(d) == key).unwrap_or(item);
        merged.push(own.clone());
    }
    *dest = merged;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    fn merge_shallow(d: Option<&Value>, p: Option<&Value>) -> Option<Value> {
        match (d, p) {
            (_, Some(p)) if p.get("$patch") == Some(&json!("delete")) => None,
            (Some(Value::Object(d)), Some(Value::Object(p))) => {
                let mut out = d.clone();
                out.extend(p.clone());
                Some(Value::Object(out))
            }
            (d, p) => p.or(d).cloned(),
        }
    }

    /// (name, target list, patch list, keys, expected list).
    type Case = (&'static str, Value, Option<Value>, Vec<String>, Value);

    /// Each case's expected list is what `kubectl kustomize` (v5.5.0) printed for it.
    #[test]
    fn keyed_lists_merge_as_kustomize_merges_them() {
        let cases: Vec<Case> = vec![
            (
                "patch items first, then the target's others",
                json!([{"name": "a", "image": "x"}, {"name": "b"}]),
                Some(json!([{"name": "c"}, {"name": "a", "image": "z"}])),
                keys(&["name"]),
                json!([{"name": "c"}, {"name": "a", "image": "z"}, {"name": "b"}]),
            ),
            (
                "an item without the key drops every keyed item",
                json!([{"name": "a", "image": "x"}, {"image": "y"}, {"name": "b"}]),
                Some(json!([{"name": "a", "image": "z"}])),
                keys(&["name"]),
                json!([{"image": "y"}]),
            ),
            (
                "items sharing keys collapse to the last, untouched lists too",
                json!([
                    {"containerPort": 8080, "name": "first"},
                    {"containerPort": 8080, "name": "second"},
                    {"containerPort": 8301, "protocol": "UDP", "name": "udp"},
                    {"containerPort": 8301, "name": "tcp"}
                ]),
                None,
                keys(&["containerPort", "protocol"]),
                json!([{"containerPort": 8080, "name": "second"}, {"containerPort": 8301, "name": "tcp"}]),
            ),
            (
                "a patch port without protocol is not matched; another protocol is another port",
                json!([{"port": 80, "protocol": "TCP", "name": "t"}, {"port": 443, "protocol": "TCP", "name": "tls"}]),
                Some(
                    json!([{"port": 80, "protocol": "UDP", "name": "u"}, {"port": 443, "name": "tls2"}]),
                ),
                keys(&["port", "protocol"]),
                json!([
                    {"port": 80, "protocol": "UDP", "name": "u"},
                    {"port": 80, "protocol": "TCP", "name": "t"},
                    {"port": 443, "protocol": "TCP", "name": "tls"}
                ]),
            ),
            (
                "a deleted item goes",
                json!([{"name": "a"}, {"name": "b"}]),
                Some(json!([{"name": "a", "$patch": "delete"}])),
                keys(&["name"]),
                json!([{"name": "b"}]),
            ),
            (
                "scalars merge as a set",
                json!(["b", "c"]),
                Some(json!(["c", "a", "d"])),
                keys(&[]),
                json!(["c", "a", "d", "b"]),
            ),
        ];
        for (name, dest, patch, keys, want) in cases {
            let mut list = dest.as_array().unwrap().clone();
            let patch = patch.map(|p| p.as_array().unwrap().clone());
            merge_keyed(&mut list, patch.as_deref(), &keys, merge_shallow);
            assert_eq!(Value::Array(list), want, "{name}");
        }
    }
}
