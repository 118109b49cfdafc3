//! Artifacts: the deterministic `tar.gz` files sources produce, their `sha256:` digests, the
//! storage layout with garbage collection, and the consumer side (download, verify, unpack
//! safely).

mod archive;
mod digest;
mod fetch;
mod storage;
mod unpack;
mod unpack_sinks;

pub use archive::{
    ArchiveError, ArchiveSummary, ConsumerLimit, Entry, EntrySink, EntrySource, file_too_large,
    write_archive, write_archive_digested, write_archive_with, write_directory_archive,
};
pub use digest::{Algorithm, Digest, DigestError, DigestWriter};
pub use fetch::{FetchError, Fetcher, override_host};
pub use storage::{
    ObjectKey, Retention, Storage, StorageError, advertised_base_url, select_garbage,
};
pub use unpack::{
    UnpackError, UnpackLimits, UnpackSummary, unpack_tar_gz, unpack_tar_gz_to_memory,
};
pub use unpack_sinks::UnpackedTree;
