//! Sprig's crypto functions except certificates: `bcrypt`, `htpasswd`, `derivePassword` (the
//! Master Password algorithm), `genPrivateKey` (RSA 4096, ECDSA P-256, Ed25519 as PEM) and
//! `encryptAES`/`decryptAES` (AES-256-CBC, random IV first, base64). Errors come back as text
//! where Sprig returns text.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use hmac12::Mac;

use crate::functions::{Func, FuncError, arity, int, string};
use crate::value::Value;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Go's bcrypt with its default cost (10), `$2a$` as Go writes it.
fn bcrypt_hash(input: &str) -> String {
    match bcrypt::hash_with_result(input, 10) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

const SEED: &str = "com.lyndir.masterpassword";

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn characters(class: u8) -> &'static [u8] {
    match class {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// Sprig's `derivePassword` (Master Password v3: scrypt key from the user, HMAC-SHA256 seed
/// from the site and counter, characters from the type's templates).
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = match scrypt::Params::new(15, 8, 2, 64) {
        Ok(p) => p,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut message = SEED.as_bytes().to_vec();
    message.extend_from_slice(&(site.len() as u32).to_be_bytes());
    message.extend_from_slice(site.as_bytes());
    message.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac12::Hmac::<sha2_10::Sha256>::new_from_slice(&key) else {
        return "failed to derive password: bad key".into();
    };
    mac.update(&message);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, class)| {
            let chars = characters(class);
            chars[usize::from(seed[i + 1]) % chars.len()] as char
        })
        .collect()
}

/// Sprig's `genPrivateKey`: PEM of a new key of type `rsa` (4096 bits, PKCS#1), `ecdsa`
/// (P-256, SEC1) or `ed25519` (PKCS#8).
fn private_key(kind: &str) -> String {
    let mut rng = rand08::rngs::OsRng;
    let pem = match kind {
        "" | "rsa" => rsa::RsaPrivateKey::new(&mut rng, 4096)
            .map_err(|e| e.to_string())
            .and_then(|k| {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                k.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                    .map(|p| p.to_string())
                    .map_err(|e| e.to_string())
            }),
        "ecdsa" => ec_pem(&p256::SecretKey::random(&mut rng)),
        "ed25519" => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            ed25519_dalek::SigningKey::generate(&mut rng)
                .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .map(|p| p.to_string())
                .map_err(|e| e.to_string())
        }
        "dsa" => Err("DSA keys are not supported by Rill".into()),
        other => return format!("Unknown type {other}"),
    };
    pem.unwrap_or_else(|e| format!("failed to generate private key: {e}"))
}

/// An EC key as Go's `x509.MarshalECPrivateKey` writes it: SEC1 with the named curve and the
/// public key (what openssl expects).
pub(super) fn ec_pem(key: &p256::SecretKey) -> Result<String, String> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use sec1::der::Encode;
    let secret = key.to_bytes();
    let public = key.public_key().to_encoded_point(false);
    let der = sec1::EcPrivateKey {
        private_key: &secret,
        parameters: Some(sec1::EcParameters::NamedCurve(
            <p256::NistP256 as const_oid::AssociatedOid>::OID,
        )),
        public_key: Some(public.as_bytes()),
    }
    .to_der()
    .map_err(|e| e.to_string())?;
    sec1::der::pem::encode_string("EC PRIVATE KEY", sec1::der::pem::LineEnding::LF, &der)
        .map_err(|e| e.to_string())
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

fn encrypt_aes(password: &str, plaintext: &str) -> Result<String, FuncError> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    let iv: [u8; 16] = rand08::Rng::r#gen(&mut rand08::rngs::OsRng);
    let cipher = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let encrypted = cipher.encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
    let mut out = iv.to_vec();
    out.extend(encrypted);
    Ok(BASE64.encode(out))
}

fn decrypt_aes(password: &str, encoded: &str) -> Result<String, FuncError> {
    if encoded.is_empty() {
        return Ok(String::new());
    }
    let bytes = BASE64
        .decode(encoded)
        .map_err(|e| FuncError::Call(format!("illegal base64 data: {e}")))?;
    if bytes.len() < 32 || bytes.len() % 16 != 0 {
        return Err(FuncError::Call(
            "crypto/cipher: input not full blocks".into(),
        ));
    }
    let (iv, data) = bytes.split_at(16);
    let mut iv_block = [0u8; 16];
    iv_block.copy_from_slice(iv);
    let cipher = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv_block.into());
    let plain = cipher
        .decrypt_padded_vec_mut::<Pkcs7>(data)
        .map_err(|_| FuncError::Call("crypto/cipher: invalid padding".into()))?;
    Ok(String::from_utf8_lossy(&plain).into_owned())
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("bcrypt", |a| {
            arity(a, 1)?;
            Ok(Value::Str(bcrypt_hash(string(&a[0])?)))
        }),
        ("htpasswd", |a| {
            arity(a, 3)?;
            let (user, password, algorithm) = (string(&a[0])?, string(&a[1])?, string(&a[2])?);
            if user.contains(':') {
                return Ok(Value::Str(format!("invalid username: {user}")));
            }
            Ok(Value::Str(if algorithm == "sha" {
                use sha1::Digest;
                format!(
                    "{user}:{{SHA}}{}",
                    BASE64.encode(sha1::Sha1::digest(password.as_bytes()))
                )
            } else {
                format!("{user}:{}", bcrypt_hash(password))
            }))
        }),
        ("derivePassword", |a| {
            arity(a, 5)?;
            let counter = u32::try_from(int(&a[0])?)
                .map_err(|_| FuncError::Call("counter out of range".into()))?;
            Ok(Value::Str(derive_password(
                counter,
                string(&a[1])?,
                string(&a[2])?,
                string(&a[3])?,
                string(&a[4])?,
            )))
        }),
        ("genPrivateKey", |a| {
            arity(a, 1)?;
            Ok(Value::Str(private_key(string(&a[0])?)))
        }),
        ("encryptAES", |a| {
            arity(a, 2)?;
            encrypt_aes(string(&a[0])?, string(&a[1])?).map(Value::Str)
        }),
        ("decryptAES", |a| {
            arity(a, 2)?;
            decrypt_aes(string(&a[0])?, string(&a[1])?).map(Value::Str)
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips_and_bcrypt_verifies() {
        let sealed = encrypt_aes("secretkey", "plaintext").unwrap_or_default();
        assert_ne!(sealed, "plaintext");
        assert_eq!(
            decrypt_aes("secretkey", &sealed).ok().as_deref(),
            Some("plaintext")
        );
        assert!(decrypt_aes("secretkey", "AAAA").is_err());
        let hash = bcrypt_hash("hunter2");
        assert!(hash.starts_with("$2a$10$"), "{hash}");
        assert_eq!(bcrypt::verify("hunter2", &hash).ok(), Some(true));
    }

    /// Sprig's own expectations (crypto_test.go).
    #[test]
    fn derived_passwords_match_sprigs_vectors() {
        let cases = [
            (1, "long", "ZedaFaxcZaso9*"),
            (2, "long", "Fovi2@JifpTupx"),
            (1, "maximum", "pf4zS1LjCg&LjhsZ7T2~"),
            (1, "medium", "ZedJuz8$"),
            (1, "basic", "pIS54PLs"),
            (1, "short", "Zed5"),
            (1, "pin", "6685"),
        ];
        for (counter, kind, want) in cases {
            assert_eq!(
                derive_password(counter, kind, "password", "user", "example.com"),
                want
            );
        }
        assert_eq!(
            derive_password(1, "x", "p", "u", "s"),
            "cannot find password template x"
        );
    }

    #[test]
    fn keys_are_pem() {
        assert!(private_key("ecdsa").starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        assert!(private_key("ed25519").starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(private_key("x"), "Unknown type x");
    }
}
