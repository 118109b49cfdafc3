//! The patch steps of a build: `patches`, `patchesStrategicMerge` and `patchesJson6902`.

use std::path::Path;

use serde_json::Value;

use super::files::read_restricted;
use super::{Options, io};
use crate::error::Error;
use crate::kustomization::Kustomization;
use crate::openapi::CustomSchema;
use crate::patch::{PatchBody, Selector, apply_json6902, effective_namespace, parse_patch};
use crate::resource::Resource;
use crate::strategic::{MergeContext, merge_object};
use crate::yaml::read_patch_documents;

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
    let bytes = read_restricted(k.dir(), relative, options)?;
    String::from_utf8(bytes).map_err(|e| io(&k.dir().join(relative), e))
}

/// The `allowNameChange` / `allowKindChange` options of a targeted patch.
#[derive(Clone, Copy, Debug, Default)]
struct NameKindChange {
    name: bool,
    kind: bool,
}

impl NameKindChange {
    fn from_options(entry: &Value) -> Self {
        let flag = |f: &str| entry["options"][f].as_bool().unwrap_or(false);
        Self {
            name: flag("allowNameChange"),
            kind: flag("allowKindChange"),
        }
    }
}

fn current_names(resources: &[Resource]) -> Vec<(String, String)> {
    resources
        .iter()
        .map(|r| {
            let id = r.id();
            (id.name, id.kind)
        })
        .collect()
}

/// Records names and kinds a patch changed, so later patches and selectors still find the
/// resource by its earlier id, as kustomize does.
fn remember_renames(resources: &mut [Resource], before: &[(String, String)]) {
    for (resource, (old_name, old_kind)) in resources.iter_mut().zip(before) {
        if resource.object.is_null() {
            continue;
        }
        let id = resource.id();
        if id.name != *old_name {
            resource.previous_names.push(old_name.clone());
        }
        if id.kind != *old_kind {
            resource
                .previous_ids
                .push((old_kind.clone(), old_name.clone()));
        }
    }
}

pub(super) fn apply_patches(
    k: &Kustomization,
    resources: &mut Vec<Resource>,
    options: &Options,
    schema: Option<&CustomSchema>,
) -> Result<(), Error> {
    // kustomize runs `patchesStrategicMerge` before `patches`.
    for entry in k.list("patchesStrategicMerge")? {
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
        let docs = read_patch_documents(&text).map_err(|e| Error::Yaml {
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
            apply_strategic_by_id(resources, &doc, &k.path, schema)?;
        }
    }
    for entry in k.list("patches")? {
        let names = current_names(resources);
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
                if docs.len() > 1 && entry.get("target").is_some_and(|t| !t.is_null()) {
                    let source = match entry.get("path").and_then(Value::as_str) {
                        Some(path) => format!("path: {path:?}"),
                        None => format!("patch: {:?}", text),
                    };
                    return Err(Error::Kustomization {
                        path: k.path.clone(),
                        message: format!(
                            "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field: [{source}]"
                        ),
                    });
                }
                for doc in docs {
                    match entry.get("target") {
                        Some(target) => {
                            let selector = Selector::parse(target, &k.path)?;
                            apply_strategic(
                                resources,
                                &doc,
                                &|r: &Resource| selector.matches(r),
                                NameKindChange::from_options(&entry),
                                schema,
                            )?;
                        }
                        None => apply_strategic_by_id(resources, &doc, &k.path, schema)?,
                    }
                }
            }
        }
        remember_renames(resources, &names);
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
    change: NameKindChange,
    schema: Option<&CustomSchema>,
) -> Result<(), Error> {
    let patch_kind = patch["kind"].as_str().map(str::to_string);
    let mut patch = patch.clone();
    if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        if !change.name {
            meta.remove("name");
        }
        meta.remove("namespace");
    }
    if !change.kind
        && let Some(map) = patch.as_object_mut()
    {
        map.remove("kind");
        map.remove("apiVersion");
    }
    for resource in resources
        .iter_mut()
        .filter(|r| !r.object.is_null() && select(r))
    {
        let context = MergeContext {
            patch_kind: patch_kind.as_deref(),
            explicit_nulls: &resource.explicit_nulls,
            schema,
        };
        if !merge_object(&mut resource.object, &patch, context) {
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
    schema: Option<&CustomSchema>,
) -> Result<(), Error> {
    let kind = patch["kind"].as_str().unwrap_or_default().to_string();
    let name = patch["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = patch["metadata"]["namespace"].as_str().unwrap_or_default();
    let api_version = patch["apiVersion"].as_str().unwrap_or_default().to_string();
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or(("", api_version.as_str()));
    // kustomize finds the one resource any of whose ids (current or earlier) equals the
    // patch's: same group, version, kind and name, same effective namespace (no namespace
    // is `default`; cluster-scoped kinds have none).
    let patch_namespace = effective_namespace(
        namespace,
        crate::openapi::builtin::is_cluster_scoped(&api_version, &kind),
    )
    .to_string();
    let matches = |r: &Resource| {
        let id = r.id();
        let cluster = r.is_cluster_scoped();
        let same_place = |ns: &str| effective_namespace(ns, cluster) == patch_namespace;
        let same_version = api_version.is_empty() || (id.group == group && id.version == version);
        let by_current_kind =
            id.kind == kind && r.ids().iter().any(|(n, ns)| *n == name && same_place(ns));
        let by_earlier_kind = r
            .previous_ids
            .iter()
            .any(|(k, n)| *k == kind && *n == name && same_place(&id.namespace));
        same_version && (by_current_kind || by_earlier_kind)
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
    // The target keeps its own identity: kustomize gives the patch the target's GVK.
    let mut patch = patch.clone();
    if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("name");
        meta.remove("namespace");
    }
    if let Some(map) = patch.as_object_mut() {
        map.remove("kind");
        map.remove("apiVersion");
    }
    for resource in resources
        .iter_mut()
        .filter(|r| !r.object.is_null() && matches(r))
    {
        let context = MergeContext {
            patch_kind: Some(&kind),
            explicit_nulls: &resource.explicit_nulls,
            schema,
        };
        if !merge_object(&mut resource.object, &patch, context) {
            resource.object = Value::Null;
        }
    }
    Ok(())
}

pub(super) fn apply_json6902_patches(
    k: &Kustomization,
    resources: &mut [Resource],
    options: &Options,
) -> Result<(), Error> {
    for entry in k.list("patchesJson6902")? {
        let names = current_names(resources);
        let text = patch_text(k, &entry, options)?;
        let target = entry.get("target").ok_or_else(|| Error::Kustomization {
            path: k.path.clone(),
            message: "patchesJson6902 entry without target".into(),
        })?;
        match parse_patch(&text, &k.path)? {
            PatchBody::Json6902(ops) => {
                apply_json6902(resources, &Selector::parse(target, &k.path)?, &ops, &k.path)?;
                remember_renames(resources, &names);
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
