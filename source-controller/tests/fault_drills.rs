//! Fault drills with the real source-controller binary: the Git server goes down and comes
//! back, the storage folder is wiped under the controller, and the storage runs out of space
//! (a 256 KiB tmpfs where the machine allows mounting one), and the OCI registry goes down and
//! comes back. Each drill asserts a clear
//! condition while the fault lasts, that the last artifact is still served, and recovery.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use kube::api::{Api, PostParams};
use rill_common::api::meta::Artifact;
use rill_common::api::source_v1::{GitRepository, OCIRepository};
use rill_common::artifact::Digest;
use sandbox::{Sandbox, SandboxOptions};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Drill {
    _sandbox: Sandbox,
    client: kube::Client,
    api: Api<GitRepository>,
    child: Child,
    storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Drill {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sandbox and the controller binary storing artifacts under `storage`.
async fn drill(storage: Option<PathBuf>) -> Drill {
    rill_common::runtime::install_crypto_provider();
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
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
    let storage = storage.unwrap_or_else(|| dir.path().join("data"));
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_source-controller"))
        .arg(format!("--storage-path={}", storage.display()))
        .arg(format!("--storage-addr=127.0.0.1:{port}"))
        .arg(format!("--storage-adv-addr=127.0.0.1:{port}"))
        .arg("--metrics-addr=127.0.0.1:0")
        .arg("--health-addr=127.0.0.1:0")
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = sandbox.client().await.unwrap();
    Drill {
        _sandbox: sandbox,
        api: Api::namespaced(client.clone(), "default"),
        client,
        child,
        storage,
        _dir: dir,
    }
}

impl Drill {
    async fn source(&self, url: &str) {
        let body = serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app"}, "spec": {"url": url, "interval": "1h", "timeout": "5s"}});
        self.api
            .create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap();
    }

    async fn request(&self) {
        e2e::flux::request_reconcile(&self.api, "app").await;
    }

    /// Waits until `check` holds for the GitRepository.
    async fn until(&self, what: &str, check: impl Fn(&GitRepository) -> bool) -> GitRepository {
        e2e::flux::wait_for(&self.api, "app", what, Duration::from_secs(60), check).await
    }

    async fn ready_at(&self, revision_suffix: &str) -> Artifact {
        let repo = self
            .until(&format!("Ready at {revision_suffix}"), |r| {
                e2e::flux::ready(r).is_some_and(|c| c.0 == "True")
                    && r.status
                        .as_ref()
                        .and_then(|s| s.artifact.as_ref())
                        .is_some_and(|a| a.revision.ends_with(revision_suffix))
            })
            .await;
        repo.status.unwrap().artifact.unwrap()
    }
}

/// A repository with one commit on a Git server, the controller, and its first artifact.
async fn synced(
    storage: Option<PathBuf>,
) -> (tempfile::TempDir, TestRepo, GitHttpServer, Drill, Artifact) {
    let repos = tempfile::tempdir().unwrap();
    let repo = TestRepo::create(
        repos.path(),
        "app",
        &[("deploy/a.yaml", "kind: ConfigMap\n")],
    );
    let git = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let drill = drill(storage).await;
    drill.source(&format!("{}/app.git", git.url)).await;
    let head = repo.run(&["rev-parse", "HEAD"]);
    let artifact = drill.ready_at(&head).await;
    (repos, repo, git, drill, artifact)
}

/// The artifact is served with its digest.
async fn served(artifact: &Artifact) -> bool {
    match reqwest::get(&artifact.url).await {
        Ok(response) if response.status().is_success() => {
            let bytes = response.bytes().await.unwrap_or_default();
            Some(Digest::of(&bytes).to_string()) == artifact.digest
        }
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_server_down_then_back() {
    let (repos, repo, git, drill, first) = synced(None).await;
    let port: u16 = git.url.rsplit(':').next().unwrap().parse().unwrap();

    git.stop().await;
    drill.request().await;
    let down = drill
        .until("Ready=False while the server is down", |r| {
            e2e::flux::failed_with(r, "GitOperationFailed")
        })
        .await;
    let status = down.status.unwrap();
    assert_eq!(
        status.artifact.as_ref().map(|a| &a.revision),
        Some(&first.revision),
        "the last artifact stays in the status"
    );
    assert!(served(&first).await, "the last artifact is still served");

    let _git = GitHttpServer::start_at(repos.path(), HttpAuth::None, port)
        .await
        .unwrap();
    let next = repo.commit("master", &[("deploy/b.yaml", "kind: Secret\n")], "more");
    drill.request().await;
    let recovered = drill.ready_at(&next).await;
    assert!(served(&recovered).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_wiped_under_the_controller_is_rebuilt() {
    let (_repos, _repo, _git, drill, artifact) = synced(None).await;
    assert!(served(&artifact).await);

    std::fs::remove_dir_all(&drill.storage).unwrap();
    assert!(!served(&artifact).await, "the wiped artifact is gone");
    drill.request().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !served(&artifact).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the artifact was not stored again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let repo_now = drill.api.get("app").await.unwrap();
    assert!(e2e::flux::ready(&repo_now).is_some_and(|c| c.0 == "True"));
}

/// Mounts a 256 KiB tmpfs at `dir`; `false` where the machine does not allow it.
fn small_filesystem(dir: &Path) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_storage_keeps_the_last_artifact() {
    let mount = tempfile::tempdir().unwrap();
    let storage = mount.path().join("storage");
    if !small_filesystem(&storage) {
        eprintln!("skipping: this machine does not allow mounting a tmpfs (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(storage.clone());
    let (_repos, repo, _git, drill, first) = synced(Some(storage)).await;

    // 1 MiB that does not compress: the next artifact cannot fit in 256 KiB.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: String = (0..1_048_576)
        .map(|_| {
            // xorshift64: letters with 4.7 bits of entropy each, about 600 KiB gzipped.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    repo.commit("master", &[("deploy/blob.txt", noise.as_str())], "big");
    drill.request().await;
    let full = drill
        .until("Ready=False on a full storage", |r| {
            e2e::flux::ready(r).is_some_and(|c| c.0 == "False")
        })
        .await;
    let ready = e2e::flux::ready(&full).unwrap();
    // Flux's reason for a failed archive, and the cause in the message.
    assert_eq!(ready.1, "ArchiveOperationFailed", "{}", ready.2);
    assert!(ready.2.contains("No space left on device"), "{}", ready.2);
    assert!(
        !ready.2.contains(&mount.path().display().to_string()),
        "no server path in the condition: {}",
        ready.2
    );
    assert_eq!(
        full.status.and_then(|s| s.artifact).map(|a| a.revision),
        Some(first.revision.clone()),
        "the last artifact stays"
    );
    assert!(served(&first).await, "the last artifact is still served");
    // The controller is alive and recovers once the content fits again.
    let fixed = repo.commit("master", &[("deploy/blob.txt", "small\n")], "small again");
    drill.request().await;
    drill.ready_at(&fixed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_down_then_back() {
    if !e2e::registry::TestRegistry::available() {
        eprintln!("skipped: docker-registry or skopeo is not installed");
        return;
    }
    let mut registry = e2e::registry::TestRegistry::start(None);
    registry.push("apps/app", "1.0.0", &[("a.yaml", "kind: ConfigMap\n")], &[]);
    let drill = drill(None).await;
    let api: Api<OCIRepository> = Api::namespaced(drill.client.clone(), "default");
    let body = serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": "app"}, "spec": {"url": format!("oci://{}/apps/app", registry.host),
        "interval": "1h", "timeout": "5s", "insecure": true, "ref": {"semver": ">=1.0.0"}}});
    api.create(
        &PostParams::default(),
        &serde_json::from_value(body).unwrap(),
    )
    .await
    .unwrap();
    let wait = Duration::from_secs(60);
    let ready_at = |tag: &'static str| {
        move |r: &OCIRepository| {
            e2e::flux::ready(r).is_some_and(|c| c.0 == "True")
                && r.status
                    .as_ref()
                    .and_then(|s| s.artifact.as_ref())
                    .is_some_and(|a| a.revision.starts_with(&format!("{tag}@")))
        }
    };
    let first = e2e::flux::wait_for(&api, "app", "Ready at 1.0.0", wait, ready_at("1.0.0")).await;
    let first = first.status.unwrap().artifact.unwrap();

    registry.stop();
    e2e::flux::request_reconcile(&api, "app").await;
    let down = e2e::flux::wait_for(
        &api,
        "app",
        "Ready=False while the registry is down",
        wait,
        |r| e2e::flux::failed_with(r, "OCIArtifactPullFailed"),
    )
    .await;
    assert_eq!(
        down.status.unwrap().artifact.map(|a| a.revision),
        Some(first.revision.clone()),
        "the last artifact stays in the status"
    );
    assert!(served(&first).await, "the last artifact is still served");

    registry.resume();
    registry.push("apps/app", "1.1.0", &[("a.yaml", "kind: Secret\n")], &[]);
    e2e::flux::request_reconcile(&api, "app").await;
    let back = e2e::flux::wait_for(&api, "app", "Ready at 1.1.0", wait, ready_at("1.1.0")).await;
    assert!(served(&back.status.unwrap().artifact.unwrap()).await);
}
