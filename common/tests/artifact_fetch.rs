//! Downloading artifacts over real HTTP: verified bytes are unpacked, a wrong digest or size,
//! a missing file and server errors are refused with typed errors and leave nothing behind.

// Test helpers may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rill_common::api::meta::Artifact;
use rill_common::artifact::{Digest, FetchError, Fetcher, write_archive};

struct Served {
    base: String,
    bytes: Vec<u8>,
    flaky_hits: Arc<AtomicUsize>,
}

async fn serve() -> Served {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("tree/app")).unwrap();
    std::fs::write(tmp.path().join("tree/app/cm.yaml"), "kind: ConfigMap\n").unwrap();
    let out = tmp.path().join("a.tar.gz");
    write_archive(&tmp.path().join("tree"), &out, &|_: &Path, _| false).unwrap();
    let bytes = std::fs::read(&out).unwrap();

    let flaky_hits = Arc::new(AtomicUsize::new(0));
    let body = bytes.clone();
    let body2 = bytes.clone();
    let hits = flaky_hits.clone();
    let app = Router::new()
        .route("/ok.tar.gz", get(move || async move { body }))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/flaky.tar.gz",
            get(move || async move {
                if hits.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(StatusCode::SERVICE_UNAVAILABLE)
                } else {
                    Ok(body2)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        base,
        bytes,
        flaky_hits,
    }
}

fn client() -> reqwest::Client {
    rill_common::runtime::install_crypto_provider();
    reqwest::Client::new()
}

fn artifact(url: String, bytes: &[u8]) -> Artifact {
    Artifact {
        path: "gitrepository/ns/app/abc.tar.gz".into(),
        url,
        revision: "main@sha1:abc".into(),
        digest: Some(Digest::of(bytes).to_string()),
        last_update_time: Time(jiff::Timestamp::now()),
        size: Some(bytes.len() as i64),
        metadata: None,
    }
}

fn fetcher() -> Fetcher {
    rill_common::runtime::install_crypto_provider();
    Fetcher::new(client(), 3).with_host_override(None)
}

#[tokio::test]
async fn verified_artifact_is_unpacked() {
    let served = serve().await;
    let tmp = tempfile::tempdir().unwrap();
    let a = artifact(format!("{}/ok.tar.gz", served.base), &served.bytes);
    let summary = fetcher()
        .fetch_and_unpack(&a, &tmp.path().join("out"))
        .await
        .unwrap();
    assert_eq!(summary.files, 1);
    let text = std::fs::read_to_string(tmp.path().join("out/app/cm.yaml")).unwrap();
    assert_eq!(text, "kind: ConfigMap\n");
}

#[tokio::test]
async fn wrong_digest_is_refused_and_nothing_is_unpacked() {
    let served = serve().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut a = artifact(format!("{}/ok.tar.gz", served.base), &served.bytes);
    a.digest = Some(Digest::of(b"something else").to_string());
    let err = fetcher()
        .fetch_and_unpack(&a, &tmp.path().join("out"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::DigestMismatch { .. }), "{err:?}");
    assert!(!tmp.path().join("out").exists());
}

#[tokio::test]
async fn wrong_size_is_refused() {
    let served = serve().await;
    let mut a = artifact(format!("{}/ok.tar.gz", served.base), &served.bytes);
    a.size = Some(1);
    let err = fetcher().fetch_verified(&a).await.unwrap_err();
    assert!(
        matches!(err, FetchError::SizeMismatch { expected: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_artifact_is_not_found() {
    let served = serve().await;
    let a = artifact(format!("{}/gone.tar.gz", served.base), &served.bytes);
    let err = fetcher().fetch_verified(&a).await.unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let served = serve().await;
    let a = artifact(format!("{}/flaky.tar.gz", served.base), &served.bytes);
    fetcher().fetch_verified(&a).await.unwrap();
    assert_eq!(served.flaky_hits.load(Ordering::SeqCst), 3);

    let a = artifact(format!("{}/boom", served.base), &served.bytes);
    let err = Fetcher::new(client(), 1)
        .fetch_verified(&a)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 500, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_server_is_a_transient_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let a = artifact(format!("http://{addr}/x.tar.gz"), b"x");
    let err = Fetcher::new(client(), 0)
        .fetch_verified(&a)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Transport { .. }) && err.is_transient(),
        "{err:?}"
    );
}

#[tokio::test]
async fn artifacts_without_digest_or_with_odd_urls_are_refused() {
    let mut a = artifact("http://127.0.0.1:1/x".into(), b"x");
    a.digest = None;
    assert!(matches!(
        fetcher().fetch_verified(&a).await,
        Err(FetchError::MissingDigest)
    ));
    let a = artifact("file:///etc/passwd".into(), b"x");
    assert!(matches!(
        fetcher().fetch_verified(&a).await,
        Err(FetchError::InvalidUrl(_))
    ));
}
