//! Drift undone as it happens: with the Kustomization's interval at ten minutes, a `kubectl
//! scale`, `patch`, `label` or `delete` of an applied object is undone within seconds by the
//! drift watch; `detect` mode reports it (Drifted, an event) and changes nothing; `off` leaves
//! it; a controller's own change (an HPA's) is not fought.

use std::time::Duration;

use serde_json::json;

use super::delivery::delivered;
use super::*;

/// Waits up to `seconds` for `check` to hold; false when it never did.
async fn eventually<F, Fut>(seconds: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn replicas(env: &Env) -> i32 {
    env.deployment("apps", "app")
        .await
        .and_then(|d| d.spec.and_then(|s| s.replicas))
        .unwrap_or(0)
}

async fn setting(env: &Env) -> Option<String> {
    env.config_map("apps", "settings")
        .await
        .and_then(|c| c.data)
        .and_then(|d| d.get("value").cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_drift_is_undone_within_seconds() {
    let env = env(&[]).await;
    delivered(&env).await;

    let (ok, out) = env.kubectl(&["scale", "deployment/app", "-n", "apps", "--replicas=5"]);
    assert!(ok, "{out}");
    assert!(
        eventually(10, || async { replicas(&env).await == 1 }).await,
        "kubectl scale was not undone"
    );

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
    assert!(
        eventually(10, || async {
            setting(&env).await.as_deref() == Some("one")
        })
        .await,
        "kubectl patch was not undone"
    );

    let (ok, out) = env.kubectl(&["label", "deployment/app", "-n", "apps", "edited-by=hand"]);
    assert!(ok, "{out}");
    assert!(
        eventually(10, || async {
            env.deployment("apps", "app")
                .await
                .and_then(|d| d.metadata.labels)
                .is_some_and(|l| !l.contains_key("edited-by"))
        })
        .await,
        "a label added with kubectl stayed"
    );

    let (ok, out) = env.kubectl(&["delete", "configmap/settings", "-n", "apps"]);
    assert!(ok, "{out}");
    assert!(
        eventually(10, || async {
            setting(&env).await.as_deref() == Some("one")
        })
        .await,
        "a deleted object was not recreated"
    );
    let ks = env.kustomizations("default").get("app").await.unwrap();
    assert!(ready(&ks).is_some_and(|r| r.0 == "True"));
    assert!(
        condition(&ks, "Drifted").is_none(),
        "correct mode reports no Drifted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn detect_mode_reports_drift_and_changes_nothing() {
    let env = env(&["--drift-mode=detect"]).await;
    delivered(&env).await;
    let (ok, out) = env.kubectl(&["scale", "deployment/app", "-n", "apps", "--replicas=5"]);
    assert!(ok, "{out}");
    let ks = env
        .wait("default", "app", "Drifted", |ks| {
            condition(ks, "Drifted").is_some_and(|c| c.0 == "True")
        })
        .await;
    let drifted = condition(&ks, "Drifted").unwrap();
    assert_eq!(drifted.1, "DriftDetected");
    assert!(drifted.2.contains("Deployment/apps/app"), "{}", drifted.2);
    assert!(ready(&ks).is_some_and(|r| r.0 == "True"), "still Ready");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replicas(&env).await, 5, "detect mode changes nothing");
    let (ok, events) = env.kubectl(&[
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        "reason=DriftDetected",
    ]);
    assert!(ok && events.contains("Deployment/apps/app"), "{events}");

    // A requested reconcile applies Git again and clears the report.
    env.request(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "default",
        "app",
    )
    .await;
    env.wait_replicas("apps", "app", 1).await;
    env.wait("default", "app", "Drifted cleared", |ks| {
        condition(ks, "Drifted").is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_can_be_turned_off_and_other_controllers_are_not_fought() {
    let env = env(&[]).await;
    delivered(&env).await;

    // Another controller (the HPA's manager) scales: not drift.
    let api = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(env.client(), "apps");
    api.patch_scale(
        "app",
        &PatchParams::apply("kube-controller-manager"),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await
    .unwrap();
    assert!(
        !eventually(3, || async { replicas(&env).await != 3 }).await,
        "another controller's scale was fought"
    );

    // Off: kubectl's change stays.
    env.patch_ks(
        "default",
        "app",
        json!({"metadata": {"annotations": {"rill.dev/drift": "off"}}}),
    )
    .await;
    env.request(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "default",
        "app",
    )
    .await;
    env.wait_replicas("apps", "app", 1).await;
    let (ok, out) = env.kubectl(&["scale", "deployment/app", "-n", "apps", "--replicas=4"]);
    assert!(ok, "{out}");
    assert!(
        !eventually(3, || async { replicas(&env).await != 4 }).await,
        "drift off still undid kubectl"
    );
}
