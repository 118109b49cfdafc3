//! `rill quickstart`: the GitOps loop on one machine. Starts the sandbox, the controllers and a
//! Git server holding an example app, then shows a push (replicas 1 to 3) reaching the cluster,
//! `git revert` rolling it back, and (with `docker-registry` and `skopeo`) a registry push
//! becoming a commit and a rollout.

mod images;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use rill::git_server::{GitHttpServer, HttpAuth};
use rill::stack::{Stack, StackOptions};
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::api::source_v1::GitRepository;
use serde_json::json;

const NS: &str = "flux-system";

fn deployment(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: podinfo\n  template:\n    metadata:\n      labels:\n        app: podinfo\n    spec:\n      containers:\n      - name: podinfo\n        image: ghcr.io/stefanprodan/podinfo:6.7.0\n        ports:\n        - containerPort: 9898\n"
    )
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\nspec:\n  selector:\n    app: podinfo\n  ports:\n  - port: 80\n    targetPort: 9898\n";
const BASE: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\n";
const OVERLAY: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: demo\nresources:\n- namespace.yaml\n- ../base\nlabels:\n- pairs:\n    env: demo\n";
const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n";

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Rill Quickstart",
            "-c",
            "user.email=quickstart@rill.invalid",
            "-c",
            "init.defaultBranch=master",
        ])
        .args(args)
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The demo repository: a bare repo served over HTTP and a work tree to commit from.
struct DemoRepo {
    /// The work tree commits are made in.
    work: PathBuf,
}

impl DemoRepo {
    fn create(root: &Path) -> anyhow::Result<Self> {
        let bare = root.join("demo.git");
        std::fs::create_dir_all(&bare)?;
        git(&bare, &["init", "--bare", "-q"])?;
        git(&bare, &["config", "http.receivepack", "true"])?;
        let work = root.join("demo");
        git(
            root,
            &[
                "clone",
                "-q",
                &bare.to_string_lossy(),
                &work.to_string_lossy(),
            ],
        )?;
        let repo = Self { work };
        repo.write(&[
            ("apps/base/kustomization.yaml", BASE),
            ("apps/base/deployment.yaml", &deployment(1)),
            ("apps/base/service.yaml", SERVICE),
            ("apps/overlay/kustomization.yaml", OVERLAY),
            ("apps/overlay/namespace.yaml", NAMESPACE),
        ])?;
        repo.commit("podinfo: base and demo overlay")?;
        Ok(repo)
    }

    fn write(&self, files: &[(&str, &str)]) -> anyhow::Result<()> {
        for (path, text) in files {
            let full = self.work.join(path);
            std::fs::create_dir_all(full.parent().unwrap_or(&self.work))?;
            std::fs::write(full, text)?;
        }
        Ok(())
    }

    fn commit(&self, message: &str) -> anyhow::Result<String> {
        git(&self.work, &["add", "-A"])?;
        git(&self.work, &["commit", "-q", "-m", message])?;
        self.push()
    }

    fn push(&self) -> anyhow::Result<String> {
        git(&self.work, &["push", "-q", "origin", "HEAD:master"])?;
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

async fn create(client: &Client, object: serde_json::Value) -> anyhow::Result<()> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        group,
        version,
        object["kind"].as_str().unwrap_or_default(),
    ));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &ar);
    api.create(&PostParams::default(), &serde_json::from_value(object)?)
        .await?;
    Ok(())
}

async fn request_fetch(client: &Client) -> anyhow::Result<()> {
    let patch = rill_common::runtime::reconcile_request::request_patch();
    Api::<GitRepository>::namespaced(client.clone(), NS)
        .patch("demo", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

/// Waits until the Kustomization applied `commit` and the Deployment has `replicas`.
async fn converged(client: &Client, commit: &str, replicas: i32) -> anyhow::Result<()> {
    let want = format!("master@sha1:{commit}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let ks = Api::<Kustomization>::namespaced(client.clone(), NS)
            .get("demo")
            .await?;
        let status = ks.status.clone().unwrap_or_default();
        let ready = status
            .reconcile
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready");
        let applied = status.last_applied_revision.as_deref() == Some(want.as_str());
        let have = Api::<Deployment>::namespaced(client.clone(), "demo")
            .get_opt("podinfo")
            .await?
            .and_then(|d| d.spec.and_then(|s| s.replicas));
        if applied && ready.is_some_and(|c| c.status == "True") && have == Some(replicas) {
            println!(
                "  Kustomization flux-system/demo  Ready=True  {}",
                ready.map(|c| c.message.as_str()).unwrap_or_default()
            );
            println!("  Deployment demo/podinfo         replicas={replicas}");
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let why = ready
                .map(|c| format!("{}: {}", c.reason, c.message))
                .unwrap_or_else(|| "no Ready condition".into());
            bail!("the cluster did not converge on {want} with {replicas} replicas: {why}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs the demo; with `once` it returns after the rollback, otherwise it keeps serving.
pub async fn run(once: bool, state_dir: &Path) -> anyhow::Result<()> {
    println!(
        "==> starting the sandbox API server, source-controller, kustomize-controller and image-automation-controller"
    );
    let stack = Stack::start(StackOptions::default()).await?;
    let client = stack.client.clone();
    let repos = tempfile::tempdir()?;
    let repo = DemoRepo::create(repos.path())?;
    let first = git(&repo.work, &["rev-parse", "HEAD"])?;
    let server = GitHttpServer::start(repos.path(), HttpAuth::None).await?;
    println!(
        "==> Git server at {}/demo.git holds apps/base and apps/overlay",
        server.url
    );

    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    create(&client, json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "demo"},
        "spec": {"url": format!("{}/demo.git", server.url), "interval": "1m", "ref": {"branch": "master"}}})).await?;
    create(&client, json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "demo"},
        "spec": {"interval": "10m", "path": "./apps/overlay", "prune": true, "wait": true, "timeout": "1m",
                 "sourceRef": {"kind": "GitRepository", "name": "demo"}}})).await?;
    println!("==> created GitRepository and Kustomization flux-system/demo; waiting for Ready");
    converged(&client, &first, 1).await?;

    println!("==> pushing a commit: replicas 1 -> 3");
    repo.write(&[("apps/base/deployment.yaml", &deployment(3))])?;
    let scaled = repo.commit("podinfo: scale to 3")?;
    request_fetch(&client).await?;
    converged(&client, &scaled, 3).await?;

    println!("==> rolling back with git revert");
    git(&repo.work, &["revert", "--no-edit", "HEAD"])?;
    let reverted = repo.push()?;
    request_fetch(&client).await?;
    converged(&client, &reverted, 1).await?;
    println!("==> the cluster followed Git both ways");
    let registry = images::run(&stack, &repo).await?;
    if once {
        return Ok(());
    }
    std::fs::create_dir_all(state_dir)?;
    let kubeconfig = state_dir.join("kubeconfig");
    stack.sandbox.write_kubeconfig(&kubeconfig)?;
    let kubeconfig = kubeconfig.canonicalize().unwrap_or(kubeconfig);
    println!(
        "\nRill keeps running. In another shell:\n  export KUBECONFIG={}\n  kubectl get gitrepositories,kustomizations -A\n  kubectl get deploy -n demo\n  git clone {}/demo.git   # push changes, then: kubectl annotate gitrepository/demo -n {NS} --overwrite reconcile.fluxcd.io/requestedAt=\"$(date +%s)\"",
        kubeconfig.display(),
        server.url
    );
    if let Some(registry) = &registry {
        let image = format!("docker://{}/stefanprodan/podinfo", registry.host);
        println!(
            "  skopeo copy --src-tls-verify=false --dest-tls-verify=false {image}:6.7.1 {image}:6.8.0   # a new tag: watch the commit and the rollout\n  kubectl get imagerepositories,imagepolicies,imageupdateautomations -A"
        );
    }
    println!("Press Ctrl-C to stop.");
    rill_common::runtime::manager::shutdown_signal().await;
    Ok(())
}
