//! Runtime flags seen from outside: shards split the Kustomizations between controllers
//! (`--watch-label-selector` with Flux's `sharding.fluxcd.io/key` label), and events reach the
//! notification-controller address (`--events-addr`) in Flux's payload.

use e2e::event_receiver::EventReceiver;
use rill_common::runtime::manager::ControllerRuntime;
use rill_common::runtime::metrics::Metrics;

use super::*;

const SHARD_KEY: &str = "sharding.fluxcd.io/key";

/// Starts one more kustomize-controller on the stack's API server with `flags`; returns its
/// metrics, which say what it reconciled.
async fn extra_controller(env: &Env, flags: &[&str]) -> std::sync::Arc<Metrics> {
    let args = std::iter::once("kustomize-controller").chain(flags.iter().copied());
    let flags = <kustomize_controller::Flags as clap::Parser>::try_parse_from(args).unwrap();
    let runtime = ControllerRuntime::new("kustomize-controller", flags.runtime.clone()).unwrap();
    let metrics = runtime.metrics.clone();
    let config = env.stack.sandbox.config().await.unwrap();
    tokio::spawn(kustomize_controller::run_with_config(
        flags,
        runtime,
        env.client(),
        config,
    ));
    metrics
}

fn reconciled(metrics: &Metrics, name: &str) -> bool {
    metrics.encode().lines().any(|l| {
        l.starts_with("gotk_reconcile_duration_seconds_count{")
            && l.contains(r#"kind="Kustomization""#)
            && l.contains(&format!(r#"name="{name}""#))
    })
}

async fn labelled_kustomization(env: &Env, name: &str, shard: Option<&str>) {
    let labels = match shard {
        Some(s) => json!({ SHARD_KEY: s }),
        None => json!({}),
    };
    let body = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"interval": "10m", "prune": true, "path": format!("./{name}"), "targetNamespace": "default",
                 "sourceRef": {"kind": "GitRepository", "name": "app"}},
    });
    env.kustomizations("default")
        .create(
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_split_the_kustomizations_between_controllers() {
    // The stack's own controller takes the unsharded objects, as Flux's main shard does.
    let env = env(&[&format!("--watch-label-selector=!{SHARD_KEY}")]).await;
    let shard1 = extra_controller(
        &env,
        &[&format!("--watch-label-selector={SHARD_KEY}=shard1")],
    )
    .await;
    let shard2 = extra_controller(
        &env,
        &[&format!("--watch-label-selector={SHARD_KEY}=shard2")],
    )
    .await;
    let repo = env.repo(
        "app",
        &[
            ("one/cm.yaml", &config_map("one", "1")),
            ("two/cm.yaml", &config_map("two", "2")),
            ("main/cm.yaml", &config_map("main", "m")),
        ],
    );
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    labelled_kustomization(&env, "one", Some("shard1")).await;
    labelled_kustomization(&env, "two", Some("shard2")).await;
    labelled_kustomization(&env, "main", None).await;
    for name in ["one", "two", "main"] {
        env.ready_at("default", name, &head).await;
        assert!(env.config_map("default", name).await.is_some(), "{name}");
    }
    assert!(reconciled(&shard1, "one") && !reconciled(&shard1, "two"));
    assert!(reconciled(&shard2, "two") && !reconciled(&shard2, "one"));
    assert!(!reconciled(&shard1, "main") && !reconciled(&shard2, "main"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_are_posted_to_the_events_address_in_fluxs_format() {
    let receiver = EventReceiver::start().await.unwrap();
    let env = env(&[&format!("--events-addr={}", receiver.url)]).await;
    let repo = env.repo("app", &[("cm.yaml", &config_map("settings", "one"))]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    env.kustomization("default", "web", json!({"targetNamespace": "default"}))
        .await;
    env.ready_at("default", "web", &head).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let event = loop {
        let found = receiver.events().into_iter().find(|e| {
            e["reason"] == "ReconciliationSucceeded" && e["involvedObject"]["name"] == "web"
        });
        if let Some(event) = found {
            break event;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ReconciliationSucceeded event posted: {:#?}",
            receiver.events()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(event["severity"], "info");
    assert_eq!(event["reportingController"], "kustomize-controller");
    assert_eq!(event["involvedObject"]["kind"], "Kustomization");
    assert_eq!(event["involvedObject"]["namespace"], "default");
    assert_eq!(
        event["involvedObject"]["apiVersion"],
        "kustomize.toolkit.fluxcd.io/v1"
    );
    assert_eq!(
        event["metadata"]["kustomize.toolkit.fluxcd.io/revision"],
        format!("master@sha1:{head}").as_str()
    );
    assert!(
        event["timestamp"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok(),
        "{event}"
    );
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .starts_with("Reconciliation finished in"),
        "{event}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn artifacts_digested_with_sha512_are_verified_and_applied() {
    let env = env_with(StackOptions {
        source_flags: vec!["--artifact-digest-algo=sha512".into()],
        ..StackOptions::default()
    })
    .await;
    let repo = env.repo("app", &[("cm.yaml", &config_map("settings", "one"))]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    env.kustomization("default", "web", json!({"targetNamespace": "default"}))
        .await;
    env.ready_at("default", "web", &head).await;
    let source: rill_common::api::source_v1::GitRepository =
        Api::namespaced(env.client(), "default")
            .get("app")
            .await
            .unwrap();
    let artifact = source.status.unwrap().artifact.unwrap();
    let digest = artifact.digest.unwrap();
    assert!(
        digest.starts_with("sha512:") && digest.len() == 7 + 128,
        "{digest}"
    );
    let bytes = reqwest::get(&artifact.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let algorithm = rill_common::artifact::Algorithm::Sha512;
    assert_eq!(
        rill_common::artifact::Digest::with(algorithm, &bytes).to_string(),
        digest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_that_cannot_work_are_refused_at_start() {
    for flags in [
        &["--events-addr=not a url"][..],
        &["--kube-api-qps=0"],
        &["--leader-election-retry-period=40s"],
    ] {
        let args = std::iter::once("kustomize-controller").chain(flags.iter().copied());
        let parsed = <kustomize_controller::Flags as clap::Parser>::try_parse_from(args).unwrap();
        let refused = ControllerRuntime::new("kustomize-controller", parsed.runtime);
        assert!(refused.is_err(), "{flags:?} accepted");
    }
    let blake3 = ["source-controller", "--artifact-digest-algo=blake3"];
    let refused = <source_controller::Flags as clap::Parser>::try_parse_from(blake3);
    let message = refused.expect_err("blake3 is refused").to_string();
    assert!(
        message.contains("unsupported digest algorithm"),
        "{message}"
    );
}
