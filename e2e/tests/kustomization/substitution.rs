//! Post-build substitution from inline values, ConfigMaps and Secrets, the opt-out marker,
//! and strict mode refusing an undefined variable.

use super::*;
use k8s_openapi::api::core::v1::Secret;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn variables_come_from_configmaps_secrets_and_the_spec() {
    let env = env(&[]).await;
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  cluster: ${cluster_name}\n  region: ${region:=eu-west-1}\n  token: ${token}\n  env: ${env}\n";
    let skipped = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  script: echo ${HOME}\n";
    let repo = env.repo("app", &[("cm.yaml", cm), ("raw.yaml", skipped)]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    let vars: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "vars"}, "data": {"cluster_name": "prod", "env": "from-configmap"}})).unwrap();
    Api::<ConfigMap>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &vars)
        .await
        .unwrap();
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "secret-vars"}, "stringData": {"token": "s3cr3t\n"}}),
    )
    .unwrap();
    Api::<Secret>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    env.source("default", "app", "app").await;
    env.kustomization(
        "default",
        "app",
        json!({"targetNamespace": "default", "postBuild": {
            "substitute": {"env": "inline"},
            "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}, {"kind": "Secret", "name": "secret-vars"}, {"kind": "Secret", "name": "absent", "optional": true}]
        }}),
    )
    .await;
    env.ready_at("default", "app", &head).await;
    let data = env
        .config_map("default", "settings")
        .await
        .and_then(|c| c.data)
        .unwrap();
    assert_eq!(data.get("cluster").map(String::as_str), Some("prod"));
    assert_eq!(data.get("region").map(String::as_str), Some("eu-west-1"));
    assert_eq!(
        data.get("token").map(String::as_str),
        Some("s3cr3t"),
        "newlines removed"
    );
    assert_eq!(
        data.get("env").map(String::as_str),
        Some("inline"),
        "inline wins"
    );
    let raw = env
        .config_map("default", "raw")
        .await
        .and_then(|c| c.data)
        .unwrap();
    assert_eq!(raw.get("script").map(String::as_str), Some("echo ${HOME}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_undefined_variable_fails_in_strict_mode_without_leaking_values() {
    let env = env(&[]).await;
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: ${defined}\n  b: ${undefined}\n";
    env.repo("app", &[("cm.yaml", cm)]);
    env.source("default", "app", "app").await;
    env.kustomization(
        "default",
        "app",
        json!({"targetNamespace": "default", "postBuild": {"substitute": {"defined": "hunter2"}}}),
    )
    .await;
    let ks = env.failed_with("default", "app", "BuildFailed").await;
    let message = ready(&ks).unwrap().2;
    assert!(
        message.contains("undefined") && message.contains("strict"),
        "{message}"
    );
    assert!(
        !message.contains("hunter2"),
        "values never reach conditions: {message}"
    );
    assert!(env.config_map("default", "settings").await.is_none());

    let missing = "missing-vars";
    env.patch_ks("default", "app", json!({"spec": {"postBuild": {"substitute": {"undefined": "x"}, "substituteFrom": [{"kind": "ConfigMap", "name": missing}]}}})).await;
    let ks = env
        .wait("default", "app", "missing ConfigMap", |ks| {
            ready(ks).is_some_and(|r| r.2.contains(missing))
        })
        .await;
    assert_eq!(ready(&ks).unwrap().1, "BuildFailed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_labelled_variables_configmap_triggers_a_reconcile_when_it_changes() {
    let env = env(&[]).await;
    let cm =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: ${color}\n";
    let repo = env.repo("app", &[("cm.yaml", cm)]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    let vars = |color: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": "vars", "labels": {"reconcile.fluxcd.io/watch": "Enabled"}}, "data": {"color": color}})).unwrap()
    };
    let api = Api::<ConfigMap>::namespaced(env.client(), "default");
    api.create(&PostParams::default(), &vars("blue"))
        .await
        .unwrap();
    env.source("default", "app", "app").await;
    env.kustomization(
        "default",
        "app",
        json!({"targetNamespace": "default", "interval": "1h",
        "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}}),
    )
    .await;
    env.ready_at("default", "app", &head).await;
    let color = |cm: Option<ConfigMap>| {
        cm.and_then(|c| c.data)
            .and_then(|d| d.get("color").cloned())
    };
    assert_eq!(
        color(env.config_map("default", "settings").await).as_deref(),
        Some("blue")
    );

    api.replace("vars", &PostParams::default(), &{
        let mut next = vars("green");
        next.metadata.resource_version = api.get("vars").await.unwrap().metadata.resource_version;
        next
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while color(env.config_map("default", "settings").await).as_deref() != Some("green") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change of the labelled ConfigMap was not applied"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
