//! Our controllers against objects as a real API server stores them: defaulted (pull policies,
//! strategies, probe timings, cluster IPs, Job selectors) and guarded by immutable fields.
//! Files that carry none of the defaults are not drift, re-applying them writes nothing, and
//! a change to an immutable field fails the Kustomization until `force` recreates the object.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;

use super::*;

const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {port: 8080}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
";

fn job(image: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: migrate}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: migrate, image: \"{image}\"}}]\n"
    )
}

/// The resourceVersions of the applied objects, in a fixed order.
async fn versions(env: &Env) -> Vec<String> {
    let client = env.client();
    let rv = |m: kube::api::ObjectMeta| m.resource_version.unwrap_or_default();
    vec![
        rv(env.deployment("apps", "web").await.unwrap().metadata),
        rv(Api::<Service>::namespaced(client.clone(), "apps")
            .get("web")
            .await
            .unwrap()
            .metadata),
        rv(Api::<Job>::namespaced(client, "apps")
            .get("migrate")
            .await
            .unwrap()
            .metadata),
    ]
}

/// Asks for a reconcile and waits until the controller has handled that very request.
async fn reconcile_now(env: &Env) -> Kustomization {
    let token = jiff::Timestamp::now().as_nanosecond().to_string();
    let (ok, out) = env.kubectl(&[
        "annotate",
        "--overwrite",
        "-n",
        "default",
        "kustomization.kustomize.toolkit.fluxcd.io/app",
        &format!("reconcile.fluxcd.io/requestedAt={token}"),
    ]);
    assert!(ok, "{out}");
    env.wait("default", "app", "request handled", |ks| {
        ks.status
            .as_ref()
            .and_then(|s| s.reconcile.last_handled_reconcile_at.as_deref())
            == Some(token.as_str())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn defaulted_objects_are_neither_drift_nor_rewritten() {
    // Detect mode: anything the drift watch took for drift would show as a Drifted condition.
    let env = env(&["--drift-mode=detect"]).await;
    env.deliver(
        &[("app.yaml", APP), ("job.yaml", &job("busybox:1.36"))],
        "./",
    )
    .await;

    // The stack serves HTTPS: the namespace carries the cluster CA as on a real cluster, and
    // the Kustomization leaves that cluster-managed object alone.
    let ca = env
        .stack
        .sandbox
        .ca_pem()
        .expect("the stack serves HTTPS")
        .to_string();
    let mut published = None;
    for _ in 0..50 {
        published = env.config_map("apps", "kube-root-ca.crt").await;
        if published.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let published = published.expect("kube-root-ca.crt in apps");
    assert_eq!(published.data.unwrap_or_default().get("ca.crt"), Some(&ca));

    // The live objects carry the server's defaults the files do not.
    let deploy = env.deployment("apps", "web").await.unwrap();
    let spec = deploy.spec.unwrap();
    assert_eq!(spec.revision_history_limit, Some(10));
    let container = &spec.template.spec.unwrap().containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let svc = Api::<Service>::namespaced(env.client(), "apps")
        .get("web")
        .await
        .unwrap();
    let ip = svc.spec.unwrap().cluster_ip.unwrap_or_default();
    let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
    assert!(
        octets.len() == 4 && octets[0] == 10 && (96..=111).contains(&octets[1]),
        "{ip}"
    );

    // The simulated controllers finish their own writes (status, revision) first.
    let mut before = versions(&env).await;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = versions(&env).await;
        if now == before {
            break;
        }
        before = now;
    }
    for _ in 0..2 {
        let ks = reconcile_now(&env).await;
        assert!(
            ready(&ks).is_some_and(|r| r.0 == "True"),
            "{:?}",
            ready(&ks)
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        versions(&env).await,
        before,
        "a reconcile rewrote an unchanged object"
    );
    assert!(
        env.config_map("apps", "kube-root-ca.crt").await.is_some(),
        "a cluster-managed object was pruned"
    );
    let ks = env.kustomizations("default").get("app").await.unwrap();
    assert!(
        condition(&ks, "Drifted").is_none(),
        "defaults were taken for drift: {:?}",
        condition(&ks, "Drifted")
    );
    let (ok, events) = env.kubectl(&[
        "get",
        "events",
        "-n",
        "default",
        "-o",
        "custom-columns=MSG:.message",
    ]);
    assert!(ok, "{events}");
    assert!(
        !events.contains("configured"),
        "an unchanged object was reported configured:\n{events}"
    );

    // Real drift is still seen against the defaulted object.
    let (ok, out) = env.kubectl(&["scale", "deployment/web", "-n", "apps", "--replicas=3"]);
    assert!(ok, "{out}");
    let ks = env
        .wait("default", "app", "Drifted", |ks| {
            condition(ks, "Drifted").is_some_and(|c| c.0 == "True")
        })
        .await;
    assert!(
        condition(&ks, "Drifted")
            .unwrap()
            .2
            .contains("Deployment/apps/web")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_immutable_change_fails_until_force_recreates_the_object() {
    let env = env(&[]).await;
    let (repo, _) = env
        .deliver(&[("job.yaml", &job("busybox:1.36"))], "./")
        .await;
    let jobs = Api::<Job>::namespaced(env.client(), "apps");
    let first = jobs.get("migrate").await.unwrap().metadata.uid.unwrap();

    let next = repo.commit("master", &[("job.yaml", &job("busybox:1.37"))], "new image");
    env.refresh("default", "app").await;
    let ks = env
        .failed_with("default", "app", "ReconciliationFailed")
        .await;
    let message = ready(&ks).unwrap().2;
    assert!(
        message.contains("Job/apps/migrate")
            && message.contains("spec.template: Invalid value")
            && message.contains("field is immutable"),
        "{message}"
    );
    assert_eq!(
        jobs.get("migrate").await.unwrap().metadata.uid.unwrap(),
        first
    );

    env.patch_ks("default", "app", json!({"spec": {"force": true}}))
        .await;
    env.ready_at("default", "app", &next).await;
    let job = jobs.get("migrate").await.unwrap();
    assert_ne!(
        job.metadata.uid.unwrap(),
        first,
        "the Job was not recreated"
    );
    let image = job.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("busybox:1.37"));
}
