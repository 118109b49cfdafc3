//! The `transformers` and `generators` fields: kustomize's built-in plugins configured by
//! file, run after the kustomization's own generators or transformations through the same
//! steps.

use serde_json::{Map, Value, json};

use super::Options;
use super::images::{set_image, set_replicas};
use super::metadata::{pairs, set_all};
use super::namespace::{NamespaceOptions, SubjectMode, apply_namespace};
use super::patches::{apply_json6902_patches, apply_patches};
use crate::error::Error;
use crate::fieldspec::FieldSpec;
use crate::kustomization::Kustomization;
use crate::resource::Resource;

fn unsupported(k: &Kustomization, what: String) -> Error {
    Error::Unsupported(format!(
        "{}: transformer {what} is not supported by Rill's kustomize engine yet",
        k.path.display()
    ))
}

fn invalid(k: &Kustomization, kind: &str, message: &str) -> Error {
    Error::Kustomization {
        path: k.path.clone(),
        message: format!("plugin {kind} fails configuration: {message}"),
    }
}

/// A kustomization with only `fields`, reading files relative to `k`.
fn synthetic(k: &Kustomization, fields: Value) -> Kustomization {
    Kustomization {
        path: k.path.clone(),
        canonical: k.canonical.clone(),
        canonical_dir: k.canonical_dir.clone(),
        fields: match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    }
}

fn field_specs(config: &Value) -> Vec<FieldSpec> {
    config["fieldSpecs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(FieldSpec::parse)
        .collect()
}

/// The struct fields of kustomize's builtin plugin configs, by level: Go decodes them
/// matching names without regard to case (`Digest` is `digest`).
const CONFIG_FIELDS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "apiVersion",
            "kind",
            "metadata",
            "prefix",
            "suffix",
            "fieldSpecs",
            "imageTag",
            "replica",
            "replacements",
            "path",
            "patch",
            "paths",
            "target",
            "options",
            "jsonOp",
            "labels",
            "annotations",
            "setRoleBindingSubjects",
            "unsetOnly",
            "name",
            "namespace",
            "behavior",
            "literals",
            "files",
            "envs",
            "env",
            "type",
        ],
    ),
    (
        "imageTag",
        &["name", "newName", "newTag", "digest", "tagSuffix"],
    ),
    ("replica", &["name", "count"]),
    (
        "target",
        &[
            "group",
            "version",
            "kind",
            "name",
            "namespace",
            "labelSelector",
            "annotationSelector",
        ],
    ),
    (
        "fieldSpecs",
        &["group", "version", "kind", "path", "create"],
    ),
];

/// Renames keys of a plugin config to their canonical spelling, at the top level and in the
/// struct-valued fields `levels` names (list fields apply to each element).
fn canonical_keys(config: &Value, levels: &[(&str, &[&str])]) -> Value {
    let rename = |value: &Value, names: &[&str]| -> Value {
        let Some(map) = value.as_object() else {
            return value.clone();
        };
        Value::Object(
            map.iter()
                .map(|(key, v)| {
                    let canonical = names
                        .iter()
                        .find(|n| n.eq_ignore_ascii_case(key))
                        .map_or_else(|| key.clone(), |n| (*n).to_string());
                    (canonical, v.clone())
                })
                .collect(),
        )
    };
    let top = levels
        .iter()
        .find(|(l, _)| l.is_empty())
        .map_or(&[][..], |(_, n)| n);
    let mut out = rename(config, top);
    for (field, names) in levels.iter().filter(|(l, _)| !l.is_empty()) {
        if let Some(value) = out.get_mut(*field) {
            let renamed = match &*value {
                Value::Array(items) => {
                    Value::Array(items.iter().map(|i| rename(i, names)).collect())
                }
                other => rename(other, names),
            };
            *value = renamed;
        }
    }
    out
}

/// Runs one built-in generator plugin configuration (ConfigMapGenerator, SecretGenerator).
pub(super) fn run_generator(
    k: &Kustomization,
    config: &Value,
    resources: &mut Vec<Resource>,
    read: &dyn Fn(&str) -> Result<Vec<u8>, Error>,
    environment: bool,
) -> Result<(), Error> {
    let config = &canonical_keys(config, CONFIG_FIELDS);
    let api_version = config["apiVersion"].as_str().unwrap_or_default();
    let kind = config["kind"].as_str().unwrap_or_default();
    let field = match (api_version, kind) {
        ("builtin", "ConfigMapGenerator") => "configMapGenerator",
        ("builtin", "SecretGenerator") => "secretGenerator",
        ("builtin", "IAMPolicyGenerator") => {
            resources.push(super::iam_policy::generate(k, config)?);
            return Ok(());
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "{}: generator {api_version}/{kind} is not supported by Rill's kustomize engine yet",
                k.path.display()
            )));
        }
    };
    let mut body = config.clone();
    if let Some(map) = body.as_object_mut() {
        for key in ["name", "namespace"] {
            let from_meta = config["metadata"][key].clone();
            if map.get(key).is_none_or(|v| v.is_null() || *v == "") && !from_meta.is_null() {
                map.insert(key.into(), from_meta);
            }
        }
        for key in ["apiVersion", "kind", "metadata"] {
            map.remove(key);
        }
    }
    let synth = synthetic(k, json!({ field: [body] }));
    crate::generators::generate(&synth, resources, read, environment)
}

/// Runs one built-in transformer plugin configuration over the resources.
pub(super) fn run_transformer(
    k: &Kustomization,
    config: &Value,
    resources: &mut Vec<Resource>,
    options: &Options,
    schema: Option<&crate::openapi::CustomSchema>,
) -> Result<(), Error> {
    let config = &canonical_keys(config, CONFIG_FIELDS);
    let api_version = config["apiVersion"].as_str().unwrap_or_default();
    let kind = config["kind"].as_str().unwrap_or_default();
    if api_version != "builtin" {
        return Err(unsupported(
            k,
            format!("{api_version}/{kind} (only builtin plugins run)"),
        ));
    }
    let mut body = config.clone();
    if let Some(map) = body.as_object_mut() {
        for key in ["apiVersion", "kind", "metadata"] {
            map.remove(key);
        }
    }
    match kind {
        "PatchStrategicMergeTransformer" => {
            let mut entries: Vec<Value> = config["paths"].as_array().cloned().unwrap_or_default();
            if let Some(inline) = config.get("patches").filter(|p| !p.is_null() && *p != "") {
                entries.push(inline.clone());
            }
            if entries.is_empty() {
                return Err(invalid(k, kind, "empty file path and empty patch content"));
            }
            let synth = synthetic(k, json!({ "patchesStrategicMerge": entries }));
            apply_patches(&synth, resources, options, schema)
        }
        "PatchTransformer" => apply_patches(
            &synthetic(k, json!({ "patches": [body] })),
            resources,
            options,
            schema,
        ),
        "PatchJson6902Transformer" => {
            if body.get("path").is_some() && body.get("jsonOp").is_some() {
                return Err(invalid(
                    k,
                    kind,
                    "must specify a file path or jsonOp, not both",
                ));
            }
            if let Some(map) = body.as_object_mut()
                && let Some(op) = map.remove("jsonOp")
            {
                map.insert("patch".into(), op);
            }
            let synth = synthetic(k, json!({ "patchesJson6902": [body] }));
            apply_json6902_patches(&synth, resources, options)
        }
        "NamespaceTransformer" => {
            let subjects = match config["setRoleBindingSubjects"].as_str() {
                None | Some("") | Some("defaultOnly") => SubjectMode::DefaultOnly,
                Some("allServiceAccounts") => SubjectMode::AllServiceAccounts,
                Some("none") => SubjectMode::None,
                Some(other) => {
                    return Err(invalid(
                        k,
                        kind,
                        &format!(
                            "invalid value {other:?} for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
                        ),
                    ));
                }
            };
            let specs = field_specs(config);
            let options = NamespaceOptions {
                unset_only: config["unsetOnly"].as_bool().unwrap_or(false),
                subjects,
                rename_namespaces: specs.iter().any(|s| {
                    s.path == "metadata/name" && s.kind.as_deref().is_none_or(|k| k == "Namespace")
                }),
            };
            let Some(ns) = config["metadata"]["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
            else {
                return Ok(());
            };
            apply_namespace(resources, ns, options)?;
            // Extra places the namespace goes; each must be a scalar.
            let extra: Vec<FieldSpec> = specs
                .into_iter()
                // The namespace step's own business (kustomize drops them too).
                .filter(|s| {
                    !["metadata/namespace", "metadata/name", "subjects/namespace"]
                        .contains(&s.path.as_str())
                })
                .collect();
            let mut wrong = None;
            for resource in resources.iter_mut() {
                let id = resource.id().display_string();
                crate::fieldspec::visit(resource, &extra, &mut |parent, field, spec| match parent
                    .get(field)
                {
                    Some(Value::Object(_) | Value::Array(_)) => {
                        wrong.get_or_insert_with(|| format!("field '{field}' of {id}"));
                    }
                    Some(Value::String(s)) if options.unset_only && !s.is_empty() => {}
                    None | Some(Value::Null) if !spec.create => {}
                    _ => {
                        parent.insert(field.to_string(), Value::String(ns.to_string()));
                    }
                });
            }
            match wrong {
                Some(place) => Err(invalid(
                    k,
                    kind,
                    &format!("namespace field specs must target scalar nodes: {place}"),
                )),
                None => Ok(()),
            }
        }
        "ValueAddTransformer" => super::value_add::apply(k, config, resources),
        // Generated resources waiting for their hash get it now rather than at the end.
        "HashTransformer" => {
            crate::generators::apply_pending_hashes(resources);
            Ok(())
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let mut specs = field_specs(config);
            if specs.is_empty() {
                specs = crate::names::default_name_specs();
            }
            let text = |f: &str| config[f].as_str().unwrap_or_default().to_string();
            crate::names::prefix_suffix(resources, &text("prefix"), &text("suffix"), &specs);
            Ok(())
        }
        "LabelTransformer" | "AnnotationsTransformer" => {
            let field = if kind == "LabelTransformer" {
                "labels"
            } else {
                "annotations"
            };
            let entries = pairs(k, field, config.get(field))?;
            set_all(resources, &field_specs(config), &entries);
            Ok(())
        }
        "ImageTagTransformer" => set_image(k, resources, &config["imageTag"], &field_specs(config)),
        "ReplicaCountTransformer" => {
            set_replicas(k, resources, &config["replica"], &field_specs(config))
        }
        "ReplacementTransformer" => {
            // Entries may name files of replacements (`path:`), read like the field's.
            let synth = synthetic(k, json!({ "replacements": config["replacements"].clone() }));
            let dir = k.dir().to_path_buf();
            let read = |relative: &str| super::read_restricted(&dir, relative, options);
            super::replacements::apply_replacements(&synth, resources, &read)
        }
        other => Err(unsupported(k, format!("builtin/{other}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plugin_config_keys_match_without_case() {
        let cases = [
            (
                json!({"Path": "p.yaml", "Target": {"Kind": "Deployment"}}),
                json!({"path": "p.yaml", "target": {"kind": "Deployment"}}),
            ),
            (
                json!({"imageTag": {"Digest": "sha256:1"}, "FieldSpecs": [{"PATH": "a"}]}),
                json!({"imageTag": {"digest": "sha256:1"}, "fieldSpecs": [{"path": "a"}]}),
            ),
            // data maps keep their keys
            (
                json!({"labels": {"App": "x"}, "unknown": 1}),
                json!({"labels": {"App": "x"}, "unknown": 1}),
            ),
        ];
        for (config, want) in cases {
            assert_eq!(canonical_keys(&config, CONFIG_FIELDS), want);
        }
    }
}
