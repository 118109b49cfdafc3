//! ImageRepository and ImagePolicy end to end: Debian's `docker-registry` with tags pushed by
//! `skopeo`, the in-process stack, the tag database on disk. Scans, exclusions, the three
//! policies with filters, digests, credentials, cross-namespace access and the event-driven
//! policy update after a push.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use e2e::flux::{self, condition, ready};
use e2e::registry::TestRegistry;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};
use rill::stack::{Stack, StackOptions};
use rill_common::api::image_v1::{ImagePolicy, ImageRepository};
use serde_json::{Value, json};

async fn stack(options: StackOptions) -> Option<Stack> {
    if !TestRegistry::available() {
        eprintln!("skipped: docker-registry or skopeo is not installed");
        return None;
    }
    Some(Stack::start(options).await.unwrap())
}

async fn create<K: rill_common::api::object::FluxObject>(
    stack: &Stack,
    namespace: &str,
    body: Value,
) {
    let api: Api<K> = Api::namespaced(stack.client.clone(), namespace);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(body).unwrap(),
    )
    .await
    .unwrap();
}

async fn repository(stack: &Stack, namespace: &str, name: &str, spec: Value) {
    let body = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec});
    create::<ImageRepository>(stack, namespace, body).await;
}

async fn policy(stack: &Stack, namespace: &str, name: &str, spec: Value) {
    let body = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec});
    create::<ImagePolicy>(stack, namespace, body).await;
}

fn repos(stack: &Stack, namespace: &str) -> Api<ImageRepository> {
    Api::namespaced(stack.client.clone(), namespace)
}

fn policies(stack: &Stack, namespace: &str) -> Api<ImagePolicy> {
    Api::namespaced(stack.client.clone(), namespace)
}

const WAIT: Duration = Duration::from_secs(30);

async fn scanned(stack: &Stack, namespace: &str, name: &str, count: i64) -> ImageRepository {
    flux::wait_for(
        &repos(stack, namespace),
        name,
        &format!("{count} tags"),
        WAIT,
        |r| {
            r.status
                .as_ref()
                .and_then(|s| s.last_scan_result.as_ref())
                .is_some_and(|s| s.tag_count == count)
                && ready(r).is_some_and(|c| c.0 == "True")
        },
    )
    .await
}

async fn picked(stack: &Stack, namespace: &str, name: &str, tag: &str) -> ImagePolicy {
    flux::wait_for(
        &policies(stack, namespace),
        name,
        &format!("tag {tag}"),
        WAIT,
        |p| {
            p.status
                .as_ref()
                .and_then(|s| s.latest_ref.as_ref())
                .is_some_and(|r| r.tag == tag)
                && ready(p).is_some_and(|c| c.0 == "True")
        },
    )
    .await
}

fn push_tags(registry: &TestRegistry, repo: &str, tags: &[&str]) {
    for tag in tags {
        registry.push(repo, tag, &[("x.yaml", tag)], &[]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scans_store_tags_without_signatures_and_policies_pick_the_newest() {
    let Some(stack) = stack(StackOptions::default()).await else {
        return;
    };
    let registry = TestRegistry::start(None);
    push_tags(
        &registry,
        "apps/web",
        &[
            "1.0.0",
            "1.2.0",
            "1.10.0",
            "2.0.0-rc.1",
            "sha256-abc.sig",
            "main-aaa-100",
            "main-bbb-200",
            "7",
            "12",
        ],
    );
    let image = format!("{}/apps/web", registry.host);
    repository(
        &stack,
        "default",
        "web",
        json!({"image": image, "interval": "1h", "insecure": true}),
    )
    .await;
    let repo = scanned(&stack, "default", "web", 8).await;
    let status = repo.status.unwrap();
    assert_eq!(status.canonical_image_name.as_deref(), Some(image.as_str()));
    let result = status.last_scan_result.unwrap();
    assert!(
        !result
            .latest_tags
            .unwrap()
            .iter()
            .any(|t| t.ends_with(".sig"))
    );
    assert_eq!(
        status.observed_exclusion_list,
        Some(vec!["^.*\\.sig$".to_string()])
    );
    let message = ready(&repos(&stack, "default").get("web").await.unwrap())
        .unwrap()
        .2;
    assert_eq!(
        message,
        format!(
            "successful scan: found 8 tags with checksum {}",
            result.revision.unwrap()
        )
    );

    let reference = json!({"name": "web"});
    policy(
        &stack,
        "default",
        "semver",
        json!({"imageRepositoryRef": reference, "policy": {"semver": {"range": ">=1.0.0"}}}),
    )
    .await;
    policy(
        &stack,
        "default",
        "pre",
        json!({"imageRepositoryRef": reference, "policy": {"semver": {"range": ">=1.0.0-0"}}}),
    )
    .await;
    policy(&stack, "default", "alpha", json!({"imageRepositoryRef": reference, "filterTags": {"pattern": "^main-"}, "policy": {"alphabetical": {"order": "asc"}}})).await;
    policy(&stack, "default", "numeric", json!({"imageRepositoryRef": reference, "filterTags": {"pattern": "^main-[a-z]+-(?P<ts>[0-9]+)$", "extract": "$ts"}, "policy": {"numerical": {"order": "asc"}}})).await;
    policy(&stack, "default", "plain-numbers", json!({"imageRepositoryRef": reference, "filterTags": {"pattern": "^[0-9]+$"}, "policy": {"numerical": {"order": "asc"}}})).await;
    let p = picked(&stack, "default", "semver", "1.10.0").await;
    assert_eq!(
        ready(&p).unwrap().2,
        format!("Latest image tag for {image} resolved to 1.10.0")
    );
    assert_eq!(p.status.unwrap().latest_ref.unwrap().name, image);
    picked(&stack, "default", "pre", "2.0.0-rc.1").await;
    picked(&stack, "default", "alpha", "main-bbb-200").await;
    picked(&stack, "default", "numeric", "main-bbb-200").await;
    picked(&stack, "default", "plain-numbers", "12").await;

    // A push and a requested scan move the policy without any polling of the policy itself.
    push_tags(&registry, "apps/web", &["1.11.0"]);
    flux::request_reconcile(&repos(&stack, "default"), "web").await;
    let p = picked(&stack, "default", "semver", "1.11.0").await;
    let status = p.status.unwrap();
    assert_eq!(status.observed_previous_ref.unwrap().tag, "1.10.0");
    assert!(
        ready(&policies(&stack, "default").get("semver").await.unwrap())
            .unwrap()
            .2
            .ends_with(&format!("(previously {image}:1.10.0)"))
    );

    // Digests are reflected on request.
    policy(&stack, "default", "digest", json!({"imageRepositoryRef": reference, "digestReflectionPolicy": "IfNotPresent", "policy": {"semver": {"range": "1.2.x"}}})).await;
    let p = picked(&stack, "default", "digest", "1.2.0").await;
    let digest = p.status.unwrap().latest_ref.unwrap().digest.unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // Spec mistakes stall with Flux's reasons.
    policy(
        &stack,
        "default",
        "bad-range",
        json!({"imageRepositoryRef": reference, "policy": {"semver": {"range": "not a range"}}}),
    )
    .await;
    let p = flux::wait_for(
        &policies(&stack, "default"),
        "bad-range",
        "InvalidPolicy",
        WAIT,
        |p| flux::failed_with(p, "InvalidPolicy"),
    )
    .await;
    assert_eq!(condition(&p, "Stalled").unwrap().0, "True");
    // `Always` without an interval: refused by the CRD's CEL rule, as Flux's CRD refuses it
    // (the controller's IntervalNotConfigured stays for objects stored before the rule).
    let body = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "always", "namespace": "default"},
        "spec": {"imageRepositoryRef": reference, "digestReflectionPolicy": "Always", "policy": {"semver": {"range": "*"}}}});
    let refused = policies(&stack, "default")
        .create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .expect_err("the CRD refuses Always without an interval");
    assert!(
        refused.to_string().contains(
            "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'"
        ),
        "{refused}"
    );
    repository(
        &stack,
        "default",
        "tagged",
        json!({"image": format!("{image}:1.0.0"), "interval": "1h", "insecure": true}),
    )
    .await;
    let r = flux::wait_for(
        &repos(&stack, "default"),
        "tagged",
        "ImageURLInvalid",
        WAIT,
        |r| flux::failed_with(r, "ImageURLInvalid"),
    )
    .await;
    assert!(ready(&r).unwrap().2.contains("should not contain a tag"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_credentials_and_cross_namespace_access_are_enforced() {
    let Some(stack) = stack(StackOptions::default()).await else {
        return;
    };
    let registry = TestRegistry::start(Some(("bot", "r3g-passw0rd")));
    push_tags(&registry, "private/app", &["1.0.0", "1.1.0"]);
    let image = format!("{}/private/app", registry.host);
    let auth = base64::engine::general_purpose::STANDARD.encode("bot:wrong-one");
    let config = json!({"auths": {registry.host.clone(): {"auth": auth}}}).to_string();
    let right = base64::engine::general_purpose::STANDARD.encode("bot:r3g-passw0rd");
    let good = json!({"auths": {registry.host.clone(): {"auth": right}}}).to_string();
    let secrets: Api<Secret> = Api::namespaced(stack.client.clone(), "default");
    for (name, data) in [("bad", config), ("good", good)] {
        let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": data}});
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap();
    }
    repository(
        &stack,
        "default",
        "wrong",
        json!({"image": image, "interval": "1h", "insecure": true, "secretRef": {"name": "bad"}}),
    )
    .await;
    let r = flux::wait_for(
        &repos(&stack, "default"),
        "wrong",
        "AuthenticationFailed",
        WAIT,
        |r| flux::failed_with(r, "AuthenticationFailed"),
    )
    .await;
    let message = ready(&r).unwrap().2;
    assert!(
        !message.contains("wrong-one") && !message.contains("r3g-passw0rd"),
        "{message}"
    );

    let namespaces: Api<Namespace> = Api::all(stack.client.clone());
    for (name, team) in [("team-a", "a"), ("team-b", "b")] {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"team": team}}});
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap();
    }
    repository(&stack, "default", "app", json!({"image": image, "interval": "1h", "insecure": true, "secretRef": {"name": "good"}, "accessFrom": {"namespaceSelectors": [{"matchLabels": {"team": "a"}}]}})).await;
    scanned(&stack, "default", "app", 2).await;
    let reference = json!({"name": "app", "namespace": "default"});
    policy(
        &stack,
        "team-a",
        "allowed",
        json!({"imageRepositoryRef": reference, "policy": {"semver": {"range": "*"}}}),
    )
    .await;
    policy(
        &stack,
        "team-b",
        "refused",
        json!({"imageRepositoryRef": reference, "policy": {"semver": {"range": "*"}}}),
    )
    .await;
    picked(&stack, "team-a", "allowed", "1.1.0").await;
    let p = flux::wait_for(
        &policies(&stack, "team-b"),
        "refused",
        "AccessDenied",
        WAIT,
        |p| flux::failed_with(p, "AccessDenied"),
    )
    .await;
    assert!(p.status.unwrap().latest_ref.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockdown_refuses_every_cross_namespace_policy() {
    let options = StackOptions {
        image_flags: vec!["--no-cross-namespace-refs".into()],
        ..StackOptions::default()
    };
    let Some(stack) = stack(options).await else {
        return;
    };
    let registry = TestRegistry::start(None);
    push_tags(&registry, "apps/api", &["1.0.0"]);
    let image = format!("{}/apps/api", registry.host);
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant"}});
    Api::<Namespace>::all(stack.client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    repository(&stack, "default", "api", json!({"image": image, "interval": "1h", "insecure": true, "accessFrom": {"namespaceSelectors": [{"matchLabels": {}}]}})).await;
    scanned(&stack, "default", "api", 1).await;
    policy(&stack, "tenant", "p", json!({"imageRepositoryRef": {"name": "api", "namespace": "default"}, "policy": {"semver": {"range": "*"}}})).await;
    flux::wait_for(
        &policies(&stack, "tenant"),
        "p",
        "AccessDenied",
        WAIT,
        |p| flux::failed_with(p, "AccessDenied"),
    )
    .await;
    policy(
        &stack,
        "default",
        "own",
        json!({"imageRepositoryRef": {"name": "api"}, "policy": {"semver": {"range": "*"}}}),
    )
    .await;
    picked(&stack, "default", "own", "1.0.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_page_of_a_long_tag_list_is_read() {
    let Some(stack) = stack(StackOptions::default()).await else {
        return;
    };
    let registry = TestRegistry::start(None);
    push_tags(&registry, "apps/many", &["0.0.1"]);
    // 2,500 tags: three pages of the registry's tag list.
    registry.alias_tags("apps/many", "0.0.1", (0..2_499).map(|i| format!("2.0.{i}")));
    let image = format!("{}/apps/many", registry.host);
    repository(
        &stack,
        "default",
        "many",
        json!({"image": image, "interval": "1h", "insecure": true}),
    )
    .await;
    scanned(&stack, "default", "many", 2_500).await;
    policy(
        &stack,
        "default",
        "many",
        json!({"imageRepositoryRef": {"name": "many"}, "policy": {"semver": {"range": ">=2.0.0"}}}),
    )
    .await;
    picked(&stack, "default", "many", "2.0.2498").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspended_repositories_do_not_scan_until_resumed() {
    let Some(stack) = stack(StackOptions::default()).await else {
        return;
    };
    let registry = TestRegistry::start(None);
    push_tags(&registry, "apps/paused", &["1.0.0"]);
    let image = format!("{}/apps/paused", registry.host);
    repository(
        &stack,
        "default",
        "paused",
        json!({"image": image, "interval": "1h", "insecure": true}),
    )
    .await;
    scanned(&stack, "default", "paused", 1).await;
    let api = repos(&stack, "default");
    let patch = |suspend: bool| json!({"spec": {"suspend": suspend}});
    api.patch(
        "paused",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(patch(true)),
    )
    .await
    .unwrap();
    push_tags(&registry, "apps/paused", &["1.1.0"]);
    flux::request_reconcile(&api, "paused").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let count = |r: &ImageRepository| {
        r.status
            .as_ref()
            .and_then(|s| s.last_scan_result.as_ref())
            .map(|s| s.tag_count)
    };
    assert_eq!(
        count(&api.get("paused").await.unwrap()),
        Some(1),
        "a suspended repository scanned"
    );
    api.patch(
        "paused",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(patch(false)),
    )
    .await
    .unwrap();
    scanned(&stack, "default", "paused", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_controller_keeps_its_tags() {
    if !TestRegistry::available() {
        eprintln!("skipped: docker-registry or skopeo is not installed");
        return;
    }
    let (data, tags) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let options = || StackOptions {
        data_dir: Some(data.path().to_path_buf()),
        image_storage: Some(tags.path().to_path_buf()),
        ..StackOptions::default()
    };
    let registry = TestRegistry::start(None);
    push_tags(&registry, "apps/kept", &["1.0.0", "1.1.0"]);
    let image = format!("{}/apps/kept", registry.host);
    {
        let stack = stack(options()).await.unwrap();
        repository(
            &stack,
            "default",
            "kept",
            json!({"image": image, "interval": "1h", "insecure": true}),
        )
        .await;
        scanned(&stack, "default", "kept", 2).await;
    }
    // A tag pushed while the controller is down is not seen before the next scan is due: the
    // policy created after the restart resolves from the stored tags, without a new scan.
    push_tags(&registry, "apps/kept", &["9.0.0"]);
    let stack = stack(options()).await.unwrap();
    policy(
        &stack,
        "default",
        "kept",
        json!({"imageRepositoryRef": {"name": "kept"}, "policy": {"semver": {"range": "*"}}}),
    )
    .await;
    picked(&stack, "default", "kept", "1.1.0").await;
    let repo = repos(&stack, "default").get("kept").await.unwrap();
    assert_eq!(repo.status.unwrap().last_scan_result.unwrap().tag_count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registry_behind_tls_with_a_private_ca_and_htpasswd_is_scanned_with_its_secrets() {
    let Some(stack) = stack(StackOptions::default()).await else {
        return;
    };
    if !e2e::tls_front::TlsFront::available() {
        eprintln!("skipped: openssl or python3 is not installed");
        return;
    }
    let registry = TestRegistry::start(Some(("bot", "tls-passw0rd")));
    push_tags(&registry, "secure/app", &["1.0.0", "1.2.0"]);
    let front = e2e::tls_front::TlsFront::start(&format!("http://{}", registry.host));
    let host = front.url.trim_start_matches("https://").to_string();
    let auth = base64::engine::general_purpose::STANDARD.encode("bot:tls-passw0rd");
    let config = json!({"auths": {host.clone(): {"auth": auth}}}).to_string();
    let secrets: Api<Secret> = Api::namespaced(stack.client.clone(), "default");
    for body in [
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"}, "type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": config}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "registry-ca"}, "stringData": {"ca.crt": front.ca_pem}}),
    ] {
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap();
    }
    let image = format!("{host}/secure/app");
    repository(
        &stack,
        "default",
        "trusted",
        json!({"image": image, "interval": "1h",
        "secretRef": {"name": "pull"}, "certSecretRef": {"name": "registry-ca"}}),
    )
    .await;
    let r = scanned(&stack, "default", "trusted", 2).await;
    assert_eq!(
        r.status.unwrap().canonical_image_name.as_deref(),
        Some(image.as_str())
    );
    policy(
        &stack,
        "default",
        "trusted",
        json!({"imageRepositoryRef": {"name": "trusted"},
        "policy": {"semver": {"range": ">=1.0.0"}}}),
    )
    .await;
    picked(&stack, "default", "trusted", "1.2.0").await;

    // Without the CA the registry's certificate is refused, and said so.
    repository(
        &stack,
        "default",
        "untrusted",
        json!({"image": image, "interval": "1h",
        "secretRef": {"name": "pull"}}),
    )
    .await;
    let r = flux::wait_for(
        &repos(&stack, "default"),
        "untrusted",
        "a TLS failure",
        WAIT,
        |r| ready(r).is_some_and(|c| c.0 == "False"),
    )
    .await;
    let message = ready(&r).unwrap().2;
    assert!(message.contains("certificate"), "{message}");
    assert!(!message.contains("tls-passw0rd"), "{message}");
}
