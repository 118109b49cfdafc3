//! The controller images, end to end: `images/build.sh` builds the static binaries and one
//! `FROM scratch` image per controller with buildah and pushes them to the local registry; each
//! image is pulled back (digest checked), its labels, user and size checked, its root file
//! system unpacked, and its controller run from it under `chroot --userspec=65534:65534` with
//! `/etc/hosts` and `/etc/resolv.conf` written as a kubelet writes them. The controllers reach
//! the API server, the Git servers (HTTP and SSH), each other and the registry by host *name*,
//! which glibc could not resolve there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::cluster::Cluster;
use e2e::flux::{create, secret, wait_for};
use e2e::git_http::{GitHttpServer, HttpAuth};
use e2e::git_repo::TestRepo;
use e2e::git_ssh::SshServer;
use e2e::ports::free_port;
use e2e::registry::TestRegistry;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use rill_common::api::image_v1::ImageRepository;
use rill_common::api::kustomize_v1::Kustomization;
use rill_common::api::source_v1::GitRepository;

const CONTROLLERS: [&str; 3] = [
    "source-controller",
    "kustomize-controller",
    "image-automation-controller",
];
const VERSION: &str = "0.0.0-e2e";
/// The budget for one image, compressed.
const MAX_IMAGE_BYTES: u64 = 20 * 1000 * 1000;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Why the test cannot run here, if it cannot.
fn missing_tools() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("chroot and buildah's vfs storage need root".into());
    }
    for tool in ["buildah", "umoci", "skopeo", "docker-registry", "readelf"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!(
                "{tool} is not installed (apt-get install buildah umoci skopeo docker-registry binutils)"
            ));
        }
    }
    if !SshServer::available() {
        return Some("/usr/sbin/sshd is not installed (apt-get install openssh-server)".into());
    }
    None
}

fn run(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One pushed image as the build script reported it.
struct Built {
    reference: String,
    digest: String,
    compressed: u64,
}

/// Runs the build script and reads its closing table (`reference digest size` per image).
fn build_and_push(registry: &str, work: &Path) -> BTreeMap<String, Built> {
    let out = run(
        Command::new(repo_root().join("images/build.sh"))
            .args(["--registry", &format!("{registry}/rill")])
            .args([
                "--version",
                VERSION,
                "--push",
                "--tls-verify=false",
                "--tool",
                "buildah",
            ])
            .arg("--storage")
            .arg(work.join("storage"))
            .arg("--out")
            .arg(work.join("out")),
        "images/build.sh",
    );
    let table = out
        .split("==> images\n")
        .nth(1)
        .expect("the script prints its images");
    let mut built = BTreeMap::new();
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [reference, digest, size] = fields[..] else {
            panic!("unexpected line {line:?}")
        };
        let name = reference
            .rsplit('/')
            .next()
            .and_then(|n| n.split(':').next())
            .expect("name")
            .to_string();
        built.insert(
            name,
            Built {
                reference: reference.to_string(),
                digest: digest.to_string(),
                compressed: size.parse().expect("size"),
            },
        );
    }
    built
}

/// Pulls `image` back into an OCI layout, checks what the registry and the layout say of it,
/// and unpacks its root file system into `rootfs`.
fn pull_check_and_unpack(name: &str, image: &Built, work: &Path) -> PathBuf {
    assert!(
        image.compressed <= MAX_IMAGE_BYTES,
        "{name}: {} bytes compressed",
        image.compressed
    );
    let inspect = run(
        Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}", image.reference),
        ]),
        "skopeo inspect",
    );
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(
        inspect["Digest"],
        image.digest.as_str(),
        "{name}: pushed digest"
    );
    let labels = &inspect["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.version"], VERSION,
        "{name}"
    );
    assert_eq!(labels["org.opencontainers.image.title"], name, "{name}");
    let revision = run(
        Command::new("git")
            .current_dir(repo_root())
            .args(["rev-parse", "HEAD"]),
        "git rev-parse",
    );
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        revision.trim(),
        "{name}"
    );
    assert!(
        labels["org.opencontainers.image.source"].is_string(),
        "{name}: {labels}"
    );
    let config = run(
        Command::new("skopeo").args([
            "inspect",
            "--config",
            "--tls-verify=false",
            &format!("docker://{}", image.reference),
        ]),
        "skopeo inspect --config",
    );
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["config"]["User"], "65534:65534", "{name}");
    assert_eq!(
        config["config"]["Entrypoint"][0],
        format!("/{name}"),
        "{name}"
    );

    let layout = work.join("layout");
    run(
        Command::new("skopeo").args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            &format!("docker://{}", image.reference),
            &format!("oci:{}:{name}", layout.display()),
        ]),
        "skopeo copy",
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    let pulled = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .expect("the pulled manifest");
    assert_eq!(
        pulled["digest"],
        image.digest.as_str(),
        "{name}: pulled digest"
    );

    let rootfs = work.join(format!("rootfs-{name}"));
    run(
        Command::new("umoci")
            .args(["raw", "unpack", "--image"])
            .arg(format!("{}:{name}", layout.display()))
            .arg(&rootfs),
        "umoci raw unpack",
    );
    let mut files: Vec<String> = walk(&rootfs);
    files.sort();
    assert_eq!(
        files,
        vec![
            "etc/ssl/certs/ca-certificates.crt".to_string(),
            name.to_string()
        ],
        "{name}: the image holds the binary and the CA bundle, nothing else"
    );
    rootfs
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}

/// What the kubelet gives a container on top of its image: the volumes at `/data` and `/tmp`
/// (owned by the pod's user), `/etc/hosts` and `/etc/resolv.conf` pointing at cluster DNS
/// with the pod's search list, and here a kubeconfig in `/tmp` naming the API server by name.
fn as_the_kubelet_would(rootfs: &Path, hosts: &str, kubeconfig: &str) {
    for dir in ["data", "tmp"] {
        std::fs::create_dir_all(rootfs.join(dir)).unwrap();
        run(
            Command::new("chown")
                .arg("65534:65534")
                .arg(rootfs.join(dir)),
            "chown",
        );
    }
    std::fs::write(rootfs.join("etc/hosts"), hosts).unwrap();
    std::fs::write(
        rootfs.join("etc/resolv.conf"),
        "search rill-system.svc.cluster.local svc.cluster.local cluster.local\n\
         nameserver 10.96.0.10\noptions ndots:5\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("tmp/kubeconfig"), kubeconfig).unwrap();
    run(
        Command::new("chown")
            .arg("65534:65534")
            .arg(rootfs.join("tmp/kubeconfig")),
        "chown",
    );
}

/// A controller started from its image's root file system; killed when dropped.
struct Jailed {
    child: Child,
    name: String,
    health: u16,
    log: PathBuf,
}

impl Drop for Jailed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_jailed(name: &str, rootfs: &Path, args: &[String]) -> Jailed {
    let health = free_port();
    let log = rootfs.with_extension("log");
    let child = Command::new("chroot")
        .arg("--userspec=65534:65534")
        .arg(rootfs)
        .arg(format!("/{name}"))
        .args(args)
        .arg(format!("--health-addr=127.0.0.1:{health}"))
        .arg("--metrics-addr=127.0.0.1:0")
        .env_clear()
        // What a container runtime sets: the image's PATH, HOME=/ for a user with no passwd entry.
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", "/")
        .env("KUBECONFIG", "/tmp/kubeconfig")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("chroot {name}: {e}"));
    Jailed {
        child,
        name: name.to_string(),
        health,
        log,
    }
}

impl Jailed {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/healthz` and `/readyz` answer 200.
    async fn healthy(&mut self) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for path in ["healthz", "readyz"] {
            loop {
                let url = format!("http://127.0.0.1:{}/{path}", self.health);
                if http
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    break;
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("{} exited ({status}):\n{}", self.name, self.log());
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{}: /{path} never answered:\n{}",
                    self.name,
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_built_pushed_pulled_and_run_from_scratch_resolving_names_in_rust() {
    if let Some(why) = missing_tools() {
        eprintln!("skipping: {why}");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(None);
    let built = build_and_push(&registry.host, work.path());
    assert_eq!(built.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut names = CONTROLLERS.to_vec();
        names.sort();
        names
    });
    let mut rootfs = BTreeMap::new();
    for name in CONTROLLERS {
        let image = &built[name];
        eprintln!(
            "{name}: {} bytes compressed, {}",
            image.compressed, image.digest
        );
        rootfs.insert(name, pull_check_and_unpack(name, image, work.path()));
    }

    // The cluster, a Git server over HTTP and one over SSH, all on loopback, known by name.
    let cluster = Cluster::start().await.unwrap();
    let client = cluster.sandbox.client().await.unwrap();
    let repos = tempfile::tempdir().unwrap();
    let app = TestRepo::create(
        repos.path(),
        "app",
        &[(
            "configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-http\n  namespace: default\ndata:\n  via: http\n",
        )],
    );
    let ssh_app = TestRepo::create(
        repos.path(),
        "ssh-app",
        &[(
            "configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-ssh\n  namespace: default\ndata:\n  via: ssh\n",
        )],
    );
    let git = GitHttpServer::start(repos.path(), HttpAuth::None)
        .await
        .unwrap();
    let git_port = git.url.rsplit(':').next().unwrap().to_string();
    let ssh = SshServer::start();
    let storage_port = free_port();
    let registry_port = registry.host.rsplit(':').next().unwrap().to_string();
    let hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\
                 127.0.0.1 kubernetes.default.svc git.rill.test registry.rill.test\n\
                 127.0.0.1 source-controller.rill-system.svc.cluster.local\n";
    let kubeconfig = std::fs::read_to_string(&cluster.kubeconfig)
        .unwrap()
        .replace("127.0.0.1", "kubernetes.default.svc");
    // The API server by its in-cluster name, which its serving certificate carries.
    assert!(kubeconfig.contains("server: https://kubernetes.default.svc:"));
    for dir in rootfs.values() {
        as_the_kubelet_would(dir, hosts, &kubeconfig);
    }

    let mut source = start_jailed(
        "source-controller",
        &rootfs["source-controller"],
        &[
            "--storage-path=/data".into(),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!(
                "--storage-adv-addr=source-controller.rill-system.svc.cluster.local:{storage_port}"
            ),
        ],
    );
    let mut kustomize = start_jailed("kustomize-controller", &rootfs["kustomize-controller"], &[]);
    let mut images = start_jailed(
        "image-automation-controller",
        &rootfs["image-automation-controller"],
        &[
            "--storage-path=/data".into(),
            "--receiver-addr=127.0.0.1:0".into(),
        ],
    );
    source.healthy().await;
    kustomize.healthy().await;
    images.healthy().await;

    // Git over HTTP and over SSH, by host name; the host key is checked for that name.
    create(
        &client,
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        "default",
        "http",
        serde_json::json!({"url": format!("http://git.rill.test:{git_port}/app.git"),
            "interval": "1h", "ref": {"branch": "master"}}),
    )
    .await;
    let host_key = ssh.known_hosts.split_once(' ').unwrap().1;
    let known_hosts = format!("[git.rill.test]:{} {host_key}", ssh.port);
    secret(
        &client,
        "default",
        "ssh",
        &[("identity", &ssh.client_key), ("known_hosts", &known_hosts)],
    )
    .await;
    create(
        &client,
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        "default",
        "ssh",
        serde_json::json!({"url": format!("ssh://{}@git.rill.test:{}{}", ssh.user, ssh.port, ssh_app.bare.display()),
            "interval": "1h", "ref": {"branch": "master"}, "secretRef": {"name": "ssh"}}),
    )
    .await;
    let sources: Api<GitRepository> = Api::namespaced(client.clone(), "default");
    for name in ["http", "ssh"] {
        let ready = wait_for(&sources, name, "Ready", Duration::from_secs(60), |g| {
            e2e::flux::ready(g).is_some_and(|(s, _, _)| s == "True")
        })
        .await;
        let url = ready
            .status
            .and_then(|s| s.artifact)
            .map(|a| a.url)
            .unwrap_or_default();
        assert!(
            url.starts_with(&format!(
                "http://source-controller.rill-system.svc.cluster.local:{storage_port}/"
            )),
            "{name}: {url}\n{}",
            source.log()
        );
    }

    // The kustomize-controller downloads from the source-controller by its service name.
    for name in ["http", "ssh"] {
        create(
            &client,
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "default",
            name,
            serde_json::json!({"interval": "1h", "prune": true, "path": "./",
                "sourceRef": {"kind": "GitRepository", "name": name}}),
        )
        .await;
    }
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    for name in ["http", "ssh"] {
        wait_for(
            &kustomizations,
            name,
            "Ready",
            Duration::from_secs(60),
            |k| e2e::flux::ready(k).is_some_and(|(s, _, _)| s == "True"),
        )
        .await;
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for (name, via) in [("from-http", "http"), ("from-ssh", "ssh")] {
        let applied = config_maps.get(name).await.unwrap();
        assert_eq!(applied.data.unwrap()["via"], via, "{name}");
    }

    // The image-automation-controller scans the registry by name: the images just pushed.
    create(
        &client,
        "image.toolkit.fluxcd.io/v1",
        "ImageRepository",
        "default",
        "rill",
        serde_json::json!({"image": format!("registry.rill.test:{registry_port}/rill/source-controller"),
            "interval": "1h", "insecure": true}),
    )
    .await;
    let scans: Api<ImageRepository> = Api::namespaced(client.clone(), "default");
    let scanned = wait_for(&scans, "rill", "a scan", Duration::from_secs(60), |r| {
        r.status
            .as_ref()
            .and_then(|s| s.last_scan_result.as_ref())
            .is_some_and(|l| l.tag_count == 1)
    })
    .await;
    assert_eq!(
        scanned
            .status
            .unwrap()
            .last_scan_result
            .unwrap()
            .latest_tags,
        Some(vec![VERSION.to_string()]),
        "{}",
        images.log()
    );
    drop(app);
}
