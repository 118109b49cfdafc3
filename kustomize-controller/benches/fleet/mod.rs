//! What the fleet benchmarks share: artifacts of 100 folders x 10 small ConfigMaps served over
//! HTTP as the source-controller serves them, their GitRepositories, the kustomize-controller
//! binary as its own process, one Kustomization per folder, and process measurements.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use e2e::cluster::Cluster;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::{ObjectKey, Retention, Storage};

pub const FOLDERS: usize = 100;
pub const OBJECTS: usize = 10;

/// User and system CPU ticks of a process.
pub fn cpu_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (fields[11], fields[12])
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Writes `repos` repositories' trees and stores each as an artifact under `data`.
pub fn artifacts(
    data: &Path,
    base_url: &str,
    repos: usize,
) -> Vec<rill_common::api::meta::Artifact> {
    let storage = Storage::new(data, base_url, Retention::default());
    let work = tempfile::tempdir().unwrap();
    (0..repos)
        .map(|r| {
            let tree = work.path().join(format!("repo-{r}"));
            for f in 0..FOLDERS {
                let dir = tree.join(format!("app-{f:02}"));
                std::fs::create_dir_all(&dir).unwrap();
                let mut kustomization = String::from("resources:\n");
                for o in 0..OBJECTS {
                    let name = format!("cm-r{r}-a{f:02}-{o}");
                    std::fs::write(
                        dir.join(format!("{name}.yaml")),
                        format!(
                            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    app: app-{f:02}\ndata:\n  index: \"{o}\"\n  payload: {}\n",
                            "x".repeat(64)
                        ),
                    )
                    .unwrap();
                    kustomization.push_str(&format!("- {name}.yaml\n"));
                }
                std::fs::write(dir.join("kustomization.yaml"), kustomization).unwrap();
            }
            let key = ObjectKey::new("GitRepository", "default", &format!("repo-{r}"));
            let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
            storage
                .store_directory(
                    &key,
                    "main.tar.gz",
                    &tree,
                    &|_: &Path, _| false,
                    &format!("main@sha1:{r:040}"),
                    now,
                )
                .unwrap()
        })
        .collect()
}

/// Serves the storage folder over HTTP, as the source-controller does.
pub async fn serve(root: PathBuf) -> String {
    let app = Router::new().route(
        "/{*path}",
        axum::routing::get(
            move |axum::extract::Path(path): axum::extract::Path<String>| {
                let root = root.clone();
                async move {
                    match tokio::fs::read(root.join(path)).await {
                        Ok(bytes) => Ok(bytes),
                        Err(_) => Err(axum::http::StatusCode::NOT_FOUND),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

pub fn ready(ks: &Kustomization) -> bool {
    ks.status
        .as_ref()
        .and_then(|s| s.reconcile.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The controller binary with `flags` over the defaults; `RILL_BENCH_LOG=<file>` keeps its
/// debug log there and `RILL_BENCH_FLAGS` replaces or adds flags (`--concurrent=40`).
pub fn controller(kubeconfig: &Path, flags: &[&str]) -> Child {
    let log = std::env::var("RILL_BENCH_LOG").ok();
    let extra: Vec<String> = std::env::var("RILL_BENCH_FLAGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut defaults = vec![
        "--metrics-addr=127.0.0.1:0",
        "--health-addr=127.0.0.1:0",
        // A Kustomization of 10 new objects costs about 36 requests (GET, dry-run and apply
        // each, finalizer, status, events): Flux's default client limit (50/s) would make
        // 1,000 take 12 minutes whatever the controller does, so the limit is lifted to
        // measure the controller and the API server.
        "--kube-api-qps=5000",
        "--kube-api-burst=10000",
        "--concurrent=20",
        if log.is_some() {
            "--log-level=debug"
        } else {
            "--log-level=error"
        },
    ];
    let name = |flag: &str| flag.split('=').next().unwrap_or_default().to_string();
    defaults.retain(|d| !flags.iter().any(|f| name(f) == name(d)));
    defaults.extend(flags.iter().copied());
    let flags: Vec<String> = defaults
        .iter()
        .filter(|d| !extra.iter().any(|e| name(e) == name(d)))
        .map(|d| d.to_string())
        .chain(extra.iter().cloned())
        .collect();
    Command::new(env!("CARGO_BIN_EXE_kustomize-controller"))
        .args(&flags)
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::null())
        .stderr(match &log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        })
        .spawn()
        .unwrap()
}

/// A sandbox with `repos` GitRepositories whose artifacts are stored and served.
pub struct Fleet {
    pub cluster: Cluster,
    pub client: kube::Client,
    pub repos: usize,
}

/// Stores and serves the artifacts of `repos` repositories and creates their GitRepositories,
/// Ready with the artifact.
pub async fn fleet(repos: usize) -> Fleet {
    let cluster = Cluster::start().await.unwrap();
    let client = cluster.sandbox.client().await.unwrap();
    let data = cluster.dir.path().join("data");
    let base = serve(data.clone()).await;
    let stored = artifacts(&data, &base, repos);
    for (r, artifact) in stored.iter().enumerate() {
        git_repository(&client, &format!("repo-{r}"), artifact).await;
    }

    Fleet {
        cluster,
        client,
        repos,
    }
}

/// A GitRepository `name` in `default`, Ready with `artifact` (as a source-controller would
/// leave it).
pub async fn git_repository(
    client: &kube::Client,
    name: &str,
    artifact: &rill_common::api::meta::Artifact,
) {
    let sources: Api<GitRepository> = Api::namespaced(client.clone(), "default");
    let body = serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": name}, "spec": {"url": "https://example.invalid/repo.git", "interval": "1h"}});
    sources
        .create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    let status = serde_json::json!({"status": {"artifact": artifact, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    sources
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// Creates `count` Kustomizations, one per folder, and returns when they are all Ready.
pub async fn kustomizations(client: &kube::Client, count: usize, limit: Duration) {
    let start = std::time::Instant::now();
    create_kustomizations(client, count).await;
    all_ready(client, count, start, limit).await;
}

/// Creates `count` Kustomizations, one per folder (`ks-00000`...).
pub async fn create_kustomizations(client: &kube::Client, count: usize) {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    for i in 0..count {
        let body = serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": format!("ks-{i:05}")},
            "spec": {"interval": "1h", "prune": true, "targetNamespace": "default", "path": format!("./app-{:02}", i % FOLDERS),
                "sourceRef": {"kind": "GitRepository", "name": format!("repo-{}", i / FOLDERS)}}});
        api.create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    }
}

/// Waits until `count` Kustomizations are Ready.
pub async fn all_ready(
    client: &kube::Client,
    count: usize,
    start: std::time::Instant,
    limit: Duration,
) {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let done = list.items.iter().filter(|k| ready(k)).count();
        if done == count {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "only {done} of {count} Ready after {limit:?}"
        );
        // Listing every object costs the sandbox too: not more often than this.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
