//! source-controller benchmarks, printed as numbers and ratios:
//! 1. fetch + package a 10,000-file repository, against `git clone --depth 1` + `tar czf` +
//!    `sha256sum` of the same repository in the same run;
//! 2. 1,000 GitRepositories (over 10 repositories) on the sandbox until all are Ready, with
//!    the wall time and the controller process's peak RSS, and its idle RSS.

// Benchmark code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::cluster::Cluster;
use e2e::flux::rss_kib;
use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use kube::api::{Api, ListParams, PostParams};
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::{Retention, Storage};
use rill_git::{self as git, FetchPlan, auth::Credentials, tree};

fn big_repo(root: &Path) -> TestRepo {
    let repo = TestRepo::create(root, "big", &[("README.md", "# big\n")]);
    let work = root.join("big.work");
    for i in 0..10_000 {
        let dir = work.join(format!("apps/team-{:02}/svc-{:03}", i % 50, i / 50));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("file-{i}.yaml")), format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  index: \"{i}\"\n  payload: {}\n", "x".repeat(200))).unwrap();
    }
    repo.commit("master", &[], "ten thousand files");
    repo
}

async fn fetch_and_package(url: &str) -> (Duration, Duration) {
    let git_url = format!("{url}/big.git");
    let scratch = tempfile::tempdir().unwrap();
    let rill_start = Instant::now();
    let creds = Credentials::default();
    let refs = git::ls_remote(&git_url, &creds, &scratch.path().join("ls")).unwrap();
    let head = refs.iter().find(|r| r.name == "refs/heads/master").unwrap();
    let plan = FetchPlan {
        refspecs: vec!["+refs/heads/master:refs/remotes/origin/master".into()],
        depth: Some(1),
        commit: head.commit.clone(),
        sparse: vec![],
        submodules: false,
    };
    // The controller's path: fetch into a bare repository, archive the tree from the object
    // database (no checkout on disk).
    let bare = scratch.path().join("bare");
    let fetched = git::fetch(&git_url, &creds, &plan, &bare, true).unwrap();
    let (oid, _) = git::fetched_commit(&fetched, &plan).unwrap();
    let items = tree::items(&fetched, oid).unwrap();
    let rules = tree::ignore_rules(&fetched, &items, None).unwrap();
    let storage = Storage::new(
        scratch.path().join("data"),
        "http://localhost",
        Retention::default(),
    );
    let key = rill_common::artifact::ObjectKey::new("GitRepository", "bench", "big");
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
    storage
        .store_entries(
            &key,
            "a.tar.gz",
            &mut |sink| tree::emit(&fetched, &items, &rules, sink),
            "master@sha1:x",
            now,
        )
        .unwrap();
    let rill = rill_start.elapsed();

    let reference_dir = scratch.path().join("reference");
    let script = format!(
        "git clone -q --depth 1 {git_url} {d}/clone && tar czf {d}/clone.tar.gz -C {d}/clone --exclude=.git . && sha256sum {d}/clone.tar.gz >/dev/null",
        d = reference_dir.display()
    );
    std::fs::create_dir_all(&reference_dir).unwrap();
    let reference_start = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(status.success());
    (rill, reference_start.elapsed())
}

fn ready(repo: &GitRepository) -> bool {
    repo.status
        .as_ref()
        .and_then(|s| s.reconcile.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn ten_repositories(root: &Path) {
    for i in 0..10 {
        TestRepo::create(
            root,
            &format!("repo-{i}"),
            &[("deploy/app.yaml", &format!("kind: ConfigMap\nindex: {i}\n"))],
        );
    }
}

/// 1,000 GitRepositories to Ready with the controller binary run with `flags` (`label` names
/// the run in the output).
async fn thousand_sources(url: &str, label: &str, flags: &[&str]) {
    let cluster = Cluster::start().await.unwrap();
    let (sandbox, dir) = (&cluster.sandbox, &cluster.dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_source-controller"))
        .arg(format!(
            "--storage-path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--storage-addr=127.0.0.1:{port}"))
        .args([
            "--metrics-addr=127.0.0.1:0",
            "--health-addr=127.0.0.1:0",
            "--concurrent=10",
            "--log-level=error",
        ])
        .args(flags)
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(child.id(), "VmRSS:");
    let client = sandbox.client().await.unwrap();
    let api: Api<GitRepository> = Api::namespaced(client, "default");
    let start = Instant::now();
    for i in 0..1_000 {
        let body = serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": format!("src-{i:04}")},
            "spec": {"url": format!("{url}/repo-{}.git", i % 10), "interval": "1h"}});
        api.create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    }
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let done = list.items.iter().filter(|r| ready(r)).count();
        if done == 1_000 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "only {done} of 1,000 Ready after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = start.elapsed();
    let peak = rss_kib(child.id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "1,000 GitRepositories (10 repositories) to Ready, {label}: {wall:?}; controller peak RSS {:.1} MiB (goal <= 30 s, <= 48 MiB)",
        peak as f64 / 1024.0
    );
    println!(
        "controller idle RSS before any object: {:.1} MiB (goal <= 15 MiB)",
        idle as f64 / 1024.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    rill_common::runtime::install_crypto_provider();
    let root = tempfile::tempdir().unwrap();
    big_repo(root.path());
    let server = GitHttpServer::start(root.path(), HttpAuth::None)
        .await
        .unwrap();
    let mut samples = Vec::new();
    for _ in 0..3 {
        samples.push(fetch_and_package(&server.url).await);
    }
    samples.sort();
    let (rill, reference) = samples[1];
    println!(
        "fetch + package 10,000 files: rill {rill:?}, git clone --depth 1 + tar czf + sha256sum {reference:?}, ratio {:.2} (goal <= 1.0)",
        rill.as_secs_f64() / reference.as_secs_f64()
    );
    if std::env::var("RILL_BENCH_ONLY_FETCH").is_ok() {
        return;
    }
    ten_repositories(root.path());
    // Flux's default client-side limit (50 requests/s, bursts of 300) bounds this run: each
    // source needs a finalizer patch and a status patch on the controller's client.
    thousand_sources(
        &server.url,
        "--kube-api-qps=50 --kube-api-burst=300 (defaults)",
        &[],
    )
    .await;
    thousand_sources(
        &server.url,
        "--kube-api-qps=500 --kube-api-burst=1000",
        &["--kube-api-qps=500", "--kube-api-burst=1000"],
    )
    .await;
}
