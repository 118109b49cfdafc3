//! Lifecycle: `dependsOn` ordering, suspend and resume, and what deleting a Kustomization
//! does to its objects under each deletion policy.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn depends_on_waits_for_the_dependency_to_be_ready() {
    let env = env(&[]).await;
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: team\ndata:\n  a: b\n";
    let repo = env.repo("app", &[("infra/ns.yaml", ns), ("apps/cm.yaml", cm)]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    env.kustomization(
        "default",
        "apps",
        json!({"path": "./apps", "dependsOn": [{"name": "infra"}]}),
    )
    .await;
    let ks = env
        .failed_with("default", "apps", "DependencyNotReady")
        .await;
    assert!(
        ready(&ks).unwrap().2.contains("default/infra"),
        "{:?}",
        ready(&ks)
    );
    assert!(env.config_map("team", "app").await.is_none());

    env.kustomization("default", "infra", json!({"path": "./infra"}))
        .await;
    env.ready_at("default", "infra", &head).await;
    env.ready_at("default", "apps", &head).await;
    assert!(env.config_map("team", "app").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspend_stops_the_loop_and_resume_catches_up() {
    let env = env(&[]).await;
    let repo = env.repo("app", &[("cm.yaml", &config_map("settings", "one"))]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    env.kustomization("default", "app", json!({"targetNamespace": "default"}))
        .await;
    env.ready_at("default", "app", &head).await;

    env.patch_ks("default", "app", json!({"spec": {"suspend": true}}))
        .await;
    let next = repo.commit(
        "master",
        &[("cm.yaml", &config_map("settings", "two"))],
        "two",
    );
    env.refresh("default", "app").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let value = |cm: Option<ConfigMap>| {
        cm.and_then(|c| c.data)
            .and_then(|d| d.get("value").cloned())
    };
    assert_eq!(
        value(env.config_map("default", "settings").await).as_deref(),
        Some("one"),
        "suspended"
    );

    env.patch_ks("default", "app", json!({"spec": {"suspend": false}}))
        .await;
    env.ready_at("default", "app", &next).await;
    assert_eq!(
        value(env.config_map("default", "settings").await).as_deref(),
        Some("two")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletion_prunes_or_orphans_per_policy() {
    let env = env(&[]).await;
    let repo = env.repo(
        "app",
        &[
            ("pruned/cm.yaml", &config_map("pruned", "x")),
            ("kept/cm.yaml", &config_map("kept", "x")),
        ],
    );
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    env.kustomization(
        "default",
        "pruned",
        json!({"path": "./pruned", "targetNamespace": "default"}),
    )
    .await;
    env.kustomization(
        "default",
        "kept",
        json!({"path": "./kept", "targetNamespace": "default", "deletionPolicy": "Orphan"}),
    )
    .await;
    env.ready_at("default", "pruned", &head).await;
    env.ready_at("default", "kept", &head).await;

    for name in ["pruned", "kept"] {
        let (ok, out) = env.kubectl(&[
            "delete",
            "kustomization",
            name,
            "-n",
            "default",
            "--wait=true",
            "--timeout=30s",
        ]);
        assert!(ok, "{out}");
    }
    assert!(
        env.config_map("default", "pruned").await.is_none(),
        "MirrorPrune with prune: true deletes"
    );
    assert!(
        env.config_map("default", "kept").await.is_some(),
        "Orphan keeps"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cel_expressions_drive_health_and_dependencies() {
    let env = env(&[]).await;
    let state = |s: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gate\ndata:\n  state: {s}\n")
    };
    let repo = env.repo(
        "app",
        &[
            ("gate/cm.yaml", &state("broken")),
            ("other/cm.yaml", &config_map("other", "x")),
        ],
    );
    env.source("default", "app", "app").await;
    let exprs = json!([{"apiVersion": "v1", "kind": "ConfigMap", "current": "data.state == 'ready'", "failed": "data.state == 'broken'"}]);
    env.kustomization("default", "gate", json!({"path": "./gate", "targetNamespace": "default", "wait": true, "timeout": "30s", "healthCheckExprs": exprs})).await;
    let ks = env
        .failed_with("default", "gate", "HealthCheckFailed")
        .await;
    assert!(
        ready(&ks).unwrap().2.contains("failed expression matched"),
        "{:?}",
        ready(&ks)
    );
    let fixed = repo.commit("master", &[("gate/cm.yaml", &state("ready"))], "ready");
    env.refresh("default", "app").await;
    env.ready_at("default", "gate", &fixed).await;

    // readyExpr replaces the built-in check: a suspended dependency never becomes Ready
    env.kustomization(
        "default",
        "paused",
        json!({"path": "./other", "targetNamespace": "default", "suspend": true}),
    )
    .await;
    env.kustomization("default", "after", json!({"path": "./other", "targetNamespace": "default", "nameSuffix": "-after",
        "dependsOn": [{"name": "paused", "readyExpr": "dep.spec.suspend == true && self.metadata.name == 'after'"}]})).await;
    env.ready_at("default", "after", &fixed).await;

    env.kustomization("default", "bad", json!({"path": "./other", "dependsOn": [{"name": "paused", "readyExpr": "dep.spec.suspend =="}]})).await;
    let ks = env
        .failed_with("default", "bad", "InvalidCELExpression")
        .await;
    assert_eq!(
        condition(&ks, "Stalled").map(|c| c.0),
        Some("True".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crds_and_namespaces_are_applied_before_what_needs_them() {
    let env = env(&[]).await;
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names:\n    kind: Widget\n    plural: widgets\n    singular: widget\n    listKind: WidgetList\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n";
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: factory\n";
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: sprocket\n  namespace: factory\nspec:\n  size: 3\n";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: factory\ndata:\n  a: b\n";
    let repo = env.repo(
        "app",
        &[
            ("all/widget.yaml", widget),
            ("all/cm.yaml", cm),
            ("all/crd.yaml", crd),
            ("all/ns.yaml", ns),
        ],
    );
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("default", "app", "app").await;
    env.kustomization("default", "all", json!({"path": "./all"}))
        .await;
    let ks = env.ready_at("default", "all", &head).await;
    assert_eq!(
        inventory(&ks),
        vec![
            "_factory__Namespace@v1",
            "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition@v1",
            "factory_settings__ConfigMap@v1",
            "factory_sprocket_example.com_Widget@v1",
        ]
    );
    let (ok, out) = env.kubectl(&[
        "get",
        "widgets.example.com",
        "sprocket",
        "-n",
        "factory",
        "-o",
        "jsonpath={.spec.size}",
    ]);
    assert!(ok && out.trim() == "3", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_source_or_path_waits_and_recovers() {
    let env = env(&[]).await;
    let repo = env.repo("app", &[("apps/cm.yaml", &config_map("settings", "x"))]);
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.kustomization(
        "default",
        "early",
        json!({"path": "./apps", "targetNamespace": "default"}),
    )
    .await;
    let ks = env.failed_with("default", "early", "ArtifactFailed").await;
    assert!(
        ready(&ks).unwrap().2.contains("not found"),
        "{:?}",
        ready(&ks)
    );
    env.kustomization(
        "default",
        "lost",
        json!({"path": "./nowhere", "targetNamespace": "default"}),
    )
    .await;
    env.source("default", "app", "app").await;
    env.ready_at("default", "early", &head).await;
    let ks = env.failed_with("default", "lost", "ArtifactFailed").await;
    assert!(
        ready(&ks)
            .unwrap()
            .2
            .contains("kustomization path not found"),
        "{:?}",
        ready(&ks)
    );
}
