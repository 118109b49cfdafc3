//! OCIRepository end to end: artifacts pushed with skopeo to a real `docker-registry` are
//! resolved (tag, semver, digest), pulled, verified, extracted or copied, served, and
//! applied by a Kustomization; auth failures and bad references give Flux's conditions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use e2e::registry::{FLUX_LAYER, TestRegistry, tar_gz};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use rill::stack::{Stack, StackOptions};
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::api::source_v1::OCIRepository;
use rill_common::artifact::{Digest, UnpackLimits, unpack_tar_gz};
use serde_json::{Value, json};

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\n  namespace: default\ndata:\n  version: \"VERSION\"\n";

fn files(version: &str) -> Vec<(&'static str, String)> {
    vec![
        ("deploy/cm.yaml", CM.replace("VERSION", version)),
        ("README.md", "# artifact\n".into()),
    ]
}

fn refs<'a>(files: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    files.iter().map(|(p, c)| (*p, c.as_str())).collect()
}

async fn stack() -> Option<Stack> {
    if !TestRegistry::available() {
        eprintln!("skipped: docker-registry or skopeo is not installed");
        return None;
    }
    Some(Stack::start(StackOptions::default()).await.unwrap())
}

async fn create(stack: &Stack, name: &str, spec: Value) {
    let body = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository", "metadata": {"name": name, "namespace": "default"}, "spec": spec});
    Api::<OCIRepository>::namespaced(stack.client.clone(), "default")
        .create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
}

use e2e::flux::ready;

async fn wait(
    stack: &Stack,
    name: &str,
    what: &str,
    check: impl Fn(&OCIRepository) -> bool,
) -> OCIRepository {
    let api = Api::<OCIRepository>::namespaced(stack.client.clone(), "default");
    e2e::flux::wait_for(&api, name, what, Duration::from_secs(30), check).await
}

async fn ready_at(stack: &Stack, name: &str, revision: &str) -> OCIRepository {
    wait(stack, name, revision, |r| {
        ready(r).is_some_and(|c| c.0 == "True")
            && r.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .is_some_and(|a| a.revision == revision)
    })
    .await
}

async fn failed(stack: &Stack, name: &str, reason: &str) -> OCIRepository {
    wait(stack, name, reason, |r| e2e::flux::failed_with(r, reason)).await
}

/// Downloads the served artifact, checks its digest and returns its bytes.
async fn served(repo: &OCIRepository) -> Vec<u8> {
    let artifact = repo
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .unwrap();
    let bytes = reqwest::get(&artifact.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    assert_eq!(Some(Digest::of(&bytes).to_string()), artifact.digest);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_semver_and_digests_resolve_and_artifacts_are_served() {
    let Some(stack) = stack().await else { return };
    let registry = TestRegistry::start(None);
    let annotations = [
        ("org.opencontainers.image.revision", "main@sha1:1234"),
        (
            "org.opencontainers.image.source",
            "https://git.example.com/app",
        ),
    ];
    let d100 = registry.push("apps/demo", "1.0.0", &refs(&files("1.0.0")), &annotations);
    let d110 = registry.push("apps/demo", "1.1.0", &refs(&files("1.1.0")), &annotations);
    registry.push(
        "apps/demo",
        "2.0.0-rc.1",
        &refs(&files("2.0.0-rc.1")),
        &annotations,
    );
    let url = format!("oci://{}/apps/demo", registry.host);

    create(
        &stack,
        "semver",
        json!({"url": url, "interval": "1m", "insecure": true, "ref": {"semver": ">=1.0.0"}}),
    )
    .await;
    let repo = ready_at(&stack, "semver", &format!("1.1.0@{d110}")).await;
    let status = repo.status.clone().unwrap();
    let artifact = status.artifact.clone().unwrap();
    assert_eq!(
        artifact.path,
        format!("ocirepository/default/semver/{d110}.tar.gz")
    );
    assert_eq!(
        artifact
            .metadata
            .as_ref()
            .and_then(|m| m.get("org.opencontainers.image.revision"))
            .map(String::as_str),
        Some("main@sha1:1234")
    );
    assert_eq!(status.url.as_deref(), Some(artifact.url.as_str()));
    assert_eq!(
        ready(&repo).unwrap().2,
        format!("stored artifact for digest '1.1.0@{d110}'")
    );
    let dir = tempfile::tempdir().unwrap();
    unpack_tar_gz(
        &served(&repo).await[..],
        dir.path(),
        &UnpackLimits::default(),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(dir.path().join("deploy/cm.yaml"))
            .unwrap()
            .contains("1.1.0")
    );

    create(
        &stack,
        "tagged",
        json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "1.0.0"}}),
    )
    .await;
    ready_at(&stack, "tagged", &format!("1.0.0@{d100}")).await;
    create(
        &stack,
        "pinned",
        json!({"url": url, "interval": "1m", "insecure": true, "ref": {"digest": d100}}),
    )
    .await;
    ready_at(&stack, "pinned", &d100).await;
    create(
        &stack,
        "pre",
        json!({"url": url, "interval": "1m", "insecure": true, "ref": {"semver": ">=1.0.0-0"}}),
    )
    .await;
    wait(&stack, "pre", "the prerelease", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_some_and(|a| a.revision.starts_with("2.0.0-rc.1@"))
    })
    .await;

    // a new push moves the semver pick; the old file is garbage-collected
    let d120 = registry.push("apps/demo", "1.2.0", &refs(&files("1.2.0")), &annotations);
    let token = jiff::Timestamp::now().as_nanosecond().to_string();
    Api::<OCIRepository>::namespaced(stack.client.clone(), "default")
        .patch(
            "semver",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
            ),
        )
        .await
        .unwrap();
    ready_at(&stack, "semver", &format!("1.2.0@{d120}")).await;

    // copy keeps the layer blob as it is
    create(&stack, "copied", json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "1.0.0"}, "layerSelector": {"mediaType": FLUX_LAYER, "operation": "copy"}})).await;
    let repo = ready_at(&stack, "copied", &format!("1.0.0@{d100}")).await;
    assert_eq!(served(&repo).await, tar_gz(&refs(&files("1.0.0"))));

    // errors: a missing tag, a tag in the URL, a layer type that is not there
    create(
        &stack,
        "missing",
        json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "9.9.9"}}),
    )
    .await;
    let repo = failed(&stack, "missing", "OCIArtifactPullFailed").await;
    assert!(ready(&repo).unwrap().2.contains("not found"));
    create(
        &stack,
        "tagged-url",
        json!({"url": format!("{url}:1.0.0"), "interval": "1m", "insecure": true}),
    )
    .await;
    let repo = failed(&stack, "tagged-url", "URLInvalid").await;
    assert!(ready(&repo).unwrap().2.contains("must not contain a tag"));
    create(&stack, "no-layer", json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "1.0.0"}, "layerSelector": {"mediaType": "application/x-other"}})).await;
    failed(&stack, "no-layer", "OCIArtifactLayerOperationFailed").await;

    // a semver range that does not parse stalls (no retry until the spec changes), as on a
    // GitRepository
    create(
        &stack,
        "bad-range",
        json!({"url": url, "interval": "1m", "insecure": true, "ref": {"semver": ">=1.0.0 <<2"}}),
    )
    .await;
    let repo = failed(&stack, "bad-range", "OCIArtifactPullFailed").await;
    assert!(ready(&repo).unwrap().2.contains("invalid semver range"));
    let conditions = repo
        .status
        .as_ref()
        .unwrap()
        .reconcile
        .conditions
        .clone()
        .unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True"),
        "{conditions:?}"
    );
    assert!(!conditions.iter().any(|c| c.type_ == "Reconciling"));
    assert_eq!(
        repo.status.as_ref().unwrap().reconcile.observed_generation,
        repo.metadata.generation
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_come_from_a_docker_config_secret() {
    let Some(stack) = stack().await else { return };
    let registry = TestRegistry::start(Some(("flux", "s3cr3t-pass")));
    let digest = registry.push("private/app", "v1.0.0", &refs(&files("1")), &[]);
    let url = format!("oci://{}/private/app", registry.host);
    let secret = |password: &str| {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("flux:{password}"));
        let config = json!({"auths": {registry.host.clone(): {"auth": auth}}}).to_string();
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": config}})
    };
    let secrets = Api::<Secret>::namespaced(stack.client.clone(), "default");
    for (name, password) in [("good", "s3cr3t-pass"), ("bad", "wrong-pass")] {
        let mut body = secret(password);
        body["metadata"] = json!({"name": name});
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap();
    }
    create(
        &stack,
        "anonymous",
        json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "v1.0.0"}}),
    )
    .await;
    failed(&stack, "anonymous", "AuthenticationFailed").await;
    create(&stack, "wrong", json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "v1.0.0"}, "secretRef": {"name": "bad"}})).await;
    let repo = failed(&stack, "wrong", "AuthenticationFailed").await;
    let message = ready(&repo).unwrap().2;
    assert!(
        !message.contains("wrong-pass") && !message.contains("s3cr3t"),
        "no secret in conditions: {message}"
    );
    create(&stack, "right", json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "v1.0.0"}, "secretRef": {"name": "good"}})).await;
    ready_at(&stack, "right", &format!("v1.0.0@{digest}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomization_applies_an_oci_artifact() {
    let Some(stack) = stack().await else { return };
    let registry = TestRegistry::start(None);
    let digest = registry.push(
        "apps/site",
        "latest",
        &refs(&files("7")),
        &[("org.opencontainers.image.revision", "main@sha1:feed")],
    );
    create(&stack, "site", json!({"url": format!("oci://{}/apps/site", registry.host), "interval": "1m", "insecure": true})).await;
    ready_at(&stack, "site", &format!("latest@{digest}")).await;
    let body = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "site", "namespace": "default"},
        "spec": {"interval": "10m", "prune": true, "path": "./deploy", "sourceRef": {"kind": "OCIRepository", "name": "site"}}});
    let api = Api::<Kustomization>::namespaced(stack.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(body).unwrap(),
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ks = api.get("site").await.unwrap();
        let status = ks.status.clone().unwrap_or_default();
        if status.last_applied_revision.as_deref() == Some(format!("latest@{digest}").as_str()) {
            assert_eq!(
                status.last_applied_origin_revision.as_deref(),
                Some("main@sha1:feed")
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cm = Api::<ConfigMap>::namespaced(stack.client.clone(), "default")
        .get("from-oci")
        .await
        .unwrap();
    assert_eq!(
        cm.data.unwrap().get("version").map(String::as_str),
        Some("7")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_behind_a_private_ca_needs_its_ca_crt() {
    let Some(stack) = stack().await else { return };
    if !e2e::tls_front::TlsFront::available() {
        eprintln!("skipped: openssl or python3 is not installed");
        return;
    }
    let registry = TestRegistry::start(None);
    let digest = registry.push("secure/app", "v1.0.0", &refs(&files("1")), &[]);
    let front = e2e::tls_front::TlsFront::start(&format!("http://{}", registry.host));
    let host = front.url.trim_start_matches("https://").to_string();
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "registry-ca"}, "stringData": {"ca.crt": front.ca_pem}}),
    )
    .unwrap();
    Api::<Secret>::namespaced(stack.client.clone(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let url = format!("oci://{host}/secure/app");
    create(&stack, "trusted", json!({"url": url, "interval": "1m", "ref": {"tag": "v1.0.0"}, "certSecretRef": {"name": "registry-ca"}})).await;
    ready_at(&stack, "trusted", &format!("v1.0.0@{digest}")).await;
    create(
        &stack,
        "untrusted",
        json!({"url": url, "interval": "1m", "ref": {"tag": "v1.0.0"}}),
    )
    .await;
    let repo = failed(&stack, "untrusted", "OCIArtifactPullFailed").await;
    let message = ready(&repo).unwrap().2;
    eprintln!("untrusted registry: {message}");
    assert!(
        message.contains(&host) && message.contains("certificate"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_demanding_client_certificates_accepts_tls_crt_and_tls_key() {
    let Some(stack) = stack().await else { return };
    if !e2e::tls_front::TlsFront::available() {
        eprintln!("skipped: openssl or python3 is not installed");
        return;
    }
    let registry = TestRegistry::start(None);
    let digest = registry.push("mtls/app", "v1.0.0", &refs(&files("1")), &[]);
    let front = e2e::tls_front::TlsFront::start_mutual(&format!("http://{}", registry.host));
    let (cert, key) = front.client.clone().unwrap();
    let host = front.url.trim_start_matches("https://").to_string();
    let secrets = Api::<Secret>::namespaced(stack.client.clone(), "default");
    for (name, data) in [
        (
            "client-cert",
            json!({"ca.crt": front.ca_pem, "tls.crt": cert, "tls.key": key}),
        ),
        ("ca-only", json!({"ca.crt": front.ca_pem})),
    ] {
        let secret: Secret =
            serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data}))
                .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let url = format!("oci://{host}/mtls/app");
    create(&stack, "mtls", json!({"url": url, "interval": "1m", "ref": {"tag": "v1.0.0"}, "certSecretRef": {"name": "client-cert"}})).await;
    ready_at(&stack, "mtls", &format!("v1.0.0@{digest}")).await;
    create(&stack, "no-client-cert", json!({"url": url, "interval": "1m", "ref": {"tag": "v1.0.0"}, "certSecretRef": {"name": "ca-only"}})).await;
    let repo = failed(&stack, "no-client-cert", "OCIArtifactPullFailed").await;
    assert!(repo.status.unwrap().artifact.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_secret_routes_registry_traffic_through_an_authenticating_proxy() {
    let Some(stack) = stack().await else { return };
    let registry = TestRegistry::start(None);
    let digest = registry.push("proxied/app", "v1.0.0", &refs(&files("1")), &[]);
    let proxy = e2e::http_proxy::HttpProxy::start("proxy-user", "proxy-pass");
    let secrets = Api::<Secret>::namespaced(stack.client.clone(), "default");
    for (name, password) in [("proxy", "proxy-pass"), ("bad-proxy", "nope")] {
        let secret: Secret = serde_json::from_value(json!({"metadata": {"name": name},
            "stringData": {"address": proxy.address, "username": "proxy-user", "password": password}})).unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let url = format!("oci://{}/proxied/app", registry.host);
    create(&stack, "proxied", json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "v1.0.0"}, "proxySecretRef": {"name": "proxy"}})).await;
    ready_at(&stack, "proxied", &format!("v1.0.0@{digest}")).await;
    assert!(
        proxy.relayed() >= 1,
        "registry traffic went through the proxy"
    );
    create(&stack, "refused", json!({"url": url, "interval": "1m", "insecure": true, "ref": {"tag": "v1.0.0"}, "proxySecretRef": {"name": "bad-proxy"}})).await;
    let repo = wait(&stack, "refused", "a failure", |r| {
        ready(r).is_some_and(|c| c.0 == "False")
    })
    .await;
    let message = ready(&repo).unwrap().2;
    assert!(
        !message.contains("nope") && !message.contains("proxy-pass"),
        "no proxy password in: {message}"
    );
}
