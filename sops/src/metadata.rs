//! The `sops` block of a document: key groups with the data key wrapped for each recipient,
//! the MAC and its time, and the rules saying which values are encrypted.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;
use serde_json::Value;

use crate::error::SopsError;
use crate::tree::Node;

/// The data key wrapped for one age recipient.
#[derive(Clone, Debug, PartialEq)]
pub struct AgeStanza {
    /// The recipient (`age1...`).
    pub recipient: String,
    /// The data key as an armored age file.
    pub enc: String,
}

/// The data key wrapped for one OpenPGP key.
#[derive(Clone, Debug, PartialEq)]
pub struct PgpStanza {
    /// The key's fingerprint.
    pub fingerprint: String,
    /// The data key as an armored OpenPGP message.
    pub enc: String,
}

/// One key group: any of its keys yields the group's part of the data key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyGroup {
    /// age recipients.
    pub age: Vec<AgeStanza>,
    /// OpenPGP keys.
    pub pgp: Vec<PgpStanza>,
    /// Keys of providers Rill cannot use (cloud KMS, Vault), described for messages.
    pub unsupported: Vec<String>,
}

/// Which values of the tree are encrypted.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Keys ending with this are left in clear.
    pub unencrypted_suffix: Option<String>,
    /// Only keys ending with this are encrypted.
    pub encrypted_suffix: Option<String>,
    /// Keys matching this are left in clear.
    pub unencrypted_regex: Option<Regex>,
    /// Only keys matching this are encrypted.
    pub encrypted_regex: Option<Regex>,
}

impl Rules {
    /// Whether the value at `path` is encrypted (SOPS's `shouldBeEncrypted`, without the
    /// comment rules, which [`Metadata::from_node`] refuses).
    pub fn encrypted(&self, path: &[String]) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = self.unencrypted_suffix.as_deref().filter(|s| !s.is_empty())
            && path.iter().any(|p| p.ends_with(suffix))
        {
            encrypted = false;
        }
        if let Some(suffix) = self.encrypted_suffix.as_deref().filter(|s| !s.is_empty()) {
            encrypted = path.iter().any(|p| p.ends_with(suffix));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.iter().any(|p| re.is_match(p));
        }
        encrypted
    }
}

/// The parsed `sops` block.
#[derive(Clone, Debug)]
pub struct Metadata {
    /// The key groups (the top-level keys form one group when `key_groups` is absent).
    pub groups: Vec<KeyGroup>,
    /// How many groups must open for Shamir's secret sharing.
    pub shamir_threshold: usize,
    /// `lastmodified`, the MAC's additional data.
    pub last_modified: String,
    /// The encrypted MAC.
    pub mac: String,
    /// Which values are encrypted.
    pub rules: Rules,
    /// Whether the MAC covers only the encrypted values.
    pub mac_only_encrypted: bool,
}

fn text(node: &Node) -> Option<String> {
    match node {
        Node::Leaf(Value::String(s)) => Some(s.clone()),
        Node::Leaf(Value::Number(n)) => Some(n.to_string()),
        Node::Leaf(Value::Bool(b)) => Some(b.to_string()),
        Node::Timestamp { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn list<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    match node.get(key) {
        Some(Node::Seq(items)) => items,
        _ => &[],
    }
}

fn field(node: &Node, key: &str) -> Option<String> {
    node.get(key).and_then(text).filter(|s| !s.is_empty())
}

fn group_of(node: &Node) -> Result<KeyGroup, SopsError> {
    let mut group = KeyGroup::default();
    for entry in list(node, "age") {
        group.age.push(AgeStanza {
            recipient: field(entry, "recipient").unwrap_or_default(),
            enc: field(entry, "enc")
                .ok_or_else(|| SopsError::Metadata("an age entry has no 'enc'".into()))?,
        });
    }
    for entry in list(node, "pgp") {
        group.pgp.push(PgpStanza {
            fingerprint: field(entry, "fp").unwrap_or_default(),
            enc: field(entry, "enc")
                .ok_or_else(|| SopsError::Metadata("a pgp entry has no 'enc'".into()))?,
        });
    }
    let others = [
        ("kms", "arn", "AWS KMS"),
        ("gcp_kms", "resource_id", "GCP KMS"),
        ("azure_kv", "vault_url", "Azure Key Vault"),
        ("hc_vault", "vault_address", "HashiCorp Vault"),
        ("hckms", "key_id", "HuaweiCloud KMS"),
    ];
    for (key, id, provider) in others {
        for entry in list(node, key) {
            let id = field(entry, id).unwrap_or_default();
            group.unsupported.push(format!("{provider} key {id}"));
        }
    }
    Ok(group)
}

/// Compiled rules, shared by every document that uses the same pattern (a repository's files
/// usually all carry one `encrypted_regex`); bounded so that hostile patterns cannot grow it.
static REGEXES: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);

fn regex(node: &Node, key: &str) -> Result<Option<Regex>, SopsError> {
    let Some(pattern) = field(node, key) else {
        return Ok(None);
    };
    if let Ok(cache) = REGEXES.lock()
        && let Some(re) = cache.get(&pattern)
    {
        return Ok(Some(re.clone()));
    }
    let re = Regex::new(&pattern).map_err(|e| {
        SopsError::Unsupported(format!("the {key} {pattern:?} cannot be used: {e}"))
    })?;
    if let Ok(mut cache) = REGEXES.lock() {
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(pattern, re.clone());
    }
    Ok(Some(re))
}

impl Metadata {
    /// Reads the `sops` block.
    pub fn from_node(node: &Node) -> Result<Self, SopsError> {
        if !matches!(node, Node::Map(_)) {
            return Err(SopsError::Metadata("'sops' is not a mapping".into()));
        }
        for key in ["encrypted_comment_regex", "unencrypted_comment_regex"] {
            if field(node, key).is_some() {
                return Err(SopsError::Unsupported(format!(
                    "sops' {key} is not supported by Rill"
                )));
            }
        }
        let mac = field(node, "mac").ok_or_else(|| SopsError::Metadata("no 'mac'".into()))?;
        let last_modified = field(node, "lastmodified")
            .ok_or_else(|| SopsError::Metadata("no 'lastmodified'".into()))?;
        let groups = match node.get("key_groups") {
            Some(Node::Seq(groups)) if !groups.is_empty() => {
                groups.iter().map(group_of).collect::<Result<_, _>>()?
            }
            _ => vec![group_of(node)?],
        };
        let shamir_threshold = field(node, "shamir_threshold")
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(0);
        let shamir_threshold = if shamir_threshold == 0 {
            groups.len()
        } else {
            shamir_threshold
        };
        Ok(Metadata {
            groups,
            shamir_threshold,
            last_modified,
            mac,
            rules: Rules {
                unencrypted_suffix: field(node, "unencrypted_suffix"),
                encrypted_suffix: field(node, "encrypted_suffix"),
                unencrypted_regex: regex(node, "unencrypted_regex")?,
                encrypted_regex: regex(node, "encrypted_regex")?,
            },
            mac_only_encrypted: matches!(
                node.get("mac_only_encrypted"),
                Some(Node::Leaf(Value::Bool(true)))
            ) || field(node, "mac_only_encrypted").as_deref() == Some("true"),
        })
    }

    /// The MAC's additional data: `lastmodified` as Go formats it in RFC 3339 (seconds only).
    pub fn mac_aad(&self) -> String {
        // Keep the written offset (Go prints a zero offset as `Z`); drop sub-second digits as
        // Go's RFC3339 layout does.
        let text = &self.last_modified;
        let (date_time, offset) = match text.find(['Z', 'z']) {
            Some(i) => (&text[..i], "Z"),
            None => {
                let i = text
                    .rfind(['+', '-'])
                    .filter(|&i| text.len() - i == 6)
                    .unwrap_or(text.len());
                (&text[..i], &text[i..])
            }
        };
        let offset = if offset == "+00:00" || offset == "-00:00" {
            "Z"
        } else {
            offset
        };
        let seconds = date_time.split('.').next().unwrap_or(date_time);
        format!("{seconds}{offset}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::read_documents;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn encryption_rules_follow_sops() {
        let re = |r: &str| Some(Regex::new(r).unwrap());
        let cases: Vec<(Rules, &[&str], bool)> = vec![
            (Rules::default(), &["a", "b"], true),
            (
                Rules {
                    unencrypted_suffix: Some("_unencrypted".into()),
                    ..Default::default()
                },
                &["a_unencrypted", "b"],
                false,
            ),
            (
                Rules {
                    unencrypted_suffix: Some("_unencrypted".into()),
                    ..Default::default()
                },
                &["a", "b"],
                true,
            ),
            (
                Rules {
                    encrypted_suffix: Some("_enc".into()),
                    ..Default::default()
                },
                &["a", "b"],
                false,
            ),
            (
                Rules {
                    encrypted_suffix: Some("_enc".into()),
                    ..Default::default()
                },
                &["a_enc", "b"],
                true,
            ),
            (
                Rules {
                    encrypted_regex: re("^(data|stringData)$"),
                    ..Default::default()
                },
                &["metadata", "name"],
                false,
            ),
            (
                Rules {
                    encrypted_regex: re("^(data|stringData)$"),
                    ..Default::default()
                },
                &["stringData", "key"],
                true,
            ),
            (
                Rules {
                    unencrypted_regex: re("^public"),
                    ..Default::default()
                },
                &["publicKey"],
                false,
            ),
            (
                Rules {
                    unencrypted_regex: re("^public"),
                    ..Default::default()
                },
                &["privateKey"],
                true,
            ),
        ];
        for (rules, p, want) in cases {
            assert_eq!(rules.encrypted(&path(p)), want, "{p:?}");
        }
    }

    #[test]
    fn groups_thresholds_and_times() {
        let doc = "sops:\n  key_groups:\n    - age: [{recipient: r1, enc: e1}]\n    - pgp: [{fp: F, enc: e2}]\n      hc_vault: [{vault_address: 'https://v', enc: x}]\n  shamir_threshold: 2\n  lastmodified: '2024-11-12T13:33:42.123456Z'\n  mac: m\n";
        let node = read_documents(doc).unwrap().remove(0);
        let meta = Metadata::from_node(node.get("sops").unwrap()).unwrap();
        assert_eq!(meta.groups.len(), 2);
        assert_eq!(meta.groups[1].pgp[0].fingerprint, "F");
        assert_eq!(
            meta.groups[1].unsupported,
            vec!["HashiCorp Vault key https://v"]
        );
        assert_eq!(meta.shamir_threshold, 2);
        assert_eq!(meta.mac_aad(), "2024-11-12T13:33:42Z");
        let doc =
            "sops: {lastmodified: '2024-11-12T15:33:42+02:00', mac: m, encrypted_comment_regex: x}";
        let node = read_documents(doc).unwrap().remove(0);
        assert!(Metadata::from_node(node.get("sops").unwrap()).is_err());
        let doc = "sops: {lastmodified: '2024-11-12T15:33:42.5+02:00', mac: m, age: [{enc: e}]}";
        let node = read_documents(doc).unwrap().remove(0);
        let meta = Metadata::from_node(node.get("sops").unwrap()).unwrap();
        assert_eq!(meta.mac_aad(), "2024-11-12T15:33:42+02:00");
        assert_eq!(meta.shamir_threshold, 1);
    }
}
