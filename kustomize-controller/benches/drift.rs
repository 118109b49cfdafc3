//! Drift undone as it happens, at fleet size: 1,000 Kustomizations applying 10,000 ConfigMaps
//! (the `scale` benchmark's shape, interval one hour), then one edit at a time as `kubectl edit`
//! makes it (a merge patch by the `kubectl-edit` field manager) and some `kubectl delete`s, each
//! timed from the write until a watch sees the object back as Git has it. Prints the p50, p90
//! and p99 of edit -> restored and of delete -> recreated, and the controller's RSS once all
//! are Ready with drift watches on (`--drift-mode=correct`) and off (`--drift-mode=off`).
//!
//! Run with `cargo bench -p kustomize-controller --bench drift` (`RILL_BENCH_COUNTS=1000`,
//! `RILL_BENCH_EDITS=200`). Goal: edit -> restored <= 2 s (p50), RSS within the
//! 1,000-Kustomization budget (64 MiB).

// Benchmark code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fleet;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use e2e::flux::rss_kib;
use fleet::{FOLDERS, Fleet, OBJECTS, all_ready, controller, fleet, kustomizations, mib};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::watcher::{self, Event, watcher};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "  {name} ({} samples): p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        times.len(),
        percentile(&times, 50.0),
        percentile(&times, 90.0),
        percentile(&times, 99.0),
        times
            .last()
            .map(|t| t.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    );
}

/// The `index` value of every ConfigMap as a watch sees it, updated in the background.
fn watch_values(api: Api<ConfigMap>) -> tokio::sync::watch::Receiver<HashMap<String, String>> {
    let (tx, rx) = tokio::sync::watch::channel(HashMap::new());
    tokio::spawn(async move {
        let mut events = watcher(api, watcher::Config::default()).boxed();
        while let Some(Ok(event)) = events.next().await {
            tx.send_modify(|values| match event {
                Event::Apply(cm) | Event::InitApply(cm) => {
                    let value = cm
                        .data
                        .as_ref()
                        .and_then(|d| d.get("index").cloned())
                        .unwrap_or_default();
                    values.insert(cm.metadata.name.unwrap_or_default(), value);
                }
                Event::Delete(cm) => {
                    values.remove(&cm.metadata.name.unwrap_or_default());
                }
                _ => {}
            });
        }
    });
    rx
}

/// Waits until the watch sees `name` with `index` = `want`.
async fn seen(
    values: &mut tokio::sync::watch::Receiver<HashMap<String, String>>,
    name: &str,
    want: &str,
) -> bool {
    let wait = values.wait_for(|v| v.get(name).map(String::as_str) == Some(want));
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .is_ok_and(|r| r.is_ok())
}

async fn run(count: usize, edits: usize) {
    let Fleet {
        cluster, client, ..
    } = fleet(count / FOLDERS).await;
    let kubeconfig = cluster.kubeconfig.clone();
    let limit = Duration::from_secs(60 + count as u64 / 10);

    let mut child = controller(&kubeconfig, &["--drift-mode=correct"]);
    kustomizations(&client, count, limit).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_on = rss_kib(child.id(), "VmRSS:");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut values = watch_values(configmaps.clone());
    let objects = count * OBJECTS;
    assert!(
        tokio::time::timeout(
            Duration::from_secs(60),
            values.wait_for(|v| v.len() >= objects)
        )
        .await
        .is_ok(),
        "the watch did not list the {objects} ConfigMaps"
    );
    let kubectl_edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    let mut restored = Vec::new();
    let mut recreated = Vec::new();
    // Spread over every Kustomization and object position.
    for e in 0..edits {
        let ks = (e * 7919) % count;
        let (repo, folder, object) = (ks / FOLDERS, ks % FOLDERS, e % OBJECTS);
        let name = format!("cm-r{repo}-a{folder:02}-{object}");
        let want = object.to_string();
        let started = Instant::now();
        if e % 10 == 9 {
            configmaps
                .delete(&name, &DeleteParams::default())
                .await
                .unwrap();
            assert!(
                seen(&mut values, &name, &want).await,
                "{name} was not recreated"
            );
            recreated.push(started.elapsed());
        } else {
            configmaps
                .patch(
                    &name,
                    &kubectl_edit,
                    &Patch::Merge(serde_json::json!({"data": {"index": "edited"}})),
                )
                .await
                .unwrap();
            assert!(
                seen(&mut values, &name, &want).await,
                "{name} was not restored"
            );
            restored.push(started.elapsed());
        }
    }
    let peak_on = rss_kib(child.id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();

    // The same fleet without drift watches: the controller starts over and re-applies.
    let mut child = controller(&kubeconfig, &["--drift-mode=off"]);
    let api: Api<rill_common::api::kustomize_v1::Kustomization> =
        Api::namespaced(client.clone(), "default");
    for ks in api.list(&Default::default()).await.unwrap().items {
        e2e::flux::request_reconcile(&api, &ks.metadata.name.unwrap_or_default()).await;
    }
    // Every request handled: the fleet went through this controller once.
    let started = Instant::now();
    loop {
        let handled = api
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|ks| e2e::flux::request_handled(*ks))
            .count();
        if handled == count {
            break;
        }
        assert!(
            started.elapsed() < limit,
            "{handled} of {count} requests handled"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    all_ready(&client, count, Instant::now(), limit).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_off = rss_kib(child.id(), "VmRSS:");
    let peak_off = rss_kib(child.id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();

    println!(
        "{count} Kustomizations, {objects} watched ConfigMaps; {edits} drifts one at a time (goal: restored <= 2 s p50)"
    );
    summary("kubectl edit -> restored", restored);
    summary("kubectl delete -> recreated", recreated);
    println!(
        "  controller RSS with drift watches: {:.1} MiB settled, peak {:.1} MiB; without: {:.1} MiB settled, peak {:.1} MiB (budget 64 MiB)",
        mib(rss_on),
        mib(peak_on),
        mib(rss_off),
        mib(peak_off)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    rill_common::runtime::install_crypto_provider();
    let counts: Vec<usize> = std::env::var("RILL_BENCH_COUNTS")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let edits = std::env::var("RILL_BENCH_EDITS")
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(200);
    for count in counts {
        run(count, edits).await;
    }
}
