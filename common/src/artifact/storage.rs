//! Artifact storage: Flux's layout (`<kind>/<namespace>/<name>/<file>`), atomic writes under a
//! lock file, verification, advertised URLs and garbage collection by TTL and record count.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::archive::{ArchiveError, write_archive_digested, write_directory_archive};
use super::digest::{Algorithm, Digest, DigestWriter};
use crate::api::meta::Artifact;

/// Which object an artifact belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKey {
    /// Lowercase kind (`gitrepository`).
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
}

impl ObjectKey {
    /// Builds a key; the kind is lowercased as Flux does.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_lowercase(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    fn relative_dir(&self) -> PathBuf {
        [&self.kind, &self.namespace, &self.name].iter().collect()
    }
}

/// How many old artifacts are kept (`--artifact-retention-ttl`, `--artifact-retention-records`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Files older than this are deleted (the current artifact never is).
    pub ttl: Duration,
    /// At most this many files are kept per object.
    pub records: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            records: 2,
        }
    }
}

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another writer holds the lock.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Archiving failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Reading, renaming or deleting a file failed.
    #[error("storage operation on {path} failed: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A name would leave the storage root.
    #[error("illegal artifact path {0:?}")]
    IllegalPath(String),
}

impl StorageError {
    /// The same error with its paths relative to the storage root: conditions and events
    /// never show where the controller keeps its files.
    fn within(self, root: &Path) -> Self {
        let rel = |p: PathBuf| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p);
        match self {
            StorageError::CreateDir { path, source } => StorageError::CreateDir {
                path: rel(path),
                source,
            },
            StorageError::Lock { path, source } => StorageError::Lock {
                path: rel(path),
                source,
            },
            StorageError::Io { path, source } => StorageError::Io {
                path: rel(path),
                source,
            },
            StorageError::Archive(ArchiveError::Write { path, source }) => {
                StorageError::Archive(ArchiveError::Write {
                    path: rel(path),
                    source,
                })
            }
            other => other,
        }
    }
}

/// The artifact storage of one controller.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    base_url: String,
    retention: Retention,
    /// The digest algorithm of new artifacts (`--artifact-digest-algo`).
    algorithm: Algorithm,
    /// Files whose digest is known, with their size and modification time then: a file that
    /// still has both is trusted without reading it again.
    verified: Arc<Mutex<HashMap<PathBuf, Stamp>>>,
}

/// A file's size and modification time when its digest was known.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: SystemTime,
    digest: Digest,
}

impl Stamp {
    fn of(path: &Path, digest: Digest) -> Option<Self> {
        let meta = fs::metadata(path).ok()?;
        Some(Self {
            len: meta.len(),
            modified: meta.modified().ok()?,
            digest,
        })
    }
}

/// The base URL artifacts are advertised under, as Flux derives it from `--storage-addr` and
/// `--storage-adv-addr`: an address with a scheme is used as is; otherwise `http://` is added;
/// with no advertised address the listen address is used, an empty host becoming `localhost`
/// and `0.0.0.0` the machine's hostname.
pub fn advertised_base_url(storage_addr: &str, advertised: &str, hostname: &str) -> String {
    let address = if advertised.is_empty() {
        match storage_addr.rsplit_once(':') {
            Some(("", port)) => format!("localhost:{port}"),
            Some(("0.0.0.0", port)) => format!("{hostname}:{port}"),
            _ => storage_addr.to_string(),
        }
    } else {
        advertised.to_string()
    };
    let url = if address.starts_with("http://") || address.starts_with("https://") {
        address
    } else {
        format!("http://{address}")
    };
    url.trim_end_matches('/').to_string()
}

impl Storage {
    /// A storage rooted at `root`, advertised under `base_url`.
    pub fn new(root: impl Into<PathBuf>, base_url: &str, retention: Retention) -> Self {
        Self {
            root: root.into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            retention,
            algorithm: Algorithm::default(),
            verified: Arc::default(),
        }
    }

    /// The same storage, digesting new artifacts with `algorithm`.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    fn forget(&self, gone: impl Fn(&Path) -> bool) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p, _| !gone(p));
    }

    fn remember(&self, path: &Path, digest: &Digest) {
        if let Some(stamp) = Stamp::of(path, digest.clone()) {
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(path.to_path_buf(), stamp);
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The storage-relative path of an artifact file: `<kind>/<namespace>/<name>/<file>`.
    pub fn relative_path(&self, key: &ObjectKey, file: &str) -> String {
        format!("{}/{}/{}/{}", key.kind, key.namespace, key.name, file)
    }

    /// The URL an artifact path is served at.
    pub fn url_for(&self, relative_path: &str) -> String {
        format!("{}/{}", self.base_url, relative_path)
    }

    /// The local file of a storage-relative path, refusing anything that leaves the root.
    pub fn local_path(&self, relative_path: &str) -> Result<PathBuf, StorageError> {
        let rel = Path::new(relative_path);
        let safe = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe || relative_path.is_empty() {
            return Err(StorageError::IllegalPath(relative_path.to_string()));
        }
        Ok(self.root.join(rel))
    }

    /// Archives `source` as `file` of the object, atomically (temporary file, then rename) and
    /// under `<file>.lock`, and returns the Artifact record for the status.
    pub fn store_directory(
        &self,
        key: &ObjectKey,
        file: &str,
        source: &Path,
        exclude: &dyn Fn(&Path, bool) -> bool,
        revision: &str,
        now: Time,
    ) -> Result<Artifact, StorageError> {
        self.store_with(key, file, revision, now, |tmp| {
            let summary = write_directory_archive(self.algorithm, source, tmp, exclude)?;
            Ok((summary.digest, summary.size))
        })
    }

    /// Archives the entries `fill` emits as `file` of the object, atomically, like
    /// [`Storage::store_directory`].
    pub fn store_entries(
        &self,
        key: &ObjectKey,
        file: &str,
        fill: &mut super::archive::EntrySource<'_>,
        revision: &str,
        now: Time,
    ) -> Result<Artifact, StorageError> {
        self.store_with(key, file, revision, now, |tmp| {
            let summary = write_archive_digested(self.algorithm, tmp, fill)?;
            Ok((summary.digest, summary.size))
        })
    }

    /// Stores bytes (for example a copied OCI layer) as `file` of the object.
    pub fn store_bytes(
        &self,
        key: &ObjectKey,
        file: &str,
        mut content: impl io::Read,
        revision: &str,
        now: Time,
    ) -> Result<Artifact, StorageError> {
        self.store_with(key, file, revision, now, |tmp| {
            let io_err = |source| StorageError::Io {
                path: tmp.to_path_buf(),
                source,
            };
            let mut writer =
                DigestWriter::with(self.algorithm, fs::File::create(tmp).map_err(io_err)?);
            io::copy(&mut content, &mut writer).map_err(io_err)?;
            let (file_handle, digest, size) = writer.finish();
            file_handle.sync_all().map_err(io_err)?;
            Ok((digest, size))
        })
    }

    /// Writes `file` of the object through `write` (given a temporary path next to it, which
    /// is removed on failure), under `<file>.lock`, then renames it into place; paths in errors
    /// are relative to the storage root.
    fn store_with(
        &self,
        key: &ObjectKey,
        file: &str,
        revision: &str,
        now: Time,
        write: impl FnOnce(&Path) -> Result<(Digest, u64), StorageError>,
    ) -> Result<Artifact, StorageError> {
        let stored = || {
            let (dir, final_path) = self.prepare(key, file)?;
            let _lock = Lock::acquire(&final_path)?;
            let tmp = dir.join(format!(".{file}.tmp"));
            let (digest, size) = write(&tmp).inspect_err(|_| {
                let _ = fs::remove_file(&tmp);
            })?;
            fs::rename(&tmp, &final_path).map_err(|source| StorageError::Io {
                path: final_path.clone(),
                source,
            })?;
            Ok(self.record(key, file, &digest, size, revision, now))
        };
        stored().map_err(|e: StorageError| e.within(&self.root))
    }

    /// The Artifact record of a stored file.
    fn record(
        &self,
        key: &ObjectKey,
        file: &str,
        digest: &Digest,
        size: u64,
        revision: &str,
        now: Time,
    ) -> Artifact {
        let relative = self.relative_path(key, file);
        if let Ok(path) = self.local_path(&relative) {
            self.remember(&path, digest);
        }
        Artifact {
            url: self.url_for(&relative),
            path: relative,
            revision: revision.to_string(),
            digest: Some(digest.to_string()),
            last_update_time: now,
            size: i64::try_from(size).ok(),
            metadata: None,
        }
    }

    fn prepare(&self, key: &ObjectKey, file: &str) -> Result<(PathBuf, PathBuf), StorageError> {
        let final_path = self.local_path(&self.relative_path(key, file))?;
        let dir = self.root.join(key.relative_dir());
        fs::create_dir_all(&dir).map_err(|source| StorageError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        Ok((dir, final_path))
    }

    /// Whether the artifact's file exists and still has its recorded digest. A file is read
    /// and hashed once; afterwards it is trusted while its size and modification time stay
    /// those it had when its digest was known.
    pub fn verify(&self, artifact: &Artifact) -> bool {
        let Ok(path) = self.local_path(&artifact.path) else {
            return false;
        };
        let Some(Ok(want)) = artifact.digest.as_deref().map(Digest::parse) else {
            return false;
        };
        let known = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&path)
            .cloned();
        let now = Stamp::of(&path, want.clone());
        if now.is_some() && known == now {
            return true;
        }
        let Ok(mut file) = fs::File::open(&path) else {
            return false;
        };
        let mut writer = DigestWriter::with(want.algorithm(), io::sink());
        if io::copy(&mut file, &mut writer).is_err() {
            return false;
        }
        let matches = writer.finish().1 == want;
        if matches {
            self.remember(&path, &want);
        }
        matches
    }

    /// Deletes old artifact files of the object following the retention policy; never the
    /// `current` file. Returns the deleted files.
    pub fn garbage_collect(
        &self,
        key: &ObjectKey,
        current: Option<&str>,
        now: SystemTime,
    ) -> Result<Vec<PathBuf>, StorageError> {
        self.garbage_collect_at(key, current, now)
            .map_err(|e| e.within(&self.root))
    }

    fn garbage_collect_at(
        &self,
        key: &ObjectKey,
        current: Option<&str>,
        now: SystemTime,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let dir = self.root.join(key.relative_dir());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StorageError::Io { path: dir, source }),
        };
        let mut files = Vec::new();
        for entry in entries.take(1000) {
            let entry = entry.map_err(|source| StorageError::Io {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || name.ends_with(".lock") || name.starts_with('.') {
                continue;
            }
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            files.push(FileAge { name, age });
        }
        let mut deleted = Vec::new();
        for name in select_garbage(&files, current, self.retention) {
            let path = dir.join(&name);
            fs::remove_file(&path).map_err(|source| StorageError::Io {
                path: path.clone(),
                source,
            })?;
            let _ = fs::remove_file(dir.join(format!("{name}.lock")));
            deleted.push(path);
        }
        self.forget(|p| deleted.iter().any(|d| d == p));
        Ok(deleted)
    }

    /// Removes every artifact of the object (on deletion of the object).
    pub fn remove_all(&self, key: &ObjectKey) -> Result<(), StorageError> {
        self.remove_all_at(key).map_err(|e| e.within(&self.root))
    }

    fn remove_all_at(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let dir = self.root.join(key.relative_dir());
        self.forget(|p| p.starts_with(&dir));
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StorageError::Io {
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

/// A stored file and how old it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileAge {
    /// File name.
    pub name: String,
    /// Time since its last modification.
    pub age: Duration,
}

/// Decides which files to delete: every non-current file older than the TTL, then the oldest
/// non-current files until at most `records` files remain.
pub fn select_garbage(
    files: &[FileAge],
    current: Option<&str>,
    retention: Retention,
) -> Vec<String> {
    let mut keep: Vec<&FileAge> = Vec::new();
    let mut delete = Vec::new();
    for f in files {
        if Some(f.name.as_str()) != current && f.age > retention.ttl {
            delete.push(f.name.clone());
        } else {
            keep.push(f);
        }
    }
    keep.sort_by(|a, b| b.age.cmp(&a.age).then_with(|| a.name.cmp(&b.name)));
    let mut excess = keep.len().saturating_sub(retention.records);
    for f in keep {
        if excess == 0 {
            break;
        }
        if Some(f.name.as_str()) != current {
            delete.push(f.name.clone());
            excess -= 1;
        }
    }
    delete.sort();
    delete
}

/// A `<file>.lock` held while an artifact is written; removed on drop.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn acquire(artifact: &Path) -> Result<Self, StorageError> {
        let mut os = artifact.as_os_str().to_owned();
        os.push(".lock");
        let path = PathBuf::from(os);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| StorageError::Lock {
                path: path.clone(),
                source,
            })?;
        Ok(Self { path })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(spec: &[(&str, u64)]) -> Vec<FileAge> {
        spec.iter()
            .map(|(n, s)| FileAge {
                name: n.to_string(),
                age: Duration::from_secs(*s),
            })
            .collect()
    }

    #[test]
    fn errors_name_paths_inside_the_storage_only() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let storage = Storage::new(root.path(), "http://x", Retention::default());
        // The object's folder is a file: creating it fails.
        let key = ObjectKey::new("gitrepository", "ns", "name");
        std::fs::create_dir_all(root.path().join("gitrepository/ns"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.path().join("gitrepository/ns/name"), "x")
            .unwrap_or_else(|e| panic!("{e}"));
        let error = storage
            .store_bytes(
                &key,
                "a.tar.gz",
                &b"data"[..],
                "rev",
                Time(jiff::Timestamp::now()),
            )
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(error.contains("gitrepository/ns/name"), "{error}");
        assert!(
            !error.contains(&root.path().display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn garbage_selection_follows_ttl_then_record_count() {
        let retention = Retention::default();
        type Case<'a> = (&'a [(&'a str, u64)], Option<&'a str>, &'a [&'a str]);
        let cases: &[Case] = &[
            (&[("a", 10)], Some("a"), &[]),
            (&[("a", 10), ("b", 120)], Some("a"), &["b"]),
            (&[("a", 500), ("b", 120)], Some("a"), &["b"]),
            (&[("a", 1), ("b", 5), ("c", 10)], Some("a"), &["c"]),
            (&[("a", 30), ("b", 5), ("c", 10)], Some("a"), &["c"]),
            (
                &[("a", 1), ("b", 5), ("c", 10), ("d", 20)],
                None,
                &["c", "d"],
            ),
        ];
        for (spec, current, want) in cases {
            assert_eq!(
                select_garbage(&files(spec), *current, retention),
                *want,
                "{spec:?}"
            );
        }
    }

    #[test]
    fn a_stored_file_is_trusted_until_it_changes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path(), "http://x", Retention::default());
        let key = ObjectKey::new("GitRepository", "ns", "app");
        let now = Time(jiff::Timestamp::UNIX_EPOCH);
        let artifact = storage
            .store_bytes(&key, "a.tar.gz", &b"0123456789"[..], "rev", now)
            .unwrap();
        assert!(storage.verify(&artifact));
        assert!(storage.verify(&artifact));
        let path = storage.local_path(&artifact.path).unwrap();
        // Same length, other bytes, a later modification time: read again and refused.
        std::thread::sleep(Duration::from_millis(20));
        fs::write(&path, b"9876543210").unwrap();
        assert!(!storage.verify(&artifact));
        // A fresh storage (a restart) reads the file once.
        fs::write(&path, b"0123456789").unwrap();
        let restarted = Storage::new(dir.path(), "http://x", Retention::default());
        assert!(restarted.verify(&artifact));
        fs::remove_file(&path).unwrap();
        assert!(!restarted.verify(&artifact));
    }

    #[test]
    fn advertised_url_is_derived_like_flux() {
        let cases = [
            (":9090", "", "host-1", "http://localhost:9090"),
            ("0.0.0.0:9090", "", "host-1", "http://host-1:9090"),
            ("127.0.0.1:9090", "", "host-1", "http://127.0.0.1:9090"),
            (
                ":9090",
                "source-controller.flux-system.svc.cluster.local.",
                "h",
                "http://source-controller.flux-system.svc.cluster.local.",
            ),
            (
                ":9090",
                "https://artifacts.example.com/",
                "h",
                "https://artifacts.example.com",
            ),
        ];
        for (addr, adv, host, want) in cases {
            assert_eq!(advertised_base_url(addr, adv, host), want);
        }
    }

    #[test]
    fn local_paths_never_leave_the_root() {
        let storage = Storage::new("/data", "http://x", Retention::default());
        assert!(
            storage
                .local_path("gitrepository/ns/name/abc.tar.gz")
                .is_ok()
        );
        for bad in ["", "../etc/passwd", "/etc/passwd", "a/../../b", "./a"] {
            assert!(storage.local_path(bad).is_err(), "{bad}");
        }
    }
}
