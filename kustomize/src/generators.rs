//! `configMapGenerator` and `secretGenerator`: ConfigMaps and Secrets from literals, files and
//! env files, with `generatorOptions`, create/merge/replace behaviours, and kustomize's content
//! hash suffix (computed at the end of the build; references follow).

use std::path::Path;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::kustomization::Kustomization;
use crate::resource::Resource;

fn err(k: &Kustomization, message: String) -> Error {
    Error::Kustomization {
        path: k.path.clone(),
        message,
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn unquote(value: &str) -> &str {
    let b = value.as_bytes();
    if b.len() >= 2
        && ((b[0] == b'"' && b[b.len() - 1] == b'"') || (b[0] == b'\'' && b[b.len() - 1] == b'\''))
    {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The key/value pairs of one generator entry, in source order; values are bytes.
fn pairs(
    k: &Kustomization,
    entry: &Value,
    read: &dyn Fn(&str) -> Result<Vec<u8>, Error>,
    environment: bool,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut envs = strings(entry.get("envs"));
    if let Some(env) = entry.get("env").and_then(Value::as_str) {
        envs.push(env.to_string());
    }
    for env in envs {
        let text = String::from_utf8_lossy(&read(&env)?).into_owned();
        for line in text.trim_start_matches('\u{feff}').lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.split_once('=') {
                Some((key, value)) => (key.to_string(), value.to_string()),
                None if environment => (line.to_string(), std::env::var(line).unwrap_or_default()),
                None => (line.to_string(), String::new()),
            };
            out.push((key, value.into_bytes()));
        }
    }
    for literal in strings(entry.get("literals")) {
        let (key, value) = literal.split_once('=').ok_or_else(|| {
            err(
                k,
                format!("invalid literal source {literal:?}, expected key=value"),
            )
        })?;
        out.push((key.trim().to_string(), unquote(value).as_bytes().to_vec()));
    }
    for file in strings(entry.get("files")) {
        let (key, path) = match file.split_once('=') {
            Some((key, path)) => (key.to_string(), path.to_string()),
            None => (
                Path::new(&file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file.clone(),
            ),
        };
        out.push((key, read(&path)?));
    }
    let mut seen = std::collections::HashSet::with_capacity(out.len());
    for (key, _) in &out {
        if !valid_key(key) {
            return Err(err(
                k,
                format!(
                    "{key:?} is not a valid key name: a valid key must consist of alphanumeric characters, '-', '_' or '.'"
                ),
            ));
        }
        if !seen.insert(key.as_str()) {
            return Err(err(
                k,
                format!("cannot add key {key}, another key by that name already exists"),
            ));
        }
    }
    Ok(out)
}

/// Base64 as kustomize writes generated Secret data: once the encoding reaches 70
/// characters it is cut into 70-character lines, each ending in a newline.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

fn merge_metadata(object: &mut Value, options: &Value) {
    for field in ["labels", "annotations"] {
        if let Some(Value::Object(extra)) = options.get(field) {
            for (key, value) in extra {
                object["metadata"][field][key] = value.clone();
            }
        }
    }
}

/// What to do with a generated object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behavior {
    Create,
    Merge,
    Replace,
}

/// Runs both generators of a kustomization against the accumulated resources.
pub fn generate(
    k: &Kustomization,
    resources: &mut Vec<Resource>,
    read: &dyn Fn(&str) -> Result<Vec<u8>, Error>,
    environment: bool,
) -> Result<(), Error> {
    let global = k
        .fields
        .get("generatorOptions")
        .cloned()
        .unwrap_or(Value::Null);
    for (field, kind) in [
        ("configMapGenerator", "ConfigMap"),
        ("secretGenerator", "Secret"),
    ] {
        for entry in k.list(field)? {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if name.is_empty() {
                return Err(err(k, format!("{field}: a generator needs a name")));
            }
            let behavior = match entry
                .get("behavior")
                .and_then(Value::as_str)
                .unwrap_or("create")
            {
                "merge" => Behavior::Merge,
                "replace" => Behavior::Replace,
                // kustomize reads any other word as "unspecified", which creates.
                _ => Behavior::Create,
            };
            let options = entry.get("options").cloned().unwrap_or(Value::Null);
            let data = pairs(k, &entry, read, environment)?;
            let mut object = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
            if let Some(ns) = entry
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                object["metadata"]["namespace"] = json!(ns);
            }
            let (mut text_data, mut binary_data) = (Map::new(), Map::new());
            for (key, value) in data {
                match (kind, String::from_utf8(value)) {
                    ("Secret", Ok(v)) => {
                        text_data.insert(key, json!(base64(v.as_bytes())));
                    }
                    ("Secret", Err(e)) => {
                        text_data.insert(key, json!(base64(e.as_bytes())));
                    }
                    (_, Ok(v)) => {
                        text_data.insert(key, json!(v));
                    }
                    (_, Err(e)) => {
                        binary_data.insert(key, json!(base64(e.as_bytes())));
                    }
                }
            }
            if !text_data.is_empty() || kind == "Secret" {
                object["data"] = Value::Object(text_data);
            }
            if !binary_data.is_empty() {
                object["binaryData"] = Value::Object(binary_data);
            }
            if kind == "Secret" {
                object["type"] = json!(
                    entry
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("Opaque")
                );
            }
            merge_metadata(&mut object, &global);
            merge_metadata(&mut object, &options);
            let immutable = options
                .get("immutable")
                .or_else(|| global.get("immutable"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if immutable {
                object["immutable"] = json!(true);
            }
            let no_hash = options
                .get("disableNameSuffixHash")
                .or_else(|| global.get("disableNameSuffixHash"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let namespace = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let existing = resources.iter().position(|r| {
                let id = r.id();
                id.kind == kind
                    && r.all_names().any(|n| n == name)
                    && (namespace.is_empty()
                        || id.namespace == namespace
                        || id.namespace.is_empty())
            });
            match (behavior, existing) {
                (Behavior::Create, Some(_)) => {
                    return Err(Error::Resource(format!(
                        "{}: may not add resource with an already registered id: {kind}.v1.[noGrp]/{name}",
                        k.path.display()
                    )));
                }
                (Behavior::Create, None) => {
                    let mut resource = Resource::new(object);
                    resource.needs_hash = !no_hash;
                    resource.origin = Some(crate::resource::Origin::Generator(
                        std::sync::Arc::new(crate::resource::Configured {
                            configured_in: k.canonical.clone(),
                            api_version: "builtin".into(),
                            kind: format!("{kind}Generator"),
                            name: String::new(),
                            namespace: String::new(),
                        }),
                    ));
                    resources.push(resource);
                }
                (_, None) => {
                    return Err(err(
                        k,
                        format!("id {kind}/{name} does not exist; cannot merge or replace"),
                    ));
                }
                (Behavior::Merge, Some(i)) => {
                    let target = &mut resources[i];
                    for field in ["data", "binaryData"] {
                        if let Some(Value::Object(extra)) = object.get(field) {
                            for (key, value) in extra {
                                target.object[field][key] = value.clone();
                            }
                        }
                    }
                    merge_metadata(&mut target.object, &object["metadata"]);
                    if immutable {
                        target.object["immutable"] = json!(true);
                    }
                    if no_hash {
                        target.needs_hash = false;
                    }
                }
                (Behavior::Replace, Some(i)) => {
                    let target = &mut resources[i];
                    let metadata = target.object["metadata"].clone();
                    target.object = object;
                    target.object["metadata"] = metadata;
                    merge_metadata(&mut target.object, &options);
                    if no_hash {
                        target.needs_hash = false;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Go's `json.Marshal` of a string (HTML-escaped).
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn go_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(key, out);
                out.push(':');
                go_json(&map[*key], out);
            }
            out.push('}');
        }
        Value::String(s) => go_json_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

/// Gives every generated resource still waiting for it its content-hash name suffix.
pub fn apply_pending_hashes(resources: &mut [Resource]) {
    for resource in resources.iter_mut().filter(|r| r.needs_hash) {
        let hash = content_hash(&resource.object);
        let name = resource.object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        resource.rename(format!("{name}-{hash}"));
        resource.needs_hash = false;
    }
}

/// kustomize's content hash of a ConfigMap or Secret (the name is not part of it).
pub fn content_hash(object: &Value) -> String {
    let field = |name: &str| match object.get(name) {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        Some(Value::String(s)) => json!(s),
        _ => json!(""),
    };
    let mut m = Map::new();
    let kind = object["kind"].as_str().unwrap_or_default();
    m.insert("kind".into(), json!(kind));
    m.insert("name".into(), json!(""));
    m.insert("data".into(), field("data"));
    if kind == "Secret" {
        m.insert(
            "type".into(),
            object.get("type").cloned().unwrap_or(json!("")),
        );
        if let Some(Value::Object(s)) = object.get("stringData") {
            m.insert("stringData".into(), Value::Object(s.clone()));
        }
    } else if let Some(Value::Object(b)) = object.get("binaryData") {
        m.insert("binaryData".into(), Value::Object(b.clone()));
    }
    let mut text = String::new();
    go_json(&Value::Object(m), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let hex = hex::encode(digest);
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_kustomize() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1", "b": "<x>&"}});
        assert_eq!(content_hash(&cm), "2g9cdmkbf2");
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi"), "aGk=");
        let long = base64(&[b'x'; 60]);
        assert_eq!(long.lines().map(str::len).collect::<Vec<_>>(), [70, 10]);
        assert!(long.ends_with('\n'));
    }

    #[test]
    fn env_file_keys_without_values_read_the_environment_only_when_allowed() {
        let k = Kustomization {
            path: "kustomization.yaml".into(),
            canonical: "/kustomization.yaml".into(),
            canonical_dir: "/".into(),
            fields: Map::new(),
        };
        let entry = json!({"envs": ["app.env"]});
        let read = |_: &str| Ok(b"PATH\nA=1\n".to_vec());
        let closed = pairs(&k, &entry, &read, false).expect("pairs");
        assert_eq!(
            closed,
            [("PATH".into(), Vec::new()), ("A".into(), b"1".to_vec())]
        );
        let open = pairs(&k, &entry, &read, true).expect("pairs");
        assert_eq!(
            open[0].1,
            std::env::var("PATH").unwrap_or_default().into_bytes()
        );
    }

    #[test]
    fn literal_values_and_keys() {
        for (input, want) in [
            ("'a b'", "a b"),
            ("\"x\"", "x"),
            ("'", "'"),
            ("plain", "plain"),
        ] {
            assert_eq!(unquote(input), want, "{input}");
        }
        for (key, valid) in [
            ("a.b-c_D9", true),
            ("", false),
            ("a/b", false),
            ("a b", false),
        ] {
            assert_eq!(valid_key(key), valid, "{key:?}");
        }
    }
}
