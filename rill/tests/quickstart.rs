//! The README's first command: `rill quickstart --once` must show the push and the rollback,
//! and (where `docker-registry` and `skopeo` are installed) a registry push reaching Git and the
//! Deployment, and exit 0.

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
    if rill::registry::LocalRegistry::available() {
        let images: Vec<&str> = stdout.lines().filter(|l| l.contains("image=")).collect();
        assert_eq!(images.len(), 2, "{stdout}");
        assert!(
            images[0].contains("/stefanprodan/podinfo:6.7.0"),
            "{stdout}"
        );
        assert!(
            images[1].contains("/stefanprodan/podinfo:6.7.1 ("),
            "{stdout}"
        );
        assert!(
            stdout.contains("- 6.7.0 -> 6.7.1 (flux-system:podinfo:tag)"),
            "{stdout}"
        );
    } else {
        assert!(stdout.contains("image automation: skipped"), "{stdout}");
    }
}
