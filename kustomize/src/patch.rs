//! Patches: target selection (group, version, kind, name and namespace regexes, label and
//! annotation selectors) and JSON 6902 patches from `patches` and `patchesJson6902`.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde_json::Value;

use crate::error::Error;
use crate::resource::Resource;
use crate::yaml::read_documents;

/// A kustomize selector: a patch target (group, version, kind, name and namespace are
/// anchored Go regexps, matched against the resource's original or current name and
/// namespace, as kustomize's `Select` does) or a replacement's source or target (exact
/// values, matched against the resource's current or any earlier id, as `IsSelectedBy`).
#[derive(Clone, Debug, Default)]
pub struct Selector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<String>,
    annotations: Option<String>,
    /// Exact ids (replacements) rather than regexps (patches).
    exact: bool,
}

/// kustomize's namespace for ids: cluster-scoped kinds have none, an empty namespace is
/// `default`.
pub fn effective_namespace(namespace: &str, cluster_scoped: bool) -> &str {
    if cluster_scoped {
        "_non_namespaceable_"
    } else if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

impl Selector {
    /// Parses a patch's `target:` mapping (Go regexps).
    pub fn parse(target: &Value, file: &Path) -> Result<Self, Error> {
        Self::parse_as(target, file, false)
    }

    /// Parses a replacement's `source`, `select` or `reject` mapping (exact values).
    pub fn parse_exact(target: &Value, file: &Path) -> Result<Self, Error> {
        Self::parse_as(target, file, true)
    }

    fn parse_as(target: &Value, file: &Path, exact: bool) -> Result<Self, Error> {
        let text = |k: &str| {
            target
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let pattern = |k: &str| -> Result<Option<Regex>, Error> {
            let Some(value) = text(k) else {
                return Ok(None);
            };
            let compiled = if exact {
                Regex::new(&format!("^{}$", regex::escape(&value))).map_err(|e| e.to_string())
            } else {
                crate::go_regex::compile(&value, true).map_err(|e| e.to_string())
            };
            compiled.map(Some).map_err(|message| Error::Kustomization {
                path: file.to_path_buf(),
                message: format!("invalid {k} in selector: {message}"),
            })
        };
        Ok(Self {
            group: pattern("group")?,
            version: pattern("version")?,
            kind: pattern("kind")?,
            name: pattern("name")?,
            namespace: pattern("namespace")?,
            labels: text("labelSelector"),
            annotations: text("annotationSelector"),
            exact,
        })
    }

    /// Whether a resource is selected.
    pub fn matches(&self, resource: &Resource) -> bool {
        let id = resource.id();
        let meta = &resource.object["metadata"];
        let cluster = resource.is_cluster_scoped();
        let fits = |r: &Option<Regex>, text: &str| r.as_ref().is_none_or(|r| r.is_match(text));
        let names_and_places = if self.exact {
            // The current id or any earlier one, whole.
            resource.ids().into_iter().any(|(name, namespace)| {
                fits(&self.name, &name)
                    && fits(&self.namespace, effective_namespace(&namespace, cluster))
            })
        } else {
            // Name and namespace each from the original id or the current one.
            let (original_name, original_namespace) = resource.original_place();
            (fits(&self.name, &original_name) || fits(&self.name, &id.name))
                && (fits(
                    &self.namespace,
                    effective_namespace(&original_namespace, cluster),
                ) || fits(&self.namespace, effective_namespace(&id.namespace, cluster)))
        };
        names_and_places
            && fits(&self.group, &id.group)
            && fits(&self.version, &id.version)
            && fits(&self.kind, &id.kind)
            && self
                .labels
                .as_ref()
                .is_none_or(|s| selector_matches(s, &meta["labels"]))
            && self
                .annotations
                .as_ref()
                .is_none_or(|s| selector_matches(s, &meta["annotations"]))
    }
}

/// Label-selector matching (`k=v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`); a
/// selector that does not parse matches nothing.
fn selector_matches(selector: &str, labels: &Value) -> bool {
    let labels: BTreeMap<String, String> = labels
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    label_selector::LabelSelector::parse(selector).is_ok_and(|s| s.matches(&labels))
}

/// A patch document: JSON 6902 operations, or a strategic merge patch.
pub enum PatchBody {
    /// JSON 6902 operations.
    Json6902(json_patch::Patch),
    /// A strategic merge patch (one or more documents).
    Strategic(Vec<Value>),
}

/// Parses patch text (YAML or JSON).
pub fn parse_patch(text: &str, file: &Path) -> Result<PatchBody, Error> {
    let docs = read_documents(text).map_err(|e| Error::Yaml {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    match docs.as_slice() {
        // kustomize converts the patch to JSON, which keeps only the first document: further
        // operation lists after `---` are ignored.
        [Value::Array(_), ..] => {
            let ops: json_patch::Patch =
                serde_json::from_value(docs[0].clone()).map_err(|e| Error::Kustomization {
                    path: file.to_path_buf(),
                    message: format!("invalid JSON patch: {e}"),
                })?;
            Ok(PatchBody::Json6902(ops))
        }
        [] => Err(Error::Kustomization {
            path: file.to_path_buf(),
            message: "empty patch".into(),
        }),
        _ => Ok(PatchBody::Strategic(docs)),
    }
}

/// Applies JSON 6902 operations one by one as kustomize's json-patch (evanphx v4) does: a
/// `replace` of a key an object does not have adds it.
pub(crate) fn json6902(
    doc: &mut Value,
    ops: &json_patch::Patch,
) -> Result<(), json_patch::PatchError> {
    for op in ops.iter() {
        let result = json_patch::patch(doc, std::slice::from_ref(op));
        match (result, op) {
            (Ok(()), _) => {}
            (Err(e), json_patch::PatchOperation::Replace(replace)) => {
                let parent_is_object = replace
                    .path
                    .parent()
                    .and_then(|parent| parent.resolve(doc).ok())
                    .is_some_and(Value::is_object);
                if !parent_is_object {
                    return Err(e);
                }
                let add = json_patch::PatchOperation::Add(json_patch::AddOperation {
                    path: replace.path.clone(),
                    value: replace.value.clone(),
                });
                json_patch::patch(doc, &[add])?;
            }
            (Err(e), _) => return Err(e),
        }
    }
    Ok(())
}

/// Applies JSON 6902 operations to every selected resource.
pub fn apply_json6902(
    resources: &mut [Resource],
    selector: &Selector,
    ops: &json_patch::Patch,
    file: &Path,
) -> Result<(), Error> {
    for resource in resources.iter_mut().filter(|r| selector.matches(r)) {
        // kustomize records the resource's id in its (internal) annotations before applying
        // a JSON patch, so `metadata.annotations` always exists for the patch: an `add` of
        // one annotation works on a resource that has none.
        let absent = resource.object["metadata"].is_object()
            && resource.object["metadata"].get("annotations").is_none();
        if absent {
            resource.object["metadata"]["annotations"] = Value::Object(Default::default());
        }
        let applied = json6902(&mut resource.object, ops);
        if absent
            && let Some(meta) = resource.object["metadata"].as_object_mut()
            && meta
                .get("annotations")
                .is_some_and(|a| a.as_object().is_some_and(|m| m.is_empty()))
        {
            meta.remove("annotations");
        }
        applied.map_err(|e| Error::Kustomization {
            path: file.to_path_buf(),
            message: format!(
                "unable to apply JSON patch to {}/{}: {e}",
                resource.kind(),
                resource.id().name
            ),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selectors_match_like_kustomize() {
        let r = Resource::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-1", "namespace": "a", "labels": {"app": "web"}}}),
        );
        let file = Path::new("k.yaml");
        let cases = [
            (json!({"kind": "Deployment"}), true),
            (json!({"group": "apps", "version": "v1"}), true),
            (json!({"group": ""}), true),
            (json!({"kind": "Service"}), false),
            (json!({"name": "web-.*"}), true),
            (json!({"name": "web"}), false),
            (json!({"namespace": "a|b"}), true),
            (json!({"labelSelector": "app=web"}), true),
            (json!({"labelSelector": "app in (api)"}), false),
            (json!({"annotationSelector": "x"}), false),
        ];
        for (target, want) in cases {
            assert_eq!(
                Selector::parse(&target, file).unwrap().matches(&r),
                want,
                "{target}"
            );
        }
    }

    #[test]
    fn replace_of_a_missing_key_adds_it_like_kustomize() {
        let cases = [
            (
                json!([{"op": "replace", "path": "/spec/b", "value": 2}]),
                Some(json!({"spec": {"a": 1, "b": 2}})),
            ),
            (
                json!([{"op": "replace", "path": "/spec/a", "value": 3}]),
                Some(json!({"spec": {"a": 3}})),
            ),
            // a missing parent still fails, and so does an index past the end
            (
                json!([{"op": "replace", "path": "/other/b", "value": 2}]),
                None,
            ),
            (
                json!([{"op": "replace", "path": "/list/5", "value": 2}]),
                None,
            ),
        ];
        for (ops, want) in cases {
            let mut doc = json!({"spec": {"a": 1}});
            if ops[0]["path"] == "/list/5" {
                doc["list"] = json!([1]);
            }
            let ops: json_patch::Patch = serde_json::from_value(ops).unwrap();
            let got = json6902(&mut doc, &ops).ok().map(|()| doc);
            assert_eq!(got, want, "{ops:?}");
        }
    }
}
