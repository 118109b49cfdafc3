//! Where the checked entries of an artifact go: a directory on disk (files written with their
//! mode, links created last) or a tree in memory (the kustomize-controller's builds); the checks
//! themselves live in `unpack.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::unpack::UnpackError;

/// An artifact unpacked into memory: paths relative to its root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackedTree {
    /// Directories, including empty ones.
    pub dirs: BTreeSet<PathBuf>,
    /// Regular files and their bytes.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// Symbolic links and their targets as written (each checked to stay inside the root).
    pub symlinks: BTreeMap<PathBuf, String>,
}

impl UnpackedTree {
    /// The bytes of every file.
    pub fn bytes(&self) -> u64 {
        self.files.values().map(|f| f.len() as u64).sum()
    }
}

/// Where the entries of an archive go, once checked.
pub(super) trait Sink {
    fn dir(&mut self, relative: &Path) -> Result<(), UnpackError>;
    fn file(
        &mut self,
        relative: &Path,
        entry: &mut dyn Read,
        max_bytes: u64,
        executable: bool,
    ) -> Result<u64, WriteError>;
    /// A hardlink: a copy of the unpacked file `source`.
    fn copy(&mut self, source: &Path, relative: &Path) -> Result<u64, UnpackError>;
    /// A symlink, once every file is in place; `display` names the entry in errors.
    fn symlink(&mut self, relative: &Path, raw: &str, display: &str) -> Result<(), UnpackError>;
}

pub(super) struct DiskSink<'a> {
    pub(super) target: &'a Path,
}

impl Sink for DiskSink<'_> {
    fn dir(&mut self, relative: &Path) -> Result<(), UnpackError> {
        let destination = self.target.join(relative);
        fs::create_dir_all(&destination).map_err(|source| UnpackError::Io {
            path: destination.clone(),
            source,
        })
    }

    fn file(
        &mut self,
        relative: &Path,
        entry: &mut dyn Read,
        max_bytes: u64,
        executable: bool,
    ) -> Result<u64, WriteError> {
        write_file(entry, &self.target.join(relative), max_bytes, executable)
    }

    fn copy(&mut self, source: &Path, relative: &Path) -> Result<u64, UnpackError> {
        let destination = self.target.join(relative);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| UnpackError::Io { path, source }
        };
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        fs::copy(self.target.join(source), &destination).map_err(io_err(&destination))
    }

    fn symlink(&mut self, relative: &Path, raw: &str, display: &str) -> Result<(), UnpackError> {
        let path = self.target.join(relative);
        let io_err = |source| UnpackError::Io {
            path: path.clone(),
            source,
        };
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(UnpackError::LinkConflict {
                    path: display.to_string(),
                });
            }
            Ok(_) => fs::remove_file(&path).map_err(io_err)?,
            Err(_) => {}
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| UnpackError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::os::unix::fs::symlink(raw, &path).map_err(io_err)
    }
}

impl UnpackedTree {
    fn add_parents(&mut self, relative: &Path) {
        for parent in relative.ancestors().skip(1) {
            if parent.as_os_str().is_empty() {
                break;
            }
            self.dirs.insert(parent.to_path_buf());
        }
    }

    /// A file or link cannot take the path of a directory, nor sit below a file.
    fn check_place(&self, relative: &Path) -> Result<(), UnpackError> {
        let conflict = self.dirs.contains(relative)
            || relative
                .ancestors()
                .skip(1)
                .any(|p| self.files.contains_key(p));
        if conflict {
            return Err(UnpackError::Io {
                path: relative.to_path_buf(),
                source: io::Error::from(io::ErrorKind::AlreadyExists),
            });
        }
        Ok(())
    }
}

impl Sink for UnpackedTree {
    fn dir(&mut self, relative: &Path) -> Result<(), UnpackError> {
        if relative.ancestors().any(|p| self.files.contains_key(p)) {
            return Err(UnpackError::Io {
                path: relative.to_path_buf(),
                source: io::Error::from(io::ErrorKind::AlreadyExists),
            });
        }
        self.add_parents(relative);
        self.dirs.insert(relative.to_path_buf());
        Ok(())
    }

    fn file(
        &mut self,
        relative: &Path,
        entry: &mut dyn Read,
        max_bytes: u64,
        _executable: bool,
    ) -> Result<u64, WriteError> {
        self.check_place(relative)
            .map_err(|_| WriteError::Write(io::Error::from(io::ErrorKind::AlreadyExists)))?;
        let mut bytes = Vec::new();
        let read = entry
            .take(max_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(WriteError::Read)? as u64;
        if read > max_bytes {
            return Err(WriteError::TooLarge);
        }
        self.add_parents(relative);
        self.files.insert(relative.to_path_buf(), bytes);
        Ok(read)
    }

    fn copy(&mut self, source: &Path, relative: &Path) -> Result<u64, UnpackError> {
        self.check_place(relative)?;
        let bytes = self.files.get(source).cloned().unwrap_or_default();
        let size = bytes.len() as u64;
        self.add_parents(relative);
        self.files.insert(relative.to_path_buf(), bytes);
        Ok(size)
    }

    fn symlink(&mut self, relative: &Path, raw: &str, display: &str) -> Result<(), UnpackError> {
        if self.dirs.contains(relative) {
            return Err(UnpackError::LinkConflict {
                path: display.to_string(),
            });
        }
        self.files.remove(relative);
        self.add_parents(relative);
        self.symlinks
            .insert(relative.to_path_buf(), raw.to_string());
        Ok(())
    }
}

pub(super) enum WriteError {
    TooLarge,
    Read(io::Error),
    Write(io::Error),
}

pub(super) fn write_file(
    entry: &mut dyn Read,
    destination: &Path,
    max_bytes: u64,
    executable: bool,
) -> Result<u64, WriteError> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = destination.parent() {
        fs::create_dir_all(parent).map_err(WriteError::Write)?;
    }
    let mut file = fs::File::create(destination).map_err(WriteError::Write)?;
    let mut limited = entry.take(max_bytes + 1);
    let mut buf = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        let n = limited.read(&mut buf).map_err(WriteError::Read)?;
        if n == 0 {
            break;
        }
        written += n as u64;
        if written > max_bytes {
            return Err(WriteError::TooLarge);
        }
        io::Write::write_all(&mut file, &buf[..n]).map_err(WriteError::Write)?;
    }
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(destination, fs::Permissions::from_mode(mode))
        .map_err(WriteError::Write)?;
    Ok(written)
}
