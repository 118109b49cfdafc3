//! Signed commits that real git accepts: a commit signed with an OpenPGP key made by gpg passes
//! `git verify-commit` with gpg, one signed with an SSH key made by ssh-keygen passes it with
//! `gpg.format=ssh`; wrong or missing passphrases and foreign keys are refused with messages
//! that name the Secret and carry no key material.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use rill_git::commit::{Author, commit_all};
use rill_git::sign::{CommitSigner, SignerError};

fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, &Path)]) -> (bool, String) {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A repository with one commit, then a change committed with `signer`.
fn signed_commit(dir: &Path, signer: &CommitSigner) {
    let repo = git2::Repository::init(dir).unwrap();
    std::fs::write(dir.join("a.yaml"), "a: 1\n").unwrap();
    let author = Author {
        name: "Bot".into(),
        email: "bot@example.invalid".into(),
    };
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("a.yaml")).unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Bot", "bot@example.invalid").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
        .unwrap();
    std::fs::write(dir.join("a.yaml"), "a: 2\n").unwrap();
    let sign = |content: &str| signer.sign(content);
    commit_all(&repo, &author, "signed change", Some(&sign))
        .unwrap()
        .unwrap();
}

fn gpg_key(home: &Path, passphrase: &str) -> Vec<u8> {
    let (ok, text) = run(
        home,
        "gpg",
        &[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            "Bot <bot@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
        &[("GNUPGHOME", home)],
    );
    assert!(ok, "{text}");
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--armor",
            "--export-secret-keys",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn an_openpgp_signed_commit_passes_git_verify_commit() {
    if !tool("gpg") {
        eprintln!("skipped: gpg is not installed");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let key = gpg_key(home.path(), "s3cret-pass");
    let signer = CommitSigner::open_pgp("signing", &key, Some(b"s3cret-pass")).unwrap();
    let repo = tempfile::tempdir().unwrap();
    signed_commit(repo.path(), &signer);
    let (ok, text) = run(
        repo.path(),
        "git",
        &["verify-commit", "-v", "HEAD"],
        &[("GNUPGHOME", home.path())],
    );
    assert!(ok, "{text}");
    assert!(text.contains("Good signature"), "{text}");

    // The same key without its passphrase, with a wrong one, and garbage: clear refusals.
    let missing = CommitSigner::open_pgp("signing", &key, None).unwrap_err();
    assert_eq!(
        missing,
        SignerError::PassphraseMissing {
            field: "passphrase",
            secret: "signing".into()
        }
    );
    let wrong = CommitSigner::open_pgp("signing", &key, Some(b"nope")).unwrap_err();
    assert_eq!(wrong, SignerError::WrongPassphrase("signing".into()));
    let garbage = CommitSigner::open_pgp(
        "signing",
        b"-----BEGIN PGP PRIVATE KEY BLOCK-----\nzzz",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        garbage.starts_with("could not read signing key from secret 'signing'"),
        "{garbage}"
    );
    assert!(!wrong.to_string().contains("nope"));
}

#[test]
fn an_ssh_signed_commit_passes_git_verify_commit() {
    if !tool("ssh-keygen") && !Path::new("/usr/bin/ssh-keygen").exists() {
        eprintln!("skipped: ssh-keygen is not installed");
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let path = keys.path().join("id");
    let (ok, text) = run(
        keys.path(),
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "pw-123",
            "-C",
            "bot",
            "-f",
            path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{text}");
    let pem = std::fs::read(&path).unwrap();
    let public = std::fs::read_to_string(keys.path().join("id.pub")).unwrap();
    let allowed = keys.path().join("allowed_signers");
    std::fs::write(&allowed, format!("bot@example.invalid {public}")).unwrap();

    let signer = CommitSigner::ssh("signing", &pem, Some(b"pw-123")).unwrap();
    let repo = tempfile::tempdir().unwrap();
    signed_commit(repo.path(), &signer);
    let allowed_arg = format!("gpg.ssh.allowedSignersFile={}", allowed.display());
    let (ok, text) = run(
        repo.path(),
        "git",
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &allowed_arg,
            "verify-commit",
            "HEAD",
        ],
        &[],
    );
    assert!(ok, "{text}");
    assert!(text.contains("Good \"git\" signature"), "{text}");

    assert_eq!(
        CommitSigner::ssh("signing", &pem, None).unwrap_err(),
        SignerError::PassphraseMissing {
            field: "password",
            secret: "signing".into()
        }
    );
    assert_eq!(
        CommitSigner::ssh("signing", &pem, Some(b"wrong")).unwrap_err(),
        SignerError::WrongPassphrase("signing".into())
    );
}
