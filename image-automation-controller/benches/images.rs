//! Image automation benchmarks (run with `cargo bench -p image-automation-controller`):
//! one ImageRepository with 10,000 tags scanned and a policy resolved by the controller binary
//! (time, peak and idle RSS), and 20 registry pushes reaching Git through the Receiver and
//! then the Deployment on the sandbox (p50 and p99), all against the real registry and Git.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::flux::rss_kib;
use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::{TestRepo, git};
use e2e::registry::TestRegistry;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use rill::stack::{Stack, StackOptions};
use rill_common::api::image_v1::ImagePolicy;
use rill_common::api::notification_v1::Receiver;
use serde_json::{Value, json};

async fn create(client: &kube::Client, api_version: &str, kind: &str, name: &str, spec: Value) {
    e2e::flux::create(client, api_version, kind, "default", name, spec).await;
}

async fn ten_thousand_tags() {
    let registry = TestRegistry::start(None);
    registry.push("apps/big", "0.0.1", &[("x", "1")], &[]);
    registry.alias_tags("apps/big", "0.0.1", (0..9_999).map(|i| format!("1.0.{i}")));
    let cluster = e2e::cluster::Cluster::start().await.unwrap();
    let (sandbox, dir) = (&cluster.sandbox, &cluster.dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-automation-controller"))
        .arg(format!(
            "--storage-path={}",
            dir.path().join("data").display()
        ))
        .args([
            "--metrics-addr=127.0.0.1:0",
            "--health-addr=127.0.0.1:0",
            "--receiver-addr=127.0.0.1:0",
            "--log-level=error",
        ])
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let idle = rss_kib(child.id(), "VmRSS:");
    let client = sandbox.client().await.unwrap();
    let start = Instant::now();
    create(
        &client,
        "image.toolkit.fluxcd.io/v1",
        "ImageRepository",
        "big",
        json!({"image": format!("{}/apps/big", registry.host), "interval": "1h", "insecure": true}),
    )
    .await;
    create(
        &client,
        "image.toolkit.fluxcd.io/v1",
        "ImagePolicy",
        "big",
        json!({"imageRepositoryRef": {"name": "big"}, "policy": {"semver": {"range": ">=1.0.0"}}}),
    )
    .await;
    let policies: Api<ImagePolicy> = Api::namespaced(client, "default");
    loop {
        let p = policies.get("big").await.unwrap();
        if p.status
            .and_then(|s| s.latest_ref)
            .is_some_and(|r| r.tag == "1.0.9998")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no pick after 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = start.elapsed();
    let peak = rss_kib(child.id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "10,000 tags: scan + policy {wall:?} (goal <= 1 s); controller peak RSS {:.1} MiB (goal <= 40 MiB); idle RSS {:.1} MiB (goal <= 15 MiB)",
        peak as f64 / 1024.0,
        idle as f64 / 1024.0
    );
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: {image} # {{\"$imagepolicy\": \"default:web\"}}\n"
    )
}

async fn pushes_to_git() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let client = stack.client.clone();
    e2e::flux::secret(&client, "default", "hook", &[("token", "bench-token")]).await;
    create(&client, "notification.toolkit.fluxcd.io/v1", "Receiver", "registry", json!({"type": "generic", "secretRef": {"name": "hook"}, "resources": [{"kind": "ImageRepository", "name": "web"}]})).await;
    let receivers: Api<Receiver> = Api::namespaced(client.clone(), "default");
    let path = loop {
        if let Some(p) = receivers
            .get("registry")
            .await
            .unwrap()
            .status
            .and_then(|s| s.webhook_path)
        {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let registry =
        TestRegistry::start_notifying(None, Some(&format!("{}{path}", stack.receiver_url)));
    registry.push("apps/web", "1.0.0", &[("x", "0")], &[]);
    let image = format!("{}/apps/web", registry.host);
    let repos = tempfile::tempdir().unwrap();
    let repo = TestRepo::create(
        repos.path(),
        "app",
        &[("deploy/web.yaml", &deployment(&format!("{image}:1.0.0")))],
    );
    let server = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let images = "image.toolkit.fluxcd.io/v1";
    create(&client, "source.toolkit.fluxcd.io/v1", "GitRepository", "app", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"branch": "master"}})).await;
    create(&client, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "app", json!({"interval": "1h", "prune": true, "path": "./deploy", "sourceRef": {"kind": "GitRepository", "name": "app"}})).await;
    e2e::flux::image_policy(&client, "default", "web", &image, ">=1.0.0").await;
    create(&client, images, "ImageUpdateAutomation", "app", json!({"interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"}, "git": {"commit": {"author": {"name": "bot", "email": "bot@example.invalid"}}}, "update": {"strategy": "Setters", "path": "./"}})).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let image_of = async |d: &Api<Deployment>| {
        d.get_opt("web")
            .await
            .unwrap()
            .and_then(|d| d.spec?.template.spec?.containers.first()?.image.clone())
    };
    while image_of(&deployments).await.as_deref() != Some(&format!("{image}:1.0.0")) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut to_git, mut to_cluster) = (Vec::new(), Vec::new());
    for i in 1..=20 {
        let before = git(&repo.bare, &["rev-parse", "master"]);
        let tag = format!("1.0.{i}");
        registry.push("apps/web", &tag, &[("x", &tag)], &[]);
        let pushed = Instant::now();
        loop {
            if git(&repo.bare, &["rev-parse", "master"]) != before {
                to_git.push(pushed.elapsed());
                break;
            }
            assert!(
                pushed.elapsed() < Duration::from_secs(60),
                "push {tag} never reached Git"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let want = format!("{image}:{tag}");
        while image_of(&deployments).await.as_deref() != Some(want.as_str()) {
            assert!(
                pushed.elapsed() < Duration::from_secs(60),
                "{tag} never rolled out"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        to_cluster.push(pushed.elapsed());
    }
    println!(
        "registry push -> commit in Git through the Receiver, 20 pushes: p50 {:?}, p99 {:?} (goals <= 1 s, <= 3 s)",
        percentile(&mut to_git, 0.5),
        percentile(&mut to_git, 0.99)
    );
    println!(
        "registry push -> Deployment image changed on the sandbox: p50 {:?} (goal <= 3 s)",
        percentile(&mut to_cluster, 0.5)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    rill_common::runtime::install_crypto_provider();
    if !TestRegistry::available() {
        println!("skipped: docker-registry or skopeo is not installed");
        return;
    }
    ten_thousand_tags().await;
    pushes_to_git().await;
}
