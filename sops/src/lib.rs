//! SOPS decryption for Rill: documents encrypted by `sops` with age or OpenPGP keys, in YAML,
//! JSON, dotenv and binary formats, opened only when their MAC proves them unchanged.
//!
//! The tree walk, the value cipher, the MAC and the formats are ours (small and table-tested);
//! the key unwrapping uses the `age` and `pgp` crates.

pub mod cipher;
pub mod decrypt;
pub mod dotenv;
pub mod error;
pub mod keys;
pub mod metadata;
pub mod shamir;
pub mod tree;

pub use decrypt::{decrypt, open_documents};
pub use error::SopsError;
pub use keys::Keyring;

/// The document formats SOPS writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML (one or more documents).
    Yaml,
    /// JSON.
    Json,
    /// `key=value` lines.
    Dotenv,
    /// Any file, kept as the `data` string of a JSON envelope.
    Binary,
}

impl Format {
    /// The format SOPS infers from a file name (`.yaml`/`.yml`, `.json`, `.env`, else binary);
    /// `.dockerconfigjson` is JSON, as Flux reads it.
    pub fn for_path(path: &str) -> Format {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            Format::Yaml
        } else if path.ends_with(".json") || path.ends_with(".dockerconfigjson") {
            Format::Json
        } else if path.ends_with(".env") {
            Format::Dotenv
        } else {
            Format::Binary
        }
    }

    /// The format whose SOPS marker `data` carries, if any (the same markers Flux looks for).
    pub fn detect(data: &[u8]) -> Option<Format> {
        let has = |marker: &[u8]| data.windows(marker.len()).any(|w| w == marker);
        if has(b"sops_mac=ENC[") {
            Some(Format::Dotenv)
        } else if has(b"\"mac\": \"ENC[") || has(b"\"mac\":\"ENC[") {
            Some(Format::Json)
        } else if has(b"mac: ENC[") {
            Some(Format::Yaml)
        } else {
            None
        }
    }

    /// Whether `data` carries this format's SOPS marker.
    pub fn marked(self, data: &[u8]) -> bool {
        match (self, Format::detect(data)) {
            (Format::Binary, Some(Format::Json)) => true,
            (want, Some(found)) => want == found,
            (_, None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_path_and_marker() {
        let cases = [
            ("a.yaml", Format::Yaml),
            ("a.yml", Format::Yaml),
            ("a.json", Format::Json),
            (".dockerconfigjson", Format::Json),
            ("a.env", Format::Dotenv),
            ("key", Format::Binary),
            ("file.txt", Format::Binary),
        ];
        for (path, want) in cases {
            assert_eq!(Format::for_path(path), want, "{path}");
        }
        assert_eq!(
            Format::detect(b"x=1\nsops_mac=ENC[AES"),
            Some(Format::Dotenv)
        );
        assert_eq!(Format::detect(b"{\"mac\": \"ENC[AES"), Some(Format::Json));
        assert_eq!(Format::detect(b"sops:\n  mac: ENC[AES"), Some(Format::Yaml));
        assert_eq!(Format::detect(b"plain: text"), None);
        assert!(Format::Binary.marked(b"{\"mac\": \"ENC[AES"));
        assert!(!Format::Yaml.marked(b"{\"mac\": \"ENC[AES"));
    }
}
