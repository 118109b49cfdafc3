//! Reading the files of a build: confinement to the build root and the load restrictor,
//! regular files only (a named pipe or a device would block), and resource documents turned
//! into resources (`List` kinds expanded).

use std::path::Path;

use serde_json::Value;

use super::{LoadRestrictor, Options, io, is_remote};
use crate::error::Error;
use crate::file_system::{EntryKind, FileSystem};
use crate::resource::Resource;

/// Refuses a canonical path outside `options.confine_to`.
pub(super) fn confined(canonical: &Path, options: &Options) -> Result<(), Error> {
    let Some(root) = &options.confine_to else {
        return Ok(());
    };
    let root = options.fs().canonicalize(root).map_err(|e| io(root, e))?;
    if canonical.starts_with(&root) {
        return Ok(());
    }
    Err(Error::Resource(format!(
        "security; path '{}' is outside the build root '{}'",
        canonical.display(),
        root.display()
    )))
}

/// Reads a file named relative to a kustomization directory, refusing (under the root-only
/// load restrictor) anything outside that directory.
pub(super) fn read_restricted(
    dir: &Path,
    relative: &str,
    options: &Options,
) -> Result<Vec<u8>, Error> {
    if is_remote(relative) {
        return Err(Error::Resource(format!(
            "{}: remote file {relative:?} is not supported: only local files can be used",
            dir.display()
        )));
    }
    let file = dir.join(relative);
    let canonical = options.fs().canonicalize(&file).map_err(|e| io(&file, e))?;
    let root = options.fs().canonicalize(dir).map_err(|e| io(dir, e))?;
    confined(&canonical, options)?;
    if options.load_restrictor == LoadRestrictor::RootOnly && !canonical.starts_with(&root) {
        return Err(Error::Resource(format!(
            "security; file '{}' is not in or below '{}'",
            canonical.display(),
            root.display()
        )));
    }
    read_regular(options.fs(), &canonical, &file).map(std::borrow::Cow::into_owned)
}

/// Reads a regular file: a named pipe or a device would block or never end.
pub(super) fn read_regular<'a>(
    fs: &'a dyn FileSystem,
    canonical: &Path,
    shown: &Path,
) -> Result<std::borrow::Cow<'a, [u8]>, Error> {
    match fs.kind(canonical) {
        Some(EntryKind::File) => fs.read(canonical).map_err(|e| io(shown, e)),
        Some(_) => Err(io(shown, "not a regular file or a directory")),
        None => fs.read(canonical).map_err(|e| io(shown, e)),
    }
}

pub(super) fn load_file(
    path: &Path,
    root: &Path,
    options: &Options,
) -> Result<Vec<Resource>, Error> {
    let canonical = options.fs().canonicalize(path).map_err(|e| {
        io(
            path,
            format!("{e}: must be a file or a directory with a kustomization"),
        )
    })?;
    confined(&canonical, options)?;
    if options.load_restrictor == LoadRestrictor::RootOnly && !canonical.starts_with(root) {
        return Err(Error::Resource(format!(
            "security; file '{}' is not in or below '{}'",
            canonical.display(),
            root.display()
        )));
    }
    let bytes = read_regular(options.fs(), &canonical, path)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| io(path, "stream did not contain valid UTF-8"))?;
    let docs = crate::yaml::read_documents_with_nulls(text).map_err(|e| Error::Yaml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (doc, nulls) in docs {
        expand(doc, nulls, (path, &canonical), &mut out)?;
    }
    Ok(out)
}

/// Turns a document of the file at `path` (as written, and canonical) into resources.
fn expand(
    doc: Value,
    nulls: crate::yaml::ExplicitNulls,
    (path, canonical): (&Path, &Path),
    out: &mut Vec<Resource>,
) -> Result<(), Error> {
    let Value::Object(map) = &doc else {
        return Err(Error::Resource(format!(
            "{}: a resource must be a mapping",
            path.display()
        )));
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
        let items = map
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, item) in items.into_iter().enumerate() {
            let prefix = [
                crate::yaml::PathSeg::Key("items".into()),
                crate::yaml::PathSeg::Index(i),
            ];
            let inner = nulls
                .iter()
                .filter_map(|p| p.strip_prefix(&prefix[..]).map(<[_]>::to_vec))
                .collect();
            expand(item, inner, (path, canonical), out)?;
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
    let mut resource = Resource::new(doc);
    resource.explicit_nulls = nulls;
    resource.original_subjects = crate::names::service_account_subjects(&resource.object);
    resource.origin = Some(crate::resource::Origin::File(canonical.to_path_buf()));
    out.push(resource);
    Ok(())
}
