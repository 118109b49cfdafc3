//! The quickstart's image loop, shown when `docker-registry` and `skopeo` are installed: a local
//! registry notifies a Receiver of every push; the ImageRepository rescans, the ImagePolicy picks
//! the new tag, the ImageUpdateAutomation commits it to the demo repository (only the marked
//! values change), and the Kustomization rolls the Deployment out, with no interval in the way.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::Api;
use rill::registry::LocalRegistry;
use rill::stack::Stack;
use rill_common::api::image_v1::ImagePolicy;
use rill_common::api::notification_v1::Receiver;
use serde_json::json;

use super::{DemoRepo, NS, create, git, request_fetch};

const REPO: &str = "stefanprodan/podinfo";

const TEMPLATE: &str = "Bump podinfo to the newest tag\n\n{{ range .Changed.Changes -}}\n- {{ .OldValue }} -> {{ .NewValue }} ({{ .Setter }})\n{{ end -}}\nAutomation: {{ .AutomationObject }}\n";

fn overlay(image: &str) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: demo\nresources:\n- namespace.yaml\n- ../base\nlabels:\n- pairs:\n    env: demo\nimages:\n- name: ghcr.io/stefanprodan/podinfo\n  newName: {image} # {{\"$imagepolicy\": \"{NS}:podinfo:name\"}}\n  newTag: 6.7.0 # {{\"$imagepolicy\": \"{NS}:podinfo:tag\"}}\n"
    )
}

/// Polls `check` every 100 ms for up to a minute; fails with `what`.
async fn until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await? {
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn deployment_image(client: &Client) -> anyhow::Result<Option<String>> {
    Ok(Api::<Deployment>::namespaced(client.clone(), "demo")
        .get_opt("podinfo")
        .await?
        .and_then(|d| d.spec?.template.spec?.containers.first()?.image.clone()))
}

async fn rolled_out(client: &Client, image: &str) -> anyhow::Result<()> {
    until(&format!("the Deployment to run {image}"), || async {
        Ok(deployment_image(client).await?.as_deref() == Some(image))
    })
    .await
}

/// Runs the image loop; returns the registry (kept running with the rest) or `None` when the
/// tools are missing.
pub(super) async fn run(stack: &Stack, repo: &DemoRepo) -> anyhow::Result<Option<LocalRegistry>> {
    if !LocalRegistry::available() {
        println!(
            "==> image automation: skipped (install docker-registry and skopeo, e.g. `apt install docker-registry skopeo`, to see a registry push become a commit and a rollout)"
        );
        return Ok(None);
    }
    let client = &stack.client;
    let token = format!("{:x}", rand_token());
    create(
        client,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "webhook-token"},
        "stringData": {"token": token}}),
    )
    .await?;
    create(client, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "registry"}, "spec": {"type": "generic", "secretRef": {"name": "webhook-token"},
        "resources": [{"kind": "ImageRepository", "name": "podinfo"}]}})).await?;
    let receivers: Api<Receiver> = Api::namespaced(client.clone(), NS);
    until("the Receiver's webhook path", || async {
        let status = receivers.get("registry").await?.status;
        Ok(status.and_then(|s| s.webhook_path).is_some())
    })
    .await?;
    let path = receivers
        .get("registry")
        .await?
        .status
        .and_then(|s| s.webhook_path)
        .unwrap_or_default();
    let hook = format!("{}{path}", stack.receiver_url);
    let registry = LocalRegistry::start(None, Some(&hook)).context("starting docker-registry")?;
    let image = format!("{}/{REPO}", registry.host);
    let images = "image.toolkit.fluxcd.io/v1";
    create(
        client,
        json!({"apiVersion": images, "kind": "ImageRepository", "metadata": {"name": "podinfo"},
        "spec": {"image": image, "interval": "1h", "insecure": true}}),
    )
    .await?;
    registry.push(REPO, "6.7.0", &[("podinfo", "6.7.0")], &[])?;
    println!(
        "==> image automation: a local registry at {} notifies Receiver {NS}/registry of every push",
        registry.host
    );

    println!("==> marking the image in apps/overlay for the automation (newName, newTag)");
    repo.write(&[("apps/overlay/kustomization.yaml", &overlay(&image))])?;
    repo.commit("podinfo: image from the local registry, marked for automation")?;
    request_fetch(client).await?;
    rolled_out(client, &format!("{image}:6.7.0")).await?;
    println!("  Deployment demo/podinfo         image={image}:6.7.0");

    create(client, json!({"apiVersion": images, "kind": "ImagePolicy", "metadata": {"name": "podinfo"},
        "spec": {"imageRepositoryRef": {"name": "podinfo"}, "policy": {"semver": {"range": ">=6.7.0"}}}})).await?;
    create(client, json!({"apiVersion": images, "kind": "ImageUpdateAutomation", "metadata": {"name": "demo"},
        "spec": {"interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "demo"},
            "git": {"checkout": {"ref": {"branch": "master"}},
                    "commit": {"author": {"name": "Rill Bot", "email": "bot@rill.invalid"}, "messageTemplate": TEMPLATE},
                    "push": {"branch": "master"}},
            "update": {"strategy": "Setters", "path": "./apps"}}})).await?;
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), NS);
    until("the ImagePolicy to pick 6.7.0", || async {
        let latest = policies
            .get("podinfo")
            .await?
            .status
            .and_then(|s| s.latest_ref);
        Ok(latest.is_some_and(|r| r.tag == "6.7.0"))
    })
    .await?;
    println!(
        "==> created ImageRepository and ImagePolicy {NS}/podinfo (picked 6.7.0) and ImageUpdateAutomation {NS}/demo"
    );

    println!("==> pushing podinfo:6.7.1 to the registry (nothing else is done by hand)");
    let pushed = Instant::now();
    registry.push(REPO, "6.7.1", &[("podinfo", "6.7.1")], &[])?;
    rolled_out(client, &format!("{image}:6.7.1")).await?;
    let elapsed = pushed.elapsed();
    git(&repo.work, &["pull", "-q", "--ff-only", "origin", "master"])?;
    let commit = git(&repo.work, &["log", "-1", "--format=%h %an: %B"])?;
    let indented: Vec<String> = commit
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect();
    println!(
        "  commit by the ImageUpdateAutomation:\n{}",
        indented.join("\n")
    );
    println!(
        "  Deployment demo/podinfo         image={image}:6.7.1 ({:.1} s after the push)",
        elapsed.as_secs_f64()
    );
    Ok(Some(registry))
}

/// A token for the demo's webhook Secret (not a secret worth a CSPRNG: the Receiver listens on
/// loopback for the demo's lifetime).
fn rand_token() -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    nanos ^ (u128::from(std::process::id()) << 64)
}
