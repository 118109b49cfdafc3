//! GitRepository end-to-end: Bad sources, suspend/resume and deletion.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sources_get_clear_conditions_without_panics() {
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    env.create("missing-branch", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"branch": "nope"}})).await;
    env.create(
        "unreachable",
        json!({"url": format!("http://{closed}/app.git"), "interval": "1h"}),
    )
    .await;
    env.create(
        "no-repo",
        json!({"url": format!("{}/missing.git", server.url), "interval": "1h"}),
    )
    .await;
    env.create("bad-url", json!({"url": "https://", "interval": "1h"}))
        .await;
    env.create("bad-semver", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"semver": "not a range"}})).await;
    env.create("verify", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "verify": {"mode": "HEAD", "secretRef": {"name": "keys"}}})).await;

    let missing = env
        .failed_with("missing-branch", "GitOperationFailed")
        .await;
    assert!(
        condition(&missing, "Ready")
            .unwrap()
            .2
            .contains("refs/heads/nope")
    );
    env.failed_with("unreachable", "GitOperationFailed").await;
    env.failed_with("no-repo", "GitOperationFailed").await;
    for (name, reason) in [
        ("bad-url", "URLInvalid"),
        ("bad-semver", "GitOperationFailed"),
        ("verify", "Unsupported"),
    ] {
        let stalled = env.failed_with(name, reason).await;
        assert_eq!(
            condition(&stalled, "Stalled").map(|c| (c.0, c.1)),
            Some(("True".into(), reason.into())),
            "{name}"
        );
        assert!(condition(&stalled, "Reconciling").is_none(), "{name}");
        assert_eq!(
            stalled
                .status
                .as_ref()
                .unwrap()
                .reconcile
                .observed_generation,
            Some(1),
            "{name}"
        );
    }
    let verify = env.repos().get("verify").await.unwrap();
    assert!(
        condition(&verify, "Ready")
            .unwrap()
            .2
            .contains("not supported")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_resume_and_deletion() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "app",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let first = env.ready("app").await;
    assert_eq!(first.finalizers(), ["finalizers.fluxcd.io"]);

    env.patch("app", json!({"spec": {"suspend": true}})).await;
    let next = repo.commit("master", &[("x.yaml", "x\n")], "while suspended");
    env.request_reconcile("app").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        revision(&env.repos().get("app").await.unwrap()),
        revision(&first),
        "nothing happens while suspended"
    );
    env.patch("app", json!({"spec": {"suspend": false}})).await;
    env.wait("app", "the resumed reconcile", |r| {
        revision(r) == format!("master@sha1:{next}")
    })
    .await;

    let dir = env.storage_dir.path().join("gitrepository/default/app");
    assert!(dir.exists());
    env.repos()
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let gone = async {
        while env.repos().get_opt("app").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), gone)
        .await
        .expect("the object goes once its artifacts are removed");
    assert!(!dir.exists(), "deletion cleans the storage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artifact_its_consumers_would_refuse_is_refused_by_the_source() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "app",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h"}),
    )
    .await;
    let first = env.ready("app").await;
    // One file over the consumers' 256 MiB per-file limit (it compresses to almost nothing).
    let huge = "a".repeat((256 << 20) + 1);
    repo.commit("master", &[("huge.bin", &huge)], "a huge file");
    drop(huge);
    env.request_reconcile("app").await;
    let failed = env
        .wait("app", "the refusal", |r| {
            flux::ready(r).is_some_and(|(status, _, message)| {
                status == "False" && message.contains("refused by its consumers")
            })
        })
        .await;
    let (_, _, message) = flux::ready(&failed).unwrap();
    assert!(message.contains("huge.bin"), "{message}");
    assert_eq!(
        revision(&failed),
        revision(&first),
        "the last artifact is kept"
    );
    // Gone again: Ready on the new commit.
    let head = repo.commit("master", &[("huge.bin", "<delete>")], "remove it");
    env.request_reconcile("app").await;
    env.wait("app", "the recovery", |r| {
        ready(r).is_some_and(|(status, _)| status == "True") && revision(r).ends_with(&head)
    })
    .await;
}
