//! Safe unpacking of untrusted `tar.gz` artifacts.
//!
//! Nothing is ever written outside the target directory: absolute paths, `..` components,
//! symlinks or hardlinks that leave the root, and entries written through a symlink are refused.
//! Totals are bounded (bytes, files, size of one file, compression ratio) so a decompression bomb
//! stops early. Symlinks are created only after every file is written, and only when their
//! target stays inside the root without passing through another symlink, so the lexical check
//! is also the physical truth. Hardlinks become copies of files already unpacked.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::{Archive, EntryType};

use super::unpack_sinks::{DiskSink, Sink, UnpackedTree, WriteError};

/// Limits applied while unpacking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Largest sum of file sizes, in bytes.
    pub max_total_bytes: u64,
    /// Largest number of entries.
    pub max_entries: u64,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Largest ratio of unpacked to compressed bytes, once `ratio_floor_bytes` are unpacked.
    pub max_compression_ratio: u64,
    /// Unpacked size below which the ratio is not checked (small files compress very well).
    pub ratio_floor_bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        Self {
            max_total_bytes: 1 << 30,
            max_entries: 100_000,
            max_file_bytes: 256 << 20,
            max_compression_ratio: 200,
            ratio_floor_bytes: 16 << 20,
        }
    }
}

/// Why an artifact was refused or could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry has an absolute path.
    #[error("refusing entry {path:?}: absolute paths are not allowed")]
    AbsolutePath {
        /// The entry path.
        path: String,
    },
    /// An entry path climbs out of the root.
    #[error("refusing entry {path:?}: path leaves the target directory")]
    PathTraversal {
        /// The entry path.
        path: String,
    },
    /// A symlink points outside the root, is absolute, or passes through another symlink.
    #[error("refusing symlink {path:?} -> {target:?}: link leaves the target directory")]
    SymlinkEscape {
        /// The link path.
        path: String,
        /// The link target.
        target: String,
    },
    /// A hardlink points outside the root or at something that is not an unpacked file.
    #[error("refusing hardlink {path:?} -> {target:?}: not a file inside the artifact")]
    HardlinkEscape {
        /// The link path.
        path: String,
        /// The link target.
        target: String,
    },
    /// An entry would be written through a symlink of the same archive.
    #[error("refusing entry {path:?}: it would be written through the symlink {link:?}")]
    ThroughSymlink {
        /// The entry path.
        path: String,
        /// The symlink in its way.
        link: String,
    },
    /// A symlink has the path of a directory of the same archive.
    #[error("refusing symlink {path:?}: a directory of the same archive has its path")]
    LinkConflict {
        /// The link path.
        path: String,
    },
    /// Devices, FIFOs and other special files.
    #[error("refusing entry {path:?}: unsupported entry type {kind}")]
    UnsupportedEntry {
        /// The entry path.
        path: String,
        /// The tar entry type.
        kind: String,
    },
    /// Too many entries.
    #[error("artifact has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// One file is too large.
    #[error("file {path:?} is larger than {limit} bytes")]
    FileTooLarge {
        /// The entry path.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// The unpacked total is too large.
    #[error("artifact unpacks to more than {limit} bytes")]
    TotalTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The compression ratio is suspicious (decompression bomb).
    #[error("artifact compression ratio exceeds {limit}:1 (possible decompression bomb)")]
    CompressionRatio {
        /// The limit.
        limit: u64,
    },
    /// The target directory already has content.
    #[error("target directory {0} is not empty")]
    TargetNotEmpty(PathBuf),
    /// The archive is not a valid tar.gz stream.
    #[error("artifact is not a valid tar.gz: {0}")]
    Corrupt(#[source] io::Error),
    /// Writing to the target failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// What was unpacked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackSummary {
    /// Regular files written (including hardlink copies).
    pub files: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Counts the compressed bytes the decoder consumes.
struct CountingReader<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Unpacks a `tar.gz` stream into `target` (created if missing, and required to be empty).
pub fn unpack_tar_gz(
    input: impl Read,
    target: &Path,
    limits: &UnpackLimits,
) -> Result<UnpackSummary, UnpackError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnpackError::Io { path, source }
    };
    fs::create_dir_all(target).map_err(io_err(target))?;
    if fs::read_dir(target)
        .map_err(io_err(target))?
        .next()
        .is_some()
    {
        return Err(UnpackError::TargetNotEmpty(target.to_path_buf()));
    }
    unpack_into(input, limits, &mut DiskSink { target })
}

/// Unpacks a `tar.gz` stream into memory, with the same checks and limits as the disk.
pub fn unpack_tar_gz_to_memory(
    input: impl Read,
    limits: &UnpackLimits,
) -> Result<UnpackedTree, UnpackError> {
    let mut tree = UnpackedTree::default();
    unpack_into(input, limits, &mut tree)?;
    Ok(tree)
}

/// Checks every entry and hands it to `sink`.
fn unpack_into(
    input: impl Read,
    limits: &UnpackLimits,
    sink: &mut dyn Sink,
) -> Result<UnpackSummary, UnpackError> {
    let compressed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let counting = CountingReader {
        inner: input,
        count: compressed.clone(),
    };
    let mut archive = Archive::new(GzDecoder::new(counting));
    let mut state = State {
        limits: *limits,
        ..State::default()
    };

    for entry in archive.entries().map_err(UnpackError::Corrupt)? {
        let mut entry = entry.map_err(UnpackError::Corrupt)?;
        state.entries += 1;
        if state.entries > limits.max_entries {
            return Err(UnpackError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw = entry.path_bytes().into_owned();
        let display = String::from_utf8_lossy(&raw).into_owned();
        let Some(relative) = clean_entry_path(&display)? else {
            continue;
        };
        state.refuse_through_symlink(&relative, &display)?;
        match entry.header().entry_type() {
            EntryType::Directory => sink.dir(&relative)?,
            EntryType::Regular | EntryType::Continuous => {
                let declared = entry.header().size().map_err(UnpackError::Corrupt)?;
                if declared > limits.max_file_bytes {
                    return Err(UnpackError::FileTooLarge {
                        path: display,
                        limit: limits.max_file_bytes,
                    });
                }
                let executable = entry
                    .header()
                    .mode()
                    .map(|m| m & 0o111 != 0)
                    .unwrap_or(false);
                let written = sink
                    .file(&relative, &mut entry, limits.max_file_bytes, executable)
                    .map_err(|e| match e {
                        WriteError::TooLarge => UnpackError::FileTooLarge {
                            path: display.clone(),
                            limit: limits.max_file_bytes,
                        },
                        WriteError::Read(e) => UnpackError::Corrupt(e),
                        WriteError::Write(e) => UnpackError::Io {
                            path: relative.clone(),
                            source: e,
                        },
                    })?;
                state.add_file(relative, written, compressed.get())?;
            }
            EntryType::Symlink => {
                let target_text = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let resolved = resolve_symlink(&relative, &target_text).ok_or_else(|| {
                    UnpackError::SymlinkEscape {
                        path: display.clone(),
                        target: target_text.clone(),
                    }
                })?;
                state
                    .symlinks
                    .insert(relative, (target_text, resolved, display));
            }
            EntryType::Link => {
                let target_text = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let escape = || UnpackError::HardlinkEscape {
                    path: display.clone(),
                    target: target_text.clone(),
                };
                let source_rel = clean_entry_path(&target_text)
                    .ok()
                    .flatten()
                    .ok_or_else(escape)?;
                if !state.files.contains(&source_rel) {
                    return Err(escape());
                }
                let written = sink.copy(&source_rel, &relative)?;
                state.add_file(relative, written, compressed.get())?;
            }
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => {}
            other => {
                return Err(UnpackError::UnsupportedEntry {
                    path: display,
                    kind: format!("{other:?}"),
                });
            }
        }
    }
    state.create_symlinks(sink)
}

#[derive(Default)]
struct State {
    limits: UnpackLimits,
    entries: u64,
    files: BTreeSet<PathBuf>,
    bytes: u64,
    /// link path -> (raw target, resolved target relative to the root, display path)
    symlinks: BTreeMap<PathBuf, (String, PathBuf, String)>,
}

impl State {
    fn refuse_through_symlink(
        &mut self,
        relative: &Path,
        display: &str,
    ) -> Result<(), UnpackError> {
        if let Some(link) = proper_prefixes(relative).find(|p| self.symlinks.contains_key(p)) {
            return Err(UnpackError::ThroughSymlink {
                path: display.to_string(),
                link: link.to_string_lossy().into_owned(),
            });
        }
        // A later entry with the same path replaces an earlier symlink.
        self.symlinks.remove(relative);
        Ok(())
    }

    fn add_file(
        &mut self,
        relative: PathBuf,
        written: u64,
        compressed: u64,
    ) -> Result<(), UnpackError> {
        self.files.insert(relative);
        self.bytes += written;
        let limits = &self.limits;
        if self.bytes > limits.max_total_bytes {
            return Err(UnpackError::TotalTooLarge {
                limit: limits.max_total_bytes,
            });
        }
        if self.bytes > limits.ratio_floor_bytes
            && self.bytes / compressed.max(1) > limits.max_compression_ratio
        {
            return Err(UnpackError::CompressionRatio {
                limit: limits.max_compression_ratio,
            });
        }
        Ok(())
    }

    /// Creates the recorded symlinks once every file is in place, after checking that no link
    /// or file sits below another link and that no link target passes through a link.
    fn create_symlinks(self, sink: &mut dyn Sink) -> Result<UnpackSummary, UnpackError> {
        for (link, (raw, _, display)) in &self.symlinks {
            let escape = || UnpackError::SymlinkEscape {
                path: display.clone(),
                target: raw.clone(),
            };
            if proper_prefixes(link).any(|p| self.symlinks.contains_key(&p)) {
                return Err(escape());
            }
            if passes_through_symlink(link, raw, &self.symlinks) {
                return Err(escape());
            }
        }
        for file in &self.files {
            if let Some(link) = proper_prefixes(file).find(|p| self.symlinks.contains_key(p)) {
                return Err(UnpackError::ThroughSymlink {
                    path: file.to_string_lossy().into_owned(),
                    link: link.to_string_lossy().into_owned(),
                });
            }
        }
        let mut summary = UnpackSummary {
            files: self.files.len() as u64,
            bytes: self.bytes,
            symlinks: 0,
        };
        for (link, (raw, _, display)) in &self.symlinks {
            sink.symlink(link, raw, display)?;
            summary.symlinks += 1;
        }
        Ok(summary)
    }
}

/// Every proper prefix of a relative path: `a/b/c` gives `a`, `a/b`.
fn proper_prefixes(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    let count = path.components().count();
    (1..count).map(move |n| path.components().take(n).collect())
}

/// Normalises an entry path. `Ok(None)` for the root itself (`.` or `./`); errors for absolute
/// paths and for `..` that would leave the root.
fn clean_entry_path(raw: &str) -> Result<Option<PathBuf>, UnpackError> {
    if raw.starts_with('/') || raw.starts_with('\\') {
        return Err(UnpackError::AbsolutePath {
            path: raw.to_string(),
        });
    }
    let mut clean = PathBuf::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(c) => clean.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(UnpackError::PathTraversal {
                    path: raw.to_string(),
                });
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(UnpackError::AbsolutePath {
                    path: raw.to_string(),
                });
            }
        }
    }
    Ok((!clean.as_os_str().is_empty()).then_some(clean))
}

/// Resolves a symlink target lexically from the link's directory; `None` when it is absolute or
/// leaves the root.
fn resolve_symlink(link: &Path, target: &str) -> Option<PathBuf> {
    if target.is_empty() || target.starts_with('/') {
        return None;
    }
    let mut resolved: Vec<_> = link
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for component in Path::new(target).components() {
        match component {
            Component::Normal(_) => resolved.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(resolved.iter().collect())
}

/// Whether following `target` from the link's directory walks through another symlink before
/// its last component (where the kernel would resolve `..` physically, not lexically).
fn passes_through_symlink(
    link: &Path,
    target: &str,
    symlinks: &BTreeMap<PathBuf, (String, PathBuf, String)>,
) -> bool {
    let mut current: PathBuf = link.parent().map(Path::to_path_buf).unwrap_or_default();
    let components: Vec<_> = Path::new(target).components().collect();
    for (i, component) in components.iter().enumerate() {
        match component {
            Component::Normal(c) => {
                current.push(c);
                let last = i + 1 == components.len();
                if !last && symlinks.contains_key(&current) {
                    return true;
                }
            }
            Component::ParentDir => {
                current.pop();
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_are_normalised_or_refused() {
        assert_eq!(
            clean_entry_path("./a/b.yaml").unwrap(),
            Some(PathBuf::from("a/b.yaml"))
        );
        assert_eq!(clean_entry_path(".").unwrap(), None);
        assert!(matches!(
            clean_entry_path("/etc/passwd"),
            Err(UnpackError::AbsolutePath { .. })
        ));
        assert!(matches!(
            clean_entry_path("a/../../x"),
            Err(UnpackError::PathTraversal { .. })
        ));
        assert!(matches!(
            clean_entry_path("a/../x"),
            Err(UnpackError::PathTraversal { .. })
        ));
    }

    #[test]
    fn symlink_targets_resolve_lexically_inside_the_root() {
        let cases = [
            ("a/link", "../b", Some("b")),
            ("a/link", "c/d", Some("a/c/d")),
            ("link", "../outside", None),
            ("a/link", "../../outside", None),
            ("a/link", "/etc/passwd", None),
            ("a/link", "", None),
        ];
        for (link, target, want) in cases {
            assert_eq!(
                resolve_symlink(Path::new(link), target),
                want.map(PathBuf::from),
                "{link} -> {target}"
            );
        }
    }
}
