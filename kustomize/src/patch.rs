//! Patches: target selection (group, version, kind, name and namespace regexes, label and
//! annotation selectors) and JSON 6902 patches from `patches` and `patchesJson6902`.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde_json::Value;

use crate::error::Error;
use crate::resource::Resource;
use crate::yaml::read_documents;

/// A kustomize target selector.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<String>,
    annotations: Option<String>,
}

fn anchored(pattern: &str, what: &str, file: &Path) -> Result<Regex, Error> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| Error::Kustomization {
        path: file.to_path_buf(),
        message: format!("invalid {what} regex {pattern:?}: {e}"),
    })
}

impl Selector {
    /// Parses a `target:` mapping.
    pub fn parse(target: &Value, file: &Path) -> Result<Self, Error> {
        let text = |k: &str| {
            target
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Ok(Self {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
            name: text("name")
                .map(|n| anchored(&n, "name", file))
                .transpose()?,
            namespace: text("namespace")
                .map(|n| anchored(&n, "namespace", file))
                .transpose()?,
            labels: text("labelSelector"),
            annotations: text("annotationSelector"),
        })
    }

    /// Whether a resource is selected.
    pub fn matches(&self, resource: &Resource) -> bool {
        let id = resource.id();
        let meta = &resource.object["metadata"];
        self.group.as_ref().is_none_or(|g| *g == id.group)
            && self.version.as_ref().is_none_or(|v| *v == id.version)
            && self.kind.as_ref().is_none_or(|k| *k == id.kind)
            && self
                .name
                .as_ref()
                .is_none_or(|r| resource.all_names().any(|n| r.is_match(n)))
            && self
                .namespace
                .as_ref()
                .is_none_or(|r| r.is_match(&id.namespace))
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
        json6902(&mut resource.object, ops).map_err(|e| Error::Kustomization {
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
