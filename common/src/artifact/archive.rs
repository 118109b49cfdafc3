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
use tar::{Builder, HeaderMode};
use walkdir::WalkDir;

use super::digest::{Digest, DigestWriter};

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

/// Archives `source` into the `tar.gz` file `target`. `exclude(relative_path, is_dir)` returns
/// true for entries to leave out; it is asked about every entry below the root.
pub fn write_archive(
    source: &Path,
    target: &Path,
    exclude: &dyn Fn(&Path, bool) -> bool,
) -> Result<ArchiveSummary, ArchiveError> {
    let write_err = |source| ArchiveError::Write {
        path: target.to_path_buf(),
        source,
    };
    let file = File::create(target).map_err(write_err)?;
    let hashed = DigestWriter::new(BufWriter::new(file));
    let gz = GzBuilder::new()
        .mtime(0)
        .write(hashed, Compression::default());
    let mut tar = Builder::new(gz);
    tar.mode(HeaderMode::Deterministic);
    tar.follow_symlinks(false);

    let mut files = 0;
    let walker = WalkDir::new(source)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !(e.depth() == 1 && e.file_name() == ".git"));
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| source.to_path_buf());
            ArchiveError::Walk {
                path,
                source: e.into(),
            }
        })?;
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
            tar.append_dir(&name, entry.path()).map_err(write_err)?;
        } else {
            tar.append_path_with_name(entry.path(), &name)
                .map_err(write_err)?;
            files += 1;
        }
    }
    let gz = tar.into_inner().map_err(write_err)?;
    let hashed = gz.finish().map_err(write_err)?;
    let (mut buffered, digest, size) = hashed.finish();
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

/// The entry name of a relative path: `/`-separated on every platform.
fn tar_name(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
