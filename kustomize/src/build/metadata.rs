//! The label and annotation steps of a build: `labels`, `commonLabels` and
//! `commonAnnotations`, written wherever kustomize's field specs say.

use serde_json::Value;

use crate::error::Error;
use crate::fieldspec::{
    ANNOTATIONS, FieldSpec, METADATA_LABELS, SELECTOR_LABELS, builtin, set_entries,
};
use crate::kustomization::Kustomization;
use crate::resource::Resource;

fn invalid(k: &Kustomization, message: String) -> Error {
    Error::Kustomization {
        path: k.path.clone(),
        message,
    }
}

/// A string map from the kustomization, sorted by key as kustomize applies it.
pub(super) fn pairs(
    k: &Kustomization,
    field: &str,
    value: Option<&Value>,
) -> Result<Vec<(String, String)>, Error> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(invalid(k, format!("{field}: expected a map, got {other}"))),
    };
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            other => {
                return Err(invalid(
                    k,
                    format!("{field}.{key}: expected a string, got {other}"),
                ));
            }
        };
        out.push((key.clone(), text));
    }
    out.sort();
    Ok(out)
}

/// Extra field specs from `configurations` for `commonLabels`, `commonAnnotations` and every
/// `labels` entry (kubectl kustomize applies a configured `labels` spec to each entry, whatever
/// its `includeSelectors`, and not to `commonLabels`).
#[derive(Clone, Debug, Default)]
pub(super) struct MetadataSpecs {
    pub(super) common_labels: Vec<FieldSpec>,
    pub(super) common_annotations: Vec<FieldSpec>,
    pub(super) labels: Vec<FieldSpec>,
    /// `templateLabels`: where `labels` entries with `includeTemplates` also write.
    pub(super) template_labels: Vec<FieldSpec>,
}

/// Applies `labels`, then `commonLabels`, then `commonAnnotations`.
pub(super) fn apply_metadata(
    k: &Kustomization,
    resources: &mut [Resource],
    extra: &MetadataSpecs,
) -> Result<(), Error> {
    for entry in &k.list("labels")? {
        if let Some(unknown) = entry
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key)
            .find(|key| {
                !["pairs", "includeSelectors", "includeTemplates", "fields"].contains(&key.as_str())
            })
        {
            return Err(invalid(
                k,
                format!("invalid Kustomization: json: unknown field \"{unknown}\""),
            ));
        }
        let pairs = pairs(k, "labels.pairs", entry.get("pairs"))?;
        let flag = |name: &str| entry.get(name).and_then(Value::as_bool).unwrap_or(false);
        let mut specs = if flag("includeSelectors") {
            // The same specs as `commonLabels`, those of `configurations` included.
            [
                builtin(SELECTOR_LABELS),
                builtin(METADATA_LABELS),
                extra.common_labels.clone(),
            ]
            .concat()
        } else if flag("includeTemplates") {
            builtin(&METADATA_LABELS[1..])
                .into_iter()
                .chain(extra.template_labels.iter().cloned())
                .chain(builtin(&METADATA_LABELS[..1]))
                .collect()
        } else {
            builtin(&METADATA_LABELS[..1])
        };
        specs.extend(
            entry["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(FieldSpec::parse),
        );
        specs.extend(extra.labels.iter().cloned());
        set_all(resources, &specs, &pairs);
    }
    let common = pairs(k, "commonLabels", k.fields.get("commonLabels"))?;
    let mut specs = [builtin(SELECTOR_LABELS), builtin(METADATA_LABELS)].concat();
    specs.extend(extra.common_labels.iter().cloned());
    set_all(resources, &specs, &common);
    let annotations = pairs(k, "commonAnnotations", k.fields.get("commonAnnotations"))?;
    let mut specs = builtin(ANNOTATIONS);
    specs.extend(extra.common_annotations.iter().cloned());
    set_all(resources, &specs, &annotations);
    Ok(())
}

/// Writes the entries into every field the specs reach, in every resource.
pub(super) fn set_all(
    resources: &mut [Resource],
    specs: &[FieldSpec],
    entries: &[(String, String)],
) {
    if entries.is_empty() {
        return;
    }
    for resource in resources.iter_mut() {
        set_entries(resource, specs, entries);
    }
}
