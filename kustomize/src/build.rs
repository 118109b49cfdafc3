//! Building a kustomization: resources (files and nested kustomizations) accumulated in
//! order, identity checks, the namespace transformer, then kustomize's legacy order.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::Error;
use crate::kustomization::{Kustomization, find};
use crate::patch::{PatchBody, Selector, apply_json6902, parse_patch};
use crate::resource::{CLUSTER_SCOPED, Resource, legacy_order};
use crate::strategic::merge_object;
use crate::yaml::{read_documents, to_yaml};

/// Which files a kustomization may read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Only files under the kustomization's own directory (kustomize's default).
    #[default]
    RootOnly,
    /// Any file.
    None,
}

/// Build options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// The load restrictor.
    pub load_restrictor: LoadRestrictor,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn is_remote(target: &str) -> bool {
    target.contains("://")
        || target.starts_with("git@")
        || target.starts_with("github.com/")
        || target.contains("?ref=")
}

/// Builds the kustomization in `dir` into resources, in output order.
pub fn build(dir: &Path, options: &Options) -> Result<Vec<Resource>, Error> {
    let mut resources = accumulate(dir, options, &mut Vec::new())?;
    let before = crate::names::Snapshot::take(&resources);
    for resource in resources.iter_mut().filter(|r| r.needs_hash) {
        let hash = crate::generators::content_hash(&resource.object);
        let name = resource.object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        resource.rename(format!("{name}-{hash}"));
        resource.needs_hash = false;
    }
    crate::names::fix_references(&mut resources, &before).map_err(Error::Resource)?;
    let ordered = {
        let sort_fifo = false;
        if !sort_fifo {
            resources.sort_by(|a, b| legacy_order(&a.id(), &b.id()));
        }
        resources
    };
    Ok(ordered)
}

/// Builds and renders the YAML stream kustomize prints.
pub fn build_yaml(dir: &Path, options: &Options) -> Result<String, Error> {
    let resources = build(dir, options)?;
    let docs: Vec<String> = resources.iter().map(|r| to_yaml(&r.object)).collect();
    Ok(docs.join("---\n"))
}

fn accumulate(
    dir: &Path,
    options: &Options,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<Resource>, Error> {
    let canonical = dir.canonicalize().map_err(|e| io(dir, e))?;
    if stack.contains(&canonical) {
        return Err(Error::Resource(format!(
            "cycle detected: {} includes itself",
            dir.display()
        )));
    }
    stack.push(canonical.clone());
    let path = find(dir)?.ok_or_else(|| {
        io(dir, "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory")
    })?;
    let k = Kustomization::load(&path)?;
    let mut resources: Vec<Resource> = Vec::new();
    let mut entries = k.strings("resources")?;
    entries.extend(k.strings("bases")?);
    for entry in entries {
        if is_remote(&entry) {
            return Err(Error::Unsupported(format!(
                "{}: remote resource {entry:?} is not supported: only local files and directories can be used",
                path.display()
            )));
        }
        let target = dir.join(&entry);
        let loaded = if target.is_dir() {
            if let Some(file) = find(&target)?
                && Kustomization::load(&file)?.string("kind").as_deref() == Some("Component")
            {
                return Err(Error::Resource(format!(
                    "{}: expected kind != 'Component' for path '{}'",
                    path.display(),
                    target.display()
                )));
            }
            accumulate(&target, options, stack)?
        } else {
            load_file(&target, &canonical, options)?
        };
        for resource in loaded {
            let id = resource.id();
            if resources.iter().any(|r| r.id().same_object(&id)) {
                return Err(Error::Resource(format!(
                    "may not add resource with an already registered id: {}.{}.{}/{}.{}",
                    id.kind, id.version, id.group, id.name, id.namespace
                )));
            }
            resources.push(resource);
        }
    }
    for unsupported in [
        "components",
        "commonLabels",
        "labels",
        "commonAnnotations",
        "images",
        "replicas",
        "vars",
        "replacements",
        "configurations",
        "openapi",
        "crds",
        "transformers",
        "generators",
        "validators",
        "helmCharts",
        "helmChartInflationGenerator",
        "sortOptions",
        "buildMetadata",
    ] {
        if k.fields.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(Error::Unsupported(format!(
                "{}: '{unsupported}' is not supported by Rill's kustomize engine yet",
                path.display()
            )));
        }
    }
    let root = canonical.clone();
    let read = |relative: &str| -> Result<Vec<u8>, Error> {
        let file = dir.join(relative);
        let canonical_file = file.canonicalize().map_err(|e| io(&file, e))?;
        if options.load_restrictor == LoadRestrictor::RootOnly && !canonical_file.starts_with(&root)
        {
            return Err(Error::Resource(format!(
                "security; file '{}' is not in or below '{}'",
                canonical_file.display(),
                root.display()
            )));
        }
        std::fs::read(&canonical_file).map_err(|e| io(&file, e))
    };
    crate::generators::generate(&k, &mut resources, &read)?;
    let before = crate::names::Snapshot::take(&resources);
    apply_patches(&k, &mut resources, options)?;
    if let Some(namespace) = k.string("namespace").filter(|n| !n.is_empty()) {
        let service_accounts: Vec<(String, String)> = resources
            .iter()
            .filter(|r| r.kind() == "ServiceAccount")
            .map(|r| (r.id().name, r.id().namespace))
            .collect();
        for resource in &mut resources {
            set_namespace(resource, &namespace);
            fix_subjects(resource, &namespace, &service_accounts);
        }
    }
    let (prefix, suffix) = (
        k.string("namePrefix").unwrap_or_default(),
        k.string("nameSuffix").unwrap_or_default(),
    );
    if !prefix.is_empty() || !suffix.is_empty() {
        crate::names::prefix_suffix(&mut resources, &prefix, &suffix);
    }
    apply_json6902_patches(&k, &mut resources, options)?;
    crate::names::fix_references(&mut resources, &before)
        .map_err(|e| Error::Resource(format!("{}: {e}", path.display())))?;
    stack.pop();
    Ok(resources)
}

fn entries(k: &Kustomization, field: &str) -> Result<Vec<Value>, Error> {
    match k.fields.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(other) => Err(Error::Kustomization {
            path: k.path.clone(),
            message: format!("{field}: expected a list, got {other}"),
        }),
    }
}

/// The text of a patch: inline `patch`, or the file at `path` (load-restricted).
fn patch_text(k: &Kustomization, entry: &Value, options: &Options) -> Result<String, Error> {
    if let Some(text) = entry.get("patch").and_then(Value::as_str) {
        return Ok(text.to_string());
    }
    let relative =
        entry
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Kustomization {
                path: k.path.clone(),
                message: format!("patch entry has neither 'patch' nor 'path': {entry}"),
            })?;
    let file = k.dir().join(relative);
    let canonical = file.canonicalize().map_err(|e| io(&file, e))?;
    let root = k.dir().canonicalize().map_err(|e| io(k.dir(), e))?;
    if options.load_restrictor == LoadRestrictor::RootOnly && !canonical.starts_with(&root) {
        return Err(Error::Resource(format!(
            "security; file '{}' is not in or below '{}'",
            canonical.display(),
            root.display()
        )));
    }
    std::fs::read_to_string(&canonical).map_err(|e| io(&file, e))
}

fn apply_patches(
    k: &Kustomization,
    resources: &mut Vec<Resource>,
    options: &Options,
) -> Result<(), Error> {
    for entry in entries(k, "patches")? {
        let text = patch_text(k, &entry, options)?;
        match parse_patch(&text, &k.path)? {
            PatchBody::Json6902(ops) => {
                let target = entry.get("target").ok_or_else(|| Error::Kustomization {
                    path: k.path.clone(),
                    message: "missing target for a JSON 6902 patch".into(),
                })?;
                apply_json6902(resources, &Selector::parse(target, &k.path)?, &ops, &k.path)?;
            }
            PatchBody::Strategic(docs) => {
                for doc in docs {
                    match entry.get("target") {
                        Some(target) => {
                            let selector = Selector::parse(target, &k.path)?;
                            apply_strategic(
                                resources,
                                &doc,
                                &|r: &Resource| selector.matches(r),
                                &k.path,
                            )?;
                        }
                        None => apply_strategic_by_id(resources, &doc, &k.path)?,
                    }
                }
            }
        }
    }
    for entry in entries(k, "patchesStrategicMerge")? {
        let text = match &entry {
            Value::String(s) if s.contains('\n') || s.trim_start().starts_with('{') => s.clone(),
            Value::String(s) => patch_text(k, &serde_json::json!({"path": s}), options)?,
            other => {
                return Err(Error::Kustomization {
                    path: k.path.clone(),
                    message: format!("patchesStrategicMerge: unexpected entry {other}"),
                });
            }
        };
        let docs = read_documents(&text).map_err(|e| Error::Yaml {
            path: k.path.clone(),
            message: e.to_string(),
        })?;
        if docs.is_empty() {
            return Err(Error::Kustomization {
                path: k.path.clone(),
                message: format!("patch appears to be empty: {entry}"),
            });
        }
        for doc in docs {
            apply_strategic_by_id(resources, &doc, &k.path)?;
        }
    }
    resources.retain(|r| !r.object.is_null());
    Ok(())
}

/// Applies a strategic merge patch to every resource `select` accepts (the patch's own
/// name and kind are ignored); a `$patch: delete` patch removes them.
fn apply_strategic(
    resources: &mut [Resource],
    patch: &Value,
    select: &dyn Fn(&Resource) -> bool,
    file: &Path,
) -> Result<(), Error> {
    let _ = file;
    let mut patch = patch.clone();
    if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("name");
        meta.remove("namespace");
    }
    for resource in resources
        .iter_mut()
        .filter(|r| !r.object.is_null() && select(r))
    {
        if !merge_object(&mut resource.object, &patch) {
            resource.object = Value::Null;
        }
    }
    Ok(())
}

/// Applies a strategic merge patch to the one resource with the patch's kind and name.
fn apply_strategic_by_id(
    resources: &mut [Resource],
    patch: &Value,
    file: &Path,
) -> Result<(), Error> {
    let kind = patch["kind"].as_str().unwrap_or_default().to_string();
    let name = patch["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = patch["metadata"]["namespace"].as_str().map(str::to_string);
    let api_version = patch["apiVersion"].as_str().unwrap_or_default().to_string();
    let group = api_version
        .split_once('/')
        .map(|(g, _)| g.to_string())
        .unwrap_or_default();
    let matches = |r: &Resource| {
        let id = r.id();
        id.kind == kind
            && r.all_names().any(|n| n == name)
            && namespace.as_ref().is_none_or(|ns| *ns == id.namespace)
            && (api_version.is_empty() || id.group == group)
    };
    let count = resources
        .iter()
        .filter(|r| !r.object.is_null() && matches(r))
        .count();
    if count == 0 {
        return Err(Error::Resource(format!(
            "{}: no resource matches strategic merge patch \"{kind}/{name}\"",
            file.display()
        )));
    }
    if count > 1 {
        return Err(Error::Resource(format!(
            "{}: multiple resources match strategic merge patch \"{kind}/{name}\"",
            file.display()
        )));
    }
    for resource in resources
        .iter_mut()
        .filter(|r| !r.object.is_null() && matches(r))
    {
        if !merge_object(&mut resource.object, patch) {
            resource.object = Value::Null;
        }
    }
    Ok(())
}

fn apply_json6902_patches(
    k: &Kustomization,
    resources: &mut [Resource],
    options: &Options,
) -> Result<(), Error> {
    for entry in entries(k, "patchesJson6902")? {
        let text = patch_text(k, &entry, options)?;
        let target = entry.get("target").ok_or_else(|| Error::Kustomization {
            path: k.path.clone(),
            message: "patchesJson6902 entry without target".into(),
        })?;
        match parse_patch(&text, &k.path)? {
            PatchBody::Json6902(ops) => {
                apply_json6902(resources, &Selector::parse(target, &k.path)?, &ops, &k.path)?
            }
            PatchBody::Strategic(_) => {
                return Err(Error::Kustomization {
                    path: k.path.clone(),
                    message: "patchesJson6902 needs a list of JSON 6902 operations".into(),
                });
            }
        }
    }
    Ok(())
}

fn set_namespace(resource: &mut Resource, namespace: &str) {
    let kind = resource.kind().to_string();
    if kind == "Namespace" {
        resource.rename(namespace.to_string());
        return;
    }
    if CLUSTER_SCOPED.contains(&kind.as_str()) {
        return;
    }
    if !resource.object["metadata"].is_object() {
        resource.object["metadata"] = Value::Object(Default::default());
    }
    resource.object["metadata"]["namespace"] = Value::String(namespace.to_string());
}

/// The namespace transformer's subject handling: ServiceAccount subjects named `default`, and
/// those naming a ServiceAccount of the build (same name and original namespace), follow the
/// new namespace.
fn fix_subjects(resource: &mut Resource, namespace: &str, service_accounts: &[(String, String)]) {
    if !matches!(resource.kind(), "RoleBinding" | "ClusterRoleBinding") {
        return;
    }
    let Some(subjects) = resource
        .object
        .get_mut("subjects")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for subject in subjects {
        if subject["kind"].as_str() != Some("ServiceAccount") {
            continue;
        }
        let name = subject["name"].as_str().unwrap_or_default().to_string();
        let current = subject["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let in_build = service_accounts
            .iter()
            .any(|(n, ns)| *n == name && *ns == current);
        if (name == "default" || in_build)
            && let Some(map) = subject.as_object_mut()
        {
            map.insert("namespace".into(), Value::String(namespace.to_string()));
        }
    }
}

fn load_file(path: &Path, root: &Path, options: &Options) -> Result<Vec<Resource>, Error> {
    let canonical = path.canonicalize().map_err(|e| {
        io(
            path,
            format!("{e}: must be a file or a directory with a kustomization"),
        )
    })?;
    if options.load_restrictor == LoadRestrictor::RootOnly && !canonical.starts_with(root) {
        return Err(Error::Resource(format!(
            "security; file '{}' is not in or below '{}'",
            canonical.display(),
            root.display()
        )));
    }
    let text = std::fs::read_to_string(&canonical).map_err(|e| io(path, e))?;
    let docs = read_documents(&text).map_err(|e| Error::Yaml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for doc in docs {
        expand(doc, path, &mut out)?;
    }
    Ok(out)
}

fn expand(doc: Value, path: &Path, out: &mut Vec<Resource>) -> Result<(), Error> {
    let Value::Object(map) = &doc else {
        return Err(Error::Resource(format!(
            "{}: a resource must be a mapping",
            path.display()
        )));
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
        for item in map
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            expand(item, path, out)?;
        }
        return Ok(());
    }
    if kind.is_empty() {
        return Err(Error::Resource(format!(
            "{}: missing kind in object {}",
            path.display(),
            serde_json::to_string(&doc).unwrap_or_default()
        )));
    }
    if doc["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        return Err(Error::Resource(format!(
            "{}: missing metadata.name in object {}",
            path.display(),
            serde_json::to_string(&doc).unwrap_or_default()
        )));
    }
    let mut doc = doc;
    if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut)
        && meta.get("annotations").is_some_and(Value::is_null)
    {
        meta.remove("annotations");
    }
    out.push(Resource::new(doc));
    Ok(())
}
