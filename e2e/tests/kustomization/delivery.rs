//! The delivery loop: a push is applied, `git revert` rolls back, a deleted file is pruned,
//! a broken push changes nothing, kubectl drift is undone, a failing rollout is reported.

use super::*;

const BASE: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- config.yaml\n";
const PROD: &str =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../base\n";

fn app_files(replicas: u32) -> Vec<(&'static str, String)> {
    vec![
        ("apps/base/kustomization.yaml", BASE.to_string()),
        (
            "apps/base/deployment.yaml",
            deployment("app", replicas, "nginx:1.27"),
        ),
        ("apps/base/config.yaml", config_map("settings", "one")),
        ("apps/prod/kustomization.yaml", PROD.to_string()),
    ]
}

fn refs<'a>(files: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    files.iter().map(|(p, c)| (*p, c.as_str())).collect()
}

pub(super) async fn delivered(env: &Env) -> (TestRepo, String) {
    let files = app_files(1);
    env.deliver(&refs(&files), "./apps/prod").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_reverts_and_deletions_reach_the_cluster() {
    let env = env(&[]).await;
    let (repo, _) = delivered(&env).await;
    let deploy = env
        .deployment("apps", "app")
        .await
        .expect("deployment applied");
    let labels = deploy.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("app")
    );
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/namespace")
            .map(String::as_str),
        Some("default")
    );
    let ks = env.kustomizations("default").get("app").await.unwrap();
    assert_eq!(
        inventory(&ks),
        vec!["apps_app_apps_Deployment@v1", "apps_settings__ConfigMap@v1"]
    );
    let status = ks.status.clone().unwrap();
    assert_eq!(status.reconcile.observed_generation, Some(1));
    assert_eq!(status.history.as_ref().map(Vec::len), Some(1));
    assert!(
        ready(&ks)
            .unwrap()
            .2
            .starts_with("Applied revision: master@sha1:")
    );

    // replicas 1 -> 3
    let bumped = repo.commit(
        "master",
        &[(
            "apps/base/deployment.yaml",
            &deployment("app", 3, "nginx:1.27"),
        )],
        "scale up",
    );
    env.refresh("default", "app").await;
    env.ready_at("default", "app", &bumped).await;
    env.wait_replicas("apps", "app", 3).await;

    // git revert: back to 1
    repo.run(&["revert", "--no-edit", "HEAD"]);
    repo.run(&["push", "-q", "origin", "master"]);
    let reverted = repo.run(&["rev-parse", "HEAD"]);
    env.refresh("default", "app").await;
    env.ready_at("default", "app", &reverted).await;
    env.wait_replicas("apps", "app", 1).await;

    // a file removed from Git is pruned from the cluster
    let base = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n";
    let removed = repo.commit(
        "master",
        &[
            ("apps/base/config.yaml", "<delete>"),
            ("apps/base/kustomization.yaml", base),
        ],
        "drop config",
    );
    env.refresh("default", "app").await;
    let ks = env.ready_at("default", "app", &removed).await;
    assert!(env.config_map("apps", "settings").await.is_none(), "pruned");
    assert_eq!(inventory(&ks), vec!["apps_app_apps_Deployment@v1"]);
    let (ok, events) = env.kubectl(&[
        "get",
        "events",
        "-n",
        "default",
        "-o",
        "custom-columns=REASON:.reason,MESSAGE:.message",
    ]);
    assert!(ok, "{events}");
    assert!(
        events.contains("ConfigMap/apps/settings deleted"),
        "{events}"
    );
    assert!(
        events.contains("Deployment/apps/app configured"),
        "{events}"
    );

    // kubectl sees Flux's columns and can wait on the condition
    let (ok, table) = env.kubectl(&["get", "kustomizations", "-n", "default"]);
    assert!(
        ok && table.contains("READY") && table.contains("Applied revision"),
        "{table}"
    );
    let (ok, out) = env.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "kustomization/app",
        "-n",
        "default",
        "--timeout=10s",
    ]);
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_push_keeps_the_last_good_state() {
    let env = env(&[]).await;
    let (repo, good) = delivered(&env).await;
    let before = inventory(&env.kustomizations("default").get("app").await.unwrap());

    let broken = repo.commit(
        "master",
        &[(
            "apps/base/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n",
        )],
        "broken yaml",
    );
    env.refresh("default", "app").await;
    let ks = env.failed_with("default", "app", "BuildFailed").await;
    let message = ready(&ks).unwrap().2;
    assert!(message.contains("config.yaml"), "{message}");
    let status = ks.status.clone().unwrap();
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some(format!("master@sha1:{broken}").as_str())
    );
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some(format!("master@sha1:{good}").as_str())
    );
    assert_eq!(inventory(&ks), before, "inventory unchanged");
    assert!(
        env.config_map("apps", "settings").await.is_some(),
        "nothing pruned"
    );
    assert!(condition(&ks, "Reconciling").is_some_and(|c| c.1 == "ProgressingWithRetry"));

    // an overlay that names a missing base fails the same way
    let overlay = "resources:\n- ../missing\n";
    repo.commit(
        "master",
        &[
            ("apps/base/config.yaml", &config_map("settings", "one")),
            ("apps/prod/kustomization.yaml", overlay),
        ],
        "broken overlay",
    );
    env.refresh("default", "app").await;
    let ks = env
        .wait("default", "app", "overlay error", |ks| {
            ready(ks).is_some_and(|r| r.1 == "BuildFailed" && r.2.contains("missing"))
        })
        .await;
    assert_eq!(inventory(&ks), before);
    assert!(env.deployment("apps", "app").await.is_some());

    let fixed = repo.commit("master", &[("apps/prod/kustomization.yaml", PROD)], "fix");
    env.refresh("default", "app").await;
    env.ready_at("default", "app", &fixed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_made_with_kubectl_is_undone_at_the_next_reconcile() {
    // Flux's behaviour: without the drift watch, the next reconcile undoes it (with the watch,
    // `drift.rs` shows it undone at once).
    let env = env(&["--drift-mode=off"]).await;
    delivered(&env).await;
    let (ok, out) = env.kubectl(&["scale", "deployment/app", "-n", "apps", "--replicas=5"]);
    assert!(ok, "{out}");
    env.wait_replicas("apps", "app", 5).await;
    let (ok, out) = env.kubectl(&[
        "patch",
        "configmap/settings",
        "-n",
        "apps",
        "--type=merge",
        "-p",
        r#"{"data":{"value":"edited"}}"#,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = env.kubectl(&["label", "deployment/app", "-n", "apps", "edited-by=hand"]);
    assert!(ok, "{out}");
    env.request(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "default",
        "app",
    )
    .await;
    // The requested reconcile has finished (all its applies) once it is marked handled.
    let ks = env
        .wait("default", "app", "requestedAt handled", |ks| {
            e2e::flux::request_handled(ks)
        })
        .await;
    env.wait_replicas("apps", "app", 1).await;
    let labels = env
        .deployment("apps", "app")
        .await
        .and_then(|d| d.metadata.labels)
        .unwrap_or_default();
    assert!(
        !labels.contains_key("edited-by"),
        "a label added with kubectl is removed: {labels:?}"
    );
    let value = env
        .config_map("apps", "settings")
        .await
        .and_then(|c| c.data)
        .and_then(|d| d.get("value").cloned());
    assert_eq!(value.as_deref(), Some("one"));
    assert!(ready(&ks).is_some_and(|r| r.0 == "True"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_rollout_reports_health_check_failed() {
    let env = env(&[]).await;
    let repo = env.repo(
        "app",
        &[("deploy.yaml", &deployment("web", 2, "nginx:fail"))],
    );
    let _ = repo;
    env.source("default", "app", "app").await;
    env.kustomization(
        "default",
        "web",
        json!({"targetNamespace": "default", "wait": true, "timeout": "30s"}),
    )
    .await;
    let ks = env.failed_with("default", "web", "HealthCheckFailed").await;
    let message = ready(&ks).unwrap().2;
    assert!(message.contains("Deployment/default/web"), "{message}");
    assert_eq!(
        condition(&ks, "Healthy").map(|c| c.0),
        Some("False".to_string())
    );
    assert!(
        env.deployment("default", "web").await.is_some(),
        "applied before the health check"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ignored_paths_keep_their_live_values() {
    let env = env(&[]).await;
    let repo = env.repo(
        "app",
        &[("deploy.yaml", &deployment("web", 1, "nginx:1.27"))],
    );
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    let ignore = json!([{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]);
    env.kustomization(
        "default",
        "web",
        json!({"targetNamespace": "default", "ignore": ignore}),
    )
    .await;
    env.ready_at("default", "web", &head).await;
    let (ok, out) = env.kubectl(&["scale", "deployment/web", "--replicas=4"]);
    assert!(ok, "{out}");
    let next = repo.commit(
        "master",
        &[("deploy.yaml", &deployment("web", 1, "nginx:1.28"))],
        "bump image",
    );
    env.refresh("default", "app").await;
    env.ready_at("default", "web", &next).await;
    let deploy = env.deployment("default", "web").await.unwrap();
    let spec = deploy.spec.unwrap();
    assert_eq!(
        spec.replicas,
        Some(4),
        "the ignored path keeps the value set in the cluster"
    );
    let image = spec.template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("nginx:1.28"), "the rest follows Git");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn build_metadata_records_where_objects_came_from() {
    let env = env(&[]).await;
    let repo = env.repo("app", &[("apps/cm.yaml", &config_map("settings", "x"))]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    env.kustomization("default", "app", json!({"path": "./apps", "targetNamespace": "default", "buildMetadata": ["originAnnotations", "transformerAnnotations"]})).await;
    env.ready_at("default", "app", &head).await;
    let cm = env.config_map("default", "settings").await.unwrap();
    let annotations = cm.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get("config.kubernetes.io/origin")
            .map(String::as_str),
        Some("path: cm.yaml\n")
    );
    let transformations = annotations
        .get("alpha.config.kubernetes.io/transformations")
        .cloned()
        .unwrap_or_default();
    assert!(
        transformations.contains("configuredIn: kustomization.yaml")
            && transformations.contains("kind: NamespaceTransformer"),
        "{transformations}"
    );
}
