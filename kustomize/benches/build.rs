//! Engine benchmark, printed as numbers and ratios against `kubectl kustomize` run side by side:
//! 1. the synthetic trees of `../shared/kustomize-corpus/perf/gen_synthetic.py` (1,000 and
//!    5,000 resources): wall time (median of several runs) and peak RSS of `rill-kustomize build DIR/overlay` and of
//!    `kubectl kustomize DIR/overlay` (`RILL_BENCH_SKIP_KUBECTL_5000=1` skips kubectl's
//!    ~150 s run at 5,000 and prints kubectl's recorded timing instead);
//! 2. the whole public corpus: the sum of per-case times of both tools;
//! 3. first, the peak RSS of `rill-kustomize` on an alias bomb (goal <= 64 MiB) and the time
//!    of 50,000 and 100,000 generator literals (linear).
//!
//! Run with `cargo bench -p kustomize --bench build`. Skips with a message when the corpus
//! or kubectl is absent.

// Benchmark code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/kustomize-corpus")
}

fn rill_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "kustomize",
            "--bin",
            "rill-kustomize",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building rill-kustomize failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release/rill-kustomize")
}

/// Runs `cmd` under `/usr/bin/time -f %M`: (wall time, peak RSS in KiB, stdout).
fn measure(program: &Path, args: &[&str], dir: &Path) -> (Duration, u64, Vec<u8>) {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(program)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("/usr/bin/time runs");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (elapsed, rss, out.stdout)
}

/// [`measure`] `runs` times: the median wall time, the largest peak RSS, the last output.
fn measure_median(
    program: &Path,
    args: &[&str],
    dir: &Path,
    runs: usize,
) -> (Duration, u64, Vec<u8>) {
    let mut times = Vec::with_capacity(runs);
    let (mut rss, mut out) = (0, Vec::new());
    for _ in 0..runs.max(1) {
        let (time, run_rss, run_out) = measure(program, args, dir);
        times.push(time);
        rss = rss.max(run_rss);
        out = run_out;
    }
    times.sort();
    (times[times.len() / 2], rss, out)
}

fn recorded_kubectl_seconds(n: usize) -> Option<String> {
    let tsv =
        std::fs::read_to_string(corpus().join(format!("perf/synthetic_timing_{n}.tsv"))).ok()?;
    tsv.lines()
        .find(|l| l.contains("overlay"))
        .map(str::to_string)
}

fn synthetic(rill: &Path, kubectl: &Path, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(corpus().join("perf/gen_synthetic.py"))
        .arg(n.to_string())
        .arg(dir.path())
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let overlay = dir.path().join("overlay");
    let overlay = overlay.to_str().unwrap();
    let (rill_time, rill_rss, rill_out) = measure_median(rill, &["build", overlay], dir.path(), 5);
    println!(
        "synthetic {n:>5}: rill-kustomize {:>9.3} s  peak RSS {:>7.1} MB (median of 5 runs)",
        rill_time.as_secs_f64(),
        rill_rss as f64 / 1024.0
    );
    if n >= 5000 && std::env::var("RILL_BENCH_SKIP_KUBECTL_5000").is_ok() {
        println!(
            "synthetic {n:>5}: kubectl skipped; recorded: {}",
            recorded_kubectl_seconds(n).unwrap_or_default()
        );
        return;
    }
    let kubectl_runs = if n <= 1000 { 3 } else { 1 };
    let (kubectl_time, kubectl_rss, kubectl_out) =
        measure_median(kubectl, &["kustomize", overlay], dir.path(), kubectl_runs);
    println!(
        "synthetic {n:>5}: kubectl        {:>9.3} s  peak RSS {:>7.1} MB",
        kubectl_time.as_secs_f64(),
        kubectl_rss as f64 / 1024.0
    );
    println!(
        "synthetic {n:>5}: speed-up {:.1}x, same bytes: {}",
        kubectl_time.as_secs_f64() / rill_time.as_secs_f64().max(1e-9),
        rill_out == kubectl_out
    );
}

fn whole_corpus(rill: &Path, kubectl: &Path) {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus().join("public"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    let (mut rill_total, mut kubectl_total, mut same) = (Duration::ZERO, Duration::ZERO, 0usize);
    for case in &cases {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap())
                .unwrap();
        let input = case.join("input");
        let build_dir = meta["build_dir"].as_str().unwrap_or(".").to_string();
        let mut args: Vec<String> = vec![build_dir];
        args.extend(
            meta["flags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(str::to_string)),
        );
        let run = |program: &Path, first: &[&str]| {
            let start = Instant::now();
            let out = Command::new(program)
                .args(first)
                .args(&args)
                .current_dir(&input)
                .output()
                .unwrap();
            (start.elapsed(), out.stdout)
        };
        let (t1, o1) = run(rill, &["build"]);
        let (t2, o2) = run(kubectl, &["kustomize"]);
        rill_total += t1;
        kubectl_total += t2;
        same += usize::from(o1 == o2);
    }
    println!(
        "public corpus ({} cases): rill-kustomize {:.2} s, kubectl {:.2} s, speed-up {:.1}x, same bytes in {same} cases",
        cases.len(),
        rill_total.as_secs_f64(),
        kubectl_total.as_secs_f64(),
        kubectl_total.as_secs_f64() / rill_total.as_secs_f64().max(1e-9)
    );
}

/// Peak RSS of `rill-kustomize build` on a 1 KB "billion laughs" alias bomb (10 levels of 10
/// aliases) and on the same through `<<` merge keys; the goal is <= 64 MiB and a clear error.
fn alias_bomb(rill: &Path) {
    let (lists, merges) = kustomize::fuzzing::alias_bombs();
    for (label, bomb) in [("lists", lists), ("merge keys", merges)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            "resources:\n- bomb.yaml\n",
        )
        .unwrap();
        let doc = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n{bomb}");
        std::fs::write(dir.path().join("bomb.yaml"), &doc).unwrap();
        let start = Instant::now();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(rill)
            .args(["build", "."])
            .current_dir(dir.path())
            .output()
            .expect("/usr/bin/time runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let rss: u64 = stderr
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let error = stderr.lines().next().unwrap_or_default();
        println!(
            "alias bomb ({label}, {} bytes): peak RSS {:.1} MiB (goal 64), {:.3} s, exit {}: {error}",
            doc.len(),
            rss as f64 / 1024.0,
            start.elapsed().as_secs_f64(),
            out.status.code().unwrap_or(-1)
        );
    }
}

/// `configMapGenerator` literals at 50,000 and 100,000: the time must grow linearly.
fn generator_literals(rill: &Path) {
    for n in [50_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("configMapGenerator:\n- name: big\n  literals:\n");
        for i in 0..n {
            text.push_str(&format!("  - k{i}=v{i}\n"));
        }
        std::fs::write(dir.path().join("kustomization.yaml"), text).unwrap();
        let (time, rss, _) = measure_median(rill, &["build", "."], dir.path(), 3);
        println!(
            "configMapGenerator with {n} literals: {:.3} s, peak RSS {:.1} MiB (median of 3)",
            time.as_secs_f64(),
            rss as f64 / 1024.0
        );
    }
}

fn main() {
    let rill = rill_binary();
    alias_bomb(&rill);
    generator_literals(&rill);
    if !corpus().join("perf/gen_synthetic.py").is_file() {
        println!("skipped: {} is absent", corpus().display());
        return;
    }
    let Some(kubectl) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kubectl"))
            .find(|k| k.is_file())
    }) else {
        println!("skipped: kubectl is not on PATH");
        return;
    };
    for n in [1000, 5000] {
        synthetic(&rill, &kubectl, n);
    }
    whole_corpus(&rill, &kubectl);
}
