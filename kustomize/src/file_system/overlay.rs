//! A few files replaced or added over another file system, by canonical path.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{EINVAL, EISDIR, ENOENT, EntryKind, FileSystem, os_error};

/// A few files replaced or added over another file system, keyed by canonical path: the
/// controller's generated kustomization and decrypted SOPS files, which never reach the disk
/// nor the shared tree.
#[derive(Debug)]
pub struct Overlay {
    base: Arc<dyn FileSystem>,
    files: HashMap<PathBuf, Vec<u8>>,
}

impl Overlay {
    /// No file replaced yet.
    pub fn new(base: Arc<dyn FileSystem>) -> Self {
        Self {
            base,
            files: HashMap::new(),
        }
    }

    /// Replaces or adds the file at `path`, whose directory must exist.
    pub fn write(&mut self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        let canonical = match self.base.canonicalize(path) {
            Ok(found) => found,
            Err(_) => {
                let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                    return Err(os_error(EINVAL));
                };
                if !self.base.is_dir(parent) {
                    return Err(os_error(ENOENT));
                }
                self.base.canonicalize(parent)?.join(name)
            }
        };
        if self.base.is_dir(&canonical) {
            return Err(os_error(EISDIR));
        }
        self.files.insert(canonical, bytes);
        Ok(())
    }

    /// Replaces or adds files by canonical path.
    pub fn extend(&mut self, files: impl IntoIterator<Item = (PathBuf, Vec<u8>)>) {
        self.files.extend(files);
    }

    /// The canonical path of `path` when it names a file of the overlay.
    fn own(&self, path: &Path) -> Option<PathBuf> {
        let canonical = match self.base.canonicalize(path) {
            Ok(found) => found,
            Err(_) => self
                .base
                .canonicalize(path.parent()?)
                .ok()?
                .join(path.file_name()?),
        };
        self.files.contains_key(&canonical).then_some(canonical)
    }
}

impl FileSystem for Overlay {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        match self.base.canonicalize(path) {
            Ok(found) => Ok(found),
            Err(e) => self.own(path).ok_or(e),
        }
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        match self.own(path) {
            Some(_) => Some(EntryKind::File),
            None => self.base.kind(path),
        }
    }

    fn read(&self, path: &Path) -> io::Result<Cow<'_, [u8]>> {
        match self.own(path) {
            Some(canonical) => match self.files.get(&canonical) {
                Some(bytes) => Ok(Cow::Borrowed(bytes)),
                None => Err(os_error(ENOENT)),
            },
            None => self.base.read(path),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = self.base.read_dir(path)?;
        let dir = self.base.canonicalize(path)?;
        for file in self.files.keys() {
            if file.parent() == Some(dir.as_path())
                && let Some(name) = file.file_name()
            {
                out.push(path.join(name));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
