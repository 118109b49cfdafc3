//! Content digests in Flux's `<algorithm>:<hex>` form (`sha256` by default; `sha1`, `sha384`
//! and `sha512` as `--artifact-digest-algo` allows): computing them while writing, parsing and
//! comparing them.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// A digest algorithm Rill computes and verifies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-1 (Flux accepts it for compatibility).
    Sha1,
    /// SHA-256, Flux's default.
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name in digests and flags.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The length of the hex part.
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 40,
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    /// Every algorithm, for flag help.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Sha384,
        Algorithm::Sha512,
    ];
}

impl FromStr for Algorithm {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Self, DigestError> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == text)
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(text.to_string()))
    }
}

/// A content digest in the `<algorithm>:<hex>` form Flux uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// A digest string that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The text is not `<algorithm>:<hex>`.
    #[error("malformed digest {0:?}: expected <algorithm>:<hex>")]
    Malformed(String),
    /// The algorithm is not supported.
    #[error("unsupported digest algorithm {0:?}: sha1, sha256, sha384 and sha512 are supported")]
    UnsupportedAlgorithm(String),
}

impl Digest {
    /// The SHA-256 digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Self {
        Self::with(Algorithm::Sha256, bytes)
    }

    /// The digest of a byte slice with `algorithm`.
    pub fn with(algorithm: Algorithm, bytes: &[u8]) -> Self {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }

    /// Parses `<algorithm>:<hex>` (hex of the algorithm's length, either case).
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let (algo, hex_part) = text
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(text.to_string()))?;
        let algorithm: Algorithm = algo.parse()?;
        if hex_part.len() != algorithm.hex_len() || !hex_part.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(DigestError::Malformed(text.to_string()));
        }
        Ok(Self {
            algorithm,
            hex: hex_part.to_ascii_lowercase(),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// A running hash of one of the algorithms.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Hasher::Sha1(h) => (Algorithm::Sha1, hex::encode(h.finalize())),
            Hasher::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            Hasher::Sha384(h) => (Algorithm::Sha384, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

/// A writer that hashes and counts everything written through it.
pub struct DigestWriter<W> {
    inner: W,
    hasher: Hasher,
    written: u64,
}

impl<W: Write> DigestWriter<W> {
    /// Wraps `inner`, hashing with SHA-256.
    pub fn new(inner: W) -> Self {
        Self::with(Algorithm::Sha256, inner)
    }

    /// Wraps `inner`, hashing with `algorithm`.
    pub fn with(algorithm: Algorithm, inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::new(algorithm),
            written: 0,
        }
    }

    /// Returns the inner writer, the digest and the number of bytes written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.written)
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
    fn parse_checks_the_algorithm_and_the_length() {
        let good = format!("sha256:{}", "A".repeat(64));
        assert_eq!(Digest::parse(&good).unwrap().hex(), "a".repeat(64));
        let cases = [
            ("sha256", DigestError::Malformed("sha256".into())),
            ("sha256:abc", DigestError::Malformed("sha256:abc".into())),
            ("sha512:00", DigestError::Malformed("sha512:00".into())),
            ("md5:00", DigestError::UnsupportedAlgorithm("md5".into())),
            (
                "blake3:00",
                DigestError::UnsupportedAlgorithm("blake3".into()),
            ),
        ];
        for (text, err) in cases {
            assert_eq!(Digest::parse(text), Err(err));
        }
    }

    #[test]
    fn every_algorithm_round_trips_with_its_well_known_empty_digest() {
        let cases = [
            (
                Algorithm::Sha1,
                "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ),
            (
                Algorithm::Sha384,
                "sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
            ),
            (
                Algorithm::Sha512,
                "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            ),
        ];
        for (algorithm, want) in cases {
            let digest = Digest::with(algorithm, b"");
            assert_eq!(digest.to_string(), want);
            assert_eq!(Digest::parse(want), Ok(digest.clone()));
            let (_, written, _) = DigestWriter::with(algorithm, Vec::new()).finish();
            assert_eq!(written, digest);
        }
    }
}
