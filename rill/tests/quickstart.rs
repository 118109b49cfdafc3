//! The README's first command: `rill quickstart --once` must show the push and the rollback
//! and exit 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn quickstart_once_applies_a_push_and_a_revert_and_exits_zero() {
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["quickstart", "--once", "--state-dir"])
        .arg(state.path())
        .output()
        .expect("rill runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let replicas: Vec<&str> = stdout.lines().filter(|l| l.contains("replicas=")).collect();
    assert_eq!(replicas.len(), 3, "{stdout}");
    assert!(
        replicas[0].ends_with("replicas=1")
            && replicas[1].ends_with("replicas=3")
            && replicas[2].ends_with("replicas=1"),
        "{stdout}"
    );
    assert!(stdout.contains("followed Git both ways"), "{stdout}");
}
