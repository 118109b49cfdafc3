//! SOPS values: `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]`, AES-256-GCM with the
//! value's path as additional data and a 32-byte IV, decrypted to the type it was written as.

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Number, Value};

/// AES-256-GCM with the 32-byte nonces SOPS uses.
type SopsGcm = AesGcm<Aes256, U32>;

/// A decrypted value, typed as SOPS wrote it.
#[derive(Clone, Debug, PartialEq)]
pub enum Plain {
    /// `str`, `bytes` (when UTF-8) and `time` values.
    Str(String),
    /// `int` values.
    Int(i64),
    /// `float` values.
    Float(f64),
    /// `bool` values.
    Bool(bool),
    /// `comment` values (never part of the MAC).
    Comment(String),
}

impl Plain {
    /// The JSON value kustomize reads.
    pub fn to_value(&self) -> Value {
        match self {
            Plain::Str(s) | Plain::Comment(s) => Value::String(s.clone()),
            Plain::Int(i) => Value::Number((*i).into()),
            Plain::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Plain::Bool(b) => Value::Bool(*b),
        }
    }
}

/// Whether `text` has the shape of a SOPS-encrypted value.
pub fn is_encrypted(text: &str) -> bool {
    text.starts_with("ENC[AES256_GCM,") && text.ends_with(']')
}

struct Parts {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse(text: &str) -> Result<Parts, String> {
    let inner = text
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("the value is not in sops' encrypted format")?;
    let mut fields = [None, None, None, None];
    for part in inner.split(',') {
        let (name, value) = part
            .split_once(':')
            .ok_or("the value is not in sops' encrypted format")?;
        let slot = ["data", "iv", "tag", "type"]
            .iter()
            .position(|n| *n == name)
            .ok_or("the value is not in sops' encrypted format")?;
        fields[slot] = Some(value);
    }
    let [Some(data), Some(iv), Some(tag), Some(kind)] = fields else {
        return Err("the value is not in sops' encrypted format".into());
    };
    let decode = |what: &str, b64: &str| {
        STANDARD
            .decode(b64)
            .map_err(|e| format!("the {what} is not base64: {e}"))
    };
    Ok(Parts {
        data: decode("data", data)?,
        iv: decode("iv", iv)?,
        tag: decode("tag", tag)?,
        kind: kind.to_string(),
    })
}

/// Decrypts one value with the data key; `aad` is the value's path joined by `:` with a
/// trailing `:` (or the `lastmodified` time for the MAC). An empty string stays empty.
pub fn decrypt(text: &str, key: &[u8; 32], aad: &str) -> Result<Plain, String> {
    if text.is_empty() {
        return Ok(Plain::Str(String::new()));
    }
    let parts = parse(text)?;
    if parts.iv.len() != 32 || parts.tag.len() != 16 {
        return Err("the value's iv or tag has the wrong length".into());
    }
    let cipher = SopsGcm::new(GenericArray::from_slice(key));
    let mut sealed = parts.data;
    sealed.extend_from_slice(&parts.tag);
    let plain = cipher
        .decrypt(
            GenericArray::from_slice(&parts.iv),
            Payload {
                msg: &sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| "authentication failed (wrong data key or tampered ciphertext)".to_string())?;
    let text =
        || String::from_utf8(plain.clone()).map_err(|_| "the plaintext is not UTF-8".to_string());
    Ok(match parts.kind.as_str() {
        "str" | "bytes" | "time" => Plain::Str(text()?),
        "comment" => Plain::Comment(text()?),
        "int" => Plain::Int(text()?.parse().map_err(|_| "an int value does not parse")?),
        "float" => Plain::Float(
            text()?
                .parse()
                .map_err(|_| "a float value does not parse")?,
        ),
        "bool" => Plain::Bool(parse_go_bool(&text()?).ok_or("a bool value does not parse")?),
        other => return Err(format!("unknown value type '{other}'")),
    })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aes_gcm::aead::Aead;

    use super::*;

    /// Encrypts as SOPS does (for tests): a fixed IV so that cases stay readable.
    pub fn encrypt(plain: &str, kind: &str, key: &[u8; 32], aad: &str) -> String {
        let cipher = SopsGcm::new(GenericArray::from_slice(key));
        let iv = [7u8; 32];
        let sealed = cipher
            .encrypt(
                GenericArray::from_slice(&iv),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap();
        let (data, tag) = sealed.split_at(sealed.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
            STANDARD.encode(data),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }

    #[test]
    fn every_type_decrypts_to_its_value() {
        let key = [1u8; 32];
        let cases: &[(&str, &str, Plain)] = &[
            ("value", "str", Plain::Str("value".into())),
            ("42", "int", Plain::Int(42)),
            ("-1.5", "float", Plain::Float(-1.5)),
            ("True", "bool", Plain::Bool(true)),
            ("false", "bool", Plain::Bool(false)),
            ("raw", "bytes", Plain::Str("raw".into())),
            (
                "2024-01-01T00:00:00Z",
                "time",
                Plain::Str("2024-01-01T00:00:00Z".into()),
            ),
            (" a comment", "comment", Plain::Comment(" a comment".into())),
        ];
        for (plain, kind, want) in cases {
            let text = encrypt(plain, kind, &key, "a:b:");
            assert_eq!(&decrypt(&text, &key, "a:b:").unwrap(), want, "{kind}");
        }
        assert_eq!(decrypt("", &key, "x:").unwrap(), Plain::Str(String::new()));
    }

    #[test]
    fn wrong_key_path_type_or_tampering_fail_without_showing_the_value() {
        let key = [1u8; 32];
        let text = encrypt("s3cret", "str", &key, "a:");
        let cases = [
            (text.clone(), [2u8; 32], "a:"),
            (text.clone(), key, "b:"),
            (text.replace("type:str", "type:weird"), key, "a:"),
            (text.replacen("data:", "data:AA", 1), key, "a:"),
            ("ENC[AES256_GCM,data:xx]".to_string(), key, "a:"),
            ("plain".to_string(), key, "a:"),
        ];
        for (text, key, aad) in cases {
            let error = decrypt(&text, &key, aad).unwrap_err();
            assert!(!error.contains("s3cret"), "{error}");
        }
        assert!(is_encrypted(&text));
        assert!(!is_encrypted("ENC[other]"));
    }
}
