//! The artifact cache over real HTTP: 50 Kustomizations building from one revision at once
//! cause one download and one unpack; a new revision is one more; a failed download is not
//! kept; a budget smaller than two trees keeps only the most recent one.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::StatusCode;
use axum::routing::get;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kustomize::file_system::FileSystem;
use kustomize_controller::kustomization::artifact_cache::{ARTIFACT_ROOT, ArtifactCache};
use rill_common::api::meta::Artifact;
use rill_common::artifact::{Digest, Fetcher, write_archive};

/// A tar.gz of one folder holding `files`.
fn archive(files: &[(&str, &str)]) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    for (path, text) in files {
        let full = tree.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let out = tmp.path().join("a.tar.gz");
    write_archive(&tree, &out, &|_: &Path, _| false).unwrap();
    std::fs::read(out).unwrap()
}

struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
}

/// Serves `/v1`, `/v2` and `/v3`; anything else is a 404. Counts the requests.
async fn serve(bodies: Vec<Vec<u8>>) -> Server {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new().route(
        "/{name}",
        get(move |UrlPath(name): UrlPath<String>| {
            let bodies = bodies.clone();
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let index: Option<usize> = name.strip_prefix('v').and_then(|n| n.parse().ok());
                match index.and_then(|i| bodies.get(i - 1)) {
                    Some(body) => Ok(body.clone()),
                    None => Err(StatusCode::NOT_FOUND),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { base, hits }
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
    Fetcher::new(reqwest::Client::new(), 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_download_and_one_unpack_serve_fifty_kustomizations_on_one_revision() {
    let v1 = archive(&[("app/cm.yaml", "kind: ConfigMap\n")]);
    let v2 = archive(&[("app/cm.yaml", "kind: Secret\n")]);
    let server = serve(vec![v1.clone(), v2.clone()]).await;
    let cache = Arc::new(ArtifactCache::new(fetcher(), 64 << 20));
    let first = artifact(format!("{}/v1", server.base), &v1);
    let builds: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            let first = first.clone();
            tokio::spawn(async move { cache.get(&first).await.unwrap() })
        })
        .collect();
    let mut trees = Vec::new();
    for build in builds {
        trees.push(build.await.unwrap());
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.unpacked, stats.hits, stats.entries), (1, 49, 1));
    assert!(trees.iter().all(|t| Arc::ptr_eq(t, &trees[0])));
    let cm = Path::new(ARTIFACT_ROOT).join("app/cm.yaml");
    assert_eq!(&*trees[0].read(&cm).unwrap(), b"kind: ConfigMap\n");

    // A new revision is one more download; the old one stays while it fits.
    let second = artifact(format!("{}/v2", server.base), &v2);
    let tree = cache.get(&second).await.unwrap();
    assert_eq!(&*tree.read(&cm).unwrap(), b"kind: Secret\n");
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    cache.get(&first).await.unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().entries, 2);
}

#[tokio::test]
async fn failed_downloads_are_not_kept_and_the_budget_evicts_the_least_recently_used() {
    let v1 = archive(&[("a.yaml", "a: 1\n")]);
    let v2 = archive(&[("b.yaml", "b: 2\n")]);
    let server = serve(vec![v1.clone(), v2.clone()]).await;
    let missing = artifact(format!("{}/v9", server.base), &v1);
    let cache = ArtifactCache::new(fetcher(), 64 << 20);
    assert!(cache.get(&missing).await.is_err());
    assert!(cache.get(&missing).await.is_err());
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        2,
        "a failure is retried"
    );
    assert_eq!(cache.stats().entries, 0);

    // Room for one tree only: each new revision pushes the other out.
    let one_tree = {
        let probe = ArtifactCache::new(fetcher(), usize::MAX);
        probe
            .get(&artifact(format!("{}/v1", server.base), &v1))
            .await
            .unwrap()
            .size()
    };
    let small = ArtifactCache::new(fetcher(), one_tree + one_tree / 2);
    let first = artifact(format!("{}/v1", server.base), &v1);
    let second = artifact(format!("{}/v2", server.base), &v2);
    small.get(&first).await.unwrap();
    small.get(&second).await.unwrap();
    let stats = small.stats();
    assert_eq!((stats.entries, stats.evicted), (1, 1));
    let before = server.hits.load(Ordering::SeqCst);
    small.get(&second).await.unwrap();
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        before,
        "the newest stays"
    );
    small.get(&first).await.unwrap();
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        before + 1,
        "the oldest left"
    );
}
