//! rill-git's write side against real servers: clone a branch, commit with an author, push
//! over smart HTTP (git's own http-backend, through the reqwest transport) and over SSH
//! (OpenSSH), to the same branch, to a new branch through a refspec; wrong credentials and
//! refused pushes fail clearly and never print the password.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::{TestRepo, git};
use e2e::git_ssh::SshServer;
use rill_git::auth::Credentials;
use rill_git::commit::{Author, clone_branch, commit_all, push, switch_to_new_branch};
use rill_git::known_hosts::KnownHosts;

fn author() -> Author {
    Author {
        name: "Fluxcd Bot".into(),
        email: "bot@example.invalid".into(),
    }
}

fn basic(user: &str, password: &str) -> Credentials {
    Credentials {
        basic: Some((user.into(), password.into())),
        ..Credentials::default()
    }
}

/// Clones master, changes `file`, commits; returns the work tree's repository.
fn change(url: &str, creds: &Credentials, dir: &Path, file: &str, text: &str) -> git2::Repository {
    let repo = clone_branch(url, creds, "master", dir).unwrap();
    std::fs::write(dir.join(file), text).unwrap();
    let commit = commit_all(&repo, &author(), "Update image\n\nbody", None).unwrap();
    assert!(commit.is_some());
    repo
}

/// Clones master, writes `text` to deploy.yaml, commits and pushes master.
async fn change_and_push(url: String, creds: Credentials, text: &'static str) {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let repo = change(&url, &creds, &dir, "deploy.yaml", text);
        let master = ["refs/heads/master:refs/heads/master".to_string()];
        push(&repo, &url, &creds, &master, &[]).unwrap();
    })
    .await
    .unwrap();
}

async fn http(auth: HttpAuth) -> (tempfile::TempDir, TestRepo, GitHttpServer) {
    let root = tempfile::tempdir().unwrap();
    let repo = TestRepo::create(root.path(), "app", &[("deploy.yaml", "image: app:1.0.0\n")]);
    let server = GitHttpServer::start(root.path(), auth).await.unwrap();
    (root, repo, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_pushed_over_http_lands_on_the_branch_with_its_author() {
    let auth = HttpAuth::Basic {
        user: "bot".into(),
        password: "s3cret-pw".into(),
    };
    let (_root, bare, server) = http(auth).await;
    let url = format!("{}/app.git", server.url);
    let creds = basic("bot", "s3cret-pw");
    change_and_push(url, creds, "image: app:1.0.1\n").await;
    let shown = git(&bare.bare, &["show", "master:deploy.yaml"]);
    assert_eq!(shown, "image: app:1.0.1");
    let log = git(
        &bare.bare,
        &["log", "-1", "--format=%an <%ae>|%s", "master"],
    );
    assert_eq!(log, "Fluxcd Bot <bot@example.invalid>|Update image");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refspec_pushes_to_a_new_branch_and_options_reach_the_server() {
    let (_root, bare, server) = http(HttpAuth::None).await;
    git(
        &bare.bare,
        &["config", "receive.advertisePushOptions", "true"],
    );
    let seen = bare.bare.join("push-options.txt");
    let hook = bare.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$GIT_PUSH_OPTION_COUNT:$GIT_PUSH_OPTION_0\" > {}\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let url = format!("{}/app.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_path_buf();
    let before = git(&bare.bare, &["rev-parse", "master"]);
    tokio::task::spawn_blocking(move || {
        let creds = Credentials::default();
        let repo = clone_branch(&url, &creds, "master", &dir).unwrap();
        switch_to_new_branch(&repo, "auto").unwrap();
        std::fs::write(dir.join("deploy.yaml"), "image: app:2.0.0\n").unwrap();
        commit_all(&repo, &author(), "bump", None).unwrap().unwrap();
        push(
            &repo,
            &url,
            &creds,
            &["refs/heads/auto:refs/heads/auto".into()],
            &["ci.skip".into()],
        )
        .unwrap();
        // Nothing changed: no commit.
        assert_eq!(commit_all(&repo, &author(), "again", None).unwrap(), None);
    })
    .await
    .unwrap();
    assert_eq!(git(&bare.bare, &["rev-parse", "master"]), before);
    assert_eq!(
        git(&bare.bare, &["show", "auto:deploy.yaml"]),
        "image: app:2.0.0"
    );
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "1:ci.skip\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_without_printing_it() {
    let auth = HttpAuth::Basic {
        user: "bot".into(),
        password: "right-one".into(),
    };
    let (_root, _bare, server) = http(auth).await;
    let url = format!("{}/app.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_path_buf();
    let error = tokio::task::spawn_blocking(move || {
        clone_branch(&url, &basic("bot", "wrong-pw-123"), "master", &dir).err()
    })
    .await
    .unwrap()
    .expect("the clone fails");
    let text = error.to_string();
    assert!(matches!(error, rill_git::GitError::Auth(_)), "{error:?}");
    assert!(!text.contains("wrong-pw-123"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_behind_the_remote_is_refused() {
    let (_root, bare, server) = http(HttpAuth::None).await;
    let url = format!("{}/app.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_path_buf();
    let creds = Credentials::default();
    {
        let (url, dir, creds) = (url.clone(), dir.clone(), creds.clone());
        tokio::task::spawn_blocking(move || {
            change(&url, &creds, &dir, "deploy.yaml", "x\n");
        })
        .await
        .unwrap();
    }
    // Someone else pushes first.
    bare.commit("master", &[("other.txt", "meanwhile\n")], "meanwhile");
    let error = tokio::task::spawn_blocking(move || {
        let repo = git2::Repository::open(&dir).unwrap();
        push(
            &repo,
            &url,
            &creds,
            &["refs/heads/master:refs/heads/master".into()],
            &[],
        )
        .err()
    })
    .await
    .unwrap()
    .expect("a non-fast-forward push fails");
    let text = error.to_string().to_lowercase();
    assert!(
        text.contains("not present locally") || text.contains("fast-forward"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_pushed_over_ssh() {
    if !SshServer::available() {
        eprintln!("skipping: /usr/sbin/sshd is not installed (apt-get install openssh-server)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let bare = TestRepo::create(root.path(), "app", &[("deploy.yaml", "image: app:1.0.0\n")]);
    let ssh = SshServer::start();
    let url = ssh.url(&bare.bare);
    let creds = Credentials {
        ssh_identity: Some((ssh.client_key.clone(), None)),
        known_hosts: Some(KnownHosts::parse(&ssh.known_hosts)),
        ..Credentials::default()
    };
    change_and_push(url, creds, "image: app:1.0.2\n").await;
    assert_eq!(
        git(&bare.bare, &["show", "master:deploy.yaml"]),
        "image: app:1.0.2"
    );
    drop(ssh);
}
