//! Fault drills with the real kustomize-controller binary against the sandbox: the process is
//! killed (`SIGKILL`) in the middle of applying 200 objects and started again; two replicas
//! run with leader election and the leader is killed; the API server (the `rill-sandbox`
//! binary with `--data-dir`) is killed and restarted while 20 Kustomizations reconcile. Each
//! drill asserts that the cluster converges afterwards and that nothing was lost or wrongly
//! pruned.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/fleet/mod.rs"]
mod fleet;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::artifact::{ObjectKey, Retention, Storage};

const OBJECTS: usize = 200;

/// A GitRepository `big` whose artifact holds one folder of `OBJECTS` ConfigMaps.
async fn big_source(client: &kube::Client, data: &Path) {
    let base = fleet::serve(data.to_path_buf()).await;
    let tree = tempfile::tempdir().unwrap();
    let mut kustomization = String::from("resources:\n");
    for i in 0..OBJECTS {
        let name = format!("drill-{i:03}");
        std::fs::write(
            tree.path().join(format!("{name}.yaml")),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  index: \"{i}\"\n"),
        )
        .unwrap();
        kustomization.push_str(&format!("- {name}.yaml\n"));
    }
    std::fs::write(tree.path().join("kustomization.yaml"), kustomization).unwrap();
    let storage = Storage::new(data, &base, Retention::default());
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
    let artifact = storage
        .store_directory(
            &ObjectKey::new("GitRepository", "default", "big"),
            "main.tar.gz",
            tree.path(),
            &|_: &Path, _| false,
            &format!("main@sha1:{:040}", 7),
            now,
        )
        .unwrap();
    fleet::git_repository(client, "big", &artifact).await;
}

async fn kustomization(client: &kube::Client, name: &str, source: &str, path: &str) {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    let body = serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name},
        "spec": {"interval": "1h", "retryInterval": "5s", "prune": true, "targetNamespace": "default", "path": path,
            "sourceRef": {"kind": "GitRepository", "name": source}}});
    api.create(
        &PostParams::default(),
        &serde_json::from_value(body).unwrap(),
    )
    .await
    .unwrap();
}

async fn drill_objects(client: &kube::Client) -> usize {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|c| {
            c.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("drill-"))
        })
        .count()
}

async fn ready_with_inventory(client: &kube::Client, name: &str, entries: usize, limit: Duration) {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + limit;
    loop {
        let ks = api.get(name).await.unwrap();
        let inventory = ks
            .status
            .as_ref()
            .and_then(|s| s.inventory.as_ref())
            .map(|i| i.entries.len())
            .unwrap_or(0);
        if fleet::ready(&ks) && inventory == entries {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: not Ready with {entries} inventory entries (has {inventory}): {:?}",
            ks.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn kill(child: &mut Child) {
    // SIGKILL: no shutdown path runs.
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_in_the_middle_of_an_apply_converges_after_restart() {
    rill_common::runtime::install_crypto_provider();
    let cluster = e2e::cluster::Cluster::start().await.unwrap();
    let client = cluster.sandbox.client().await.unwrap();
    big_source(&client, &cluster.dir.path().join("data")).await;
    kustomization(&client, "big", "big", "./").await;

    // A slow client, so the apply of 200 objects takes seconds.
    let mut child = fleet::controller(
        &cluster.kubeconfig,
        &[
            "--kube-api-qps=40",
            "--kube-api-burst=40",
            "--concurrent-ssa=1",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let applied = drill_objects(&client).await;
        if applied >= 20 {
            assert!(applied < OBJECTS, "the apply finished before the kill");
            break;
        }
        assert!(Instant::now() < deadline, "the apply never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(&mut child);
    let partial = drill_objects(&client).await;
    assert!(partial < OBJECTS, "{partial} objects after the kill");

    let mut child = fleet::controller(&cluster.kubeconfig, &[]);
    ready_with_inventory(&client, "big", OBJECTS, Duration::from_secs(60)).await;
    assert_eq!(
        drill_objects(&client).await,
        OBJECTS,
        "every object is there"
    );
    // Nothing applied before the kill was pruned or lost; the values are Git's.
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in [0, partial.saturating_sub(1), OBJECTS - 1] {
        let cm = api.get(&format!("drill-{i:03}")).await.unwrap();
        let index = cm.data.and_then(|d| d.get("index").cloned());
        assert_eq!(index.as_deref(), Some(i.to_string().as_str()));
    }
    kill(&mut child);
}

fn replica(kubeconfig: &Path, name: &str) -> Child {
    let flags = [
        "--enable-leader-election",
        "--leader-election-lease-duration=4s",
        "--leader-election-renew-deadline=3s",
        "--leader-election-retry-period=1s",
    ];
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kustomize-controller"));
    command
        .args(["--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0"])
        .args(flags)
        .env("KUBECONFIG", kubeconfig)
        .env("RUNTIME_NAMESPACE", "default")
        .env("POD_NAME", name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command.spawn().unwrap()
}

async fn holder(client: &kube::Client) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), "default");
    api.get_opt("kustomize-controller-leader-election")
        .await
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_replica_takes_over_when_the_leader_is_killed() {
    rill_common::runtime::install_crypto_provider();
    let cluster = e2e::cluster::Cluster::start().await.unwrap();
    let client = cluster.sandbox.client().await.unwrap();
    big_source(&client, &cluster.dir.path().join("data")).await;
    let mut a = replica(&cluster.kubeconfig, "replica-a");
    let mut b = replica(&cluster.kubeconfig, "replica-b");
    kustomization(&client, "first", "big", "./").await;
    ready_with_inventory(&client, "first", OBJECTS, Duration::from_secs(60)).await;

    let leader = holder(&client).await.expect("a replica leads");
    let (leader_child, survivor) = if leader.starts_with("replica-a") {
        (&mut a, "replica-b")
    } else {
        (&mut b, "replica-a")
    };
    kill(leader_child);
    let killed_at = Instant::now();
    // The survivor takes the lease once it expires (4 s), and reconciles.
    let deadline = killed_at + Duration::from_secs(20);
    loop {
        if holder(&client)
            .await
            .is_some_and(|h| h.starts_with(survivor))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{survivor} never took the lease");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took_over = killed_at.elapsed();
    assert!(
        took_over < Duration::from_secs(12),
        "took over after {took_over:?} (lease 4 s)"
    );
    // The survivor reconciles: a requested reconcile is handled, and a drifted object is
    // restored; nothing was lost.
    let api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    e2e::flux::request_reconcile(&api, "first").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if e2e::flux::request_handled(&api.get("first").await.unwrap()) {
            break;
        }
        assert!(Instant::now() < deadline, "the survivor did not reconcile");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ready_with_inventory(&client, "first", OBJECTS, Duration::from_secs(30)).await;
    assert_eq!(drill_objects(&client).await, OBJECTS);
    kill(&mut a);
    kill(&mut b);
}

/// The `rill-sandbox` binary beside this package's binaries (built by a workspace test run).
fn sandbox_binary() -> Option<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_BIN_EXE_kustomize-controller")).with_file_name("rill-sandbox");
    path.is_file().then_some(path)
}

/// `rill-sandbox serve` on `port`, keeping its objects in `data`; returns once it is ready.
fn serve_sandbox(binary: &Path, port: u16, data: &Path, kubeconfig: &Path) -> Child {
    use std::io::BufRead;
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let mut child = std::process::Command::new(binary)
        .args(["serve", "--no-simulator", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--crds")
        .arg(crds)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("ready "),
        "the sandbox did not start: {line:?}"
    );
    child
}

/// The API server goes away in the middle of 20 Kustomizations applying 200 objects each and
/// comes back with its data. Watches that get "410 Gone" relist at once (they used to sit in
/// the failure backoff for up to 90 s); a Kustomization whose apply failed during the outage is
/// retried at its `retryInterval`, as in Flux. Everything converges, every object exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_restart_while_reconciling_converges() {
    let Some(binary) = sandbox_binary() else {
        eprintln!("skipping: rill-sandbox is not built (run the workspace's tests)");
        return;
    };
    rill_common::runtime::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (data, kubeconfig) = (dir.path().join("etcd"), dir.path().join("kubeconfig"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sandbox = serve_sandbox(&binary, port, &data, &kubeconfig);
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    big_source(&client, &dir.path().join("artifacts")).await;
    for i in 0..20 {
        kustomization(&client, &format!("ks-{i:02}"), "big", "./").await;
    }
    let mut controller = fleet::controller(
        &kubeconfig,
        &[
            "--kube-api-qps=200",
            "--kube-api-burst=200",
            "--concurrent=4",
        ],
    );
    // Part of the way through, the API server goes away and comes back with its data.
    let deadline = Instant::now() + Duration::from_secs(180);
    while drill_objects(&client).await < 20 {
        assert!(Instant::now() < deadline, "nothing was applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(&mut sandbox);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut sandbox = serve_sandbox(&binary, port, &data, &kubeconfig);
    for i in 0..20 {
        ready_with_inventory(
            &client,
            &format!("ks-{i:02}"),
            OBJECTS,
            Duration::from_secs(180),
        )
        .await;
    }
    assert_eq!(
        drill_objects(&client).await,
        OBJECTS,
        "every object is there once"
    );
    kill(&mut controller);
    kill(&mut sandbox);
}
