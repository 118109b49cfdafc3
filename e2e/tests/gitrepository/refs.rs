//! GitRepository end-to-end: Reference resolution and how new commits replace the artifact.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_resolve_to_fluxs_revision_strings() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let master = repo.commit(
        "master",
        &[("deploy/app.yaml", "kind: ConfigMap\nv: 1\n")],
        "master change",
    );
    let main = repo.commit("main", &[("main.txt", "main\n")], "main branch");
    let v1 = repo.tag("main", "v1.0.0");
    let v12 = repo.commit("main", &[("v12.txt", "x\n")], "for 1.2");
    repo.tag("main", "v1.2.0");
    let rc = repo.commit("main", &[("rc.txt", "x\n")], "rc");
    repo.tag("main", "v2.0.0-rc.1");
    let pr = repo.push_ref("main", "refs/pull/420/head");
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let url = format!("{}/app.git", server.url);

    let cases = [
        ("default-branch", json!({}), format!("master@sha1:{master}")),
        (
            "branch",
            json!({"branch": "main"}),
            format!(
                "main@sha1:{}",
                repo.commit("main", &[], "noop")
                    .get(0..0)
                    .map(|_| rc.clone())
                    .unwrap_or_default()
            ),
        ),
        ("tag", json!({"tag": "v1.0.0"}), format!("v1.0.0@sha1:{v1}")),
        (
            "semver",
            json!({"semver": ">=1.0.0 <2.0.0"}),
            format!("v1.2.0@sha1:{v12}"),
        ),
        (
            "semver-pre",
            json!({"semver": ">=1.0.0-0"}),
            format!("v2.0.0-rc.1@sha1:{rc}"),
        ),
        (
            "pull",
            json!({"name": "refs/pull/420/head"}),
            format!("refs/pull/420/head@sha1:{pr}"),
        ),
        ("commit", json!({"commit": main}), format!("sha1:{main}")),
        (
            "commit-on-branch",
            json!({"branch": "main", "commit": main}),
            format!("main@sha1:{main}"),
        ),
    ];
    let _ = &cases[1];
    for (name, reference, _) in &cases {
        env.create(
            name,
            json!({"url": url, "interval": "1h", "ref": reference}),
        )
        .await;
    }
    let head_of_main =
        e2e::git_repo::git(&env.repos.path().join("app.work"), &["rev-parse", "main"]);
    for (name, _, want) in &cases {
        let got = env.ready(name).await;
        let want = if *name == "branch" {
            format!("main@sha1:{head_of_main}")
        } else {
            want.clone()
        };
        assert_eq!(revision(&got), want, "{name}");
        let artifact = got.status.as_ref().unwrap().artifact.as_ref().unwrap();
        assert_eq!(
            artifact.path,
            format!(
                "gitrepository/default/{name}/{}.tar.gz",
                want.rsplit(':').next().unwrap()
            )
        );
        assert_eq!(
            got.status.as_ref().unwrap().reconcile.observed_generation,
            Some(1)
        );
    }
    let files = artifact_files(&env.ready("tag").await).await;
    assert!(
        files.contains_key("main.txt") && !files.contains_key("v12.txt"),
        "{files:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_commits_replace_the_artifact_and_old_ones_are_collected() {
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
    let first_path = env.storage_dir.path().join(
        &first
            .status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .path,
    );
    assert!(first_path.exists());

    let second = repo.commit(
        "master",
        &[("deploy/app.yaml", "kind: ConfigMap\nv: 2\n")],
        "second",
    );
    env.request_reconcile("app").await;
    let updated = env
        .wait("app", "the new revision", |r| {
            revision(r) == format!("master@sha1:{second}")
        })
        .await;
    assert!(
        !first_path.exists(),
        "the superseded artifact is garbage-collected"
    );
    assert_eq!(
        artifact_files(&updated).await["deploy/app.yaml"],
        "kind: ConfigMap\nv: 2\n"
    );
    let status = updated.status.as_ref().unwrap();
    assert_eq!(
        status.reconcile.last_handled_reconcile_at,
        updated
            .annotations()
            .get("reconcile.fluxcd.io/requestedAt")
            .cloned()
    );

    // A force-push that rewrites history is followed too, and a moved tag as well.
    let rewritten = repo.force_push_new_history("master", &[("only.yaml", "x: 1\n")]);
    env.request_reconcile("app").await;
    env.wait("app", "the rewritten history", |r| {
        revision(r) == format!("master@sha1:{rewritten}")
    })
    .await;
    repo.tag("master", "stable");
    env.create("tagged", json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"tag": "stable"}})).await;
    env.ready("tagged").await;
    let moved = repo.commit("master", &[("more.yaml", "y: 2\n")], "after tag");
    repo.tag("master", "stable");
    env.request_reconcile("tagged").await;
    env.wait("tagged", "the moved tag", |r| {
        revision(r) == format!("stable@sha1:{moved}")
    })
    .await;
}
