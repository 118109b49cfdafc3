//! The files a build reads, behind one trait (as kustomize's `filesys.FileSystem`): the disk,
//! an in-memory tree (an unpacked artifact shared by every build on its revision), and an
//! overlay of a few replaced or added files over either (a generated kustomization, decrypted
//! SOPS files). Paths resolve as on Linux: `.` and `..` step through the tree, symbolic links
//! are followed, and what is neither a file, a directory nor a link cannot be read.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

mod memory;
mod overlay;

pub use memory::MemoryTree;
pub use overlay::Overlay;

/// What a path names, after links are followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A named pipe, socket or device: never read.
    Special,
}

/// The files a build reads.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// The absolute path with `.`, `..` and links resolved; an error when it does not exist.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// What `path` names, links followed; `None` when nothing is there.
    fn kind(&self, path: &Path) -> Option<EntryKind>;
    /// The bytes of the regular file at `path`.
    fn read(&self, path: &Path) -> io::Result<Cow<'_, [u8]>>;
    /// The paths of the entries of the directory `path`, sorted.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;

    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool {
        self.kind(path) == Some(EntryKind::Dir)
    }
    /// Whether `path` is a regular file.
    fn is_file(&self, path: &Path) -> bool {
        self.kind(path) == Some(EntryKind::File)
    }
}

/// Linux's errors, so a tree in memory fails with the same words as the disk.
pub(crate) fn os_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}
pub(crate) const ENOENT: i32 = 2;
pub(crate) const ENOTDIR: i32 = 20;
pub(crate) const EISDIR: i32 = 21;
pub(crate) const EINVAL: i32 = 22;
pub(crate) const ELOOP: i32 = 40;

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Disk;

impl FileSystem for Disk {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        path.canonicalize()
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        let meta = std::fs::metadata(path).ok()?;
        Some(if meta.is_file() {
            EntryKind::File
        } else if meta.is_dir() {
            EntryKind::Dir
        } else {
            EntryKind::Special
        })
    }

    fn read(&self, path: &Path) -> io::Result<Cow<'_, [u8]>> {
        std::fs::read(path).map(Cow::Owned)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }
}
