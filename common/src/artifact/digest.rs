//! `sha256:<hex>` digests: computing them while writing, parsing and comparing them.

use std::fmt;
use std::io::{self, Write};

use sha2::{Digest as _, Sha256};

/// A content digest in the `<algorithm>:<hex>` form Flux uses. Only `sha256` is produced;
/// verification also only accepts `sha256`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    hex: String,
}

/// A digest string that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The text is not `<algorithm>:<hex>`.
    #[error("malformed digest {0:?}: expected <algorithm>:<hex>")]
    Malformed(String),
    /// The algorithm is not supported.
    #[error("unsupported digest algorithm {0:?}: only sha256 is supported")]
    UnsupportedAlgorithm(String),
}

impl Digest {
    /// The digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// Parses `sha256:<64 lowercase or uppercase hex digits>`.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let (algo, hex_part) = text
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(text.to_string()))?;
        if algo != "sha256" {
            return Err(DigestError::UnsupportedAlgorithm(algo.to_string()));
        }
        if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::Malformed(text.to_string()));
        }
        Ok(Self {
            hex: hex_part.to_ascii_lowercase(),
        })
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// A writer that hashes and counts everything written through it.
pub struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> DigestWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// Returns the inner writer, the digest and the number of bytes written.
    pub fn finish(self) -> (W, Digest, u64) {
        let digest = Digest {
            hex: hex::encode(self.hasher.finalize()),
        };
        (self.inner, digest, self.written)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_well_known_value() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn writer_digest_equals_slice_digest() {
        let mut w = DigestWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (bytes, digest, n) = w.finish();
        assert_eq!((digest, n), (Digest::of(b"hello world"), 11));
        assert_eq!(bytes, b"hello world");
    }

    #[test]
    fn parse_accepts_sha256_only() {
        let good = format!("sha256:{}", "A".repeat(64));
        assert_eq!(Digest::parse(&good).unwrap().hex(), "a".repeat(64));
        let cases = [
            ("sha256", DigestError::Malformed("sha256".into())),
            ("sha256:abc", DigestError::Malformed("sha256:abc".into())),
            (
                "sha512:00",
                DigestError::UnsupportedAlgorithm("sha512".into()),
            ),
        ];
        for (text, err) in cases {
            assert_eq!(Digest::parse(text), Err(err));
        }
    }
}
