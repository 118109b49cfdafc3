//! Commit signers for [`crate::commit::commit_all`], as Flux's `signingKey` makes them: OpenPGP
//! from an armored secret key (`git.asc`, optional `passphrase`), a detached binary signature
//! that `git verify-commit` checks with gpg; and SSH from an OpenSSH private key (`identity`,
//! optional `password`), an SSHSIG in namespace `git` that git checks with `gpg.format=ssh`.
//! Errors name the Secret, never a byte of the key or the passphrase.

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::Password;

use crate::GitError;

/// Why a signing key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The key does not parse.
    #[error("could not read signing key from secret '{secret}': {reason}")]
    Unreadable {
        /// The Secret's name.
        secret: String,
        /// What is wrong (no key material).
        reason: String,
    },
    /// More than one key in the Secret.
    #[error(
        "multiple entities read from secret '{0}', could not determine which signing key to use"
    )]
    Ambiguous(String),
    /// The key is encrypted and the Secret has no passphrase.
    #[error(
        "can not use passphrase protected signing key without '{field}' field present in secret {secret}"
    )]
    PassphraseMissing {
        /// `passphrase` (gpg) or `password` (ssh).
        field: &'static str,
        /// The Secret's name.
        secret: String,
    },
    /// The passphrase does not open the key.
    #[error("could not decrypt private key of the signing key present in secret {0}")]
    WrongPassphrase(String),
}

/// A key that signs commits.
pub enum CommitSigner {
    /// OpenPGP.
    OpenPgp {
        /// The key.
        key: Box<SignedSecretKey>,
        /// Its passphrase (empty when none).
        passphrase: String,
    },
    /// SSH.
    Ssh(Box<ssh_key::PrivateKey>),
}

impl std::fmt::Debug for CommitSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitSigner::OpenPgp { .. } => f.write_str("CommitSigner::OpenPgp"),
            CommitSigner::Ssh(_) => f.write_str("CommitSigner::Ssh"),
        }
    }
}

fn pgp_sign(key: &SignedSecretKey, passphrase: &str, data: &[u8]) -> pgp::errors::Result<String> {
    let signature = DetachedSignature::sign_binary_data(
        rand08::rngs::OsRng,
        &key.primary_key,
        &Password::from(passphrase),
        HashAlgorithm::Sha256,
        data,
    )?;
    signature.to_armored_string(ArmorOptions::default())
}

impl CommitSigner {
    /// An OpenPGP signer from the armored secret key `armored` of the Secret `secret`.
    pub fn open_pgp(
        secret: &str,
        armored: &[u8],
        passphrase: Option<&[u8]>,
    ) -> Result<CommitSigner, SignerError> {
        let unreadable = |reason: &str| SignerError::Unreadable {
            secret: secret.to_string(),
            reason: reason.to_string(),
        };
        let (keys, _) = SignedSecretKey::from_armor_many(armored)
            .map_err(|_| unreadable("not an armored OpenPGP secret key"))?;
        let mut keys: Vec<SignedSecretKey> = keys
            .collect::<Result<_, _>>()
            .map_err(|_| unreadable("not an armored OpenPGP secret key"))?;
        if keys.len() > 1 {
            return Err(SignerError::Ambiguous(secret.to_string()));
        }
        let key = keys
            .pop()
            .ok_or_else(|| unreadable("no secret key found"))?;
        // A trial signature proves the key can be unlocked before any Git work.
        let passphrase = match passphrase {
            Some(p) => String::from_utf8_lossy(p).into_owned(),
            None => {
                if pgp_sign(&key, "", b"").is_err() {
                    return Err(SignerError::PassphraseMissing {
                        field: "passphrase",
                        secret: secret.to_string(),
                    });
                }
                String::new()
            }
        };
        pgp_sign(&key, &passphrase, b"")
            .map_err(|_| SignerError::WrongPassphrase(secret.to_string()))?;
        Ok(CommitSigner::OpenPgp {
            key: Box::new(key),
            passphrase,
        })
    }

    /// An SSH signer from the OpenSSH private key `pem` of the Secret `secret`.
    pub fn ssh(
        secret: &str,
        pem: &[u8],
        password: Option<&[u8]>,
    ) -> Result<CommitSigner, SignerError> {
        let key = ssh_key::PrivateKey::from_openssh(pem).map_err(|_| SignerError::Unreadable {
            secret: secret.to_string(),
            reason: "not an OpenSSH private key".into(),
        })?;
        let key = if key.is_encrypted() {
            let password = password.ok_or_else(|| SignerError::PassphraseMissing {
                field: "password",
                secret: secret.to_string(),
            })?;
            key.decrypt(password)
                .map_err(|_| SignerError::WrongPassphrase(secret.to_string()))?
        } else {
            key
        };
        Ok(CommitSigner::Ssh(Box::new(key)))
    }

    /// The `gpgsig` header value for the commit `content`.
    pub fn sign(&self, content: &str) -> Result<String, GitError> {
        match self {
            CommitSigner::OpenPgp { key, passphrase } => {
                pgp_sign(key, passphrase, content.as_bytes())
                    .map_err(|e| GitError::Other(format!("signing the commit failed: {e}")))
            }
            CommitSigner::Ssh(key) => key
                .sign("git", ssh_key::HashAlg::Sha512, content.as_bytes())
                .and_then(|sig| sig.to_pem(ssh_key::LineEnding::LF))
                .map_err(|e| GitError::Other(format!("signing the commit failed: {e}"))),
        }
    }
}
