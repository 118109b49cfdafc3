//! Sprig's certificate functions: `genCA`, `genSelfSignedCert`, `genSignedCert` (new RSA 2048
//! keys, as Sprig), their `...WithKey` forms (an RSA or ECDSA P-256 key in PEM) and
//! `buildCustomCert`; each gives a certificate value with `.Cert` and `.Key` in PEM. Serial
//! numbers are random, validity starts now; extensions follow RFC 5280 profiles (CA: basic
//! constraints and cert-sign usage; others: digital signature and key encipherment), each
//! with server and client auth and the given DNS names and IPs.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use der::{DecodePem, EncodePem};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;

use crate::functions::{Func, FuncError, arity, int, string};
use crate::value::{Field, Struct, Value};

use x509_cert::der;

/// A private key Sprig's certificate functions accept.
enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ec(p256::SecretKey),
}

fn err(e: impl std::fmt::Display) -> FuncError {
    FuncError::Call(e.to_string())
}

/// Sprig's `parsePrivateKeyPEM`: PKCS#1 RSA, SEC1 EC or PKCS#8 (RSA or P-256).
fn parse_key(pem: &str) -> Result<Key, FuncError> {
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs1_pem(pem) {
        return Ok(Key::Rsa(Box::new(k)));
    }
    if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
        return Ok(Key::Ec(k));
    }
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        return Ok(Key::Rsa(Box::new(k)));
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_pem(pem) {
        return Ok(Key::Ec(k));
    }
    Err(FuncError::Call(
        "parsing private key: no RSA or ECDSA P-256 private key found".into(),
    ))
}

fn key_pem(key: &Key) -> Result<String, FuncError> {
    match key {
        Key::Rsa(k) => k
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .map(|p| p.to_string())
            .map_err(err),
        Key::Ec(k) => super::crypto::ec_pem(k).map_err(err),
    }
}

fn public_key(key: &Key) -> Result<SubjectPublicKeyInfoOwned, FuncError> {
    let der = match key {
        Key::Rsa(k) => k.to_public_key().to_public_key_der().map_err(err)?,
        Key::Ec(k) => k.public_key().to_public_key_der().map_err(err)?,
    };
    SubjectPublicKeyInfoOwned::try_from(der.as_bytes()).map_err(err)
}

/// What a certificate says about its subject.
struct Template {
    cn: String,
    ips: Vec<std::net::IpAddr>,
    dns: Vec<String>,
    days: i64,
    ca: bool,
}

fn escape_rdn(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if ",+\"\\<>;=".contains(c) || (i == 0 && (c == '#' || c == ' ')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Builds and signs a certificate for `subject_key`, by `issuer` (its name and key) or by
/// itself.
fn certificate(
    t: &Template,
    subject_key: &Key,
    issuer: Option<(Name, &Key)>,
) -> Result<String, FuncError> {
    let subject = Name::from_str(&format!("CN={}", escape_rdn(&t.cn))).map_err(err)?;
    let mut serial = rand08::Rng::r#gen::<[u8; 16]>(&mut rand08::rngs::OsRng);
    serial[0] &= 0x7f;
    let serial = SerialNumber::new(&serial).map_err(err)?;
    let days = u64::try_from(t.days.max(0)).unwrap_or(0);
    let validity = Validity::from_now(Duration::from_secs(days * 86_400)).map_err(err)?;
    let profile = if t.ca && issuer.is_none() {
        Profile::Root
    } else {
        Profile::Leaf {
            issuer: name_or(&issuer, &subject),
            enable_key_agreement: false,
            enable_key_encipherment: true,
        }
    };
    let spki = public_key(subject_key)?;
    let signer_key = issuer.as_ref().map_or(subject_key, |(_, k)| *k);
    let mut sans: Vec<GeneralName> = t
        .dns
        .iter()
        .map(|d| der::asn1::Ia5String::new(d).map(GeneralName::DnsName))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    for ip in &t.ips {
        let bytes = match ip {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        sans.push(GeneralName::IpAddress(
            der::asn1::OctetString::new(bytes).map_err(err)?,
        ));
    }
    let usages = ExtendedKeyUsage(vec![
        const_oid::db::rfc5280::ID_KP_SERVER_AUTH,
        const_oid::db::rfc5280::ID_KP_CLIENT_AUTH,
    ]);
    macro_rules! build {
        ($signer:expr, $sig:ty) => {{
            let signer = $signer;
            let mut builder =
                CertificateBuilder::new(profile, serial, validity, subject, spki, &signer)
                    .map_err(err)?;
            builder.add_extension(&usages).map_err(err)?;
            if !sans.is_empty() {
                builder.add_extension(&SubjectAltName(sans)).map_err(err)?;
            }
            builder.build::<$sig>().map_err(err)?
        }};
    }
    let cert = match signer_key {
        Key::Rsa(k) => build!(
            rsa::pkcs1v15::SigningKey::<sha2_10::Sha256>::new((**k).clone()),
            rsa::pkcs1v15::Signature
        ),
        Key::Ec(k) => build!(p256::ecdsa::SigningKey::from(k), p256::ecdsa::DerSignature),
    };
    cert.to_pem(der::pem::LineEnding::LF).map_err(err)
}

fn name_or(issuer: &Option<(Name, &Key)>, subject: &Name) -> Name {
    issuer
        .as_ref()
        .map_or_else(|| subject.clone(), |(n, _)| n.clone())
}

fn new_rsa() -> Result<Key, FuncError> {
    rsa::RsaPrivateKey::new(&mut rand08::rngs::OsRng, 2048)
        .map(|k| Key::Rsa(Box::new(k)))
        .map_err(|e| FuncError::Call(format!("error generating rsa key: {e}")))
}

fn cert_value(cert: String, key: String) -> Value {
    let field = |name: &str, text: String| Field {
        name: name.into(),
        value: Value::Str(text),
        embedded: false,
        json: None,
    };
    Value::structure(Struct {
        type_name: "sprig.certificate".into(),
        fields: vec![field("Cert", cert), field("Key", key)],
        ..Struct::default()
    })
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, FuncError> {
    match v {
        Value::Nil | Value::Missing => Ok(Vec::new()),
        Value::List(l) => l
            .items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    FuncError::Call(format!(
                        "error parsing {what}: {} is not a string",
                        crate::format::value(i, false)
                    ))
                })
            })
            .collect(),
        other => Err(FuncError::Type {
            expected: "[]interface {}",
            got: other.type_name(),
        }),
    }
}

fn template(a: &[Value], ca: bool) -> Result<Template, FuncError> {
    if ca {
        return Ok(Template {
            cn: string(&a[0])?.to_string(),
            ips: Vec::new(),
            dns: Vec::new(),
            days: int(&a[1])?,
            ca: true,
        });
    }
    let ips = strings(&a[1], "ip")?
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|_| FuncError::Call(format!("error parsing ip: {s}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Template {
        cn: string(&a[0])?.to_string(),
        ips,
        dns: strings(&a[2], "alternate dns name")?,
        days: int(&a[3])?,
        ca: false,
    })
}

fn issue(t: &Template, key: Key, issuer: Option<(Name, &Key)>) -> Result<Value, FuncError> {
    let cert = certificate(t, &key, issuer)?;
    Ok(cert_value(cert, key_pem(&key)?))
}

/// The CA of a certificate value: its subject name and key.
fn ca_of(v: &Value) -> Result<(Name, Key), FuncError> {
    let Value::Struct(s) = v else {
        return Err(FuncError::Type {
            expected: "sprig.certificate",
            got: v.type_name(),
        });
    };
    let text = |f: &str| {
        s.member(f)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let cert = Certificate::from_pem(text("Cert"))
        .map_err(|e| FuncError::Call(format!("error parsing certificate: {e}")))?;
    Ok((cert.tbs_certificate.subject, parse_key(&text("Key"))?))
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("genCA", |a| {
            arity(a, 2)?;
            issue(&template(a, true)?, new_rsa()?, None)
        }),
        ("genCAWithKey", |a| {
            arity(a, 3)?;
            issue(&template(a, true)?, parse_key(string(&a[2])?)?, None)
        }),
        ("genSelfSignedCert", |a| {
            arity(a, 4)?;
            issue(&template(a, false)?, new_rsa()?, None)
        }),
        ("genSelfSignedCertWithKey", |a| {
            arity(a, 5)?;
            issue(&template(a, false)?, parse_key(string(&a[4])?)?, None)
        }),
        ("genSignedCert", |a| {
            arity(a, 5)?;
            let (name, key) = ca_of(&a[4])?;
            issue(&template(a, false)?, new_rsa()?, Some((name, &key)))
        }),
        ("genSignedCertWithKey", |a| {
            arity(a, 6)?;
            let (name, key) = ca_of(&a[4])?;
            issue(
                &template(a, false)?,
                parse_key(string(&a[5])?)?,
                Some((name, &key)),
            )
        }),
        ("buildCustomCert", |a| {
            arity(a, 2)?;
            let decode = |v: &Value, what: &str| {
                base64::engine::general_purpose::STANDARD
                    .decode(string(v)?)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .map_err(|_| FuncError::Call(format!("unable to decode base64 {what}")))
            };
            let (cert, key) = (decode(&a[0], "certificate")?, decode(&a[1], "private key")?);
            Certificate::from_pem(&cert)
                .map_err(|e| FuncError::Call(format!("error parsing certificate: {e}")))?;
            parse_key(&key)?;
            Ok(cert_value(cert, key))
        }),
    ]
}
