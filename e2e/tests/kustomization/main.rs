//! kustomize-controller end to end: the whole stack in one process (sandbox, source- and
//! kustomize-controller), a real Git server (git http-backend) holding the manifests, and
//! kubectl as an independent client. Each test pushes commits and watches the cluster follow.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rill::stack::{Stack, StackOptions};
use rill_common::api::kustomize_v1::Kustomization;
use serde_json::{Value, json};

struct Env {
    stack: Stack,
    git: GitHttpServer,
    repos: tempfile::TempDir,
    kubeconfig: tempfile::NamedTempFile,
}

async fn env(flags: &[&str]) -> Env {
    env_with(StackOptions {
        kustomize_flags: flags.iter().map(|f| f.to_string()).collect(),
        ..StackOptions::default()
    })
    .await
}

async fn env_with(options: StackOptions) -> Env {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let stack = Stack::start(options).await.unwrap();
    let repos = tempfile::tempdir().unwrap();
    let git = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    stack.sandbox.write_kubeconfig(kubeconfig.path()).unwrap();
    Env {
        stack,
        git,
        repos,
        kubeconfig,
    }
}

/// A Deployment manifest.
fn deployment(name: &str, replicas: u32, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: {image}\n"
    )
}

/// A ConfigMap manifest.
fn config_map(name: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{data}\"\n"
    )
}

impl Env {
    fn client(&self) -> kube::Client {
        self.stack.client.clone()
    }

    fn repo(&self, name: &str, files: &[(&str, &str)]) -> TestRepo {
        TestRepo::create(self.repos.path(), name, files)
    }

    async fn create(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        spec: Value,
    ) {
        let lower = kind.to_lowercase();
        let plural = match lower.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None => format!("{lower}s"),
        };
        let (group, version) = api_version.split_once('/').unwrap();
        let resource = kube::api::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural,
        };
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(self.client(), namespace, &resource);
        let body = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec});
        api.create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    }

    /// A GitRepository `name` in `namespace` on the repository `repo` of the Git server.
    async fn source(&self, namespace: &str, name: &str, repo: &str) {
        let spec = json!({"url": format!("{}/{repo}.git", self.git.url), "interval": "1m", "ref": {"branch": "master"}});
        self.create(
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
            namespace,
            name,
            spec,
        )
        .await;
    }

    async fn kustomization(&self, namespace: &str, name: &str, spec: Value) {
        let mut full = json!({"interval": "10m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "app"}});
        full.as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        self.create(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            namespace,
            name,
            full,
        )
        .await;
    }

    /// A repository `app` of `files`, its GitRepository and a Kustomization `app` applying
    /// `path` into the namespace `apps`, Ready at the repository's head.
    async fn deliver(&self, files: &[(&str, &str)], path: &str) -> (TestRepo, String) {
        let repo = self.repo("app", files);
        let head = repo.run(&["rev-parse", "HEAD"]);
        self.namespace("apps").await;
        self.source("default", "app", "app").await;
        self.kustomization(
            "default",
            "app",
            json!({"path": path, "targetNamespace": "apps"}),
        )
        .await;
        self.ready_at("default", "app", &head).await;
        (repo, head)
    }

    fn kustomizations(&self, namespace: &str) -> Api<Kustomization> {
        Api::namespaced(self.client(), namespace)
    }

    async fn namespace(&self, name: &str) {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client());
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        api.create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    }

    /// Asks for a reconcile now, as `flux reconcile` does.
    async fn request(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let token = jiff::Timestamp::now().as_nanosecond().to_string();
        let out = self.kubectl(&[
            "annotate",
            "--overwrite",
            "-n",
            namespace,
            &format!(
                "{}.{}/{name}",
                kind.to_lowercase(),
                api_version.split('/').next().unwrap()
            ),
            &format!("reconcile.fluxcd.io/requestedAt={token}"),
        ]);
        assert!(out.0, "kubectl annotate failed: {}", out.1);
    }

    /// Makes the source fetch the new commit now.
    async fn refresh(&self, namespace: &str, source: &str) {
        self.request(
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
            namespace,
            source,
        )
        .await;
    }

    /// Waits until `check` holds for the Kustomization (fails after 60 s with its status).
    async fn wait(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&Kustomization) -> bool,
    ) -> Kustomization {
        let api = self.kustomizations(namespace);
        e2e::flux::wait_for(&api, name, what, Duration::from_secs(60), check).await
    }

    async fn ready_at(&self, namespace: &str, name: &str, commit: &str) -> Kustomization {
        self.wait(namespace, name, &format!("Ready at {commit}"), |ks| {
            ready(ks).is_some_and(|(s, _, _)| s == "True")
                && ks
                    .status
                    .as_ref()
                    .and_then(|s| s.last_applied_revision.as_deref())
                    == Some(&format!("master@sha1:{commit}"))
        })
        .await
    }

    async fn failed_with(&self, namespace: &str, name: &str, reason: &str) -> Kustomization {
        self.wait(namespace, name, reason, |ks| {
            e2e::flux::failed_with(ks, reason)
        })
        .await
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap> {
        Api::<ConfigMap>::namespaced(self.client(), namespace)
            .get_opt(name)
            .await
            .unwrap()
    }

    async fn deployment(&self, namespace: &str, name: &str) -> Option<Deployment> {
        Api::<Deployment>::namespaced(self.client(), namespace)
            .get_opt(name)
            .await
            .unwrap()
    }

    /// Waits until the Deployment has `replicas` (0 = gone).
    async fn wait_replicas(&self, namespace: &str, name: &str, replicas: i32) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let have = self
                .deployment(namespace, name)
                .await
                .and_then(|d| d.spec.and_then(|s| s.replicas))
                .unwrap_or(0);
            if have == replicas {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{namespace}/{name}: replicas {have}, want {replicas}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs kubectl against the sandbox: (success, stdout + stderr).
    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig.path())
            .args(args)
            .output()
            .expect("kubectl runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    async fn patch_ks(&self, namespace: &str, name: &str, patch: Value) {
        self.kustomizations(namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }
}

use e2e::flux::{condition, ready};

fn inventory(ks: &Kustomization) -> Vec<String> {
    ks.status
        .as_ref()
        .and_then(|s| s.inventory.as_ref())
        .map(|i| {
            i.entries
                .iter()
                .map(|e| format!("{}@{}", e.id, e.v))
                .collect()
        })
        .unwrap_or_default()
}

mod decryption;
mod defaults;
mod delivery;
mod drift;
mod lifecycle;
mod runtime_flags;
mod substitution;
mod tenancy;
