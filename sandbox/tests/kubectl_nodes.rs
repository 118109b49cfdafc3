//! The sandbox's one node as kubectl shows a single-node cluster's: `get nodes` (wide too),
//! `describe node` with the Pods on it, `cordon` / `uncordon` deciding whether a new Pod is
//! scheduled, and the scheduler's and kubelet's Events for a `kubectl run` Pod. Skips with a
//! message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod kubectl_support;

use std::time::{Duration, Instant};

use kubectl_support::Kubectl;

fn cells(table: &str, line: usize) -> Vec<String> {
    table
        .lines()
        .nth(line)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

async fn phase(k: &Kubectl, pod: &str) -> String {
    k.ok(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ready_node_takes_the_pods_until_cordoned() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let nodes = k.ok(&["get", "nodes"]).await;
    assert_eq!(
        cells(&nodes, 0),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{nodes}"
    );
    let node = cells(&nodes, 1);
    assert_eq!(
        [&node[0], &node[1], &node[2], &node[4]],
        ["rill-sandbox", "Ready", "control-plane", "v1.32.0"],
        "{nodes}"
    );
    let wide = k.ok(&["get", "nodes", "-o", "wide"]).await;
    assert_eq!(
        cells(&wide, 0)[5..],
        [
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME"
        ],
        "{wide}"
    );
    assert_eq!(cells(&wide, 1)[5..7], ["10.0.0.10", "<none>"], "{wide}");
    let lease = k
        .ok(&["get", "lease", "rill-sandbox", "-n", "kube-node-lease"])
        .await;
    assert!(lease.contains("rill-sandbox"), "{lease}");

    // A Pod of its own is bound to the node and started, with the Events that say so.
    k.ok(&["run", "one-off", "--image=busybox:1.36"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while phase(&k, "one-off").await != "Running" {
        assert!(Instant::now() < deadline, "one-off never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let on = k
        .ok(&["get", "pod", "one-off", "-o", "jsonpath={.spec.nodeName}"])
        .await;
    assert_eq!(on, "rill-sandbox");
    let events = k
        .ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=one-off",
            "-o",
            "custom-columns=REASON:.reason,FROM:.source.component,MESSAGE:.message",
        ])
        .await;
    for wanted in [
        "Scheduled   default-scheduler   Successfully assigned default/one-off to rill-sandbox",
        "Started     kubelet             Started container one-off",
    ] {
        assert!(events.contains(wanted), "no {wanted:?} in\n{events}");
    }
    let described = k.ok(&["describe", "node", "rill-sandbox"]).await;
    assert!(
        described.contains("Non-terminated Pods:          (1 in total)")
            && described.contains("default                     one-off"),
        "{described}"
    );

    // Cordoned, the node takes no new Pod; uncordoned, the waiting Pod is started.
    k.ok(&["cordon", "rill-sandbox"]).await;
    let cordoned = k.ok(&["get", "nodes"]).await;
    assert_eq!(cells(&cordoned, 1)[1], "Ready,SchedulingDisabled");
    k.ok(&["run", "waiting", "--image=busybox:1.36"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(phase(&k, "waiting").await, "Pending");
    k.ok(&["uncordon", "rill-sandbox"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while phase(&k, "waiting").await != "Running" {
        assert!(
            Instant::now() < deadline,
            "waiting never ran after uncordon"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
