//! The sandbox over HTTPS (`--tls`): kubectl and kube-rs verify the server against the
//! cluster CA of the kubeconfig, and every namespace publishes that CA in `kube-root-ca.crt`,
//! kept as the root-CA publisher keeps it; HTTP/2 and HTTP/1.1 are both served. Skips with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod kubectl_support;

use std::process::Command;
use std::time::{Duration, Instant};

use kubectl_support::Kubectl;
use sandbox::SandboxOptions;

async fn root_ca(k: &Kubectl, namespace: &str) -> Option<String> {
    let out = k
        .run(&[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            namespace,
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ])
        .await;
    (out.code == 0).then_some(out.stdout)
}

async fn wait_root_ca(k: &Kubectl, namespace: &str, ca: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while root_ca(k, namespace).await.as_deref() != Some(ca) {
        assert!(
            Instant::now() < deadline,
            "{namespace} has no current kube-root-ca.crt"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_cluster_ca_published_in_every_namespace() {
    let Some(k) = Kubectl::start_with(SandboxOptions {
        tls: true,
        ..SandboxOptions::default()
    })
    .await
    else {
        return;
    };
    let ca = k.sandbox().ca_pem().unwrap().to_string();
    let url = k.sandbox().url().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // kubectl verifies the server with the kubeconfig's CA (no --insecure-skip-tls-verify).
    let namespaces = k.ok(&["get", "namespaces"]).await;
    assert!(namespaces.contains("kube-system"), "{namespaces}");
    // A client without the CA is refused by its own verification.
    let ca_file = k.file("ca.crt", &ca);
    let curl = |args: Vec<String>| {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .unwrap()
    };
    let trusted = curl(vec![
        "--cacert".into(),
        ca_file.clone(),
        format!("{url}/version"),
    ]);
    assert_eq!(String::from_utf8_lossy(&trusted.stdout), "200");
    // HTTP/2 is offered first (ALPN), HTTP/1.1 still served.
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let out = curl(vec![
            flag.into(),
            "--cacert".into(),
            ca_file.clone(),
            "-w".into(),
            "%{http_code} %{http_version}".into(),
            format!("{url}/version"),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("200 {version}")
        );
    }
    let untrusted = curl(vec![format!("{url}/version")]);
    assert!(!untrusted.status.success(), "curl trusted an unknown CA");
    // kube-rs too.
    let client = k.sandbox().client().await.unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    assert!(api.get("default").await.is_ok());

    // Every namespace, the seeded ones and new ones, publishes the CA.
    wait_root_ca(&k, "default", &ca).await;
    k.ok(&["create", "namespace", "team-a"]).await;
    wait_root_ca(&k, "team-a", &ca).await;
    let described = k
        .ok(&[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.metadata.annotations}",
        ])
        .await;
    assert!(described.contains("Contains a CA bundle"), "{described}");

    // Deleted or edited, it comes back as it was.
    k.ok(&["delete", "configmap", "kube-root-ca.crt", "-n", "team-a"])
        .await;
    wait_root_ca(&k, "team-a", &ca).await;
    k.ok(&[
        "patch",
        "configmap",
        "kube-root-ca.crt",
        "-n",
        "team-a",
        "--type=merge",
        "-p",
        "{\"data\":{\"ca.crt\":\"edited\"}}",
    ])
    .await;
    wait_root_ca(&k, "team-a", &ca).await;
}
