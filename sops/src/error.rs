//! Why a SOPS document could not be opened. No message ever carries a decrypted value, a
//! ciphertext or a key: only paths, key fingerprints, recipients and reasons.

/// A failure to decrypt a SOPS document or to import a key.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    /// The document cannot be read in its format.
    #[error("{0}")]
    Format(String),
    /// The `sops` metadata block is missing or malformed.
    #[error("invalid sops metadata: {0}")]
    Metadata(String),
    /// A feature of the document that Rill does not implement.
    #[error("{0}")]
    Unsupported(String),
    /// None of the given keys opens the document's data key.
    #[error("cannot get the sops data key: {0}")]
    NoKey(String),
    /// An encrypted value cannot be decrypted with the data key.
    #[error("cannot decrypt the value at '{path}': {reason}")]
    Value {
        /// The value's path, `:`-separated.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The document's MAC does not match its content: it was changed after encryption.
    #[error(
        "failed to verify sops data integrity: the MAC does not match the content (the file was changed after it was encrypted)"
    )]
    MacMismatch,
    /// A key in the decryption Secret cannot be used.
    #[error("cannot import '{name}': {reason}")]
    Key {
        /// The Secret entry.
        name: String,
        /// What went wrong.
        reason: String,
    },
}
