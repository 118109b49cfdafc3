//! A commit's tree read straight from the object database, without a checkout: entries in
//! the same order as a sorted walk of the checked-out directory (names compared bytewise at
//! each level), symlinks and submodules left out as the archive writer leaves them out.

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository, Tree};
use rill_common::artifact::{Entry, EntrySink};

use rill_common::ignore::{IgnoreError, IgnoreRules};

/// One entry of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// `/`-separated path relative to the root.
    pub path: String,
    /// The blob (for files).
    pub oid: Oid,
    /// A directory.
    pub is_dir: bool,
    /// The owner execute bit (files only).
    pub executable: bool,
}

/// Every directory and regular file of the commit's tree, in walk order.
pub fn items(repo: &Repository, commit: Oid) -> Result<Vec<Item>, git2::Error> {
    let tree = repo.find_commit(commit)?.tree()?;
    let mut out = Vec::new();
    walk(repo, &tree, "", &mut out)?;
    Ok(out)
}

fn walk(
    repo: &Repository,
    tree: &Tree<'_>,
    prefix: &str,
    out: &mut Vec<Item>,
) -> Result<(), git2::Error> {
    let mut entries: Vec<_> = tree.iter().collect();
    entries.sort_by(|a, b| a.name_bytes().cmp(b.name_bytes()));
    for entry in entries {
        let name = String::from_utf8_lossy(entry.name_bytes());
        let path = if prefix.is_empty() {
            name.into_owned()
        } else {
            format!("{prefix}/{name}")
        };
        if prefix.is_empty() && path == ".git" {
            continue;
        }
        match (entry.kind(), entry.filemode()) {
            (Some(ObjectType::Tree), _) => {
                out.push(Item {
                    path: path.clone(),
                    oid: entry.id(),
                    is_dir: true,
                    executable: false,
                });
                let subtree = repo.find_tree(entry.id())?;
                walk(repo, &subtree, &path, out)?;
            }
            (Some(ObjectType::Blob), 0o100644 | 0o100664 | 0o100755) => {
                out.push(Item {
                    path,
                    oid: entry.id(),
                    is_dir: false,
                    executable: entry.filemode() == 0o100755,
                });
            }
            // Symlinks (0o120000) and submodule commits are not archived.
            _ => {}
        }
    }
    Ok(())
}

/// A virtual root for matching ignore rules against tree paths.
fn virtual_root() -> PathBuf {
    PathBuf::from("/rill-tree")
}

/// The ignore rules of the tree: its `.sourceignore` files and `spec.ignore`.
pub fn ignore_rules(
    repo: &Repository,
    items: &[Item],
    spec_ignore: Option<&str>,
) -> Result<IgnoreRules, IgnoreError> {
    let root = virtual_root();
    let mut sources = Vec::new();
    for item in items.iter().filter(|i| !i.is_dir) {
        let path = Path::new(&item.path);
        if path.file_name().is_some_and(|n| n == ".sourceignore") {
            let blob = repo.find_blob(item.oid).map_err(|e| IgnoreError {
                source_name: item.path.clone(),
                message: e.to_string(),
            })?;
            let dir = root.join(path.parent().unwrap_or(Path::new("")));
            sources.push((dir, String::from_utf8_lossy(blob.content()).into_owned()));
        }
    }
    IgnoreRules::from_sources(&root, sources, spec_ignore)
}

/// Emits the tree's entries that the rules keep, reading each blob once.
pub fn emit(
    repo: &Repository,
    items: &[Item],
    rules: &IgnoreRules,
    sink: &mut EntrySink<'_>,
) -> std::io::Result<()> {
    for item in items {
        if rules.excluded(Path::new(&item.path), item.is_dir) {
            continue;
        }
        if item.is_dir {
            sink(Entry::Dir(&item.path))?;
        } else {
            // A blob its consumers would refuse is not loaded into memory.
            let (size, _) = repo
                .odb()
                .and_then(|odb| odb.read_header(item.oid))
                .map_err(std::io::Error::other)?;
            if let Some(limit) = rill_common::artifact::file_too_large(&item.path, size as u64) {
                return Err(std::io::Error::other(limit));
            }
            let blob = repo.find_blob(item.oid).map_err(std::io::Error::other)?;
            sink(Entry::File {
                name: &item.path,
                data: blob.content(),
                executable: item.executable,
            })?;
        }
    }
    Ok(())
}
