//! The install manifests in `config/`: Rill's engine builds them to the same bytes as
//! `kubectl kustomize`, and applied to the sandbox every Deployment becomes Available.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sandbox::{Sandbox, SandboxOptions};

fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config")
        .join(name)
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn rill_build(name: &str) -> String {
    kustomize::build_yaml(&config(name), &kustomize::Options::default()).unwrap()
}

#[test]
fn rill_and_kubectl_build_the_install_manifests_to_the_same_bytes() {
    for name in ["default", "lockdown", "private-registry"] {
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(config(name))
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            rill_build(name),
            String::from_utf8_lossy(&out.stdout),
            "config/{name}"
        );
    }
    let lockdown = rill_build("lockdown");
    assert!(
        lockdown.contains("--no-cross-namespace-refs=true")
            && lockdown.contains("--default-service-account=default")
    );
    assert!(
        !lockdown.contains("name: cluster-reconciler"),
        "lockdown drops the cluster-admin binding"
    );
}

/// The `image:` of every Deployment in the build of `config/<name>`, by Deployment name.
fn deployment_images(name: &str) -> Vec<(String, String)> {
    let mut images = Vec::new();
    let mut deployment = None;
    for document in rill_build(name).split("\n---\n") {
        if !document.contains("\nkind: Deployment\n") {
            continue;
        }
        for line in document.lines() {
            if let Some(n) = line.strip_prefix("  name: ") {
                deployment.get_or_insert(n.to_string());
            }
            if let Some(image) = line.trim().strip_prefix("image: ") {
                images.push((deployment.clone().unwrap_or_default(), image.to_string()));
            }
        }
        deployment = None;
    }
    images.sort();
    images
}

/// A `NAME=value` default of `images/build.sh`.
fn script_default(variable: &str) -> String {
    let script = std::fs::read_to_string(config("../images/build.sh")).unwrap();
    let prefix = format!("{variable}=");
    script
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("images/build.sh sets no {variable}"))
        .to_string()
}

#[test]
fn the_install_names_the_images_build_sh_produces() {
    let registry = script_default("REGISTRY");
    let version = env!("CARGO_PKG_VERSION");
    let controllers = [
        "image-automation-controller",
        "kustomize-controller",
        "source-controller",
    ];
    let want = |prefix: &str| -> Vec<(String, String)> {
        controllers
            .iter()
            .map(|c| (c.to_string(), format!("{prefix}/{c}:{version}")))
            .collect()
    };
    assert_eq!(deployment_images("default"), want(&registry));
    assert_eq!(deployment_images("lockdown"), want(&registry));
    assert_eq!(
        deployment_images("private-registry"),
        want("registry.example.com/rill")
    );
    for c in controllers {
        let dockerfile = std::fs::read_to_string(config(&format!("../{c}/Dockerfile"))).unwrap();
        assert!(dockerfile.contains("\nFROM scratch\n"), "{c}");
        assert!(dockerfile.contains("\nUSER 65534:65534\n"), "{c}");
        assert!(
            dockerfile.contains(&format!("ENTRYPOINT [\"/{c}\"]")),
            "{c}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_install_applies_and_every_deployment_becomes_available() {
    for name in ["default", "lockdown"] {
        let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig).unwrap();
        let manifests = rill_build(name);
        let kc = kubeconfig.clone();
        let (ok, out) = tokio::task::spawn_blocking(move || {
            kubectl(
                &kc,
                &[
                    "apply",
                    "--server-side",
                    "--field-manager=rill-install",
                    "-f",
                    "-",
                ],
                Some(&manifests),
            )
        })
        .await
        .unwrap();
        assert!(ok, "config/{name}: {out}");
        assert!(
            out.contains("deployment.apps/kustomize-controller serverside-applied"),
            "{out}"
        );
        let kc = kubeconfig.clone();
        let (ok, out) = tokio::task::spawn_blocking(move || {
            kubectl(
                &kc,
                &[
                    "wait",
                    "--for=condition=Available",
                    "deployment",
                    "--all",
                    "-n",
                    "flux-system",
                    "--timeout=30s",
                ],
                None,
            )
        })
        .await
        .unwrap();
        assert!(ok, "config/{name}: {out}");
        assert_eq!(out.matches("condition met").count(), 3, "{out}");
        let kc = kubeconfig.clone();
        let (ok, out) = tokio::task::spawn_blocking(move || {
            kubectl(
                &kc,
                &["get", "crd", "kustomizations.kustomize.toolkit.fluxcd.io"],
                None,
            )
        })
        .await
        .unwrap();
        assert!(ok, "{out}");
        // A namespace admin manages the toolkit's objects and a viewer reads them, through
        // the aggregated rill-edit and rill-view roles.
        let tenant = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n---\n\
            apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: admin, namespace: team-a}\n\
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}\n\
            subjects: [{kind: User, name: tenant-admin}]\n---\n\
            apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: view, namespace: team-a}\n\
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n\
            subjects: [{kind: User, name: tenant-viewer}]\n";
        let kc = kubeconfig.clone();
        let (ok, out) =
            tokio::task::spawn_blocking(move || kubectl(&kc, &["apply", "-f", "-"], Some(tenant)))
                .await
                .unwrap();
        assert!(ok, "{out}");
        for (user, verb, want) in [
            ("tenant-admin", "create", "yes"),
            ("tenant-viewer", "list", "yes"),
            ("tenant-viewer", "create", "no"),
        ] {
            let kc = kubeconfig.clone();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let kc = kc.clone();
                let (_, out) = tokio::task::spawn_blocking(move || {
                    kubectl(
                        &kc,
                        &[
                            "auth",
                            "can-i",
                            verb,
                            "kustomizations.kustomize.toolkit.fluxcd.io",
                            "-n",
                            "team-a",
                            &format!("--as={user}"),
                        ],
                        None,
                    )
                })
                .await
                .unwrap();
                if out.trim() == want {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "config/{name}: {user} {verb}: {out}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
