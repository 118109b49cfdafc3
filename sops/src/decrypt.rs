//! Opening a SOPS document: read it in its format, take the `sops` block out, recover the
//! data key, walk the tree in document order decrypting what the rules say is encrypted while
//! hashing every value, and compare that hash with the document's MAC before anything is
//! returned.

use serde_json::Value;
use sha2::{Digest, Sha512};

use crate::cipher::{self, Plain};
use crate::error::SopsError;
use crate::keys::Keyring;
use crate::metadata::{Metadata, Rules};
use crate::tree::{Node, read_documents};
use crate::{Format, dotenv};

/// The known bytes a MAC over only the encrypted values starts with (sha256 of "sops").
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

struct Walk<'a> {
    key: &'a [u8; 32],
    rules: &'a Rules,
    mac_only_encrypted: bool,
    hash: Sha512,
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an exponent.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f}")
    }
}

fn mac_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or_default()).into_bytes(),
        Value::Number(n) => n.to_string().into_bytes(),
        Value::Null | Value::Array(_) | Value::Object(_) => Vec::new(),
    }
}

impl Walk<'_> {
    fn node(&mut self, node: &mut Node, path: &mut Vec<String>) -> Result<(), SopsError> {
        match node {
            Node::Map(items) => {
                for (key, value) in items.iter_mut() {
                    path.push(key.clone());
                    self.node(value, path)?;
                    path.pop();
                }
                Ok(())
            }
            // SOPS does not add list indices to the path.
            Node::Seq(items) => items.iter_mut().try_for_each(|item| self.node(item, path)),
            Node::Leaf(Value::Null) => Ok(()),
            leaf => self.leaf(leaf, path),
        }
    }

    fn leaf(&mut self, leaf: &mut Node, path: &[String]) -> Result<(), SopsError> {
        let encrypted = self.rules.encrypted(path);
        if encrypted {
            let aad = format!("{}:", path.join(":"));
            let fail = |reason: String| SopsError::Value {
                path: path.join(":"),
                reason,
            };
            let text = match leaf {
                Node::Leaf(Value::String(s)) => s.as_str(),
                _ => return Err(fail("the value is not an encrypted string".into())),
            };
            let plain = cipher::decrypt(text, self.key, &aad).map_err(fail)?;
            if let Plain::Comment(_) = plain {
                return Ok(());
            }
            *leaf = Node::Leaf(plain.to_value());
        }
        if !self.mac_only_encrypted || encrypted {
            let bytes = match leaf {
                Node::Leaf(v) => mac_bytes(v),
                Node::Timestamp { text, .. } => text.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            self.hash.update(&bytes);
        }
        Ok(())
    }
}

/// Decrypts `branches` in place with the keys of `keys` and verifies the MAC.
pub fn open_tree(
    branches: &mut [Node],
    metadata: &Metadata,
    keys: &Keyring,
) -> Result<(), SopsError> {
    let key = keys.data_key(metadata)?;
    let mut walk = Walk {
        key: &key,
        rules: &metadata.rules,
        mac_only_encrypted: metadata.mac_only_encrypted,
        hash: Sha512::new(),
    };
    if metadata.mac_only_encrypted {
        walk.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for branch in branches.iter_mut() {
        walk.node(branch, &mut Vec::new())?;
    }
    let computed = hex::encode_upper(walk.hash.finalize());
    let stored = match cipher::decrypt(&metadata.mac, &key, &metadata.mac_aad()) {
        Ok(Plain::Str(mac)) => mac,
        Ok(_) | Err(_) => return Err(SopsError::MacMismatch),
    };
    if stored != computed {
        return Err(SopsError::MacMismatch);
    }
    Ok(())
}

/// Takes the `sops` block out of every branch; the first one found is the document's.
fn split_metadata(branches: &mut [Node]) -> Result<Metadata, SopsError> {
    let mut metadata = None;
    for branch in branches.iter_mut() {
        if !matches!(branch, Node::Map(_)) {
            return Err(SopsError::Format(
                "a SOPS document must be a mapping at the top".into(),
            ));
        }
        if let Some(found) = branch.remove("sops")
            && metadata.is_none()
        {
            metadata = Some(found);
        }
    }
    let metadata = metadata.ok_or_else(|| SopsError::Metadata("no 'sops' block found".into()))?;
    Metadata::from_node(&metadata)
}

/// Decrypts documents already read (YAML or JSON branches, each with its `sops` block, one MAC
/// over all of them, as `sops` writes a multi-document file) and verifies the MAC.
pub fn open_documents(mut branches: Vec<Node>, keys: &Keyring) -> Result<Vec<Node>, SopsError> {
    let metadata = split_metadata(&mut branches)?;
    open_tree(&mut branches, &metadata, keys)?;
    Ok(branches)
}

/// A document's branches and its metadata, read in `format`.
fn load(data: &[u8], format: Format) -> Result<(Vec<Node>, Metadata), SopsError> {
    let text = std::str::from_utf8(data)
        .map_err(|_| SopsError::Format("the document is not UTF-8 text".into()))?;
    match format {
        Format::Dotenv => {
            let (values, metadata) = dotenv::read(text)?;
            Ok((vec![values], Metadata::from_node(&metadata)?))
        }
        Format::Yaml | Format::Json | Format::Binary => {
            let mut branches = read_documents(text)?;
            let metadata = split_metadata(&mut branches)?;
            Ok((branches, metadata))
        }
    }
}

/// Decrypts a whole SOPS document read in `input` format and writes it in `output` format:
/// YAML and JSON documents as JSON (one per line), dotenv as dotenv, binary as the raw data.
pub fn decrypt(
    data: &[u8],
    input: Format,
    output: Format,
    keys: &Keyring,
) -> Result<Vec<u8>, SopsError> {
    let (mut branches, metadata) = load(data, input)?;
    open_tree(&mut branches, &metadata, keys)?;
    match output {
        Format::Binary => match branches.first().and_then(|b| b.get("data")) {
            Some(Node::Leaf(Value::String(s))) => Ok(s.clone().into_bytes()),
            _ => Err(SopsError::Format(
                "a binary SOPS document has no 'data' string".into(),
            )),
        },
        Format::Dotenv => {
            let first = branches
                .first()
                .ok_or_else(|| SopsError::Format("the document is empty".into()))?;
            Ok(dotenv::write(first)?.into_bytes())
        }
        Format::Yaml | Format::Json => {
            let mut out = String::new();
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                branch.write_json(&mut out);
                out.push('\n');
            }
            Ok(out.into_bytes())
        }
    }
}
