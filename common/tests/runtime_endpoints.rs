//! The metrics and health endpoints answer over real HTTP as Prometheus and kubelet expect.

// Test helpers may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rill_common::runtime::health::{Readiness, health_router, metrics_router, serve};
use rill_common::runtime::metrics::Metrics;

async fn start(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, router));
    base
}

#[tokio::test]
async fn readyz_follows_readiness_and_healthz_is_always_ok() {
    rill_common::runtime::install_crypto_provider();
    let readiness = Readiness::default();
    let base = start(health_router(readiness.clone())).await;
    rill_common::runtime::install_crypto_provider();
    let client = reqwest::Client::new();
    let status = |path: &'static str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/healthz").await, 200);
    assert_eq!(status("/readyz").await, 503);
    readiness.set(true);
    assert_eq!(status("/readyz").await, 200);
    assert_eq!(status("/nope").await, 404);
}

#[tokio::test]
async fn metrics_endpoint_serves_reconcile_durations() {
    rill_common::runtime::install_crypto_provider();
    let metrics = Metrics::new();
    drop(metrics.reconcile_timer("Kustomization", "apps", "web"));
    let base = start(metrics_router(metrics)).await;
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.contains("# TYPE gotk_reconcile_duration_seconds histogram"),
        "{body}"
    );
    assert!(
        body.contains(r#"gotk_reconcile_duration_seconds_count{kind="Kustomization",name="web",namespace="apps"} 1"#),
        "{body}"
    );
}
