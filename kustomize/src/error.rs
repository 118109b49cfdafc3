//! Build errors, each naming the file and the problem.

use std::path::PathBuf;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory cannot be read.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// YAML that does not parse.
    #[error("{path}: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A kustomization that is wrong.
    #[error("{path}: {message}")]
    Kustomization {
        /// The kustomization file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A resource that is wrong (missing identity, duplicate id...).
    #[error("{0}")]
    Resource(String),
    /// A feature Rill refuses (remote bases, exec plugins).
    #[error("{0}")]
    Unsupported(String),
}
