//! The real `kubectl` run against a fresh sandbox, for the kubectl test files.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use sandbox::{Sandbox, SandboxOptions};

pub struct Kubectl {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    url: String,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn kubectl_installed() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds")
}

impl Kubectl {
    pub async fn start() -> Option<Self> {
        Self::start_with(SandboxOptions {
            crd_dirs: vec![crds_dir()],
            ..SandboxOptions::default()
        })
        .await
    }

    /// A sandbox started with `options` and kubectl configured for it.
    pub async fn start_with(options: SandboxOptions) -> Option<Self> {
        if !kubectl_installed() {
            eprintln!("skipping: kubectl is not installed");
            return None;
        }
        let sandbox = Sandbox::start(options).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        sandbox
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        let url = sandbox.url().to_string();
        Some(Self { dir, sandbox, url })
    }

    /// The sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new("kubectl");
        command
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("HOME", self.dir.path());
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(
            out.code, 0,
            "kubectl {args:?} failed:\n{}{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// `curl` as the admin (a bearer token; the CA when serving HTTPS).
    pub async fn curl(&self, method: &str, path: &str, content_type: &str, body: &str) {
        let url = format!("{}{path}", self.url);
        self.sandbox
            .add_token("curl-admin", "curl-admin", &["system:masters"]);
        let mut trust = Vec::new();
        if let Some(ca) = self.sandbox.ca_pem() {
            trust = vec!["--cacert".to_string(), self.file("curl-ca.crt", ca)];
        }
        let (method, content_type, body) = (
            method.to_string(),
            content_type.to_string(),
            body.to_string(),
        );
        tokio::task::spawn_blocking(move || {
            let status = Command::new("curl")
                .args(&trust)
                .args([
                    "-H",
                    "Authorization: Bearer curl-admin",
                    "-sf",
                    "-o",
                    "/dev/null",
                    "-X",
                    &method,
                    "-H",
                    &format!("Content-Type: {content_type}"),
                    &url,
                    "-d",
                    &body,
                ])
                .status()
                .unwrap();
            assert!(status.success(), "{method} {url} failed");
        })
        .await
        .unwrap();
    }
}

/// Whether `ip` lies in the sandbox's service range, 10.96.0.0/12 (as kubeadm's default).
pub fn in_service_range(ip: &str) -> bool {
    let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
    octets.len() == 4 && octets[0] == 10 && (96..=111).contains(&octets[1])
}

/// A manifest several kubectl tests apply.
pub const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: team-a\n  labels: {app: demo}\ndata: {a: \"1\", b: \"2\"}\n";
/// A manifest several kubectl tests apply.
pub const GITREPO: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: team-a\nspec:\n  url: https://example.com/podinfo.git\n  interval: 1m\n";
