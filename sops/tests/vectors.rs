//! The SOPS vectors made by the real `sops`, `age` and GnuPG tools (Flux's own test data, in
//! `../shared/sops-testdata`): every one opens to the value Flux's test expects, and changed
//! documents or wrong keys fail without showing a value. Skipped when the vectors are absent.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use rill_sops::{Format, Keyring, SopsError, decrypt};

fn vectors() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/sops-testdata");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

fn keyring(dir: &std::path::Path, keys: &[(&str, &str)]) -> Keyring {
    let mut ring = Keyring::default();
    for (name, file) in keys {
        let data = std::fs::read(dir.join(file)).unwrap();
        ring.import(name, &data).unwrap();
    }
    ring
}

fn open(
    dir: &std::path::Path,
    ring: &Keyring,
    file: &str,
    input: Format,
    output: Format,
) -> Result<String, SopsError> {
    let data = std::fs::read(dir.join(file)).unwrap();
    decrypt(&data, input, output, ring).map(|out| String::from_utf8(out).unwrap())
}

#[test]
fn every_format_and_key_type_opens_to_the_expected_value() {
    let Some(dir) = vectors() else { return };
    let dir = dir.join("controller");
    let ring = keyring(
        &dir,
        &[
            ("age.agekey", "keys/age.txt"),
            ("pgp.asc", "keys/pgp.asc"),
            ("age-pq.agekey", "keys/age-pq.txt"),
        ],
    );
    let cases = [
        (
            "algorithms/age.yaml",
            Format::Yaml,
            Format::Yaml,
            "\"stringData\":{\"key\":\"value\"}",
        ),
        (
            "algorithms/pgp.yaml",
            Format::Yaml,
            Format::Yaml,
            "\"stringData\":{\"key\":\"value\"}",
        ),
        (
            "patches/merge1.yaml",
            Format::Yaml,
            Format::Yaml,
            "\"stringData\":{\"key\":\"merge1\"}",
        ),
        ("patches/merge2.yaml", Format::Yaml, Format::Yaml, "merge2"),
        (
            "envs/env.env",
            Format::Dotenv,
            Format::Dotenv,
            "key=value\n",
        ),
        (
            "component/env.env",
            Format::Dotenv,
            Format::Dotenv,
            "key=value\n",
        ),
        ("files/file.txt", Format::Binary, Format::Binary, "value"),
    ];
    for (file, input, output, want) in cases {
        let out = open(&dir, &ring, file, input, output).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(out.contains(want), "{file}: {out}");
        assert!(
            !out.contains("ENC[") && !out.contains("\"sops\""),
            "{file}: {out}"
        );
    }
    // The document order is kept (the MAC depends on it) and the metadata is gone.
    let age = open(
        &dir,
        &ring,
        "algorithms/age.yaml",
        Format::Yaml,
        Format::Yaml,
    )
    .unwrap();
    assert_eq!(
        age,
        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"age\"},\"stringData\":{\"key\":\"value\"}}\n"
    );
}

#[test]
fn a_secret_data_value_holding_a_sops_file_opens() {
    let Some(dir) = vectors() else { return };
    let dir = dir.join("controller");
    let ring = keyring(&dir, &[("age.agekey", "keys/age.txt")]);
    let text = std::fs::read_to_string(dir.join("inside/secret.yaml")).unwrap();
    let b64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("key: "))
        .unwrap();
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(Format::detect(&data), Some(Format::Json));
    let out = decrypt(&data, Format::Binary, Format::for_path("key"), &ring).unwrap();
    assert_eq!(out, b"value");
}

#[test]
fn the_global_key_opens_only_its_own_file() {
    let Some(dir) = vectors() else { return };
    let dir = dir.join("controller");
    let global = keyring(&dir, &[("age.agekey", "keys/age-global.txt")]);
    let out = open(
        &dir,
        &global,
        "global/secret.yaml",
        Format::Yaml,
        Format::Yaml,
    )
    .unwrap();
    assert!(out.contains("\"key\":\"global-value\""), "{out}");
    let error = open(
        &dir,
        &global,
        "algorithms/age.yaml",
        Format::Yaml,
        Format::Yaml,
    )
    .unwrap_err();
    assert!(matches!(error, SopsError::NoKey(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"),
        "{error}"
    );
}

#[test]
fn unsupported_keys_fail_naming_the_reason() {
    let Some(dir) = vectors() else { return };
    let dir = dir.join("controller");
    let mut ring = keyring(
        &dir,
        &[
            ("age.agekey", "keys/age.txt"),
            ("age-pq.agekey", "keys/age-pq.txt"),
        ],
    );
    ring.import("sops.vault-token", b"s.token").unwrap();
    let pq = open(
        &dir,
        &ring,
        "algorithms/age-pq.yaml",
        Format::Yaml,
        Format::Yaml,
    )
    .unwrap_err()
    .to_string();
    assert!(pq.contains("post-quantum age recipient"), "{pq}");
    assert!(pq.contains("AGE-SECRET-KEY-PQ-1"), "{pq}");
    let vault = "kind: Secret\nstringData:\n  key: ENC[AES256_GCM,data:mHeXsmQ=,iv:vUMpILz3xchORqkzDFvgwENY7EqIHHGJdEF6C8xqbFE=,tag:IroV7hykADvD0IUaq6kikA==,type:str]\nsops:\n  hc_vault:\n    - vault_address: https://vault.example:8200\n      engine_path: sops\n      key_name: firstkey\n      enc: vault:v1:abc\n  lastmodified: \"2024-11-12T13:33:42Z\"\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n";
    let vault = decrypt(vault.as_bytes(), Format::Yaml, Format::Yaml, &ring)
        .unwrap_err()
        .to_string();
    assert!(vault.contains("https://vault.example:8200"), "{vault}");
    assert!(vault.contains("HashiCorp Vault"), "{vault}");
    assert!(!vault.contains("s.token"), "{vault}");
}

#[test]
fn changed_documents_and_wrong_keys_fail_without_values() {
    let Some(dir) = vectors() else { return };
    let dir = dir.join("controller");
    let ring = keyring(
        &dir,
        &[("age.agekey", "keys/age.txt"), ("pgp.asc", "keys/pgp.asc")],
    );
    let original = std::fs::read_to_string(dir.join("algorithms/age.yaml")).unwrap();
    // A clear value changed after encryption: the MAC no longer matches.
    let renamed = original.replace("name: age", "name: other");
    let error = decrypt(renamed.as_bytes(), Format::Yaml, Format::Yaml, &ring).unwrap_err();
    assert!(matches!(error, SopsError::MacMismatch), "{error}");
    // Fields reordered: the MAC covers document order.
    let reordered = original.replacen(
        "apiVersion: v1\nkind: Secret\n",
        "kind: Secret\napiVersion: v1\n",
        1,
    );
    assert_ne!(reordered, original);
    let error = decrypt(reordered.as_bytes(), Format::Yaml, Format::Yaml, &ring).unwrap_err();
    assert!(matches!(error, SopsError::MacMismatch), "{error}");
    // A ciphertext swapped for another one: authentication fails on its path.
    let swapped = original.replace("data:mHeXsmQ=", "data:mHeXsmR=");
    let error = decrypt(swapped.as_bytes(), Format::Yaml, Format::Yaml, &ring).unwrap_err();
    assert!(matches!(error, SopsError::Value { .. }), "{error}");
    assert!(error.to_string().contains("stringData:key"), "{error}");
    // A value added in clear under an encrypted key is refused.
    let added = original.replace("stringData:\n", "stringData:\n  extra: plain\n");
    assert!(decrypt(added.as_bytes(), Format::Yaml, Format::Yaml, &ring).is_err());
    // No sops block at all.
    let error = decrypt(b"a: 1\n", Format::Yaml, Format::Yaml, &ring).unwrap_err();
    assert!(matches!(error, SopsError::Metadata(_)), "{error}");
    // Keys that are not keys.
    let mut bad = Keyring::default();
    assert!(bad.import("x.agekey", b"not a key").is_err());
    assert!(
        bad.import(
            "x.asc",
            b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n"
        )
        .is_err()
    );
    assert!(bad.import("x.agekey", b"AGE-SECRET-KEY-1QQQ").is_err());
    assert!(bad.is_empty());
}

#[test]
fn flux_decryptor_keys_import() {
    let Some(dir) = vectors() else { return };
    let ring = keyring(
        &dir.join("decryptor"),
        &[("age.agekey", "age.txt"), ("pgp.asc", "pgp.asc")],
    );
    assert!(!ring.is_empty());
    assert_eq!(format!("{ring:?}"), "Keyring { age: 1, pgp: 1 }");
}
