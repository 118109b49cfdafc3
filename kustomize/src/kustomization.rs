//! The kustomization file: found by its three names, keys matched case-insensitively to
//! kustomize's field names, unknown fields refused.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::Error;
use crate::file_system::FileSystem;
use crate::yaml::read_documents_last_key_wins;

/// The file names kustomize looks for, in order.
pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Every field kustomize v5.5.0 knows.
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "images",
    "replicas",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "vars",
    "replacements",
    "configurations",
    "openapi",
    "crds",
    "transformers",
    "generators",
    "validators",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
    "sortOptions",
    "buildMetadata",
    "inventory",
    "nameSuffix",
];

/// A loaded kustomization.
#[derive(Clone, Debug)]
pub struct Kustomization {
    /// The file it came from.
    pub path: PathBuf,
    /// That file's canonical path (links resolved).
    pub canonical: PathBuf,
    /// The canonical path of its directory.
    pub canonical_dir: PathBuf,
    /// Its fields under their canonical names.
    pub fields: Map<String, Value>,
}

/// Finds the kustomization file in `dir`; more than one is an error, as in kustomize.
pub fn find(fs: &dyn FileSystem, dir: &Path) -> Result<Option<PathBuf>, Error> {
    let names: Vec<PathBuf> = FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| fs.is_file(p))
        .collect();
    if names.len() > 1 {
        return Err(Error::Kustomization {
            path: dir.to_path_buf(),
            message: "Found multiple kustomization files".into(),
        });
    }
    Ok(names.into_iter().next())
}

impl Kustomization {
    /// Reads and normalises the kustomization at `path`.
    pub fn load(fs: &dyn FileSystem, path: &Path) -> Result<Self, Error> {
        let io = |message: String| Error::Io {
            path: path.to_path_buf(),
            message,
        };
        let bytes = fs.read(path).map_err(|e| io(e.to_string()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| io("stream did not contain valid UTF-8".into()))?;
        let canonical = fs.canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let canonical_dir = path
            .parent()
            .and_then(|dir| fs.canonicalize(dir).ok())
            .unwrap_or_else(|| {
                canonical
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
            });
        let docs = read_documents_last_key_wins(text).map_err(|e| Error::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let err = |message: String| Error::Kustomization {
            path: path.to_path_buf(),
            message,
        };
        let doc = match docs.len() {
            0 => return Err(err("kustomization.yaml is empty".into())),
            1 => docs.into_iter().next().unwrap_or_default(),
            _ => return Err(err("a kustomization file must hold one document".into())),
        };
        let Value::Object(raw) = doc else {
            return Err(err("a kustomization must be a mapping".into()));
        };
        let mut fields = Map::new();
        for (key, value) in raw {
            let canonical = FIELDS
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&key))
                .ok_or_else(|| {
                    err(format!(
                        "invalid Kustomization: json: unknown field \"{key}\""
                    ))
                })?;
            fields.insert(canonical.to_string(), value);
        }
        if let Some(kind) = fields.get("kind").and_then(Value::as_str)
            && kind != "Kustomization"
            && kind != "Component"
        {
            return Err(err(format!("unsupported kind {kind:?}")));
        }
        if fields.get("kind").and_then(Value::as_str) == Some("Component")
            && fields
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|v| v != "kustomize.config.k8s.io/v1alpha1")
        {
            return Err(err(
                "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1".into(),
            ));
        }
        if fields.keys().all(|k| k == "apiVersion" || k == "kind") {
            return Err(err("kustomization.yaml is empty".into()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            canonical,
            canonical_dir,
            fields,
        })
    }

    /// A list field (`patches`, `images`...): empty when absent or null.
    pub fn list(&self, field: &str) -> Result<Vec<Value>, Error> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(other) => Err(Error::Kustomization {
                path: self.path.clone(),
                message: format!("{field}: expected a list, got {other}"),
            }),
        }
    }

    /// A list of strings field (`resources`, `components`...).
    pub fn strings(&self, field: &str) -> Result<Vec<String>, Error> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(Error::Kustomization {
                        path: self.path.clone(),
                        message: format!("{field}: expected a string, got {other}"),
                    }),
                })
                .collect(),
            Some(other) => Err(Error::Kustomization {
                path: self.path.clone(),
                message: format!("{field}: expected a list, got {other}"),
            }),
        }
    }

    /// A string field.
    pub fn string(&self, field: &str) -> Option<String> {
        self.fields
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The directory of the kustomization.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}
