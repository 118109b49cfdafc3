//! Building a kustomization: resources (files and nested kustomizations) accumulated in
//! order, identity checks, the namespace transformer, then kustomize's legacy order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::error::Error;
use crate::file_system::{Disk, FileSystem};
use crate::kustomization::{Kustomization, find};
use crate::resource::{Resource, legacy_order, legacy_order_with};
use crate::yaml::{read_documents, to_yaml};

mod crds;
mod files;
mod iam_policy;
mod images;
mod in_memory;
mod metadata;
mod namespace;
mod origin;
mod patches;
mod replacements;
mod transformers;
mod value_add;
mod vars;

pub use in_memory::build_files;

use files::{confined, load_file, read_restricted};

use images::{apply_images, apply_replicas};
use metadata::apply_metadata;
use namespace::{NamespaceOptions, apply_namespace};
use patches::{apply_json6902_patches, apply_patches};
use replacements::apply_replacements;
use transformers::{run_generator, run_transformer};

/// What the accumulation carries across kustomizations: the directories being built (cycle
/// detection), the vars declared so far and the varReference specs of `configurations`.
#[derive(Default)]
struct State {
    stack: Vec<PathBuf>,
    vars: Vec<vars::Var>,
    var_references: Vec<crate::fieldspec::FieldSpec>,
    name_references: Vec<crate::names::NameReference>,
    namespace_specs: Vec<crate::fieldspec::FieldSpec>,
    metadata_specs: metadata::MetadataSpecs,
    /// Extra `namePrefix` / `nameSuffix` field specs from `configurations`.
    prefix_specs: Vec<crate::fieldspec::FieldSpec>,
    suffix_specs: Vec<crate::fieldspec::FieldSpec>,
    /// Extra `images` / `replicas` field specs from `configurations`.
    image_specs: Vec<crate::fieldspec::FieldSpec>,
    replica_specs: Vec<crate::fieldspec::FieldSpec>,
    /// The custom OpenAPI schema: the top kustomization's, else the first one met (kustomize
    /// keeps one schema for the whole build).
    schema: Option<crate::openapi::CustomSchema>,
    /// Record the transformers that run over each resource (`transformerAnnotations`).
    transformations: bool,
}

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
#[derive(Clone, Debug)]
pub struct Options {
    /// The load restrictor.
    pub load_restrictor: LoadRestrictor,
    /// A folder no file or directory of the build may leave, whatever the load restrictor
    /// says (the controller confines a build to its artifact, as Flux does).
    pub confine_to: Option<PathBuf>,
    /// Whether an env-file line without `=` takes its value from this process's environment,
    /// as `kustomize build` does. Off by default: a controller must not copy its own
    /// environment into a tenant's ConfigMaps and Secrets.
    pub environment: bool,
    /// Where every file is read: the disk, or an artifact in memory with the controller's
    /// generated and decrypted files laid over it.
    pub file_system: Arc<dyn FileSystem>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            load_restrictor: LoadRestrictor::default(),
            confine_to: None,
            environment: false,
            file_system: Arc::new(Disk),
        }
    }
}

impl Options {
    fn fs(&self) -> &dyn FileSystem {
        self.file_system.as_ref()
    }
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
    let wanted = origin::requested(dir, options)?;
    let mut state = State {
        transformations: wanted.transformations,
        ..State::default()
    };
    let mut resources = accumulate(dir, options, &mut state, Vec::new())?;
    let before = crate::names::Snapshot::take(&resources);
    crate::generators::apply_pending_hashes(&mut resources);
    crate::names::fix_references(&mut resources, &before, &state.name_references)
        .map_err(Error::Resource)?;
    crate::names::fix_dangling_references(&mut resources, &state.name_references);
    crate::names::check_subject_referrals(&resources).map_err(Error::Resource)?;
    crate::names::unbind_subjects_of_former_cluster_bindings(&mut resources);
    let mut references = vars::builtin_references();
    references.extend(state.var_references);
    vars::apply(&mut resources, &state.vars, &references)?;
    // Local configuration (for example name-reference sources) never leaves the build.
    resources.retain(|r| {
        r.object["metadata"]["annotations"]
            .get("config.kubernetes.io/local-config")
            .is_none()
    });
    origin::annotate(dir, options, wanted, &mut resources);
    for resource in &mut resources {
        drop_empty_annotations(resource);
    }
    if let SortOrder::Legacy { first, last } = sort_order(dir, options)? {
        // Ids are computed once: building one allocates, and sorting compares n log n times.
        let mut keyed: Vec<(crate::resource::ResId, Resource)> =
            resources.into_iter().map(|r| (r.id(), r)).collect();
        keyed.sort_by(|(a, _), (b, _)| match (&first, &last) {
            (Some(first), Some(last)) => legacy_order_with(a, b, first, last),
            _ => legacy_order(a, b),
        });
        resources = keyed.into_iter().map(|(_, r)| r).collect();
    }
    Ok(resources)
}

/// How the top kustomization orders the output.
enum SortOrder {
    /// Input order (`sortOptions.order: fifo`).
    Fifo,
    /// kustomize's kind order, with `legacySortOptions`' lists when given.
    Legacy {
        first: Option<Vec<String>>,
        last: Option<Vec<String>>,
    },
}

/// Reads `sortOptions` of the top kustomization.
fn sort_order(dir: &Path, options: &Options) -> Result<SortOrder, Error> {
    let default = SortOrder::Legacy {
        first: None,
        last: None,
    };
    let Some(path) = find(options.fs(), dir)? else {
        return Ok(default);
    };
    let k = Kustomization::load(options.fs(), &path)?;
    let Some(options) = k.fields.get("sortOptions").filter(|o| !o.is_null()) else {
        return Ok(default);
    };
    let invalid = |message: String| Error::Kustomization {
        path: path.clone(),
        message,
    };
    let legacy = options.get("legacySortOptions").filter(|o| !o.is_null());
    match options.get("order").and_then(Value::as_str) {
        Some("fifo") if legacy.is_some() => Err(invalid(
            "sortOptions.legacySortOptions is set but sortOptions.order is fifo".into(),
        )),
        Some("fifo") => Ok(SortOrder::Fifo),
        None if legacy.is_some() => Err(invalid(
            "the field 'sortOptions.order' must be one of [fifo, legacy]".into(),
        )),
        Some("legacy") | None => {
            let Some(legacy) = legacy else {
                return Ok(default);
            };
            let kinds = |field: &str| {
                legacy
                    .get(field)
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect::<Vec<String>>()
                    })
                    .unwrap_or_default()
            };
            Ok(SortOrder::Legacy {
                first: Some(kinds("orderFirst")),
                last: Some(kinds("orderLast")),
            })
        }
        Some(other) => Err(invalid(format!(
            "sortOptions.order must be 'legacy' or 'fifo', got {other:?}"
        ))),
    }
}

/// kustomize keeps its bookkeeping in annotations and removes the map again when it is
/// left empty, so an empty `metadata.annotations` never survives a build.
/// Drops an empty annotations map and writes every annotation value as a string: kustomize
/// rewrites a resource's annotations as strings whenever it records its internal ones, so no
/// transformer leaves a `true` or a `5` there (the API server takes only strings anyway).
fn drop_empty_annotations(resource: &mut Resource) {
    let Some(meta) = resource
        .object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        for value in annotations.values_mut() {
            let text = match value {
                Value::String(_) => continue,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
            };
            *value = Value::String(text);
        }
    }
    if meta
        .get("annotations")
        .is_some_and(|a| a.as_object().is_some_and(|m| m.is_empty()))
    {
        meta.remove("annotations");
    }
}

/// Builds and renders the YAML stream kustomize prints.
pub fn build_yaml(dir: &Path, options: &Options) -> Result<String, Error> {
    Ok(render(&build(dir, options)?))
}

/// Renders built resources as the YAML stream kustomize prints.
pub fn render(resources: &[Resource]) -> String {
    parallel_map(resources, |r| to_yaml(&r.object)).join("---\n")
}

/// Maps `items` in order, spreading large inputs over the machine's cores.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn accumulate(
    dir: &Path,
    options: &Options,
    state: &mut State,
    mut resources: Vec<Resource>,
) -> Result<Vec<Resource>, Error> {
    let canonical = options.fs().canonicalize(dir).map_err(|e| io(dir, e))?;
    confined(&canonical, options)?;
    if state.stack.contains(&canonical) {
        return Err(Error::Resource(format!(
            "cycle detected: {} includes itself",
            dir.display()
        )));
    }
    state.stack.push(canonical.clone());
    let path = find(options.fs(), dir)?.ok_or_else(|| {
        io(dir, "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory")
    })?;
    let k = Kustomization::load(options.fs(), &path)?;
    let schema = load_openapi(&k, dir, options)?;
    if state.schema.is_none() {
        state.schema = schema;
    }
    let key = |id: crate::resource::ResId| (id.version.clone(), id.object_key());
    let mut seen: std::collections::HashSet<(String, (String, String, String, String))> =
        resources.iter().map(|r| key(r.id())).collect();
    let mut entries = k.strings("resources")?;
    entries.extend(k.strings("bases")?);
    let files: Vec<PathBuf> = entries
        .iter()
        .filter(|e| !is_remote(e))
        .map(|e| dir.join(e))
        .filter(|t| !options.fs().is_dir(t))
        .collect();
    let mut preloaded: std::collections::HashMap<PathBuf, Result<Vec<Resource>, Error>> = files
        .iter()
        .cloned()
        .zip(parallel_map(&files, |t| load_file(t, &canonical, options)))
        .collect();
    for entry in entries {
        if is_remote(&entry) {
            return Err(Error::Unsupported(format!(
                "{}: remote resource {entry:?} is not supported: only local files and directories can be used",
                path.display()
            )));
        }
        let target = dir.join(&entry);
        let loaded = if options.fs().is_dir(&target) {
            if let Some(file) = find(options.fs(), &target)?
                && Kustomization::load(options.fs(), &file)?
                    .string("kind")
                    .as_deref()
                    == Some("Component")
            {
                return Err(Error::Resource(format!(
                    "{}: expected kind != 'Component' for path '{}'",
                    path.display(),
                    target.display()
                )));
            }
            accumulate(&target, options, state, Vec::new())?
        } else {
            match preloaded.remove(&target) {
                Some(loaded) => loaded?,
                None => load_file(&target, &canonical, options)?,
            }
        };
        for resource in loaded {
            let id = resource.id();
            if !seen.insert(key(id.clone())) {
                return Err(Error::Resource(format!(
                    "may not add resource with an already registered id: {}.{}.{}/{}.{}",
                    id.kind, id.version, id.group, id.name, id.namespace
                )));
            }
            resources.push(resource);
        }
    }
    for entry in k.strings("components")? {
        if is_remote(&entry) {
            return Err(Error::Unsupported(format!(
                "{}: remote component {entry:?} is not supported: only local directories can be used",
                path.display()
            )));
        }
        let target = dir.join(&entry);
        let found = if options.fs().is_dir(&target) {
            find(options.fs(), &target)?
        } else {
            None
        };
        let kind = match found {
            Some(file) => Kustomization::load(options.fs(), &file)?.string("kind"),
            None => {
                return Err(Error::Resource(format!(
                    "{}: component '{}' must be a directory with a kustomization file",
                    path.display(),
                    target.display()
                )));
            }
        };
        if kind.as_deref() != Some("Component") {
            return Err(Error::Resource(format!(
                "{}: expected kind 'Component' for path '{}' but got '{}'",
                path.display(),
                target.display(),
                kind.unwrap_or_else(|| "Kustomization".into())
            )));
        }
        // A component transforms what its parent has accumulated so far.
        resources = accumulate(&target, options, state, resources)?;
    }
    for entry in k.strings("configurations")? {
        let text = String::from_utf8_lossy(&read_restricted(dir, &entry, options)?).into_owned();
        let docs = read_documents(&text).map_err(|e| Error::Yaml {
            path: dir.join(&entry),
            message: e.to_string(),
        })?;
        for doc in docs.iter().filter_map(Value::as_object) {
            for (key, specs) in doc {
                let items = specs.as_array().into_iter().flatten();
                match key.as_str() {
                    "varReference" => state
                        .var_references
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "nameReference" => state
                        .name_references
                        .extend(items.filter_map(crate::names::NameReference::parse)),
                    "namespace" => state
                        .namespace_specs
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "commonLabels" => state
                        .metadata_specs
                        .common_labels
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "commonAnnotations" => state
                        .metadata_specs
                        .common_annotations
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "namePrefix" => state
                        .prefix_specs
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "nameSuffix" => state
                        .suffix_specs
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "labels" => state
                        .metadata_specs
                        .labels
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "templateLabels" => state
                        .metadata_specs
                        .template_labels
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "images" => state
                        .image_specs
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    "replicas" => state
                        .replica_specs
                        .extend(items.filter_map(crate::fieldspec::FieldSpec::parse)),
                    _ => {
                        return Err(Error::Unsupported(format!(
                            "{}: '{key}' in configurations is not supported by Rill's kustomize engine yet",
                            dir.join(&entry).display()
                        )));
                    }
                }
            }
        }
    }
    for entry in k.strings("crds")? {
        let text = String::from_utf8_lossy(&read_restricted(dir, &entry, options)?).into_owned();
        let yaml = |message: String| Error::Yaml {
            path: dir.join(&entry),
            message,
        };
        let docs = read_documents(&text).map_err(|e| yaml(e.to_string()))?;
        let config = crds::config_from(docs.first().unwrap_or(&Value::Null)).map_err(yaml)?;
        state.name_references.extend(config.name_references);
        state
            .metadata_specs
            .common_annotations
            .extend(config.annotations);
        state.metadata_specs.common_labels.extend(config.labels);
        state.prefix_specs.extend(config.prefixes);
    }
    for unsupported in ["validators", "helmCharts", "helmChartInflationGenerator"] {
        if k.fields.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(Error::Unsupported(format!(
                "{}: '{unsupported}' is not supported by Rill's kustomize engine yet",
                path.display()
            )));
        }
    }
    let read = |relative: &str| read_restricted(dir, relative, options);
    crate::generators::generate(&k, &mut resources, &read, options.environment)?;
    for entry in inline_first(k.strings("generators")?) {
        for (config, configured_in) in &plugin_configs(&k, &entry, options, state, &read)? {
            let known: std::collections::HashSet<u64> =
                resources.iter().map(|r| r.serial).collect();
            run_generator(&k, config, &mut resources, &read, options.environment)?;
            let by = origin::configured_by(config, configured_in);
            for made in resources.iter_mut().filter(|r| !known.contains(&r.serial)) {
                made.origin = Some(crate::resource::Origin::Generator(by.clone()));
            }
        }
    }
    let before = crate::names::Snapshot::take(&resources);
    apply_patches(&k, &mut resources, options, state.schema.as_ref())?;
    if let Some(namespace) = k.string("namespace").filter(|n| !n.is_empty()) {
        apply_namespace(&mut resources, &namespace, NamespaceOptions::default())?;
        let mut specs = namespace::reference_specs();
        specs.extend(state.namespace_specs.iter().cloned());
        for resource in resources.iter_mut() {
            crate::fieldspec::visit(resource, &specs, &mut |parent, field, spec| {
                if spec.create || parent.contains_key(field) {
                    parent.insert(field.to_string(), Value::String(namespace.clone()));
                }
            });
        }
    }
    let (prefix, suffix) = (
        k.string("namePrefix").unwrap_or_default(),
        k.string("nameSuffix").unwrap_or_default(),
    );
    // A `configurations` spec for the same path takes the place of kustomize's wildcard
    // default (checked with kubectl kustomize: only the configured kinds are renamed).
    let with_defaults = |extra: &[crate::fieldspec::FieldSpec]| {
        let mut specs = crate::names::default_name_specs();
        for spec in extra {
            match specs
                .iter()
                .position(|s| s.path == spec.path && s.kind.is_none())
            {
                Some(i) => specs[i] = spec.clone(),
                None if !specs.contains(spec) => specs.push(spec.clone()),
                None => {}
            }
        }
        specs
    };
    let (prefix_specs, suffix_specs) = (
        with_defaults(&state.prefix_specs),
        with_defaults(&state.suffix_specs),
    );
    if prefix_specs == suffix_specs {
        if !prefix.is_empty() || !suffix.is_empty() {
            crate::names::prefix_suffix(&mut resources, &prefix, &suffix, &prefix_specs);
        }
    } else {
        // kustomize runs the two transformers one after the other, each with its own specs.
        if !prefix.is_empty() {
            crate::names::prefix_suffix(&mut resources, &prefix, "", &prefix_specs);
        }
        if !suffix.is_empty() {
            crate::names::prefix_suffix(&mut resources, "", &suffix, &suffix_specs);
        }
    }
    apply_metadata(&k, &mut resources, &state.metadata_specs)?;
    apply_json6902_patches(&k, &mut resources, options)?;
    apply_replicas(&k, &mut resources, &state.replica_specs)?;
    apply_images(&k, &mut resources, &state.image_specs)?;
    apply_replacements(&k, &mut resources, &read)?;
    let mut ran = if state.transformations {
        origin::builtin_transformations(&k)?
    } else {
        Vec::new()
    };
    for entry in inline_first(k.strings("transformers")?) {
        for (config, configured_in) in &plugin_configs(&k, &entry, options, state, &read)? {
            run_transformer(&k, config, &mut resources, options, state.schema.as_ref())?;
            if state.transformations {
                ran.push(origin::configured_by(config, configured_in));
            }
        }
    }
    for resource in resources.iter_mut() {
        resource.transformations.extend(ran.iter().cloned());
    }
    crate::names::fix_references(&mut resources, &before, &state.name_references)
        .map_err(|e| Error::Resource(format!("{}: {e}", path.display())))?;
    vars::merge(&mut state.vars, vars::declared(&k)?, &resources)?;
    state.stack.pop();
    Ok(resources)
}

/// kustomize's built-in OpenAPI version.
const BUILTIN_OPENAPI_VERSION: &str = "v1.21.2";

/// Reads `openapi`: a schema file that must exist and parse (its merge keys are used for the
/// kinds it describes), or the built-in version.
fn load_openapi(
    k: &Kustomization,
    dir: &Path,
    options: &Options,
) -> Result<Option<crate::openapi::CustomSchema>, Error> {
    let Some(openapi) = k.fields.get("openapi").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let invalid = |message: String| Error::Kustomization {
        path: k.path.clone(),
        message,
    };
    let path = openapi
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let version = openapi
        .get("version")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty());
    match (path, version) {
        (Some(_), Some(_)) => Err(invalid(
            "builtin version and custom schema provided, cannot use both".into(),
        )),
        (None, Some(v)) if v != BUILTIN_OPENAPI_VERSION => Err(invalid(format!(
            "the specified OpenAPI version {v:?} is not built in"
        ))),
        (Some(path), None) => {
            let text = String::from_utf8_lossy(&read_restricted(dir, path, options)?).into_owned();
            let yaml = |message: String| Error::Yaml {
                path: dir.join(path),
                message,
            };
            let docs = read_documents(&text).map_err(|e| yaml(e.to_string()))?;
            let document = docs.first().cloned().unwrap_or(Value::Null);
            crate::openapi::CustomSchema::parse(&document)
                .map(Some)
                .map_err(yaml)
        }
        _ => Ok(None),
    }
}

/// The plugin configurations one `transformers`/`generators` entry names: inline YAML, a
/// file, or a directory built as a kustomization.
/// kustomize reads inline plugin configs (YAML text in the list) before the files and
/// directories the list names, and runs them in that order.
fn inline_first(mut entries: Vec<String>) -> Vec<String> {
    entries.sort_by_key(|e| !e.contains('\n'));
    entries
}

fn plugin_configs(
    k: &Kustomization,
    entry: &str,
    options: &Options,
    state: &mut State,
    read: &dyn Fn(&str) -> Result<Vec<u8>, Error>,
) -> Result<Vec<(Value, PathBuf)>, Error> {
    let dir = k.dir();
    let yaml_error = |path: PathBuf, e: crate::yaml::YamlError| Error::Yaml {
        path,
        message: e.to_string(),
    };
    let with_path = |docs: Vec<Value>, path: &Path| {
        docs.into_iter()
            .map(|d| (d, path.to_path_buf()))
            .collect::<Vec<_>>()
    };
    if entry.contains('\n') {
        let docs = read_documents(entry).map_err(|e| yaml_error(dir.to_path_buf(), e))?;
        return Ok(with_path(docs, &k.canonical));
    }
    let target = dir.join(entry);
    if options.fs().is_dir(&target) {
        let loaded = accumulate(&target, options, state, Vec::new())?;
        return Ok(loaded
            .into_iter()
            .map(|r| {
                let path = match &r.origin {
                    Some(crate::resource::Origin::File(path)) => path.clone(),
                    Some(crate::resource::Origin::Generator(by)) => by.configured_in.clone(),
                    None => target.clone(),
                };
                (r.object, path)
            })
            .collect());
    }
    let text = String::from_utf8_lossy(&read(entry)?).into_owned();
    let docs = read_documents(&text).map_err(|e| yaml_error(target.clone(), e))?;
    let canonical = options.fs().canonicalize(&target).unwrap_or(target);
    Ok(with_path(docs, &canonical))
}
