//! `buildMetadata`: with `originAnnotations` each resource records the file it was read from,
//! or the kustomization whose generator made it, in `config.kubernetes.io/origin`; with
//! `transformerAnnotations` it lists every transformer that ran while it was in the build
//! (kustomize records "ran over", not "changed") in
//! `alpha.config.kubernetes.io/transformations`. Paths are relative to the kustomization being
//! built.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::Options;
use crate::error::Error;
use crate::kustomization::{Kustomization, find};
use crate::resource::{Configured, Origin, Resource};

const ANNOTATION: &str = "config.kubernetes.io/origin";
const TRANSFORMATIONS: &str = "alpha.config.kubernetes.io/transformations";

/// `target` relative to `base` (both absolute), with `..` where needed.
fn relative(target: &Path, base: &Path) -> String {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for part in &t[common..] {
        out.push(part.as_os_str());
    }
    out.to_string_lossy().into_owned()
}

/// The build metadata the top kustomization asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct BuildMetadata {
    /// `originAnnotations`.
    pub origin: bool,
    /// `transformerAnnotations`.
    pub transformations: bool,
}

/// Reads `buildMetadata` of the kustomization in `dir`; unknown options fail.
pub(super) fn requested(dir: &Path, options: &Options) -> Result<BuildMetadata, Error> {
    let Some(path) = find(options.fs(), dir)? else {
        return Ok(BuildMetadata::default());
    };
    let k = Kustomization::load(options.fs(), &path)?;
    let mut wanted = BuildMetadata::default();
    for option in k.strings("buildMetadata")? {
        match option.as_str() {
            "originAnnotations" => wanted.origin = true,
            "transformerAnnotations" => wanted.transformations = true,
            other => {
                return Err(Error::Unsupported(format!(
                    "{}: buildMetadata '{other}' is not supported by Rill's kustomize engine yet",
                    path.display()
                )));
            }
        }
    }
    Ok(wanted)
}

/// The built-in transformers kustomize configures from `k`'s fields, in the order it runs
/// them, one per instance (one per patch, image, replica, `labels` entry, ...).
pub(super) fn builtin_transformations(k: &Kustomization) -> Result<Vec<Arc<Configured>>, Error> {
    let set = |field: &str| k.string(field).is_some_and(|v| !v.is_empty());
    let entries = |field: &str| k.list(field).map(|l| l.len());
    let non_empty_map = |field: &str| {
        k.fields
            .get(field)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    };
    let labels = entries("labels")?;
    let counts = [
        (
            "PatchStrategicMergeTransformer",
            usize::from(entries("patchesStrategicMerge")? > 0),
        ),
        ("PatchTransformer", entries("patches")?),
        ("NamespaceTransformer", usize::from(set("namespace"))),
        ("PrefixTransformer", usize::from(set("namePrefix"))),
        ("SuffixTransformer", usize::from(set("nameSuffix"))),
        (
            "LabelTransformer",
            if labels > 0 || non_empty_map("commonLabels") {
                labels + 1
            } else {
                0
            },
        ),
        (
            "AnnotationsTransformer",
            usize::from(non_empty_map("commonAnnotations")),
        ),
        ("PatchJson6902Transformer", entries("patchesJson6902")?),
        ("ReplicaCountTransformer", entries("replicas")?),
        ("ImageTagTransformer", entries("images")?),
        (
            "ReplacementTransformer",
            usize::from(entries("replacements")? > 0),
        ),
    ];
    let configured_in = k.canonical.clone();
    let mut out = Vec::new();
    for (kind, count) in counts {
        let record = Arc::new(Configured {
            configured_in: configured_in.clone(),
            api_version: "builtin".into(),
            kind: kind.into(),
            name: String::new(),
            namespace: String::new(),
        });
        out.extend(std::iter::repeat_n(record, count));
    }
    Ok(out)
}

/// A generator or transformer configured by a plugin config object read from `configured_in`.
pub(super) fn configured_by(config: &Value, configured_in: &Path) -> Arc<Configured> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Arc::new(Configured {
        configured_in: configured_in.to_path_buf(),
        api_version: text(&config["apiVersion"]),
        kind: text(&config["kind"]),
        name: text(&config["metadata"]["name"]),
        namespace: text(&config["metadata"]["namespace"]),
    })
}

/// `configuredIn:` and `configuredBy:` lines, indented by `indent`.
fn configured(out: &mut String, indent: &str, by: &Configured, base: &Path) {
    out.push_str(&format!(
        "configuredIn: {}\n",
        relative(&by.configured_in, base)
    ));
    out.push_str(&format!("{indent}configuredBy:\n"));
    let fields = [
        ("apiVersion", &by.api_version),
        ("kind", &by.kind),
        ("name", &by.name),
        ("namespace", &by.namespace),
    ];
    for (key, value) in fields.iter().filter(|(_, v)| !v.is_empty()) {
        out.push_str(&format!("{indent}  {key}: {value}\n"));
    }
}

/// Writes the annotations the top kustomization asked for.
pub(super) fn annotate(
    dir: &Path,
    options: &Options,
    wanted: BuildMetadata,
    resources: &mut [Resource],
) {
    if !wanted.origin && !wanted.transformations {
        return;
    }
    let base = options
        .fs()
        .canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf());
    for resource in resources.iter_mut() {
        let mut add = |key: &str, text: String| {
            let meta = &mut resource.object["metadata"];
            if !meta["annotations"].is_object() {
                meta["annotations"] = json!({});
            }
            meta["annotations"][key] = Value::String(text);
        };
        if wanted.transformations && !resource.transformations.is_empty() {
            let mut text = String::new();
            for t in &resource.transformations {
                text.push_str("- ");
                configured(&mut text, "  ", t, &base);
            }
            add(TRANSFORMATIONS, text);
        }
        if !wanted.origin {
            continue;
        }
        let text = match &resource.origin {
            Some(Origin::File(path)) => format!("path: {}\n", relative(path, &base)),
            Some(Origin::Generator(by)) => {
                let mut text = String::new();
                configured(&mut text, "", by, &base);
                text
            }
            None => continue,
        };
        add(ANNOTATION, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_transformers_are_counted_per_instance_in_kustomizes_order() {
        let cases: [(&str, &[&str]); 4] = [
            ("resources: [a.yaml]\n", &[]),
            (
                "namePrefix: p-\nnamespace: ns\npatchesStrategicMerge: [a.yaml, b.yaml]\n",
                &[
                    "PatchStrategicMergeTransformer",
                    "NamespaceTransformer",
                    "PrefixTransformer",
                ],
            ),
            (
                "images: [{name: a}, {name: b}]\nlabels: [{pairs: {a: b}}]\n",
                &[
                    "LabelTransformer",
                    "LabelTransformer",
                    "ImageTagTransformer",
                    "ImageTagTransformer",
                ],
            ),
            (
                "replacements: [{path: r.yaml}]\ncommonAnnotations: {a: b}\npatches: [{path: p.yaml}]\n",
                &[
                    "PatchTransformer",
                    "AnnotationsTransformer",
                    "ReplacementTransformer",
                ],
            ),
        ];
        for (text, want) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("kustomization.yaml");
            std::fs::write(&path, text).unwrap();
            let k = Kustomization::load(&crate::file_system::Disk, &path).unwrap();
            let kinds: Vec<String> = builtin_transformations(&k)
                .unwrap()
                .iter()
                .map(|t| t.kind.clone())
                .collect();
            assert_eq!(kinds, want, "{text}");
        }
    }

    #[test]
    fn relative_paths_climb_with_dots() {
        assert_eq!(
            relative(Path::new("/a/base/x.yaml"), Path::new("/a/prod")),
            "../base/x.yaml"
        );
        assert_eq!(
            relative(Path::new("/a/prod/x.yaml"), Path::new("/a/prod")),
            "x.yaml"
        );
        assert_eq!(
            relative(Path::new("/a/prod/k.yaml"), Path::new("/a/prod/sub")),
            "../k.yaml"
        );
    }
}
