//! Sandbox benchmark: list 10,000 ConfigMaps, 100 concurrent watchers receiving 1,000
//! updates, server-side apply of 1,000 objects. Prints latencies and the peak RSS of the
//! process (server and client share it, so the figure is an upper bound for the server).

// Benchmark code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use sandbox::{Sandbox, SandboxOptions};
use serde_json::json;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::start(SandboxOptions {
        simulate_workloads: false,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let client = sandbox.client().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let start = Instant::now();
    stream::iter(0..10_000)
        .map(|i| {
            let cms = cms.clone();
            async move {
                let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": "list"}}, "data": {"i": i.to_string()}})).unwrap();
                cms.create(&PostParams::default(), &cm).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<()>()
        .await;
    println!("create 10,000 ConfigMaps: {:?}", start.elapsed());

    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let list = cms.list(&ListParams::default()).await.unwrap();
        // Ours and the namespace's kube-root-ca.crt.
        assert_eq!(list.items.len(), 10_001);
        samples.push(t.elapsed());
    }
    println!(
        "list 10,000 ConfigMaps (one request, median of 5): {:?}",
        median(samples)
    );

    let ssa = PatchParams::apply("bench").force();
    let start = Instant::now();
    stream::iter(0..1_000)
        .map(|i| {
            let cms = cms.clone();
            let ssa = ssa.clone();
            async move {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("ssa-{i:04}")}, "data": {"a": "1", "b": i.to_string()}});
                cms.patch(&format!("ssa-{i:04}"), &ssa, &Patch::Apply(&body)).await.unwrap();
            }
        })
        .buffer_unordered(8)
        .collect::<()>()
        .await;
    println!("server-side apply of 1,000 objects: {:?}", start.elapsed());

    let target = "watched";
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": target}, "data": {"n": "0"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let rv = cms
        .list(&ListParams::default().fields(&format!("metadata.name={target}")))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut watchers = Vec::new();
    for _ in 0..100 {
        let stream = cms
            .watch(
                &WatchParams::default()
                    .fields(&format!("metadata.name={target}"))
                    .timeout(120),
                &rv,
            )
            .await
            .unwrap();
        watchers.push(tokio::spawn(async move {
            let mut seen = 0;
            let mut stream = Box::pin(stream);
            while let Some(event) = stream.try_next().await.unwrap() {
                if matches!(event, WatchEvent::Modified(_)) {
                    seen += 1;
                    if seen == 1_000 {
                        return Instant::now();
                    }
                }
            }
            panic!("watch ended after {seen} events");
        }));
    }
    let start = Instant::now();
    for n in 1..=1_000 {
        cms.patch(
            target,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"n": n.to_string()}})),
        )
        .await
        .unwrap();
    }
    let writes_done = start.elapsed();
    let mut last = start;
    for w in watchers {
        last = last.max(w.await.unwrap());
    }
    println!(
        "1,000 updates: writes took {writes_done:?}; all 100 watchers had every event after {:?}",
        last - start
    );
    println!(
        "peak RSS (server and client together): {:.1} MiB",
        peak_rss_mib()
    );
}
