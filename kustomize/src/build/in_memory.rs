//! Building a kustomization handed over as an in-memory file tree (paths relative to the tree's
//! root): the files become a [`MemoryTree`] under a virtual root, built there confined to it,
//! never touching the disk; paths in errors are given relative to the tree.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use std::sync::Arc;

use super::{Options, build};
use crate::error::Error;
use crate::file_system::MemoryTree;
use crate::resource::Resource;

/// `path` if it only descends (no root, no `..`), else an error naming it.
fn descending(path: &Path) -> Result<PathBuf, Error> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    message: "a path of an in-memory tree must stay inside the tree".into(),
                });
            }
        }
    }
    Ok(out)
}

/// Gives the paths of an error relative to the tree's `root`.
fn relative_to(error: Error, root: &Path) -> Error {
    let strip = |path: PathBuf| {
        path.strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or(path)
    };
    let text = |message: String| {
        message
            .replace(&format!("{}/", root.display()), "")
            .replace(&root.display().to_string(), ".")
    };
    match error {
        Error::Io { path, message } => Error::Io {
            path: strip(path),
            message: text(message),
        },
        Error::Yaml { path, message } => Error::Yaml {
            path: strip(path),
            message: text(message),
        },
        Error::Kustomization { path, message } => Error::Kustomization {
            path: strip(path),
            message: text(message),
        },
        Error::Resource(message) => Error::Resource(text(message)),
        Error::Unsupported(message) => Error::Unsupported(text(message)),
    }
}

/// Where the tree of [`build_files`] is mounted; never a path of the disk.
const VIRTUAL_ROOT: &str = "/in-memory-tree";

/// Builds the kustomization in `dir` of the in-memory tree `files` (relative path -> bytes).
/// Nothing outside the tree can be read, whatever the load restrictor says, and the disk is
/// never touched.
pub fn build_files(
    files: &BTreeMap<PathBuf, Vec<u8>>,
    dir: &Path,
    options: &Options,
) -> Result<Vec<Resource>, Error> {
    let root = PathBuf::from(VIRTUAL_ROOT);
    let mut tree = MemoryTree::new(&root);
    for (path, bytes) in files {
        tree.insert_file(&descending(path)?, bytes.as_slice())
            .map_err(|e| Error::Io {
                path: path.clone(),
                message: e.to_string(),
            })?;
    }
    let options = Options {
        confine_to: Some(root.clone()),
        file_system: Arc::new(tree),
        ..options.clone()
    };
    build(&root.join(descending(dir)?), &options).map_err(|e| relative_to(e, &root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> BTreeMap<PathBuf, Vec<u8>> {
        files
            .iter()
            .map(|(p, c)| (PathBuf::from(p), c.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn trees_build_like_directories_and_stay_inside() {
        let files = tree(&[
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
            ),
            (
                "prod/kustomization.yaml",
                "namePrefix: p-\nresources: [../base]\n",
            ),
        ]);
        let built = build_files(&files, Path::new("prod"), &Options::default()).unwrap();
        assert_eq!(built[0].id().name, "p-cm");

        let escaping = tree(&[("../x.yaml", "a: b\n")]);
        assert!(build_files(&escaping, Path::new("."), &Options::default()).is_err());
        let outside = tree(&[("kustomization.yaml", "resources: [/etc/hostname]\n")]);
        let error = build_files(&outside, Path::new("."), &Options::default()).unwrap_err();
        assert!(!error.to_string().contains(VIRTUAL_ROOT), "{error}");
        let broken = tree(&[("kustomization.yaml", "resources: [missing.yaml]\n")]);
        let error = build_files(&broken, Path::new("."), &Options::default()).unwrap_err();
        assert!(error.to_string().starts_with("missing.yaml"), "{error}");
    }
}
