//! The `source-controller` binary, pointed at a sandbox by KUBECONFIG, reconciles a
//! GitRepository from a real Git server and serves the artifact on `--storage-addr`.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use kube::api::{Api, PostParams};
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::Digest;
use sandbox::{Sandbox, SandboxOptions};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reconciles_and_serves_artifacts() {
    rill_common::runtime::install_crypto_provider();
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let sandbox = Sandbox::start(SandboxOptions {
        crd_dirs: vec![crds],
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    sandbox
        .write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    let repos = tempfile::tempdir().unwrap();
    TestRepo::create(
        repos.path(),
        "app",
        &[("deploy/app.yaml", "kind: ConfigMap\n")],
    );
    let git = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();

    let (storage_port, metrics_port, health_port) = (free_port(), free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_source-controller"))
        .arg(format!(
            "--storage-path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--storage-addr=127.0.0.1:{storage_port}"))
        .arg(format!("--storage-adv-addr=127.0.0.1:{storage_port}"))
        .arg(format!("--metrics-addr=127.0.0.1:{metrics_port}"))
        .arg(format!("--health-addr=127.0.0.1:{health_port}"))
        .arg("--log-encoding=console")
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let client = sandbox.client().await.unwrap();
    let repos_api: Api<GitRepository> = Api::namespaced(client, "default");
    let body = serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "app"},
        "spec": {"url": format!("{}/app.git", git.url), "interval": "1h"}});
    repos_api
        .create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let artifact = loop {
        let repo = repos_api.get("app").await.unwrap();
        if let Some(artifact) = repo.status.and_then(|s| s.artifact) {
            break artifact;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no artifact in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        artifact.url.starts_with(&format!(
            "http://127.0.0.1:{storage_port}/gitrepository/default/app/"
        )),
        "{}",
        artifact.url
    );
    let bytes = reqwest::get(&artifact.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(Some(Digest::of(&bytes).to_string()), artifact.digest);
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(r#"gotk_reconcile_duration_seconds_count{kind="GitRepository",name="app",namespace="default"}"#), "{metrics}");
    assert_eq!(
        reqwest::get(format!("http://127.0.0.1:{health_port}/readyz"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
