//! Many Kustomizations at once, as a platform team has them: GitRepository artifacts of 100
//! folders x 10 small objects (served over HTTP like the source-controller serves them), one
//! Kustomization per folder, all created at once against the embedded sandbox, with the
//! kustomize-controller binary run as its own process (`--concurrent=20`, client limit
//! `--kube-api-qps=5000 --kube-api-burst=10000`). Prints for 1,000
//! and 5,000 Kustomizations: the time from creation to all Ready, the controller's idle RSS
//! before any object, its peak RSS, its RSS once the burst is over, the share of its CPU time
//! spent in the kernel, and the sandbox's own RSS (this process).
//!
//! Run with `cargo bench -p kustomize-controller --bench scale` (`RILL_BENCH_COUNTS=1000` to
//! run one size). Goals on 2 cores: 1,000 in <= 15 s, 5,000 in <= 75 s, peak RSS <= 64 MiB at
//! 1,000, idle RSS <= 12 MiB.

// Benchmark code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fleet;

use std::time::{Duration, Instant};

use e2e::flux::rss_kib;
use fleet::{FOLDERS, Fleet, OBJECTS, controller, cpu_ticks, fleet, mib};

/// `count` Kustomizations (over `count / 100` repositories) from creation to all Ready.
async fn run(count: usize) {
    let Fleet {
        cluster,
        client,
        repos,
    } = fleet(count / FOLDERS).await;
    let kubeconfig = cluster.kubeconfig.clone();
    let mut child = controller(&kubeconfig, &[]);
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(pid, "VmRSS:");
    let start = Instant::now();
    let ticks_before = cpu_ticks(pid);
    let own_before = cpu_ticks(std::process::id());
    fleet::create_kustomizations(&client, count).await;
    let created = start.elapsed();
    let limit = Duration::from_secs(60 + count as u64 / 10);
    fleet::all_ready(&client, count, start, limit).await;
    let wall = start.elapsed();
    let (user, system) = cpu_ticks(pid);
    let (user, system) = (user - ticks_before.0, system - ticks_before.1);
    let own = cpu_ticks(std::process::id());
    let sandbox_cpu = (own.0 + own.1) - (own_before.0 + own_before.1);
    let peak = rss_kib(pid, "VmHWM:");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = rss_kib(pid, "VmRSS:");
    let sandbox_rss = rss_kib(std::process::id(), "VmRSS:");
    let sandbox_peak = rss_kib(std::process::id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    let goal = if count <= 1_000 {
        format!("goal <= {} s", count * 15 / 1_000)
    } else {
        format!(
            "goal <= {} s (linear from 1,000 in 15 s)",
            count * 15 / 1_000
        )
    };
    println!(
        "{count} Kustomizations ({repos} artifacts x {FOLDERS} folders x {OBJECTS} objects) to Ready: {:.1} s ({goal}; created in {:.1} s)",
        wall.as_secs_f64(),
        created.as_secs_f64()
    );
    println!(
        "  controller RSS: idle {:.1} MiB (goal <= 12), peak {:.1} MiB (goal <= 64 at 1,000), 5 s after the burst {:.1} MiB",
        mib(idle),
        mib(peak),
        mib(after)
    );
    println!(
        "  controller CPU: {:.1} s user, {:.1} s kernel ({:.0} % in the kernel); sandbox and client process: CPU {:.1} s, RSS {:.0} MiB (peak {:.0} MiB)",
        user as f64 / 100.0,
        system as f64 / 100.0,
        100.0 * system as f64 / (user + system).max(1) as f64,
        sandbox_cpu as f64 / 100.0,
        mib(sandbox_rss),
        mib(sandbox_peak)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    rill_common::runtime::install_crypto_provider();
    let counts: Vec<usize> = std::env::var("RILL_BENCH_COUNTS")
        .unwrap_or_else(|_| "1000,5000".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    for count in counts {
        run(count).await;
    }
}
