//! Fault drill with both real controller binaries: the source-controller is killed (`SIGKILL`)
//! while the kustomize-controller is in the middle of downloading its artifact. The artifact
//! server is reached through a throttling relay, so the download is certainly half done when the
//! kill lands. While the source is gone the Kustomization says why (`ArtifactFailed`) and keeps
//! what it applied: nothing half-applied, nothing pruned. The source-controller restarted on the
//! same storage serves the stored artifact again and the Kustomization converges on it.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use e2e::flux::{create, ready, request_reconcile, wait_for};
use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use e2e::ports::free_port;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::api::source_v1::GitRepository;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP relay to the artifact server; in slow mode it passes 16 KiB per 50 ms to the client.
/// `cut` ends every open transfer at once: on loopback a killed server's last megabytes are
/// already in the kernel's buffers and would still arrive, where on a real network the
/// connection dies with the server.
struct Relay {
    port: u16,
    slow: Arc<AtomicBool>,
    cut: Arc<AtomicBool>,
    /// Bytes passed to clients while slow.
    slow_bytes: Arc<AtomicU64>,
}

async fn relay(upstream: u16) -> Relay {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let slow = Arc::new(AtomicBool::new(false));
    let slow_bytes = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicBool::new(false));
    let (is_slow, counted, is_cut) = (slow.clone(), slow_bytes.clone(), cut.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (is_slow, counted, is_cut) = (is_slow.clone(), counted.clone(), is_cut.clone());
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut buffer = vec![0u8; 16 * 1024];
                loop {
                    if is_cut.load(Ordering::SeqCst) {
                        break;
                    }
                    let n = match server_read.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                    if is_slow.load(Ordering::SeqCst) {
                        counted.fetch_add(n as u64, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            });
        }
    });
    Relay {
        port,
        slow,
        cut,
        slow_bytes,
    }
}

/// `len` characters that gzip cannot shrink much (a xorshift stream over 64 symbols).
fn incompressible(len: usize) -> String {
    const SYMBOLS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            SYMBOLS[(state % 64) as usize] as char
        })
        .collect()
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn source_controller(kubeconfig: &Path, storage: &Path, port: u16, advertised: u16) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_source-controller"))
            .arg(format!("--storage-path={}", storage.display()))
            .arg(format!("--storage-addr=127.0.0.1:{port}"))
            .arg(format!("--storage-adv-addr=127.0.0.1:{advertised}"))
            .arg("--metrics-addr=127.0.0.1:0")
            .arg("--health-addr=127.0.0.1:0")
            .env("KUBECONFIG", kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The kustomize-controller binary the workspace build put next to this one.
fn kustomize_controller_binary() -> Option<PathBuf> {
    let path =
        Path::new(env!("CARGO_BIN_EXE_source-controller")).with_file_name("kustomize-controller");
    path.exists().then_some(path)
}

async fn survivor(client: &kube::Client) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.get_opt("survivor")
        .await
        .unwrap()
        .and_then(|c| c.data)
        .and_then(|d| d.get("revision").cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_killed_while_the_kustomization_downloads_loses_nothing() {
    let Some(kustomize_binary) = kustomize_controller_binary() else {
        eprintln!(
            "skipping: build the kustomize-controller binary (cargo build --workspace) first"
        );
        return;
    };
    rill_common::runtime::install_crypto_provider();
    let cluster = e2e::cluster::Cluster::start().await.unwrap();
    let client = cluster.sandbox.client().await.unwrap();
    let repos = tempfile::tempdir().unwrap();
    let config_map = |revision: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: survivor\ndata:\n  revision: \"{revision}\"\n"
        )
    };
    let repo = TestRepo::create(
        repos.path(),
        "app",
        &[
            ("deploy/kustomization.yaml", "resources:\n- survivor.yaml\n"),
            ("deploy/survivor.yaml", &config_map("one")),
        ],
    );
    let git = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let storage = cluster.dir.path().join("storage");
    let storage_port = free_port();
    let relay = relay(storage_port).await;
    let source = source_controller(&cluster.kubeconfig, &storage, storage_port, relay.port);
    let _kustomize = Process(
        Command::new(&kustomize_binary)
            .arg("--metrics-addr=127.0.0.1:0")
            .arg("--health-addr=127.0.0.1:0")
            .env("KUBECONFIG", &cluster.kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    create(
        &client,
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        "default",
        "app",
        serde_json::json!({"url": format!("{}/app.git", git.url), "interval": "1h"}),
    )
    .await;
    create(
        &client,
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "default",
        "app",
        serde_json::json!({"interval": "1h", "retryInterval": "2s", "prune": true, "path": "./deploy",
            "targetNamespace": "default", "sourceRef": {"kind": "GitRepository", "name": "app"}}),
    )
    .await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    let sources: Api<GitRepository> = Api::namespaced(client.clone(), "default");
    let at = |revision: String| {
        move |k: &Kustomization| {
            ready(k).is_some_and(|c| c.0 == "True")
                && k.status
                    .as_ref()
                    .and_then(|s| s.last_applied_revision.as_deref())
                    .is_some_and(|r| r.ends_with(&revision))
        }
    };
    let first = repo.run(&["rev-parse", "HEAD"]).trim().to_string();
    wait_for(
        &kustomizations,
        "app",
        "Ready at the first commit",
        Duration::from_secs(60),
        at(first),
    )
    .await;
    assert_eq!(survivor(&client).await.as_deref(), Some("one"));

    // A second commit with a few MB the relay will pass slowly.
    let blob = incompressible(3 * 1024 * 1024);
    let second = repo.commit(
        "master",
        &[
            ("deploy/survivor.yaml", &config_map("two")),
            ("blob.txt", &blob),
        ],
        "second",
    );
    relay.slow.store(true, Ordering::SeqCst);
    request_reconcile(&sources, "app").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while relay.slow_bytes.load(Ordering::SeqCst) < 256 * 1024 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the download never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut source = source;
    relay.cut.store(true, Ordering::SeqCst);
    let _ = source.0.kill();
    let _ = source.0.wait();
    let passed = relay.slow_bytes.load(Ordering::SeqCst);
    assert!(
        passed < 3 * 1024 * 1024,
        "the download finished before the kill ({passed} bytes)"
    );

    // While the source is gone: a clear reason, and the cluster keeps what was applied.
    let failed = wait_for(
        &kustomizations,
        "app",
        "ArtifactFailed",
        Duration::from_secs(60),
        |k| ready(k).is_some_and(|c| c.0 == "False" && c.1 == "ArtifactFailed"),
    )
    .await;
    assert_eq!(
        survivor(&client).await.as_deref(),
        Some("one"),
        "nothing half-applied or pruned: {:?}",
        failed.status
    );

    // The source-controller comes back on the same storage; the Kustomization converges.
    relay.slow.store(false, Ordering::SeqCst);
    relay.cut.store(false, Ordering::SeqCst);
    let _source = source_controller(&cluster.kubeconfig, &storage, storage_port, relay.port);
    wait_for(
        &kustomizations,
        "app",
        "Ready at the second commit",
        Duration::from_secs(60),
        at(second),
    )
    .await;
    assert_eq!(survivor(&client).await.as_deref(), Some("two"));
}
