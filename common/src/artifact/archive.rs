//! The deterministic `tar.gz` writer: the same tree always gives the same bytes.
//!
//! Entries are written in sorted path order; ownership, times and user/group names are
//! normalised and modes become 0644/0755 (tar's deterministic header mode); the gzip header
//! carries no name and no time. Symlinks and other non-regular files are never archived (as
//! Flux does), so nothing outside the tree can reach the archive. `.git/` is always skipped.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use tar::Builder;
use walkdir::WalkDir;

use super::digest::{Algorithm, Digest, DigestWriter};
use super::unpack::UnpackLimits;

/// A failure while archiving a directory.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The source directory cannot be walked.
    #[error("cannot read {path}: {source}")]
    Walk {
        /// The entry that failed.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The artifact would be refused by the controllers that download it (their unpack
    /// limits), so it is not produced.
    #[error("the artifact would be refused by its consumers: {0}")]
    Limit(String),
    /// Writing the archive failed.
    #[error("cannot write archive {path}: {source}")]
    Write {
        /// The archive being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// sha256 of the compressed bytes.
    pub digest: Digest,
    /// Size of the compressed file in bytes.
    pub size: u64,
    /// Number of regular files archived.
    pub files: u64,
}

/// One entry of an archive written by [`write_archive_with`], in the order given.
#[derive(Clone, Copy, Debug)]
pub enum Entry<'a> {
    /// A directory (`/`-separated relative name).
    Dir(&'a str),
    /// A regular file.
    File {
        /// `/`-separated relative name.
        name: &'a str,
        /// The content.
        data: &'a [u8],
        /// Whether the owner execute bit is set (mode 0755 instead of 0644).
        executable: bool,
    },
}

/// Receives the entries of an archive, in order.
pub type EntrySink<'s> = dyn FnMut(Entry<'_>) -> io::Result<()> + 's;

/// Emits the entries of an archive into a sink.
pub type EntrySource<'f> = dyn FnMut(&mut EntrySink<'_>) -> io::Result<()> + 'f;

/// tar's deterministic timestamp (`tar::HeaderMode::Deterministic`), so both writers agree.
const DETERMINISTIC_MTIME: u64 = 1_153_704_088;

fn append<W: Write>(tar: &mut Builder<W>, entry: Entry<'_>) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(DETERMINISTIC_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    match entry {
        Entry::Dir(name) => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, name, io::empty())
        }
        Entry::File {
            name,
            data,
            executable,
        } => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, name, data)
        }
    }
}

/// Writes the `tar.gz` file `target` from the entries `fill` emits (for trees that are not
/// on disk, such as a Git commit read from the object database), digested with SHA-256.
pub fn write_archive_with(
    target: &Path,
    fill: &mut EntrySource<'_>,
) -> Result<ArchiveSummary, ArchiveError> {
    write_archive_digested(Algorithm::Sha256, target, fill)
}

/// [`write_archive_with`], digested with `algorithm`.
pub fn write_archive_digested(
    algorithm: Algorithm,
    target: &Path,
    fill: &mut EntrySource<'_>,
) -> Result<ArchiveSummary, ArchiveError> {
    let write_err = |source| ArchiveError::Write {
        path: target.to_path_buf(),
        source,
    };
    let file = File::create(target).map_err(write_err)?;
    let hashed = DigestWriter::with(algorithm, BufWriter::new(file));
    let gz = GzBuilder::new()
        .mtime(0)
        .write(hashed, Compression::default());
    let mut tar = Builder::new(gz);
    let mut files = 0;
    let mut consumable = Consumable::default();
    fill(&mut |entry| {
        consumable
            .check(&entry)
            .map_err(|reason| io::Error::other(ConsumerLimit(reason)))?;
        if matches!(entry, Entry::File { .. }) {
            files += 1;
        }
        append(&mut tar, entry)
    })
    .map_err(
        |e| match e.get_ref().and_then(|i| i.downcast_ref::<ConsumerLimit>()) {
            Some(ConsumerLimit(reason)) => ArchiveError::Limit(reason.clone()),
            None => write_err(e),
        },
    )?;
    let gz = tar.into_inner().map_err(write_err)?;
    let hashed = gz.finish().map_err(write_err)?;
    let (mut buffered, digest, size) = hashed.finish();
    consumable.check_ratio(size).map_err(ArchiveError::Limit)?;
    buffered.flush().map_err(write_err)?;
    let file = buffered
        .into_inner()
        .map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    Ok(ArchiveSummary {
        digest,
        size,
        files,
    })
}

/// Why an entry source stopped: the artifact would exceed its consumers' limits (an entry
/// source returns it inside an `io::Error`; the writer reports it as [`ArchiveError::Limit`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConsumerLimit(pub String);

/// The reason a file of `size` bytes is refused, if it is (checked by entry sources that know
/// a file's size before reading it).
pub fn file_too_large(name: &str, size: u64) -> Option<ConsumerLimit> {
    let limit = UnpackLimits::default().max_file_bytes;
    (size > limit).then(|| {
        ConsumerLimit(format!(
            "file {name:?} has {size} bytes (at most {limit} per file)"
        ))
    })
}

/// The consumers' unpack limits ([`UnpackLimits::default`], what the kustomize-controller and
/// every other downloader apply), checked while the artifact is written: a source never
/// publishes an artifact nobody can take.
#[derive(Default)]
struct Consumable {
    entries: u64,
    bytes: u64,
}

impl Consumable {
    fn check(&mut self, entry: &Entry<'_>) -> Result<(), String> {
        let limits = UnpackLimits::default();
        self.entries += 1;
        if self.entries >= limits.max_entries {
            return Err(format!("more than {} entries", limits.max_entries));
        }
        if let Entry::File { name, data, .. } = entry {
            let size = data.len() as u64;
            if let Some(ConsumerLimit(reason)) = file_too_large(name, size) {
                return Err(reason);
            }
            self.bytes += size;
            if self.bytes > limits.max_total_bytes {
                return Err(format!(
                    "the files add up to more than {} bytes",
                    limits.max_total_bytes
                ));
            }
        }
        Ok(())
    }

    fn check_ratio(&self, compressed: u64) -> Result<(), String> {
        let limits = UnpackLimits::default();
        if self.bytes > limits.ratio_floor_bytes
            && self.bytes / compressed.max(1) > limits.max_compression_ratio
        {
            return Err(format!(
                "its {} bytes compress more than {}:1 (consumers take that for a decompression bomb)",
                self.bytes, limits.max_compression_ratio
            ));
        }
        Ok(())
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Archives `source` into the `tar.gz` file `target`. `exclude(relative_path, is_dir)` returns
/// true for entries to leave out; it is asked about every entry below the root.
pub fn write_archive(
    source: &Path,
    target: &Path,
    exclude: &dyn Fn(&Path, bool) -> bool,
) -> Result<ArchiveSummary, ArchiveError> {
    write_directory_archive(Algorithm::Sha256, source, target, exclude)
}

/// [`write_archive`], digested with `algorithm`.
pub fn write_directory_archive(
    algorithm: Algorithm,
    source: &Path,
    target: &Path,
    exclude: &dyn Fn(&Path, bool) -> bool,
) -> Result<ArchiveSummary, ArchiveError> {
    let mut walk_error = None;
    let result = write_archive_digested(algorithm, target, &mut |emit| {
        let walker = WalkDir::new(source)
            .follow_links(false)
            .sort_by_file_name()
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| !(e.depth() == 1 && e.file_name() == ".git"));
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    // Relative to the archived folder: a temporary path means nothing to users.
                    let path = e
                        .path()
                        .and_then(|p| p.strip_prefix(source).ok())
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    walk_error = Some(ArchiveError::Walk {
                        path,
                        source: e.into(),
                    });
                    return Err(io::Error::other("walk failed"));
                }
            };
            let file_type = entry.file_type();
            if !(file_type.is_file() || file_type.is_dir()) {
                continue;
            }
            let relative = entry.path().strip_prefix(source).unwrap_or(entry.path());
            if exclude(relative, file_type.is_dir()) {
                continue;
            }
            let name = tar_name(relative);
            if file_type.is_dir() {
                emit(Entry::Dir(&name))?;
            } else {
                let meta = entry.metadata().map_err(io::Error::other)?;
                // Refused by its size alone, before it is read into memory.
                if let Some(limit) = file_too_large(&name, meta.len()) {
                    return Err(io::Error::other(limit));
                }
                let data = std::fs::read(entry.path())?;
                emit(Entry::File {
                    name: &name,
                    data: &data,
                    executable: is_executable(&meta),
                })?;
            }
        }
        Ok(())
    });
    match (result, walk_error) {
        (_, Some(e)) => Err(e),
        (result, None) => result,
    }
}

/// The entry name of a relative path: `/`-separated on every platform.
fn tar_name(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
