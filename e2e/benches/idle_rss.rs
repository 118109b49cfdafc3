//! Idle RSS of every controller (goal: <= 12 MiB each), for the static binaries the images ship
//! and for the ordinary dynamically linked release build, side by side. Each controller starts
//! against the sandbox with no objects; its RSS is read five times over five seconds once it has
//! settled, and the highest reading counts.
//!
//! `cargo bench -p e2e --bench idle_rss` (builds both kinds of binaries first when missing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::cluster::Cluster;
use e2e::flux::rss_kib;

const CONTROLLERS: [&str; 3] = [
    "source-controller",
    "kustomize-controller",
    "image-automation-controller",
];
const GOAL_MIB: f64 = 12.0;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

fn build() {
    let status = Command::new(repo_root().join("images/build.sh"))
        .arg("--binaries-only")
        .status()
        .expect("images/build.sh runs");
    assert!(status.success(), "static binaries");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(repo_root())
        .args(["build", "--release", "--locked"]);
    for c in CONTROLLERS {
        cargo.args(["-p", c]);
    }
    assert!(
        cargo.status().expect("cargo runs").success(),
        "release binaries"
    );
}

/// The highest of five RSS readings (KiB) of `binary` idling against the cluster.
async fn idle_rss(binary: &Path, name: &str, kubeconfig: &Path) -> u64 {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(binary);
    command
        .arg("--metrics-addr=127.0.0.1:0")
        .arg("--health-addr=127.0.0.1:0")
        .arg("--log-level=error")
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match name {
        "source-controller" => {
            command
                .arg(format!("--storage-path={}", data.path().display()))
                .arg("--storage-addr=127.0.0.1:0");
        }
        "image-automation-controller" => {
            command
                .arg(format!("--storage-path={}", data.path().display()))
                .arg("--receiver-addr=127.0.0.1:0");
        }
        _ => {}
    }
    let mut child = command.spawn().expect("controller starts");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut highest = 0;
    for _ in 0..5 {
        highest = highest.max(rss_kib(child.id(), "VmRSS:"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let exited = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    assert!(exited.is_none(), "{name} exited while idling: {exited:?}");
    highest
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a plain run of the test harness passes nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    build();
    let cluster = Cluster::start().await.expect("sandbox");
    let target = target_dir();
    let kinds = [
        (
            "static (images)",
            target.join("x86_64-unknown-linux-gnu/release"),
        ),
        ("dynamic release", target.join("release")),
    ];
    println!("idle RSS per controller, MiB (goal <= {GOAL_MIB})");
    println!("{:<30} {:>16} {:>16}", "controller", kinds[0].0, kinds[1].0);
    let mut all_static_within = true;
    for name in CONTROLLERS {
        let mut row = Vec::new();
        for (kind, dir) in &kinds {
            let mib = idle_rss(&dir.join(name), name, &cluster.kubeconfig).await as f64 / 1024.0;
            if kind.starts_with("static") && mib > GOAL_MIB {
                all_static_within = false;
            }
            row.push(mib);
        }
        println!("{name:<30} {:>16.1} {:>16.1}", row[0], row[1]);
    }
    println!(
        "shipped (static) binaries within the goal: {}",
        if all_static_within { "yes" } else { "NO" }
    );
}
