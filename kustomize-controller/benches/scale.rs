//! Many Kustomizations at once, as a platform team has them: GitRepository artifacts of 100
//! folders x 10 small objects (served over HTTP like the source-controller serves them), one
//! Kustomization per folder, all created at once against the embedded sandbox, with the
//! kustomize-controller binary run as its own process (`--concurrent=20`, client limit
//! `--kube-api-qps=5000 --kube-api-burst=10000`). Prints for 1,000
//! and 5,000 Kustomizations: the time from creation to all Ready, the controller's idle RSS
//! before any object, its peak RSS, its RSS once the burst is over, the share of its CPU time
//! spent in the kernel, and the sandbox's own RSS (this process).
//!
//! Run with `cargo bench -p kustomize-controller --bench scale` (`RILL_BENCH_COUNTS=1000` to
//! run one size). Goals on 2 cores: 1,000 in <= 15 s, 5,000 in <= 75 s, peak RSS <= 64 MiB at
//! 1,000, idle RSS <= 12 MiB.

// Benchmark code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use e2e::cluster::Cluster;
use e2e::flux::rss_kib;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::{ObjectKey, Retention, Storage};

const FOLDERS: usize = 100;
const OBJECTS: usize = 10;

/// User and system CPU ticks of a process.
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (fields[11], fields[12])
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Writes `repos` repositories' trees and stores each as an artifact under `data`.
fn artifacts(data: &Path, base_url: &str, repos: usize) -> Vec<rill_common::api::meta::Artifact> {
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
async fn serve(root: PathBuf) -> String {
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

fn ready(ks: &Kustomization) -> bool {
    ks.status
        .as_ref()
        .and_then(|s| s.reconcile.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The controller binary; `RILL_BENCH_LOG=<file>` keeps its debug log there and
/// `RILL_BENCH_FLAGS` replaces or adds flags (`--concurrent=40`).
fn controller(kubeconfig: &Path) -> Child {
    let log = std::env::var("RILL_BENCH_LOG").ok();
    let extra: Vec<String> = std::env::var("RILL_BENCH_FLAGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let defaults = [
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

/// `count` Kustomizations (over `count / 100` repositories) from creation to all Ready.
async fn run(count: usize) {
    let cluster = Cluster::start().await.unwrap();
    let kubeconfig = cluster.kubeconfig.clone();
    let client = cluster.sandbox.client().await.unwrap();
    let data = cluster.dir.path().join("data");
    let base = serve(data.clone()).await;
    let repos = count / FOLDERS;
    let stored = artifacts(&data, &base, repos);
    let sources: Api<GitRepository> = Api::namespaced(client.clone(), "default");
    for (r, artifact) in stored.iter().enumerate() {
        let name = format!("repo-{r}");
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
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }

    let mut child = controller(&kubeconfig);
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(pid, "VmRSS:");
    let api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    let ticks_before = cpu_ticks(pid);
    let own_before = cpu_ticks(std::process::id());
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
    let created = start.elapsed();
    let limit = Duration::from_secs(60 + count as u64 / 10);
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let done = list.items.iter().filter(|k| ready(k)).count();
        if done == count {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "only {done} of {count} Ready after {limit:?}"
        );
        // Listing every object costs the sandbox too: not more often than this.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let wall = start.elapsed();
    let (user, system) = cpu_ticks(pid);
    let (user, system) = (user - ticks_before.0, system - ticks_before.1);
    let own = cpu_ticks(std::process::id());
    let sandbox_cpu = (own.0 + own.1) - (own_before.0 + own_before.1);
    let peak = rss_kib(pid, "VmHWM:");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = rss_kib(pid, "VmRSS:");
    let sandbox_rss = rss_kib(std::process::id(), "VmRSS:");
    let sandbox_peak = rss_kib(std::process::id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    let goal = if count <= 1_000 {
        format!("goal <= {} s", count * 15 / 1_000)
    } else {
        format!(
            "goal <= {} s (linear from 1,000 in 15 s)",
            count * 15 / 1_000
        )
    };
    println!(
        "{count} Kustomizations ({repos} artifacts x {FOLDERS} folders x {OBJECTS} objects) to Ready: {:.1} s ({goal}; created in {:.1} s)",
        wall.as_secs_f64(),
        created.as_secs_f64()
    );
    println!(
        "  controller RSS: idle {:.1} MiB (goal <= 12), peak {:.1} MiB (goal <= 64 at 1,000), 5 s after the burst {:.1} MiB",
        mib(idle),
        mib(peak),
        mib(after)
    );
    println!(
        "  controller CPU: {:.1} s user, {:.1} s kernel ({:.0} % in the kernel); sandbox and client process: CPU {:.1} s, RSS {:.0} MiB (peak {:.0} MiB)",
        user as f64 / 100.0,
        system as f64 / 100.0,
        100.0 * system as f64 / (user + system).max(1) as f64,
        sandbox_cpu as f64 / 100.0,
        mib(sandbox_rss),
        mib(sandbox_peak)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    rill_common::runtime::install_crypto_provider();
    let counts: Vec<usize> = std::env::var("RILL_BENCH_COUNTS")
        .unwrap_or_else(|_| "1000,5000".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    for count in counts {
        run(count).await;
    }
}
