//! GitRepository end-to-end: The artifact server and what kubectl shows.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_artifact_server_supports_ranges_and_etags_and_stays_inside_storage() {
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "app",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let artifact = env.ready("app").await.status.unwrap().artifact.unwrap();
    rill_common::runtime::install_crypto_provider();
    let client = reqwest::Client::new();
    let full = client.get(&artifact.url).send().await.unwrap();
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    let body = full.bytes().await.unwrap();
    let partial = client
        .get(&artifact.url)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status().as_u16(), 206);
    assert_eq!(&partial.bytes().await.unwrap()[..], &body[..10]);
    let cached = client
        .get(&artifact.url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status().as_u16(), 304);
    let base = artifact.url.split("/gitrepository/").next().unwrap();
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/gitrepository/default",
        "/nope.tar.gz",
    ] {
        let status = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_shows_fluxs_columns_and_waits_for_ready() {
    let kubectl_present = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !kubectl_present {
        eprintln!("skipping: kubectl is not installed");
        return;
    }
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    env.sandbox
        .write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    env.create(
        "podinfo",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let run = |args: Vec<&'static str>| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("kubectl")
                .args(args)
                .env("KUBECONFIG", dir.join("kubeconfig"))
                .env("KUBECACHEDIR", dir.join("cache"))
                .output()
                .unwrap()
        })
    };
    let wait = run(vec![
        "wait",
        "--for=condition=Ready",
        "gitrepository/podinfo",
        "--timeout=30s",
    ])
    .await
    .unwrap();
    assert!(
        wait.status.success(),
        "{}",
        String::from_utf8_lossy(&wait.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&wait.stdout).trim(),
        "gitrepository.source.toolkit.fluxcd.io/podinfo condition met"
    );
    let table = run(vec!["get", "gitrepositories"]).await.unwrap();
    let text = String::from_utf8_lossy(&table.stdout).into_owned();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "URL", "AGE", "READY", "STATUS"]
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("podinfo")
            && row.contains("True")
            && row.contains("stored artifact for revision 'master@sha1:"),
        "{row}"
    );
}
