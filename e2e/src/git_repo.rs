//! Bare Git repositories for tests, filled through a work tree with the `git` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs git in `dir` with a fixed identity; panics with git's output on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Rill Test",
            "-c",
            "user.email=test@rill.invalid",
            "-c",
            "init.defaultBranch=master",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository with a work tree used to make commits.
pub struct TestRepo {
    /// The bare repository (`<root>/<name>.git`).
    pub bare: PathBuf,
    work: PathBuf,
}

impl TestRepo {
    /// Creates `<root>/<name>.git` with an initial commit on `master` holding `files`.
    pub fn create(root: &Path, name: &str, files: &[(&str, &str)]) -> Self {
        let bare = root.join(format!("{name}.git"));
        let work = root.join(format!("{name}.work"));
        std::fs::create_dir_all(&bare).unwrap_or_else(|e| panic!("{e}"));
        git(&bare, &["init", "--bare", "-q"]);
        git(&bare, &["config", "http.receivepack", "true"]);
        git(
            &bare,
            &["config", "uploadpack.allowReachableSHA1InWant", "true"],
        );
        git(
            root,
            &[
                "clone",
                "-q",
                bare.to_str().unwrap_or_default(),
                work.to_str().unwrap_or_default(),
            ],
        );
        let repo = Self { bare, work };
        repo.commit("master", files, "initial commit");
        repo
    }

    /// Writes `files` on `branch` (created from the current head if new), commits and pushes;
    /// returns the commit hash. A file content of `None`-like `"<delete>"` removes the file.
    pub fn commit(&self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        let exists = git(&self.work, &["branch", "--list", branch]);
        if exists.is_empty() {
            git(&self.work, &["checkout", "-q", "-b", branch]);
        } else {
            git(&self.work, &["checkout", "-q", branch]);
        }
        for (path, content) in files {
            let full = self.work.join(path);
            if *content == "<delete>" {
                let _ = std::fs::remove_file(&full);
                continue;
            }
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            std::fs::write(&full, content).unwrap_or_else(|e| panic!("{e}"));
        }
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.work, &["push", "-q", "--force", "origin", branch]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Runs git in the work tree.
    pub fn run(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    /// Creates (or moves, with `force`) an annotated tag at the head of `branch` and pushes it.
    pub fn tag(&self, branch: &str, tag: &str) -> String {
        git(&self.work, &["checkout", "-q", branch]);
        git(&self.work, &["tag", "-f", "-a", tag, "-m", tag]);
        git(
            &self.work,
            &[
                "push",
                "-q",
                "--force",
                "origin",
                &format!("refs/tags/{tag}"),
            ],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Pushes the head of `branch` to an arbitrary ref (for example `refs/pull/1/head`).
    pub fn push_ref(&self, branch: &str, reference: &str) -> String {
        git(
            &self.work,
            &[
                "push",
                "-q",
                "--force",
                "origin",
                &format!("{branch}:{reference}"),
            ],
        );
        git(&self.work, &["rev-parse", branch])
    }

    /// Rewrites `branch` to a new root commit (a force-push that drops history).
    pub fn force_push_new_history(&self, branch: &str, files: &[(&str, &str)]) -> String {
        git(&self.work, &["checkout", "-q", "--orphan", "rewrite"]);
        git(&self.work, &["rm", "-rq", "--cached", "."]);
        for (path, content) in files {
            let full = self.work.join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            std::fs::write(full, content).unwrap_or_else(|e| panic!("{e}"));
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", "rewritten history"]);
        git(&self.work, &["branch", "-f", branch, "rewrite"]);
        git(&self.work, &["checkout", "-q", branch]);
        git(&self.work, &["branch", "-D", "rewrite"]);
        git(&self.work, &["push", "-q", "--force", "origin", branch]);
        git(&self.work, &["rev-parse", "HEAD"])
    }
}
