//! `kubectl logs` against the sandbox's simulated Pods: the container is picked and checked as
//! the API server does, a waiting container is refused with the kubelet's words, a started
//! one has an empty log (simulated containers print nothing), and `-f` ends when the Pod goes.
//! Skips with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod kubectl_support;

use std::time::{Duration, Instant};

use kubectl_support::Kubectl;

const PODS: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: two, namespace: default}
spec:
  selector: {matchLabels: {app: two}}
  template:
    metadata: {labels: {app: two}}
    spec:
      containers:
      - {name: app, image: \"nginx:1.27\"}
      - {name: sidecar, image: \"busybox:1.36\"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: default}
spec:
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}}
    spec:
      containers:
      - {name: app, image: \"nginx:fail\"}
";

/// The name of the first Pod labelled `app=<app>` once it is in `phase`.
async fn pod_in_phase(k: &Kubectl, app: &str, phase: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = k
            .run(&[
                "get",
                "pods",
                "-l",
                &format!("app={app}"),
                "-o",
                "jsonpath={.items[0].metadata.name} {.items[0].status.phase}",
            ])
            .await;
        if let Some((name, seen)) = out.stdout.split_once(' ')
            && seen == phase
        {
            return name.to_string();
        }
        assert!(Instant::now() < deadline, "no {phase} pod for {app}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_pick_and_check_the_container_as_a_cluster_does() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["apply", "-f", &k.file("pods.yaml", PODS)]).await;
    let two = pod_in_phase(&k, "two", "Running").await;
    let broken = pod_in_phase(&k, "broken", "Pending").await;

    // kubectl picks the first container of a workload's pod and says so.
    let out = k.run(&["logs", "deployment/two"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("Defaulted container \"app\" out of: app, sidecar"),
        "{}",
        out.stderr
    );
    assert_eq!(k.ok(&["logs", &two, "-c", "sidecar"]).await, "");
    assert_eq!(k.ok(&["logs", &two, "--all-containers"]).await, "");

    // The API server's checks of the container, its own words.
    let raw = k
        .run(&[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/pods/{two}/log"),
        ])
        .await;
    assert!(
        raw.stderr.contains(&format!(
            "a container name must be specified for pod {two}, choose one of: [app sidecar]"
        )),
        "{}",
        raw.stderr
    );
    let named = k.run(&["logs", &two, "-c", "db"]).await;
    assert!(
        named
            .stderr
            .contains(&format!("container db is not valid for pod {two}")),
        "{}",
        named.stderr
    );
    // The kubelet's, for a container that never started or never ended.
    let waiting = k.run(&["logs", &broken]).await;
    assert!(
        waiting.stderr.contains(&format!(
            "container \"app\" in pod \"{broken}\" is waiting to start: trying and failing to pull image"
        )),
        "{}",
        waiting.stderr
    );
    let previous = k.run(&["logs", &two, "-c", "app", "--previous"]).await;
    assert!(
        previous.stderr.contains(&format!(
            "previous terminated container \"app\" in pod \"{two}\" not found"
        )),
        "{}",
        previous.stderr
    );
    let missing = k.run(&["logs", "nothing-here"]).await;
    assert!(
        missing.stderr.contains("pods \"nothing-here\" not found"),
        "{}",
        missing.stderr
    );

    // -f follows while the container runs and ends when its Pod is gone.
    let mut follow = std::process::Command::new("kubectl")
        .args(["logs", "-f", &two, "-c", "app"])
        .env(
            "KUBECONFIG",
            k.file("follow-kubeconfig", &k.sandbox().kubeconfig()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        follow.try_wait().unwrap().is_none(),
        "kubectl logs -f returned while the container runs"
    );
    k.ok(&["delete", "pod", &two, "--wait=false"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = follow.kill();
            panic!("kubectl logs -f kept running after its pod was deleted");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success());
}
