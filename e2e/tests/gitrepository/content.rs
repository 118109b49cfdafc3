//! GitRepository end-to-end: What goes into the artifact: ignore rules, includes, sparse checkouts, submodules.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_rules_and_includes_shape_the_artifact() {
    let env = env().await;
    TestRepo::create(
        env.repos.path(),
        "app",
        &[
            ("deploy/app.yaml", "a\n"),
            ("docs/guide.md", "g\n"),
            ("logo.png", "png\n"),
            (".sourceignore", "docs/\n"),
        ],
    );
    TestRepo::create(
        env.repos.path(),
        "shared",
        &[("components/base.yaml", "b\n"), ("other/x.yaml", "x\n")],
    );
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    env.create(
        "shared",
        json!({"url": format!("{}/shared.git", server.url), "interval": "1h"}),
    )
    .await;
    env.create("app", json!({
        "url": format!("{}/app.git", server.url), "interval": "1h",
        "include": [{"repository": {"name": "shared"}, "fromPath": "components", "toPath": "vendor/components"}]
    }))
    .await;
    env.create("waiting", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "include": [{"repository": {"name": "ghost"}}]})).await;
    env.create("spec-ignore", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ignore": "/*\n!/deploy\n"})).await;

    let app = env.ready("app").await;
    let files = artifact_files(&app).await;
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".sourceignore",
            "deploy/app.yaml",
            "logo.png",
            "vendor/components/base.yaml"
        ],
        "a .sourceignore replaces the defaults"
    );
    assert_eq!(
        app.status
            .as_ref()
            .unwrap()
            .included_artifacts
            .as_ref()
            .map(Vec::len),
        Some(1)
    );
    let filtered = env.ready("spec-ignore").await;
    assert_eq!(
        artifact_files(&filtered)
            .await
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["deploy/app.yaml"]
    );
    let waiting = env.failed_with("waiting", "NotFound").await;
    assert_eq!(
        condition(&waiting, "IncludeUnavailable").map(|c| c.0),
        Some("True".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_checkouts_and_submodules() {
    let env = env().await;
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    TestRepo::create(env.repos.path(), "sub", &[("lib.yaml", "lib\n")]);
    let parent = TestRepo::create(
        env.repos.path(),
        "parent",
        &[("apps/a.yaml", "a\n"), ("infra/b.yaml", "b\n")],
    );
    parent.run(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &format!("{}/sub.git", server.url),
        "libs/sub",
    ]);
    parent.commit("master", &[], "add a submodule");
    let url = format!("{}/parent.git", server.url);
    env.create(
        "sparse",
        json!({"url": url, "interval": "1h", "sparseCheckout": ["./apps"]}),
    )
    .await;
    env.create(
        "submodules",
        json!({"url": url, "interval": "1h", "recurseSubmodules": true}),
    )
    .await;
    env.create("plain", json!({"url": url, "interval": "1h"}))
        .await;
    env.create(
        "missing-dir",
        json!({"url": url, "interval": "1h", "sparseCheckout": ["nope"]}),
    )
    .await;

    let sparse = env.ready("sparse").await;
    assert_eq!(
        artifact_files(&sparse)
            .await
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["apps/a.yaml"]
    );
    assert_eq!(
        sparse.status.as_ref().unwrap().observed_sparse_checkout,
        Some(vec!["./apps".to_string()])
    );
    let with_subs = artifact_files(&env.ready("submodules").await).await;
    assert_eq!(
        with_subs.get("libs/sub/lib.yaml").map(String::as_str),
        Some("lib\n"),
        "{with_subs:?}"
    );
    let plain = artifact_files(&env.ready("plain").await).await;
    assert!(
        !plain.contains_key("libs/sub/lib.yaml"),
        "submodules are not fetched unless asked"
    );
    let missing = env.failed_with("missing-dir", "GitOperationFailed").await;
    assert!(
        condition(&missing, "Ready")
            .unwrap()
            .2
            .contains("'nope' does not exist")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_of_one_repository_share_the_archive_but_not_the_ignore_rules() {
    let env = env().await;
    TestRepo::create(
        env.repos.path(),
        "app",
        &[
            ("deploy/app.yaml", "a\n"),
            ("docs/guide.md", "g\n"),
            ("run.sh", "#!/bin/sh\n"),
        ],
    );
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let url = format!("{}/app.git", server.url);
    env.create("first", json!({"url": url, "interval": "1h"}))
        .await;
    let first = env.ready("first").await;
    env.create("second", json!({"url": url, "interval": "1h"}))
        .await;
    env.create(
        "narrow",
        json!({"url": url, "interval": "1h", "ignore": "/docs\n"}),
    )
    .await;
    let second = env.ready("second").await;
    let narrow = env.ready("narrow").await;
    let artifact = |r: &GitRepository| r.status.as_ref().and_then(|s| s.artifact.clone()).unwrap();
    assert_eq!(
        artifact(&first).digest,
        artifact(&second).digest,
        "same commit, same bytes"
    );
    assert_ne!(
        artifact(&first).path,
        artifact(&second).path,
        "each source has its own file"
    );
    assert_eq!(artifact_files(&second).await, artifact_files(&first).await);
    let files = artifact_files(&narrow).await;
    assert!(
        files.contains_key("deploy/app.yaml") && !files.contains_key("docs/guide.md"),
        "{files:?}"
    );
}
