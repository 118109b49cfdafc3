//! GitRepository end-to-end: Authentication: HTTP basic and bearer credentials, SSH host-key
//! checks, private CAs, client certificates (mutual TLS) and authenticated proxies.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_bearer_tokens_work_and_wrong_credentials_keep_the_last_artifact() {
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let basic = GitHttpServer::start(
        env.repos.path(),
        HttpAuth::Basic {
            user: "git".into(),
            password: "s3cret-pass".into(),
        },
    )
    .await
    .unwrap();
    let bearer = GitHttpServer::start(env.repos.path(), HttpAuth::Bearer("t0ken-value".into()))
        .await
        .unwrap();
    env.secret("basic", &[("username", "git"), ("password", "s3cret-pass")])
        .await;
    env.secret("bearer", &[("bearerToken", "t0ken-value")])
        .await;
    env.create("basic", json!({"url": format!("{}/app.git", basic.url), "interval": "1h", "secretRef": {"name": "basic"}})).await;
    env.create("bearer", json!({"url": format!("{}/app.git", bearer.url), "interval": "1h", "secretRef": {"name": "bearer"}})).await;
    env.create(
        "anonymous",
        json!({"url": format!("{}/app.git", basic.url), "interval": "1h"}),
    )
    .await;
    let good = env.ready("basic").await;
    env.ready("bearer").await;
    let anonymous = env.failed_with("anonymous", "AuthenticationFailed").await;
    let (status, _, _) = condition(&anonymous, "FetchFailed").unwrap();
    assert_eq!(status, "True");

    env.secret(
        "basic",
        &[("username", "git"), ("password", "wrong-password")],
    )
    .await;
    repo.commit("master", &[("new.yaml", "a: 1\n")], "new");
    env.request_reconcile("basic").await;
    let failed = env.failed_with("basic", "AuthenticationFailed").await;
    let message = condition(&failed, "Ready").unwrap().2;
    assert!(
        !message.contains("wrong-password") && !message.contains("s3cret"),
        "no secret in {message}"
    );
    assert_eq!(
        failed.status.as_ref().unwrap().artifact,
        good.status.as_ref().unwrap().artifact,
        "the last good artifact is kept"
    );
    assert_eq!(
        condition(&failed, "Reconciling").map(|c| c.1),
        Some("ProgressingWithRetry".into())
    );
    assert!(
        artifact_files(&failed)
            .await
            .contains_key("deploy/app.yaml"),
        "and still served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_checks_host_keys_against_known_hosts() {
    if !SshServer::available() {
        eprintln!("skipping: /usr/sbin/sshd is not installed (apt-get install openssh-server)");
        return;
    }
    let env = env().await;
    let repo = TestRepo::create(env.repos.path(), "app", APP);
    let ssh = SshServer::start();
    env.secret(
        "ssh",
        &[
            ("identity", &ssh.client_key),
            ("known_hosts", &ssh.known_hosts),
        ],
    )
    .await;
    let other_host = "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
    env.secret(
        "ssh-unknown-host",
        &[("identity", &ssh.client_key), ("known_hosts", other_host)],
    )
    .await;
    let url = ssh.url(&repo.bare);
    env.create(
        "ssh",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "ssh"}}),
    )
    .await;
    env.create(
        "unknown-host",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "ssh-unknown-host"}}),
    )
    .await;
    env.create("no-secret", json!({"url": url, "interval": "1h"}))
        .await;
    let ok = env.ready("ssh").await;
    assert!(revision(&ok).starts_with("master@sha1:"));
    assert!(artifact_files(&ok).await.contains_key("deploy/app.yaml"));
    let refused = env
        .failed_with("unknown-host", "AuthenticationFailed")
        .await;
    assert!(
        condition(&refused, "Ready").unwrap().2.contains("host key"),
        "{:?}",
        condition(&refused, "Ready")
    );
    env.failed_with("no-secret", "AuthenticationFailed").await;
}

/// The `app` repository behind an HTTPS front (demanding client certificates when `mutual`),
/// or `None` (skipped) without openssl and python3.
async fn tls_env(mutual: bool) -> Option<(Env, GitHttpServer, e2e::tls_front::TlsFront)> {
    if !e2e::tls_front::TlsFront::available() {
        eprintln!("skipping: openssl or python3 is not installed");
        return None;
    }
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let plain = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let front = if mutual {
        e2e::tls_front::TlsFront::start_mutual(&plain.url)
    } else {
        e2e::tls_front::TlsFront::start(&plain.url)
    };
    Some((env, plain, front))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_servers_with_a_private_ca_need_its_ca_crt() {
    let Some((env, _plain, front)) = tls_env(false).await else {
        return;
    };
    let url = format!("{}/app.git", front.url);
    let other_ca = e2e::tls_front::make_ca(env.repos.path(), "other-ca");
    env.secret("ca", &[("ca.crt", &front.ca_pem)]).await;
    env.secret("wrong-ca", &[("ca.crt", &other_ca)]).await;
    env.secret("bad-client-cert", &[("tls.crt", "x"), ("tls.key", "y")])
        .await;

    env.create(
        "trusted",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "ca"}}),
    )
    .await;
    let repo = env.ready("trusted").await;
    assert!(artifact_files(&repo).await.contains_key("deploy/app.yaml"));

    env.create("untrusted", json!({"url": url, "interval": "1h"}))
        .await;
    let repo = env.failed_with("untrusted", "GitOperationFailed").await;
    assert!(
        condition(&repo, "Ready")
            .unwrap()
            .2
            .to_lowercase()
            .contains("certificate"),
        "{:?}",
        condition(&repo, "Ready")
    );

    env.create(
        "wrong",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "wrong-ca"}}),
    )
    .await;
    let repo = env
        .wait("wrong", "a failure", |r| {
            ready(r).is_some_and(|(s, _)| s == "False")
        })
        .await;
    assert!(
        condition(&repo, "Ready")
            .unwrap()
            .2
            .contains("unknown authority"),
        "{:?}",
        condition(&repo, "Ready")
    );

    env.create(
        "bad-client-cert",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "bad-client-cert"}}),
    )
    .await;
    let repo = env
        .failed_with("bad-client-cert", "AuthenticationFailed")
        .await;
    assert!(
        condition(&repo, "Ready")
            .unwrap()
            .2
            .contains("'tls.crt' and 'tls.key' are not a valid PEM"),
        "{:?}",
        condition(&repo, "Ready")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_demanding_a_client_certificate_accept_tls_crt_and_tls_key() {
    let Some((env, _plain, front)) = tls_env(true).await else {
        return;
    };
    let url = format!("{}/app.git", front.url);
    let (cert, key) = front.client.clone().unwrap();
    env.secret(
        "mtls",
        &[
            ("ca.crt", &front.ca_pem),
            ("tls.crt", &cert),
            ("tls.key", &key),
        ],
    )
    .await;
    env.secret("ca-only", &[("ca.crt", &front.ca_pem)]).await;
    env.create(
        "mtls",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "mtls"}}),
    )
    .await;
    env.create(
        "no-client-cert",
        json!({"url": url, "interval": "1h", "secretRef": {"name": "ca-only"}}),
    )
    .await;
    let repo = env.ready("mtls").await;
    assert!(revision(&repo).starts_with("master@sha1:"));
    assert!(artifact_files(&repo).await.contains_key("deploy/app.yaml"));
    let refused = env
        .wait("no-client-cert", "a failure", |r| {
            ready(r).is_some_and(|(s, _)| s == "False")
        })
        .await;
    let message = condition(&refused, "Ready").unwrap().2;
    assert!(message.contains(&front.url), "{message}");
    assert!(refused.status.unwrap().artifact.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_secret_ref_routes_fetches_through_the_proxy_with_its_credentials() {
    if !e2e::tls_front::TlsFront::available() {
        eprintln!("skipping: python3 is not installed");
        return;
    }
    let env = env().await;
    TestRepo::create(env.repos.path(), "app", APP);
    let server = GitHttpServer::start(env.repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let proxy = e2e::http_proxy::HttpProxy::start("proxy-user", "pr0xy-pass");
    let url = format!("{}/app.git", server.url);
    env.secret(
        "proxy",
        &[
            ("address", &proxy.address),
            ("username", "proxy-user"),
            ("password", "pr0xy-pass"),
        ],
    )
    .await;
    env.secret(
        "wrong-proxy",
        &[
            ("address", &proxy.address),
            ("username", "proxy-user"),
            ("password", "not-the-pass"),
        ],
    )
    .await;
    env.create(
        "proxied",
        json!({"url": url, "interval": "1h", "proxySecretRef": {"name": "proxy"}}),
    )
    .await;
    let repo = env.ready("proxied").await;
    assert!(artifact_files(&repo).await.contains_key("deploy/app.yaml"));
    assert!(proxy.relayed() >= 2, "relayed {}", proxy.relayed());

    env.create(
        "wrong-proxy",
        json!({"url": url, "interval": "1h", "proxySecretRef": {"name": "wrong-proxy"}}),
    )
    .await;
    let refused = env.failed_with("wrong-proxy", "AuthenticationFailed").await;
    let message = condition(&refused, "Ready").unwrap().2;
    assert!(message.contains("407"), "{message}");
    assert!(!message.contains("not-the-pass"), "{message}");
}
