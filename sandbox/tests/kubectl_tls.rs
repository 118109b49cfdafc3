//! The sandbox over HTTPS (its default): kubectl and kube-rs verify the server against the
//! cluster CA of the kubeconfig, and every namespace publishes that CA in `kube-root-ca.crt`,
//! kept as the root-CA publisher keeps it; HTTP/2 and HTTP/1.1 are both served; client
//! certificates the CA signs authenticate their user. Skips with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod kubectl_support;

use std::process::Command;
use std::time::{Duration, Instant};

use kubectl_support::Kubectl;
use sandbox::SandboxOptions;

/// kubectl against a sandbox serving HTTPS.
async fn start_tls() -> Option<Kubectl> {
    Kubectl::start_with(SandboxOptions {
        tls: true,
        ..SandboxOptions::default()
    })
    .await
}

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
    let Some(k) = start_tls().await else {
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
    // Without credentials a request is system:anonymous: /version (public info) only, not
    // discovery nor resources, with upstream's message.
    let anonymous = |path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--cacert", &ca_file])
            .arg(format!("{url}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(anonymous("/version").ends_with("\n200"));
    assert!(anonymous("/apis").ends_with("\n403"));
    let listed = anonymous("/api/v1/namespaces");
    assert!(listed.ends_with("\n403"), "{listed}");
    assert!(
        listed.contains(
            "namespaces is forbidden: User \\\"system:anonymous\\\" cannot list resource \\\"namespaces\\\" in API group \\\"\\\" at the cluster scope"
        ),
        "{listed}"
    );
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

/// Over HTTPS the admin kubeconfig authenticates with a client certificate (CN the user, O the
/// group, as kubeadm's does); any certificate the cluster CA signs names its user, RBAC then
/// applies to that user, and a certificate from another CA is refused at the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_authenticate_their_user() {
    let Some(k) = start_tls().await else {
        return;
    };
    let kubeconfig = k.sandbox().kubeconfig();
    assert!(
        kubeconfig.contains("client-certificate-data:") && !kubeconfig.contains("token:"),
        "{kubeconfig}"
    );
    let admin = k.ok(&["auth", "whoami"]).await;
    assert!(
        admin.contains("kubernetes-admin")
            && admin.contains("[system:masters system:authenticated]"),
        "{admin}"
    );

    let (cert, key) = k
        .sandbox()
        .client_certificate("alice", Some("devs"))
        .unwrap();
    let alice = k.file(
        "alice.kubeconfig",
        &k.sandbox()
            .kubeconfig_for(sandbox::Credentials::Certificate(&cert, &key)),
    );
    let whoami = k.ok(&["--kubeconfig", &alice, "auth", "whoami"]).await;
    assert!(
        whoami.contains("alice") && whoami.contains("[devs system:authenticated]"),
        "{whoami}"
    );
    let denied = k
        .run(&["--kubeconfig", &alice, "get", "configmaps", "-n", "default"])
        .await;
    assert!(
        denied.stderr.contains(
            "User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        denied.stderr
    );
    k.ok(&[
        "create",
        "rolebinding",
        "devs-view",
        "--clusterrole=view",
        "--group=devs",
        "-n",
        "default",
    ])
    .await;
    k.ok(&["--kubeconfig", &alice, "get", "configmaps", "-n", "default"])
        .await;

    // A certificate signed by another CA: the handshake fails, nothing is answered.
    let foreign_key = rcgen::KeyPair::generate().unwrap();
    let mut foreign_ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    foreign_ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = rcgen::Issuer::new(foreign_ca, foreign_key);
    let mallory_key = rcgen::KeyPair::generate().unwrap();
    let mut mallory = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    mallory
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kubernetes-admin");
    mallory
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "system:masters");
    let mallory_cert = mallory.signed_by(&mallory_key, &issuer).unwrap();
    let pem = |label: &str, der: &[u8]| {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    let forged = k.file(
        "forged.kubeconfig",
        &k.sandbox()
            .kubeconfig_for(sandbox::Credentials::Certificate(
                &pem("CERTIFICATE", mallory_cert.der()),
                &pem("PRIVATE KEY", &mallory_key.serialize_der()),
            )),
    );
    let refused = k
        .run(&["--kubeconfig", &forged, "get", "secrets", "-A"])
        .await;
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("certificate") && !refused.stdout.contains("kube-root-ca"),
        "{}",
        refused.stderr
    );
}
