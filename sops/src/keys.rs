//! The keys a Kustomization may decrypt with, imported from the entries of its decryption
//! Secret as Flux reads them (`*.agekey`, `*.asc`, `sops.vault-token`, cloud KMS files), and
//! the recovery of a document's data key from its key groups.

use std::io::Read;
use std::str::FromStr;

use pgp::composed::{Deserializable, Message, SignedSecretKey};
use pgp::types::Password;

use crate::error::SopsError;
use crate::metadata::{KeyGroup, Metadata};
use crate::shamir;

/// The largest data key part a key may unwrap (SOPS parts are 32 bytes, Shamir parts 33).
const MAX_PART: u64 = 64;

/// Keys usable for SOPS decryption. Never printed: `Debug` shows only counts.
#[derive(Default)]
pub struct Keyring {
    age: Vec<age::x25519::Identity>,
    pgp: Vec<SignedSecretKey>,
    /// Keys given but not usable by Rill (post-quantum age, plugins, KMS), for messages.
    unusable: Vec<String>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keyring {{ age: {}, pgp: {} }}",
            self.age.len(),
            self.pgp.len()
        )
    }
}

impl Keyring {
    /// Whether no usable key was imported.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }

    /// Imports one entry of a decryption Secret by its name, as Flux does: `*.agekey` age
    /// identities, `*.asc` OpenPGP secret keys; the Vault token and cloud KMS credentials are
    /// recorded so that a document needing them fails naming the provider.
    pub fn import(&mut self, name: &str, data: &[u8]) -> Result<(), SopsError> {
        let bad = |reason: String| SopsError::Key {
            name: name.to_string(),
            reason,
        };
        if name.ends_with(".agekey") {
            let text = std::str::from_utf8(data).map_err(|_| bad("not UTF-8 text".into()))?;
            self.import_age(text).map_err(bad)
        } else if name.ends_with(".asc") {
            let text = std::str::from_utf8(data).map_err(|_| bad("not UTF-8 text".into()))?;
            self.import_pgp(text).map_err(bad)
        } else {
            match name {
                "sops.vault-token" => self.unusable.push("a HashiCorp Vault token".into()),
                "sops.aws-kms" => self.unusable.push("AWS KMS credentials".into()),
                "sops.azure-kv" => self.unusable.push("Azure Key Vault credentials".into()),
                "sops.gcp-kms" => self.unusable.push("GCP KMS credentials".into()),
                _ => {}
            }
            Ok(())
        }
    }

    /// Imports the age identities of an identity file (one per line, `#` comments).
    pub fn import_age(&mut self, text: &str) -> Result<(), String> {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with("AGE-SECRET-KEY-PQ-1") {
                self.unusable
                    .push("a post-quantum age identity (AGE-SECRET-KEY-PQ-1...)".into());
            } else if line.starts_with("AGE-PLUGIN-") {
                self.unusable.push("an age plugin identity".into());
            } else if line.starts_with("AGE-SECRET-KEY-1") {
                let identity = age::x25519::Identity::from_str(line)
                    .map_err(|_| "an AGE-SECRET-KEY-1 line is not a valid age identity")?;
                self.age.push(identity);
            } else {
                return Err("a line is neither a comment nor an age identity".into());
            }
        }
        Ok(())
    }

    /// Imports the OpenPGP secret keys of an armored keyring (public key blocks are skipped).
    pub fn import_pgp(&mut self, text: &str) -> Result<(), String> {
        const BEGIN: &str = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
        let mut found = false;
        for block in text.split(BEGIN).skip(1) {
            let armored = format!("{BEGIN}{block}");
            let (keys, _) = SignedSecretKey::from_armor_many(armored.as_bytes())
                .map_err(|e| format!("not an armored OpenPGP secret key: {e}"))?;
            for key in keys {
                let key = key.map_err(|e| format!("not an OpenPGP secret key: {e}"))?;
                self.pgp.push(key);
                found = true;
            }
        }
        if found {
            Ok(())
        } else {
            Err("no OpenPGP private key block".into())
        }
    }

    fn open_age(&self, enc: &str) -> Option<Vec<u8>> {
        if self.age.is_empty() {
            return None;
        }
        let reader = age::armor::ArmoredReader::new(enc.as_bytes());
        let decryptor = age::Decryptor::new(reader).ok()?;
        let identities = self.age.iter().map(|i| i as &dyn age::Identity);
        let mut plain = decryptor.decrypt(identities).ok()?;
        read_part(&mut plain)
    }

    fn open_pgp(&self, enc: &str) -> Option<Vec<u8>> {
        if self.pgp.is_empty() {
            return None;
        }
        let (message, _) = Message::from_armor(enc.as_bytes()).ok()?;
        let empty = Password::empty();
        let passwords = self.pgp.iter().map(|_| &empty).collect();
        let mut message = message
            .decrypt_with_keys(passwords, self.pgp.iter().collect())
            .ok()?;
        if message.is_compressed() {
            message = message.decompress().ok()?;
        }
        read_part(&mut message)
    }

    fn open_group(&self, group: &KeyGroup) -> Result<Vec<u8>, String> {
        for stanza in &group.age {
            if let Some(part) = self.open_age(&stanza.enc) {
                return Ok(part);
            }
        }
        for stanza in &group.pgp {
            if let Some(part) = self.open_pgp(&stanza.enc) {
                return Ok(part);
            }
        }
        Err(describe_group(group))
    }

    /// The document's 32-byte data key, from one group or from Shamir's threshold of groups.
    pub fn data_key(&self, metadata: &Metadata) -> Result<[u8; 32], SopsError> {
        let mut parts = Vec::new();
        let mut failures = Vec::new();
        for group in &metadata.groups {
            match self.open_group(group) {
                Ok(part) => parts.push(part),
                Err(e) => failures.push(e),
            }
        }
        let key = if metadata.groups.len() > 1 {
            if parts.len() < metadata.shamir_threshold {
                return Err(self.no_key(metadata, &failures));
            }
            shamir::combine(&parts).map_err(|e| SopsError::NoKey(e.to_string()))?
        } else {
            parts
                .pop()
                .ok_or_else(|| self.no_key(metadata, &failures))?
        };
        key.try_into()
            .map_err(|_| SopsError::NoKey("the data key is not 32 bytes long".into()))
    }

    fn no_key(&self, metadata: &Metadata, failures: &[String]) -> SopsError {
        let given = self.age.len() + self.pgp.len();
        let mut message = if metadata.groups.len() > 1 {
            format!(
                "the data key needs {} of {} key groups and the {given} key(s) given open fewer: {}",
                metadata.shamir_threshold,
                metadata.groups.len(),
                failures.join("; ")
            )
        } else {
            format!(
                "none of the {given} key(s) given opens it: {}",
                failures.join("; ")
            )
        };
        if !self.unusable.is_empty() {
            message.push_str(&format!(
                " (given but not supported by Rill: {})",
                self.unusable.join(", ")
            ));
        }
        SopsError::NoKey(message)
    }
}

fn read_part(reader: &mut impl Read) -> Option<Vec<u8>> {
    let mut part = Vec::new();
    reader.take(MAX_PART + 1).read_to_end(&mut part).ok()?;
    (part.len() as u64 <= MAX_PART).then_some(part)
}

fn describe_group(group: &KeyGroup) -> String {
    let mut keys: Vec<String> = Vec::new();
    for stanza in &group.age {
        if stanza.recipient.starts_with("age1pq1") {
            keys.push(format!(
                "post-quantum age recipient {}... (mlkem768x25519, not supported by Rill)",
                &stanza.recipient[..stanza.recipient.len().min(16)]
            ));
        } else {
            keys.push(format!("age recipient {}", stanza.recipient));
        }
    }
    for stanza in &group.pgp {
        keys.push(format!("pgp key {}", stanza.fingerprint));
    }
    for other in &group.unsupported {
        keys.push(format!("{other} (provider not supported by Rill)"));
    }
    if keys.is_empty() {
        "a key group without keys".into()
    } else {
        format!("no key for {}", keys.join(", "))
    }
}
