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
use rill_common::artifact::{Fetcher, ObjectKey, Retention, Storage};

/// Stores one folder holding `files` as revision `name` of a GitRepository, the way the
/// source-controller stores artifacts; the URL points at `base`.
fn stored(data: &Path, base: &str, name: &str, files: &[(&str, &str)]) -> Artifact {
    let tree = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = tree.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let storage = Storage::new(data, base, Retention::default());
    let key = ObjectKey::new("GitRepository", "default", "app");
    storage
        .store_directory(
            &key,
            &format!("{name}.tar.gz"),
            tree.path(),
            &|_: &Path, _| false,
            &format!("main@sha1:{name}"),
            Time(jiff::Timestamp::now()),
        )
        .unwrap()
}

struct Server {
    base: String,
    data: tempfile::TempDir,
    hits: Arc<AtomicUsize>,
}

/// Serves a storage folder and counts the requests.
async fn serve() -> Server {
    let data = tempfile::tempdir().unwrap();
    let root = data.path().to_path_buf();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new().route(
        "/{*path}",
        get(move |UrlPath(path): UrlPath<String>| {
            let root = root.clone();
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::fs::read(root.join(path))
                    .await
                    .map_err(|_| StatusCode::NOT_FOUND)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { base, data, hits }
}

impl Server {
    fn store(&self, name: &str, files: &[(&str, &str)]) -> Artifact {
        stored(self.data.path(), &self.base, name, files)
    }
}

fn fetcher() -> Fetcher {
    rill_common::runtime::install_crypto_provider();
    Fetcher::new(reqwest::Client::new(), 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_download_and_one_unpack_serve_fifty_kustomizations_on_one_revision() {
    let server = serve().await;
    let first = server.store("v1", &[("app/cm.yaml", "kind: ConfigMap\n")]);
    let second = server.store("v2", &[("app/cm.yaml", "kind: Secret\n")]);
    let cache = Arc::new(ArtifactCache::new(fetcher(), 64 << 20));
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
    let tree = cache.get(&second).await.unwrap();
    assert_eq!(&*tree.read(&cm).unwrap(), b"kind: Secret\n");
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    cache.get(&first).await.unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().entries, 2);
}

#[tokio::test]
async fn failed_downloads_are_not_kept_and_the_budget_evicts_the_least_recently_used() {
    let server = serve().await;
    let first = server.store("v1", &[("a.yaml", "a: 1\n")]);
    let second = server.store("v2", &[("b.yaml", "b: 2\n")]);
    let mut missing = first.clone();
    missing.url = format!("{}/nowhere.tar.gz", server.base);
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
        probe.get(&first).await.unwrap().size()
    };
    let small = ArtifactCache::new(fetcher(), one_tree + one_tree / 2);
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

    // A tree larger than the whole budget is used once and not kept, and pushes nothing out.
    let tiny = ArtifactCache::new(fetcher(), one_tree / 2);
    let before = server.hits.load(Ordering::SeqCst);
    tiny.get(&first).await.unwrap();
    tiny.get(&first).await.unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), before + 2);
    assert_eq!(tiny.stats().entries, 0);
}
