//! `rill-sandbox serve` writes a kubeconfig, prints `ready <url>`, installs CRDs from
//! `--crds`, serves kubectl over HTTPS (plain HTTP with `--plain-http`), and exits cleanly on
//! SIGTERM.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `rill-sandbox serve` on a free port with `args`; the child and its first line.
fn serve(kubeconfig: &Path, args: &[&std::ffi::OsStr]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rill-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(kubeconfig)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

#[test]
fn serve_prints_ready_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let (mut child, line) = serve(&kubeconfig, &["--crds".as_ref(), crds.as_os_str()]);
    let url = line
        .trim()
        .strip_prefix("ready ")
        .expect("ready line")
        .to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{line}");
    let config = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(config.contains(&format!("server: {url}")), "{config}");
    assert!(config.contains("certificate-authority-data: "), "{config}");
    // Without credentials a request is system:anonymous, who may read /version only.
    let status = |path: &str| {
        let out = Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{url}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(status("/version"), "200");
    assert_eq!(status("/api/v1/namespaces"), "403");

    let kubectl_present = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success());
    if kubectl_present {
        let out = Command::new("kubectl")
            .args(["get", "crd", "-o", "name"])
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECACHEDIR", dir.path().join("cache"))
            .output()
            .unwrap();
        let names = String::from_utf8_lossy(&out.stdout);
        assert!(names.contains("customresourcedefinition.apiextensions.k8s.io/gitrepositories.source.toolkit.fluxcd.io"), "{names}");
    } else {
        eprintln!("kubectl not installed: skipping the kubectl part");
    }

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_plain_http_acts_as_the_old_insecure_port() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (mut child, line) = serve(&kubeconfig, &["--plain-http".as_ref()]);
    let url = line
        .trim()
        .strip_prefix("ready ")
        .expect("ready line")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let config = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(!config.contains("certificate-authority-data: "), "{config}");
    // Without credentials, the admin (as kube-apiserver's insecure port was).
    let out = Command::new("curl")
        .args(["-s", "-w", "%{http_code}"])
        .arg(format!("{url}/api/v1/namespaces/kube-system"))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.ends_with("200") && body.contains("\"name\":\"kube-system\""),
        "{body}"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
