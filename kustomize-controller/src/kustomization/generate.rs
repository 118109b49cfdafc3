//! Flux's kustomization generator: reads the `kustomization.yaml` at the build path (or
//! generates one listing every manifest there), then merges the Kustomization's overrides
//! (`targetNamespace`, `namePrefix`/`nameSuffix`, `patches`, `components`, `images`).

use std::path::{Path, PathBuf};

use kustomize::file_system::{FileSystem, Overlay};
use rill_common::api::kustomize_v1::{BuildMetadataOption, Image, KustomizationSpec, Selector};
use serde_json::{Map, Value, json};

/// Why the kustomization file could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A file is not a Kubernetes manifest or a kustomization does not parse.
    #[error("{0}")]
    Invalid(String),
}

const NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

fn existing(fs: &dyn FileSystem, dir: &Path) -> Option<PathBuf> {
    NAMES.iter().map(|n| dir.join(n)).find(|p| fs.is_file(p))
}

/// Reads a file as text.
fn read_text(fs: &dyn FileSystem, path: &Path) -> std::io::Result<String> {
    String::from_utf8(fs.read(path)?.into_owned()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Writes the kustomization file `dir` is built from into `files` (the artifact itself is
/// shared and never changed); `root` names files in messages.
pub fn prepare(
    files: &mut Overlay,
    dir: &Path,
    root: &Path,
    spec: &KustomizationSpec,
) -> Result<(), GenerateError> {
    let shown = |p: &Path| {
        p.strip_prefix(root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    };
    let io = |p: &Path, e: std::io::Error| GenerateError::Io {
        path: shown(p),
        message: e.to_string(),
    };
    let (path, mut doc) = match existing(files, dir) {
        Some(path) => {
            let text = read_text(files, &path).map_err(|e| io(&path, e))?;
            let doc = kustomize::yaml::read_documents_last_key_wins(&text)
                .map_err(|e| GenerateError::Invalid(format!("{}: {e}", shown(&path))))?
                .into_iter()
                .next()
                .unwrap_or(Value::Object(Map::new()));
            if !doc.is_object() {
                return Err(GenerateError::Invalid(format!(
                    "{}: a kustomization must be a mapping",
                    shown(&path)
                )));
            }
            (path, doc)
        }
        None => (dir.join(NAMES[0]), generated(files, dir, &shown)?),
    };
    merge_spec(files, &mut doc, spec, dir)?;
    files
        .write(&path, kustomize::yaml::to_yaml(&doc).into_bytes())
        .map_err(|e| io(&path, e))
}

/// A kustomization listing the manifests under `dir`: every `.yaml`/`.yml` file, and each
/// sub-folder holding its own kustomization as one entry.
fn generated(
    fs: &dyn FileSystem,
    dir: &Path,
    shown: &dyn Fn(&Path) -> String,
) -> Result<Value, GenerateError> {
    let mut resources = Vec::new();
    collect(fs, dir, dir, shown, &mut resources)?;
    let mut doc = json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"});
    if resources.is_empty() {
        doc["namespace"] = json!("_placeholder");
    } else {
        doc["resources"] = json!(resources);
    }
    Ok(doc)
}

fn collect(
    fs: &dyn FileSystem,
    base: &Path,
    dir: &Path,
    shown: &dyn Fn(&Path) -> String,
    out: &mut Vec<String>,
) -> Result<(), GenerateError> {
    let io = |e: std::io::Error| GenerateError::Io {
        path: shown(dir),
        message: e.to_string(),
    };
    for path in fs.read_dir(dir).map_err(io)? {
        let relative = path
            .strip_prefix(base)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if fs.is_dir(&path) {
            if existing(fs, &path).is_some() {
                out.push(relative);
            } else {
                collect(fs, base, &path, shown, out)?;
            }
            continue;
        }
        let is_manifest = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !is_manifest {
            continue;
        }
        check_manifest(fs, &path, shown)?;
        out.push(relative);
    }
    Ok(())
}

/// Every document of a listed file must be a Kubernetes object (or empty).
fn check_manifest(
    fs: &dyn FileSystem,
    path: &Path,
    shown: &dyn Fn(&Path) -> String,
) -> Result<(), GenerateError> {
    let text = read_text(fs, path).map_err(|e| GenerateError::Io {
        path: shown(path),
        message: e.to_string(),
    })?;
    let docs = kustomize::yaml::read_documents(&text)
        .map_err(|e| GenerateError::Invalid(format!("{}: {e}", shown(path))))?;
    for doc in docs {
        let has = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if !(has("apiVersion") && has("kind")) {
            return Err(GenerateError::Invalid(format!(
                "{}: not a Kubernetes manifest (apiVersion and kind are required)",
                shown(path)
            )));
        }
    }
    Ok(())
}

fn selector(target: &Selector) -> Value {
    let mut map = Map::new();
    let fields = [
        ("group", &target.group),
        ("version", &target.version),
        ("kind", &target.kind),
        ("name", &target.name),
        ("namespace", &target.namespace),
        ("labelSelector", &target.label_selector),
        ("annotationSelector", &target.annotation_selector),
    ];
    for (key, value) in fields {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            map.insert(key.into(), json!(v));
        }
    }
    Value::Object(map)
}

fn is_remote(path: &str) -> bool {
    path.contains("://") || path.starts_with("git@") || path.contains("?ref=")
}

/// Merges the Kustomization's overrides into a kustomization document.
pub fn merge_spec(
    fs: &dyn FileSystem,
    doc: &mut Value,
    spec: &KustomizationSpec,
    dir: &Path,
) -> Result<(), GenerateError> {
    let Some(map) = doc.as_object_mut() else {
        return Err(GenerateError::Invalid(
            "a kustomization must be a mapping".into(),
        ));
    };
    if let Some(ns) = spec.target_namespace.as_ref().filter(|n| !n.is_empty()) {
        map.insert("namespace".into(), json!(ns));
    }
    if let Some(prefix) = spec.name_prefix.as_ref().filter(|p| !p.is_empty()) {
        map.insert("namePrefix".into(), json!(prefix));
    }
    if let Some(suffix) = spec.name_suffix.as_ref().filter(|s| !s.is_empty()) {
        map.insert("nameSuffix".into(), json!(suffix));
    }
    for patch in spec.patches.iter().flatten() {
        let mut entry = json!({"patch": patch.patch});
        if let Some(target) = &patch.target {
            entry["target"] = selector(target);
        }
        push(map, "patches", entry);
    }
    for component in spec.components.iter().flatten() {
        if is_remote(component) {
            return Err(GenerateError::Invalid(format!(
                "spec.components: {component:?} is remote; only local paths are allowed"
            )));
        }
        if spec.ignore_missing_components == Some(true) && fs.kind(&dir.join(component)).is_none() {
            continue;
        }
        push(map, "components", json!(component));
    }
    for image in spec.images.iter().flatten() {
        merge_image(map, image);
    }
    if let Some(options) = spec.build_metadata.as_ref().filter(|o| !o.is_empty()) {
        let names: Vec<Value> = options
            .iter()
            .map(|o| match o {
                BuildMetadataOption::OriginAnnotations => json!("originAnnotations"),
                BuildMetadataOption::TransformerAnnotations => json!("transformerAnnotations"),
            })
            .collect();
        map.insert("buildMetadata".into(), Value::Array(names));
    }
    Ok(())
}

fn push(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get_mut(key).and_then(Value::as_array_mut) {
        Some(list) => list.push(value),
        None => {
            map.insert(key.into(), json!([value]));
        }
    }
}

/// An entry with the same name is updated (`newName` when set; `newTag` and `digest`
/// together when either is set); otherwise the image is appended.
fn merge_image(map: &mut Map<String, Value>, image: &Image) {
    let set = |v: &Option<String>| v.as_ref().filter(|s| !s.is_empty()).cloned();
    let (new_name, new_tag, digest) = (
        set(&image.new_name),
        set(&image.new_tag),
        set(&image.digest),
    );
    let found = map
        .get_mut("images")
        .and_then(Value::as_array_mut)
        .and_then(|list| {
            list.iter_mut()
                .find(|e| e.get("name").and_then(Value::as_str) == Some(image.name.as_str()))
        });
    if let Some(Value::Object(entry)) = found {
        if let Some(n) = new_name {
            entry.insert("newName".into(), json!(n));
        }
        if new_tag.is_some() || digest.is_some() {
            entry.remove("newTag");
            entry.remove("digest");
            if let Some(t) = new_tag {
                entry.insert("newTag".into(), json!(t));
            }
            if let Some(d) = digest {
                entry.insert("digest".into(), json!(d));
            }
        }
        return;
    }
    let mut entry = json!({"name": image.name});
    for (key, value) in [
        ("newName", new_name),
        ("newTag", new_tag),
        ("digest", digest),
    ] {
        if let Some(v) = value {
            entry[key] = json!(v);
        }
    }
    push(map, "images", entry);
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
