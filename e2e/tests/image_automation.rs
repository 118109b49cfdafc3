//! The image loop end to end: a tag pushed to the registry (`docker-registry`, `skopeo`) is
//! scanned on request, picked by an ImagePolicy, committed into the Git repository (git's
//! http-backend) by the ImageUpdateAutomation changing only the marked values, and the
//! Kustomization rolls the Deployment out, with no interval in the path.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::flux;
use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::{TestRepo, git};
use e2e::registry::TestRegistry;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::Api;
use rill::stack::{Stack, StackOptions};
use rill_common::api::image_v1::{ImageRepository, ImageUpdateAutomation};
use rill_common::api::notification_v1::Receiver;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn create(stack: &Stack, api_version: &str, kind: &str, name: &str, spec: Value) {
    flux::create(&stack.client, api_version, kind, "default", name, spec).await;
}

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: {image} # {{\"$imagepolicy\": \"default:web\"}}\n          # an unrelated comment stays\n          args: [\"--port\", '8080']   # flow style stays\n"
    )
}

const VALUES: &str = "# values for another tool\nimage:\n  repository: REPO  # {\"$imagepolicy\": \"default:web:name\"}\n  tag: \"1.0.0\"  # {\"$imagepolicy\": \"default:web:tag\"}\n  pullPolicy: IfNotPresent\nlist: [a, b]\n";

async fn image_of(stack: &Stack) -> Option<String> {
    Api::<Deployment>::namespaced(stack.client.clone(), "default")
        .get_opt("web")
        .await
        .unwrap()
        .and_then(|d| d.spec?.template.spec?.containers.first()?.image.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registry_push_becomes_a_commit_and_a_rollout() {
    if !TestRegistry::available() {
        eprintln!("skipped: docker-registry or skopeo is not installed");
        return;
    }
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    // The registry notifies a generic Receiver of every push.
    flux::secret(
        &stack.client,
        "default",
        "hook",
        &[("token", "hook-token-123")],
    )
    .await;
    create(
        &stack,
        "notification.toolkit.fluxcd.io/v1",
        "Receiver",
        "registry",
        json!({
        "type": "generic", "secretRef": {"name": "hook"},
        "resources": [{"kind": "ImageRepository", "name": "web"}]}),
    )
    .await;
    let receivers: Api<Receiver> = Api::namespaced(stack.client.clone(), "default");
    let receiver = flux::wait_for(&receivers, "registry", "a webhook path", WAIT, |r| {
        flux::ready(r).is_some_and(|c| c.0 == "True")
    })
    .await;
    let path = receiver.status.unwrap().webhook_path.unwrap();
    let registry =
        TestRegistry::start_notifying(None, Some(&format!("{}{path}", stack.receiver_url)));
    registry.push("apps/web", "1.0.0", &[("x", "1")], &[]);
    let image = format!("{}/apps/web", registry.host);
    let repos = tempfile::tempdir().unwrap();
    let values = VALUES.replace("REPO", &image);
    let repo = TestRepo::create(
        repos.path(),
        "app",
        &[
            ("deploy/web.yaml", &deployment(&format!("{image}:1.0.0"))),
            ("other/values.yaml", &values),
        ],
    );
    let server = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let url = format!("{}/app.git", server.url);
    let source = "source.toolkit.fluxcd.io/v1";
    let images = "image.toolkit.fluxcd.io/v1";
    create(
        &stack,
        source,
        "GitRepository",
        "app",
        json!({"url": url, "interval": "1h", "ref": {"branch": "master"}}),
    )
    .await;
    create(&stack, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "app", json!({"interval": "1h", "prune": true, "path": "./deploy", "sourceRef": {"kind": "GitRepository", "name": "app"}})).await;
    flux::image_policy(&stack.client, "default", "web", &image, ">=1.0.0").await;
    create(
        &stack,
        images,
        "ImageUpdateAutomation",
        "app",
        json!({
        "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"},
        "git": {"commit": {"author": {"name": "Fluxcd Bot", "email": "bot@example.invalid"}}},
        "update": {"strategy": "Setters", "path": "./"}}),
    )
    .await;
    let autos: Api<ImageUpdateAutomation> = Api::namespaced(stack.client.clone(), "default");
    let auto = flux::wait_for(&autos, "app", "up to date", WAIT, |a| {
        flux::ready(a).is_some_and(|r| r.0 == "True" && r.2 == "repository up-to-date")
    })
    .await;
    let before = git(&repo.bare, &["rev-parse", "master"]);
    assert_eq!(
        auto.status.unwrap().observed_source_revision,
        Some(format!("master@sha1:{before}"))
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while image_of(&stack).await.as_deref() != Some(&format!("{image}:1.0.0")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Deployment never appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The push: the registry notifies the Receiver, then nothing but events.
    registry.push("apps/web", "1.0.1", &[("x", "2")], &[]);
    let auto = flux::wait_for(&autos, "app", "a push", WAIT, |a| {
        a.status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_ref())
            .is_some()
    })
    .await;
    let head = git(&repo.bare, &["rev-parse", "master"]);
    let status = auto.status.unwrap();
    assert_eq!(status.last_push_commit.as_deref(), Some(head.as_str()));
    assert_eq!(status.observed_policies.unwrap()["web"].tag, "1.0.1");
    assert_eq!(
        git(
            &repo.bare,
            &["log", "-1", "--format=%an <%ae>|%B", "master"]
        ),
        "Fluxcd Bot <bot@example.invalid>|Update from image update automation"
    );
    // Exactly the marked values changed; every other byte is as it was.
    assert_eq!(
        git(&repo.bare, &["show", "master:deploy/web.yaml"]) + "\n",
        deployment(&format!("{image}:1.0.1"))
    );
    assert_eq!(
        git(&repo.bare, &["show", "master:other/values.yaml"]) + "\n",
        values.replace("tag: \"1.0.0\"", "tag: \"1.0.1\"")
    );
    let stat = git(&repo.bare, &["diff", "--numstat", &before, &head]);
    assert_eq!(stat, "1\t1\tdeploy/web.yaml\n1\t1\tother/values.yaml");

    // The GitRepository was asked to fetch, so the rollout follows without its interval.
    let deadline = tokio::time::Instant::now() + WAIT;
    while image_of(&stack).await.as_deref() != Some(&format!("{image}:1.0.1")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Deployment did not roll to 1.0.1"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // With the same policies and no new commit, a run lists the branch and clones nothing.
    let packs = server.packs_served();
    flux::request_reconcile(&autos, "app").await;
    let auto = flux::wait_for(&autos, "app", "the request handled", WAIT, |a| {
        flux::request_handled(a) && flux::ready(a).is_some_and(|r| r.0 == "True")
    })
    .await;
    assert_eq!(flux::ready(&auto).unwrap().2, "repository up-to-date");
    assert_eq!(
        server.packs_served(),
        packs,
        "an unchanged run fetched a pack"
    );
    // A new commit on the branch: the next run clones again (and finds nothing to change).
    repo.run(&["pull", "-q", "--rebase", "origin", "master"]);
    repo.commit("master", &[("README.md", "docs\n")], "docs");
    let docs = git(&repo.bare, &["rev-parse", "master"]);
    flux::request_reconcile(&autos, "app").await;
    let auto = flux::wait_for(&autos, "app", "the new commit observed", WAIT, |a| {
        flux::request_handled(a)
            && a.status
                .as_ref()
                .and_then(|s| s.observed_source_revision.as_deref())
                == Some(format!("master@sha1:{docs}").as_str())
    })
    .await;
    assert_eq!(flux::ready(&auto).unwrap().2, "repository up-to-date");
    assert!(server.packs_served() > packs);
}

/// The stack, a registry holding `apps/api:<tag>`, and a Git repository `app` (served over HTTP,
/// a GitRepository `app` on `master`) whose `app.yaml` marks the image for the ImagePolicy
/// `api` (every tag).
struct ApiFixture {
    stack: Stack,
    image: String,
    file: String,
    repo: TestRepo,
    _registry: TestRegistry,
    _server: GitHttpServer,
    _repos: tempfile::TempDir,
}

async fn api_fixture(tag: &str) -> ApiFixture {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let registry = TestRegistry::start(None);
    registry.push("apps/api", tag, &[("x", "1")], &[]);
    let image = format!("{}/apps/api", registry.host);
    let repos = tempfile::tempdir().unwrap();
    let file = format!("image: {image}:1.0.0 # {{\"$imagepolicy\": \"default:api\"}}\n");
    let repo = TestRepo::create(repos.path(), "app", &[("app.yaml", &file)]);
    let server = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();
    create(&stack, "source.toolkit.fluxcd.io/v1", "GitRepository", "app",
        json!({"url": format!("{}/app.git", server.url), "interval": "1h", "ref": {"branch": "master"}})).await;
    flux::image_policy(&stack.client, "default", "api", &image, "*").await;
    ApiFixture {
        stack,
        image,
        file,
        repo,
        _registry: registry,
        _server: server,
        _repos: repos,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_to_another_branch_with_a_refspec_renders_message_templates_and_stalls_on_what_it_cannot_do()
 {
    if !TestRegistry::available() {
        eprintln!("skipped: docker-registry or skopeo is not installed");
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let ApiFixture {
        stack,
        image,
        file,
        repo,
        ..
    } = &api_fixture("2.0.0").await;
    let images = "image.toolkit.fluxcd.io/v1";
    let master = git(&repo.bare, &["rev-parse", "master"]);
    create(stack, images, "ImageUpdateAutomation", "branch", json!({
        "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"},
        "git": {"commit": {"author": {"email": "bot@example.invalid"}},
                "push": {"branch": "image-updates", "refspec": "refs/heads/image-updates:refs/heads/review"}},
        "update": {"strategy": "Setters"}})).await;
    let autos: Api<ImageUpdateAutomation> = Api::namespaced(stack.client.clone(), "default");
    flux::wait_for(&autos, "branch", "a push", WAIT, |a| {
        a.status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_ref())
            .is_some()
    })
    .await;
    assert_eq!(
        git(&repo.bare, &["rev-parse", "master"]),
        master,
        "master untouched"
    );
    let pushed = git(&repo.bare, &["rev-parse", "image-updates"]);
    assert_eq!(git(&repo.bare, &["rev-parse", "review"]), pushed);
    assert_eq!(
        git(&repo.bare, &["show", "image-updates:app.yaml"]) + "\n",
        file.replace(":1.0.0", ":2.0.0")
    );

    // Flux's message template (Go text/template + Sprig) with messageTemplateValues.
    let template = "Automated image update by {{ .AutomationObject }} for {{ .Values.cluster | upper }}\n\nFiles:\n{{ range $filename, $_ := .Changed.FileChanges -}}\n- {{ $filename }}\n{{ end -}}\n{{ range .Changed.Changes -}}\n{{ .OldValue }} -> {{ .NewValue }} ({{ .Setter }})\n{{ end -}}";
    create(
        stack,
        images,
        "ImageUpdateAutomation",
        "templated",
        json!({
        "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"},
        "git": {"commit": {"author": {"email": "bot@example.invalid"}, "messageTemplate": template,
                           "messageTemplateValues": {"cluster": "prod"}},
                "push": {"branch": "templated"}}}),
    )
    .await;
    flux::wait_for(&autos, "templated", "a push", WAIT, |a| {
        a.status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_ref())
            .is_some()
    })
    .await;
    assert_eq!(
        git(&repo.bare, &["log", "-1", "--format=%B", "templated"]).trim_end(),
        format!(
            "Automated image update by default/templated for PROD\n\nFiles:\n- app.yaml\n{image}:1.0.0 -> {image}:2.0.0 (default:api)"
        )
    );
    // A template using a field Flux removed stalls with Flux's reason; nothing is pushed.
    create(
        stack,
        images,
        "ImageUpdateAutomation",
        "removed",
        json!({
        "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"},
        "git": {"commit": {"author": {"email": "bot@example.invalid"},
                           "messageTemplate": "{{ range .Updated.Images }}{{ . }}{{ end }}"},
                "push": {"branch": "removed"}}}),
    )
    .await;
    let a = flux::wait_for(&autos, "removed", "RemovedTemplateField", WAIT, |a| {
        flux::failed_with(a, "RemovedTemplateField")
    })
    .await;
    assert_eq!(flux::condition(&a, "Stalled").unwrap().0, "True");
    assert!(
        flux::ready(&a)
            .unwrap()
            .2
            .contains("removed '.Updated' field")
    );
    assert!(
        git(&repo.bare, &["branch", "--list", "removed"])
            .trim()
            .is_empty()
    );
    create(
        stack,
        images,
        "ImageUpdateAutomation",
        "no-git",
        json!({
        "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"}}),
    )
    .await;
    flux::wait_for(&autos, "no-git", "InvalidSourceConfiguration", WAIT, |a| {
        flux::failed_with(a, "InvalidSourceConfiguration")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_refuses_bad_signatures_and_unknown_paths_and_annotates_on_a_good_one() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    flux::secret(
        &stack.client,
        "default",
        "hmac",
        &[("token", "hmac-token-456")],
    )
    .await;
    create(
        &stack,
        "image.toolkit.fluxcd.io/v1",
        "ImageRepository",
        "web",
        json!({"image": "127.0.0.1:1/none", "interval": "1h"}),
    )
    .await;
    create(
        &stack,
        "notification.toolkit.fluxcd.io/v1",
        "Receiver",
        "signed",
        json!({
        "type": "generic-hmac", "secretRef": {"name": "hmac"},
        "resources": [{"kind": "ImageRepository", "name": "*", "matchLabels": {}}]}),
    )
    .await;
    let receivers: Api<Receiver> = Api::namespaced(stack.client.clone(), "default");
    let receiver = flux::wait_for(&receivers, "signed", "a webhook path", WAIT, |r| {
        flux::ready(r).is_some_and(|c| c.0 == "True")
    })
    .await;
    let path = receiver.status.unwrap().webhook_path.unwrap();
    assert_eq!(
        flux::ready(&receivers.get("signed").await.unwrap())
            .unwrap()
            .2,
        format!("Receiver initialized for path: {path}")
    );
    rill_common::runtime::install_crypto_provider();
    let http = reqwest::Client::new();
    let url = format!("{}{path}", stack.receiver_url);
    let payload = br#"{"events": []}"#;
    let requested = || async {
        let repo = Api::<ImageRepository>::namespaced(stack.client.clone(), "default")
            .get("web")
            .await
            .unwrap();
        repo.annotations()
            .get("reconcile.fluxcd.io/requestedAt")
            .cloned()
    };
    let wrong = http
        .post(&url)
        .header("X-Signature", "sha256=00")
        .body(payload.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let unknown = http
        .post(format!("{}/hook/{}", stack.receiver_url, "0".repeat(64)))
        .body(payload.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let huge = http
        .post(&url)
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(huge.headers()["connection"], "close");
    assert_eq!(
        requested().await,
        None,
        "nothing annotated by refused calls"
    );
    let signature = {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hmac-token-456").unwrap();
        mac.update(payload);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let good = http
        .post(&url)
        .header("X-Signature", signature)
        .body(payload.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    assert!(
        requested().await.is_some(),
        "the ImageRepository was asked to scan"
    );
}

fn run_ok(program: &str, args: &[&str], env: &[(&str, &std::path::Path)]) -> String {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_signed_with_gpg_and_ssh_keys_pass_git_verify_commit() {
    if !TestRegistry::available()
        || std::process::Command::new("gpg")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: docker-registry, skopeo or gpg is not installed");
        return;
    }
    let ApiFixture { stack, repo, .. } = &api_fixture("2.0.0").await;

    // Keys made by the real tools, handed over in Secrets as Flux documents them.
    let keys = tempfile::tempdir().unwrap();
    let gnupg = keys.path().join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let loopback = [
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "gpg-pass-1",
    ];
    let gen_args: Vec<&str> = loopback
        .iter()
        .copied()
        .chain([
            "--quick-gen-key",
            "Bot <bot@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ])
        .collect();
    run_ok("gpg", &gen_args, &[("GNUPGHOME", &gnupg)]);
    let export_args: Vec<&str> = loopback
        .iter()
        .copied()
        .chain(["--armor", "--export-secret-keys"])
        .collect();
    let armored = run_ok("gpg", &export_args, &[("GNUPGHOME", &gnupg)]);
    flux::secret(
        &stack.client,
        "default",
        "gpg-key",
        &[("git.asc", &armored), ("passphrase", "gpg-pass-1")],
    )
    .await;
    flux::secret(
        &stack.client,
        "default",
        "gpg-wrong",
        &[("git.asc", &armored), ("passphrase", "not-it-42")],
    )
    .await;
    let ssh_key = keys.path().join("id");
    run_ok(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "bot",
            "-f",
            ssh_key.to_str().unwrap(),
        ],
        &[],
    );
    let identity = std::fs::read_to_string(&ssh_key).unwrap();
    flux::secret(
        &stack.client,
        "default",
        "ssh-key",
        &[("identity", &identity)],
    )
    .await;
    let allowed = keys.path().join("allowed_signers");
    let public = std::fs::read_to_string(keys.path().join("id.pub")).unwrap();
    std::fs::write(&allowed, format!("bot@example.invalid {public}")).unwrap();

    let images = "image.toolkit.fluxcd.io/v1";
    for (name, signing) in [
        ("gpg", json!({"secretRef": {"name": "gpg-key"}})),
        (
            "ssh",
            json!({"secretRef": {"name": "ssh-key"}, "type": "ssh"}),
        ),
        ("wrong", json!({"secretRef": {"name": "gpg-wrong"}})),
    ] {
        create(
            stack,
            images,
            "ImageUpdateAutomation",
            name,
            json!({
            "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"},
            "git": {"commit": {"author": {"email": "bot@example.invalid"}, "signingKey": signing},
                    "push": {"branch": format!("signed-{name}")}}}),
        )
        .await;
    }
    let autos: Api<ImageUpdateAutomation> = Api::namespaced(stack.client.clone(), "default");
    for name in ["gpg", "ssh"] {
        flux::wait_for(&autos, name, "a push", WAIT, |a| {
            a.status
                .as_ref()
                .and_then(|s| s.last_push_commit.as_ref())
                .is_some()
        })
        .await;
    }
    let bare = repo.bare.to_str().unwrap();
    let verified = run_ok(
        "git",
        &["-C", bare, "verify-commit", "-v", "signed-gpg"],
        &[("GNUPGHOME", &gnupg)],
    );
    assert!(verified.contains("Good signature"), "{verified}");
    let allowed_arg = format!("gpg.ssh.allowedSignersFile={}", allowed.display());
    let verified = run_ok(
        "git",
        &[
            "-C",
            bare,
            "-c",
            "gpg.format=ssh",
            "-c",
            &allowed_arg,
            "verify-commit",
            "signed-ssh",
        ],
        &[],
    );
    assert!(verified.contains("Good \"git\" signature"), "{verified}");

    // A wrong passphrase: Ready=False with Flux's reason, the passphrase nowhere, nothing pushed.
    let a = flux::wait_for(&autos, "wrong", "SourceManagerFailed", WAIT, |a| {
        flux::failed_with(a, "SourceManagerFailed")
    })
    .await;
    let message = flux::ready(&a).unwrap().2;
    assert!(
        message.contains(
            "could not decrypt private key of the signing key present in secret gpg-wrong"
        ),
        "{message}"
    );
    assert!(!message.contains("not-it-42") && !message.contains("PRIVATE KEY"));
    assert!(
        git(&repo.bare, &["branch", "--list", "signed-wrong"])
            .trim()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tag_or_semver_checkout_commits_onto_the_push_branch() {
    if !TestRegistry::available() {
        eprintln!("skipped: docker-registry or skopeo is not installed");
        return;
    }
    let ApiFixture {
        stack, file, repo, ..
    } = &api_fixture("3.0.0").await;
    let tagged = repo.tag("master", "v1.2.0");
    // master moves on after the tag; the automation must start from the tag, not from master.
    let later = repo.commit("master", &[("later.txt", "later\n")], "after the release");
    let images = "image.toolkit.fluxcd.io/v1";
    for (name, reference) in [
        ("from-tag", json!({"tag": "v1.2.0"})),
        ("from-semver", json!({"semver": ">=1.0.0"})),
    ] {
        create(stack, images, "ImageUpdateAutomation", name, json!({
            "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"},
            "git": {"checkout": {"ref": reference}, "commit": {"author": {"email": "bot@example.invalid"}},
                    "push": {"branch": name}}})).await;
    }
    create(stack, images, "ImageUpdateAutomation", "no-branch", json!({
        "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "app"},
        "git": {"checkout": {"ref": {"tag": "v1.2.0"}}, "commit": {"author": {"email": "bot@example.invalid"}}}})).await;
    let autos: Api<ImageUpdateAutomation> = Api::namespaced(stack.client.clone(), "default");
    for name in ["from-tag", "from-semver"] {
        flux::wait_for(&autos, name, "a push", WAIT, |a| {
            a.status
                .as_ref()
                .and_then(|s| s.last_push_commit.as_ref())
                .is_some()
        })
        .await;
        let parent = git(&repo.bare, &["rev-parse", &format!("{name}^")]);
        assert_eq!(parent, tagged, "{name} starts from the tagged commit");
        assert_eq!(
            git(&repo.bare, &["show", &format!("{name}:app.yaml")]) + "\n",
            file.replace(":1.0.0", ":3.0.0")
        );
    }
    assert_eq!(
        git(&repo.bare, &["rev-parse", "master"]),
        later,
        "master untouched"
    );
    // A pinned checkout without a push branch has nowhere to push: stalled, as in Flux.
    flux::wait_for(
        &autos,
        "no-branch",
        "InvalidSourceConfiguration",
        WAIT,
        |a| flux::failed_with(a, "InvalidSourceConfiguration"),
    )
    .await;
}
