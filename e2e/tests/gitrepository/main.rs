//! source-controller end to end: GitRepositories on the sandbox, served by real Git servers
//! (git http-backend with basic/bearer auth, OpenSSH), turned into artifacts that are served
//! over HTTP and verified by digest.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use e2e::flux;
use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use e2e::git_ssh::SshServer;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::{Digest, UnpackLimits, unpack_tar_gz};
use rill_common::runtime::manager::ControllerRuntime;
use sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};
use source_controller::gitrepository::{self, Context};

struct Env {
    sandbox: Sandbox,
    client: Client,
    storage_dir: tempfile::TempDir,
    repos: tempfile::TempDir,
    controller: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

async fn env() -> Env {
    rill_common::runtime::install_crypto_provider();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let sandbox = Sandbox::start(SandboxOptions {
        crd_dirs: vec![crds],
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let client = sandbox.client().await.unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let flags = source_controller::Flags::try_parse_from([
        "source-controller".to_string(),
        format!("--storage-path={}", storage_dir.path().display()),
        format!("--storage-adv-addr={}", listener.local_addr().unwrap()),
        "--artifact-retention-records=1".to_string(),
        "--min-retry-delay=200ms".to_string(),
        "--max-retry-delay=2s".to_string(),
        "--requeue-dependency=500ms".to_string(),
        "--interval-jitter-percentage=0".to_string(),
        "--concurrent=4".to_string(),
    ])
    .unwrap();
    let runtime = ControllerRuntime::new("source-controller", flags.runtime.clone()).unwrap();
    let ctx = Arc::new(Context::new(&flags, &runtime, client.clone()));
    tokio::spawn(rill_common::runtime::health::serve(
        listener,
        source_controller::server::router(ctx.storage.clone()),
    ));
    let controller = tokio::spawn(gitrepository::run(ctx));
    Env {
        sandbox,
        client,
        storage_dir,
        repos: tempfile::tempdir().unwrap(),
        controller,
    }
}

impl Env {
    fn repos(&self) -> Api<GitRepository> {
        Api::namespaced(self.client.clone(), "default")
    }

    async fn create(&self, name: &str, spec: Value) -> GitRepository {
        let body = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": name}, "spec": spec});
        self.repos()
            .create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap()
    }

    async fn secret(&self, name: &str, data: &[(&str, &str)]) {
        let string_data: BTreeMap<&str, &str> = data.iter().copied().collect();
        let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": string_data});
        let api: Api<Secret> = Api::namespaced(self.client.clone(), "default");
        let _ = api.delete(name, &DeleteParams::default()).await;
        api.create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.repos()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }

    /// Asks for a reconcile now, as `flux reconcile source git` does.
    async fn request_reconcile(&self, name: &str) {
        flux::request_reconcile(&self.repos(), name).await;
    }

    /// Waits until `check` holds for the object (or fails after 30 s with its last state).
    async fn wait(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&GitRepository) -> bool,
    ) -> GitRepository {
        flux::wait_for(&self.repos(), name, what, Duration::from_secs(30), check).await
    }

    async fn ready(&self, name: &str) -> GitRepository {
        self.wait(name, "Ready=True", |r| {
            ready(r) == Some(("True".into(), "Succeeded".into()))
        })
        .await
    }

    async fn failed_with(&self, name: &str, reason: &str) -> GitRepository {
        self.wait(name, reason, |r| flux::failed_with(r, reason))
            .await
    }
}

fn ready(repo: &GitRepository) -> Option<(String, String)> {
    flux::ready(repo).map(|(status, reason, _)| (status, reason))
}

use flux::condition;

fn revision(repo: &GitRepository) -> String {
    repo.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
        .unwrap_or_default()
}

/// Downloads the artifact over HTTP, checks its digest and size, and returns its files.
async fn artifact_files(repo: &GitRepository) -> BTreeMap<String, String> {
    let artifact = repo
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .expect("an artifact");
    let bytes = reqwest::get(&artifact.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        Some(Digest::of(&bytes).to_string()),
        artifact.digest,
        "served bytes match the advertised digest"
    );
    assert_eq!(Some(bytes.len() as i64), artifact.size);
    let dir = tempfile::tempdir().unwrap();
    unpack_tar_gz(&bytes[..], &dir.path().join("x"), &UnpackLimits::default()).unwrap();
    let mut files = BTreeMap::new();
    for entry in walk(&dir.path().join("x")) {
        let rel = entry
            .strip_prefix(dir.path().join("x"))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        files.insert(rel, std::fs::read_to_string(&entry).unwrap_or_default());
    }
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

const APP: &[(&str, &str)] = &[
    ("deploy/app.yaml", "kind: ConfigMap\n"),
    ("README.md", "# app\n"),
];

mod auth;
mod content;
mod failures;
mod refs;
mod serving;
