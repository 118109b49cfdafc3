//! source-controller end to end: GitRepositories on the sandbox, served by real Git servers
//! (git http-backend with basic/bearer auth, OpenSSH), turned into artifacts that are served
//! over HTTP and verified by digest.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use e2e::git_ssh::SshServer;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rill_common::api::source_v1::GitRepository;
use rill_common::artifact::{Digest, Retention, Storage, UnpackLimits, unpack_tar_gz};
use rill_common::runtime::error_policy::{FailureCounter, RetryPolicy};
use rill_common::runtime::events::EventRecorder;
use rill_common::runtime::metrics::Metrics;
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
    let base = format!("http://{}", listener.local_addr().unwrap());
    let storage = Storage::new(
        storage_dir.path(),
        &base,
        Retention {
            ttl: Duration::from_secs(60),
            records: 1,
        },
    );
    tokio::spawn(rill_common::runtime::health::serve(
        listener,
        source_controller::server::router(storage.clone()),
    ));
    let ctx = Arc::new(Context {
        recorder: EventRecorder::new(client.clone(), "source-controller"),
        client: client.clone(),
        storage,
        metrics: Metrics::new(),
        failures: FailureCounter::default(),
        retry: RetryPolicy {
            min: Duration::from_millis(200),
            max: Duration::from_secs(2),
        },
        requeue_dependency: Duration::from_millis(500),
        jitter_percentage: 0,
    });
    let controller = tokio::spawn(gitrepository::run(ctx, None, 4));
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
        let token = format!("{}", jiff::Timestamp::now().as_nanosecond());
        self.patch(
            name,
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
        )
        .await;
    }

    /// Waits until `check` holds for the object (or fails after 30 s with its last state).
    async fn wait(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&GitRepository) -> bool,
    ) -> GitRepository {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let repo = self.repos().get(name).await.unwrap();
            if check(&repo) {
                return repo;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name}: timed out waiting for {what}: {:#?}",
                repo.status
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn ready(&self, name: &str) -> GitRepository {
        self.wait(name, "Ready=True", |r| {
            ready(r) == Some(("True".into(), "Succeeded".into()))
        })
        .await
    }

    async fn failed_with(&self, name: &str, reason: &str) -> GitRepository {
        self.wait(name, reason, |r| {
            ready(r).is_some_and(|(s, rs)| s == "False" && rs == reason)
        })
        .await
    }
}

fn ready(repo: &GitRepository) -> Option<(String, String)> {
    let c = repo
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.status.clone(), c.reason.clone()))
}

fn condition(repo: &GitRepository, type_: &str) -> Option<(String, String, String)> {
    let c = repo
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_resolve_to_fluxs_revision_strings() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let master = repo.commit(
        "master",
        &[("deploy/app.yaml", "kind: ConfigMap\nv: 1\n")],
        "master change",
    );
    let main = repo.commit("main", &[("main.txt", "main\n")], "main branch");
    let v1 = repo.tag("main", "v1.0.0");
    let v12 = repo.commit("main", &[("v12.txt", "x\n")], "for 1.2");
    repo.tag("main", "v1.2.0");
    let rc = repo.commit("main", &[("rc.txt", "x\n")], "rc");
    repo.tag("main", "v2.0.0-rc.1");
    let pr = repo.push_ref("main", "refs/pull/420/head");
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let url = format!("{}/app.git", server.url);

    let cases = [
        ("default-branch", json!({}), format!("master@sha1:{master}")),
        (
            "branch",
            json!({"branch": "main"}),
            format!(
                "main@sha1:{}",
                repo.commit("main", &[], "noop")
                    .get(0..0)
                    .map(|_| rc.clone())
                    .unwrap_or_default()
            ),
        ),
        ("tag", json!({"tag": "v1.0.0"}), format!("v1.0.0@sha1:{v1}")),
        (
            "semver",
            json!({"semver": ">=1.0.0 <2.0.0"}),
            format!("v1.2.0@sha1:{v12}"),
        ),
        (
            "semver-pre",
            json!({"semver": ">=1.0.0-0"}),
            format!("v2.0.0-rc.1@sha1:{rc}"),
        ),
        (
            "pull",
            json!({"name": "refs/pull/420/head"}),
            format!("refs/pull/420/head@sha1:{pr}"),
        ),
        ("commit", json!({"commit": main}), format!("sha1:{main}")),
        (
            "commit-on-branch",
            json!({"branch": "main", "commit": main}),
            format!("main@sha1:{main}"),
        ),
    ];
    let _ = &cases[1];
    for (name, reference, _) in &cases {
        env.create(
            name,
            json!({"url": url, "interval": "1h", "ref": reference}),
        )
        .await;
    }
    let head_of_main =
        e2e::git_repo::git(&env.repos.path().join("app.work"), &["rev-parse", "main"]);
    for (name, _, want) in &cases {
        let got = env.ready(name).await;
        let want = if *name == "branch" {
            format!("main@sha1:{head_of_main}")
        } else {
            want.clone()
        };
        assert_eq!(revision(&got), want, "{name}");
        let artifact = got.status.as_ref().unwrap().artifact.as_ref().unwrap();
        assert_eq!(
            artifact.path,
            format!(
                "gitrepository/default/{name}/{}.tar.gz",
                want.rsplit(':').next().unwrap()
            )
        );
        assert_eq!(got.status.as_ref().unwrap().observed_generation, Some(1));
    }
    let files = artifact_files(&env.ready("tag").await).await;
    assert!(
        files.contains_key("main.txt") && !files.contains_key("v12.txt"),
        "{files:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_commits_replace_the_artifact_and_old_ones_are_collected() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "app",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let first = env.ready("app").await;
    let first_path = env.storage_dir.path().join(
        &first
            .status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .path,
    );
    assert!(first_path.exists());

    let second = repo.commit(
        "master",
        &[("deploy/app.yaml", "kind: ConfigMap\nv: 2\n")],
        "second",
    );
    env.request_reconcile("app").await;
    let updated = env
        .wait("app", "the new revision", |r| {
            revision(r) == format!("master@sha1:{second}")
        })
        .await;
    assert!(
        !first_path.exists(),
        "the superseded artifact is garbage-collected"
    );
    assert_eq!(
        artifact_files(&updated).await["deploy/app.yaml"],
        "kind: ConfigMap\nv: 2\n"
    );
    let status = updated.status.as_ref().unwrap();
    assert_eq!(
        status.last_handled_reconcile_at,
        updated
            .annotations()
            .get("reconcile.fluxcd.io/requestedAt")
            .cloned()
    );

    // A force-push that rewrites history is followed too, and a moved tag as well.
    let rewritten = repo.force_push_new_history("master", &[("only.yaml", "x: 1\n")]);
    env.request_reconcile("app").await;
    env.wait("app", "the rewritten history", |r| {
        revision(r) == format!("master@sha1:{rewritten}")
    })
    .await;
    repo.tag("master", "stable");
    env.create("tagged", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"tag": "stable"}})).await;
    env.ready("tagged").await;
    let moved = repo.commit("master", &[("more.yaml", "y: 2\n")], "after tag");
    repo.tag("master", "stable");
    env.request_reconcile("tagged").await;
    env.wait("tagged", "the moved tag", |r| {
        revision(r) == format!("stable@sha1:{moved}")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_bearer_tokens_work_and_wrong_credentials_keep_the_last_artifact() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let basic = GitHttpServer::start(
        env.repos.path(),
        HttpAuth::Basic {
            user: "git".into(),
            password: "s3cret-pass".into(),
        },
    )
    .await
    .unwrap();
    let bearer = GitHttpServer::start(env.repos.path(), HttpAuth::Bearer("t0ken-value".into()))
        .await
        .unwrap();
    env.secret("basic", &[("username", "git"), ("password", "s3cret-pass")])
        .await;
    env.secret("bearer", &[("bearerToken", "t0ken-value")])
        .await;
    env.create("basic", json!({"url": format!("{}/app.git", basic.url), "interval": "1h", "secretRef": {"name": "basic"}})).await;
    env.create("bearer", json!({"url": format!("{}/app.git", bearer.url), "interval": "1h", "secretRef": {"name": "bearer"}})).await;
    env.create(
        "anonymous",
        json!({"url": format!("{}/app.git", basic.url), "interval": "1h"}),
    )
    .await;
    let good = env.ready("basic").await;
    env.ready("bearer").await;
    let anonymous = env.failed_with("anonymous", "AuthenticationFailed").await;
    let (status, _, _) = condition(&anonymous, "FetchFailed").unwrap();
    assert_eq!(status, "True");

    env.secret(
        "basic",
        &[("username", "git"), ("password", "wrong-password")],
    )
    .await;
    repo.commit("master", &[("new.yaml", "a: 1\n")], "new");
    env.request_reconcile("basic").await;
    let failed = env.failed_with("basic", "AuthenticationFailed").await;
    let message = condition(&failed, "Ready").unwrap().2;
    assert!(
        !message.contains("wrong-password") && !message.contains("s3cret"),
        "no secret in {message}"
    );
    assert_eq!(
        failed.status.as_ref().unwrap().artifact,
        good.status.as_ref().unwrap().artifact,
        "the last good artifact is kept"
    );
    assert_eq!(
        condition(&failed, "Reconciling").map(|c| c.1),
        Some("ProgressingWithRetry".into())
    );
    assert!(
        artifact_files(&failed)
            .await
            .contains_key("deploy/app.yaml"),
        "and still served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_checks_host_keys_against_known_hosts() {
    if !SshServer::available() {
        eprintln!("skipping: /usr/sbin/sshd is not installed (apt-get install openssh-server)");
        return;
    }
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let ssh = SshServer::start();
    env.secret(
        "ssh",
        &[
            ("identity", &ssh.client_key),
            ("known_hosts", &ssh.known_hosts),
        ],
    )
    .await;
    let other_host = "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
    env.secret(
        "ssh-unknown-host",
        &[("identity", &ssh.client_key), ("known_hosts", other_host)],
    )
    .await;
    let url = ssh.url(&repo.bare);
    env.create(
        "ssh",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "ssh"}}),
    )
    .await;
    env.create(
        "unknown-host",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "ssh-unknown-host"}}),
    )
    .await;
    env.create("no-secret", json!({"url": url, "interval": "1h"}))
        .await;
    let ok = env.ready("ssh").await;
    assert!(revision(&ok).starts_with("master@sha1:"));
    assert!(artifact_files(&ok).await.contains_key("deploy/app.yaml"));
    let refused = env
        .failed_with("unknown-host", "AuthenticationFailed")
        .await;
    assert!(
        condition(&refused, "Ready").unwrap().2.contains("host key"),
        "{:?}",
        condition(&refused, "Ready")
    );
    env.failed_with("no-secret", "AuthenticationFailed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sources_get_clear_conditions_without_panics() {
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    env.create("missing-branch", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"branch": "nope"}})).await;
    env.create(
        "unreachable",
        json!({"url": format!("http://{closed}/app.git"), "interval": "1h"}),
    )
    .await;
    env.create(
        "no-repo",
        json!({"url": format!("{}/missing.git", server.url), "interval": "1h"}),
    )
    .await;
    env.create("bad-url", json!({"url": "https://", "interval": "1h"}))
        .await;
    env.create("bad-semver", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"semver": "not a range"}})).await;
    env.create("verify", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "verify": {"mode": "HEAD", "secretRef": {"name": "keys"}}})).await;

    let missing = env
        .failed_with("missing-branch", "GitOperationFailed")
        .await;
    assert!(
        condition(&missing, "Ready")
            .unwrap()
            .2
            .contains("refs/heads/nope")
    );
    env.failed_with("unreachable", "GitOperationFailed").await;
    env.failed_with("no-repo", "GitOperationFailed").await;
    for (name, reason) in [
        ("bad-url", "URLInvalid"),
        ("bad-semver", "GitOperationFailed"),
        ("verify", "Unsupported"),
    ] {
        let stalled = env.failed_with(name, reason).await;
        assert_eq!(
            condition(&stalled, "Stalled").map(|c| (c.0, c.1)),
            Some(("True".into(), reason.into())),
            "{name}"
        );
        assert!(condition(&stalled, "Reconciling").is_none(), "{name}");
        assert_eq!(
            stalled.status.as_ref().unwrap().observed_generation,
            Some(1),
            "{name}"
        );
    }
    let verify = env.repos().get("verify").await.unwrap();
    assert!(
        condition(&verify, "Ready")
            .unwrap()
            .2
            .contains("not supported")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_rules_and_includes_shape_the_artifact() {
    let env = env().await;
    TestRepo::create(
        env.repos.path(),
        "app",
        &[
            ("deploy/app.yaml", "a\n"),
            ("docs/guide.md", "g\n"),
            ("logo.png", "png\n"),
            (".sourceignore", "docs/\n"),
        ],
    );
    TestRepo::create(
        env.repos.path(),
        "shared",
        &[("components/base.yaml", "b\n"), ("other/x.yaml", "x\n")],
    );
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "shared",
        json!({"url": format!("{}/shared.git", server.url), "interval": "1h"}),
    )
    .await;
    env.create("app", json!({
        "url": format!("{}/app.git", server.url), "interval": "1h",
        "include": [{"repository": {"name": "shared"}, "fromPath": "components", "toPath": "vendor/components"}]
    }))
    .await;
    env.create("waiting", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "include": [{"repository": {"name": "ghost"}}]})).await;
    env.create("spec-ignore", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ignore": "/*\n!/deploy\n"})).await;

    let app = env.ready("app").await;
    let files = artifact_files(&app).await;
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".sourceignore",
            "deploy/app.yaml",
            "logo.png",
            "vendor/components/base.yaml"
        ],
        "a .sourceignore replaces the defaults"
    );
    assert_eq!(
        app.status
            .as_ref()
            .unwrap()
            .included_artifacts
            .as_ref()
            .map(Vec::len),
        Some(1)
    );
    let filtered = env.ready("spec-ignore").await;
    assert_eq!(
        artifact_files(&filtered)
            .await
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["deploy/app.yaml"]
    );
    let waiting = env.failed_with("waiting", "NotFound").await;
    assert_eq!(
        condition(&waiting, "IncludeUnavailable").map(|c| c.0),
        Some("True".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_resume_and_deletion() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "app",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let first = env.ready("app").await;
    assert_eq!(first.finalizers(), ["finalizers.fluxcd.io"]);

    env.patch("app", json!({"spec": {"suspend": true}})).await;
    let next = repo.commit("master", &[("x.yaml", "x\n")], "while suspended");
    env.request_reconcile("app").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        revision(&env.repos().get("app").await.unwrap()),
        revision(&first),
        "nothing happens while suspended"
    );
    env.patch("app", json!({"spec": {"suspend": false}})).await;
    env.wait("app", "the resumed reconcile", |r| {
        revision(r) == format!("master@sha1:{next}")
    })
    .await;

    let dir = env.storage_dir.path().join("gitrepository/default/app");
    assert!(dir.exists());
    env.repos()
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let gone = async {
        while env.repos().get_opt("app").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), gone)
        .await
        .expect("the object goes once its artifacts are removed");
    assert!(!dir.exists(), "deletion cleans the storage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_artifact_server_supports_ranges_and_etags_and_stays_inside_storage() {
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "app",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let artifact = env.ready("app").await.status.unwrap().artifact.unwrap();
    let client = reqwest::Client::new();
    let full = client.get(&artifact.url).send().await.unwrap();
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    let body = full.bytes().await.unwrap();
    let partial = client
        .get(&artifact.url)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status().as_u16(), 206);
    assert_eq!(&partial.bytes().await.unwrap()[..], &body[..10]);
    let cached = client
        .get(&artifact.url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status().as_u16(), 304);
    let base = artifact.url.split("/gitrepository/").next().unwrap();
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/gitrepository/default",
        "/nope.tar.gz",
    ] {
        let status = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_shows_fluxs_columns_and_waits_for_ready() {
    let kubectl_present = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !kubectl_present {
        eprintln!("skipping: kubectl is not installed");
        return;
    }
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    env.sandbox
        .write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    env.create(
        "podinfo",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let run = |args: Vec<&'static str>| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("kubectl")
                .args(args)
                .env("KUBECONFIG", dir.join("kubeconfig"))
                .env("KUBECACHEDIR", dir.join("cache"))
                .output()
                .unwrap()
        })
    };
    let wait = run(vec![
        "wait",
        "--for=condition=Ready",
        "gitrepository/podinfo",
        "--timeout=30s",
    ])
    .await
    .unwrap();
    assert!(
        wait.status.success(),
        "{}",
        String::from_utf8_lossy(&wait.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&wait.stdout).trim(),
        "gitrepository.source.toolkit.fluxcd.io/podinfo condition met"
    );
    let table = run(vec!["get", "gitrepositories"]).await.unwrap();
    let text = String::from_utf8_lossy(&table.stdout).into_owned();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "URL", "AGE", "READY", "STATUS"]
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("podinfo")
            && row.contains("True")
            && row.contains("stored artifact for revision 'master@sha1:"),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_checkouts_and_submodules() {
    let env = env().await;
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    TestRepo::create(env.repos.path(), "sub", &[("lib.yaml", "lib\n")]);
    let parent = TestRepo::create(
        env.repos.path(),
        "parent",
        &[("apps/a.yaml", "a\n"), ("infra/b.yaml", "b\n")],
    );
    parent.run(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &format!("{}/sub.git", server.url),
        "libs/sub",
    ]);
    parent.commit("master", &[], "add a submodule");
    let url = format!("{}/parent.git", server.url);
    env.create(
        "sparse",
        json!({"url": url, "interval": "1h", "sparseCheckout": ["./apps"]}),
    )
    .await;
    env.create(
        "submodules",
        json!({"url": url, "interval": "1h", "recurseSubmodules": true}),
    )
    .await;
    env.create("plain", json!({"url": url, "interval": "1h"}))
        .await;
    env.create(
        "missing-dir",
        json!({"url": url, "interval": "1h", "sparseCheckout": ["nope"]}),
    )
    .await;

    let sparse = env.ready("sparse").await;
    assert_eq!(
        artifact_files(&sparse)
            .await
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["apps/a.yaml"]
    );
    assert_eq!(
        sparse.status.as_ref().unwrap().observed_sparse_checkout,
        Some(vec!["./apps".to_string()])
    );
    let with_subs = artifact_files(&env.ready("submodules").await).await;
    assert_eq!(
        with_subs.get("libs/sub/lib.yaml").map(String::as_str),
        Some("lib\n"),
        "{with_subs:?}"
    );
    let plain = artifact_files(&env.ready("plain").await).await;
    assert!(
        !plain.contains_key("libs/sub/lib.yaml"),
        "submodules are not fetched unless asked"
    );
    let missing = env.failed_with("missing-dir", "GitOperationFailed").await;
    assert!(
        condition(&missing, "Ready")
            .unwrap()
            .2
            .contains("'nope' does not exist")
    );
}
