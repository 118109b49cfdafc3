//! Tenant isolation: a Kustomization impersonating a tenant's service account can only touch
//! what RBAC grants it, a failed validation creates nothing, and the lockdown flag refuses
//! cross-namespace sources.

use super::*;

/// Namespace `tenant` with a service account allowed everything inside `tenant` only.
async fn tenant(env: &Env) {
    env.namespace("tenant").await;
    env.namespace("other").await;
    let rbac = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: deployer\n  namespace: tenant\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer\n  namespace: tenant\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: admin\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: tenant\n";
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), rbac).unwrap();
    let (ok, out) = env.kubectl(&["apply", "-f", file.path().to_str().unwrap()]);
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_cannot_reach_outside_its_namespace() {
    let env = env(&[]).await;
    tenant(&env).await;
    let own = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n  namespace: tenant\n";
    let foreign =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: other\n";
    let cluster = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: grabbed\n";
    let repo = env.repo(
        "app",
        &[
            ("ok/cm.yaml", own),
            ("foreign/a.yaml", own),
            ("foreign/b.yaml", foreign),
            ("cluster/ns.yaml", cluster),
            ("cluster/cm.yaml", own),
        ],
    );
    let head = repo.run(&["rev-parse", "HEAD"]);
    env.source("tenant", "app", "app").await;

    env.kustomization(
        "tenant",
        "ok",
        json!({"path": "./ok", "serviceAccountName": "deployer"}),
    )
    .await;
    env.ready_at("tenant", "ok", &head).await;
    assert!(env.config_map("tenant", "mine").await.is_some());

    env.kustomization(
        "tenant",
        "foreign",
        json!({"path": "./foreign", "serviceAccountName": "deployer", "nameSuffix": "-f"}),
    )
    .await;
    let ks = env
        .failed_with("tenant", "foreign", "ReconciliationFailed")
        .await;
    let message = ready(&ks).unwrap().2;
    assert!(
        message.contains("system:serviceaccount:tenant:deployer") && message.contains("forbidden"),
        "{message}"
    );
    assert!(env.config_map("other", "theirs-f").await.is_none());
    assert!(
        env.config_map("tenant", "mine-f").await.is_none(),
        "validation failed first: nothing created"
    );

    env.kustomization(
        "tenant",
        "cluster",
        json!({"path": "./cluster", "serviceAccountName": "deployer", "nameSuffix": "-c"}),
    )
    .await;
    let ks = env
        .failed_with("tenant", "cluster", "ReconciliationFailed")
        .await;
    assert!(
        ready(&ks).unwrap().2.contains("forbidden"),
        "{:?}",
        ready(&ks)
    );
    let (_, namespaces) = env.kubectl(&["get", "namespaces"]);
    assert!(!namespaces.contains("grabbed"), "{namespaces}");
    assert!(env.config_map("tenant", "mine-c").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockdown_refuses_cross_namespace_sources_and_forces_impersonation() {
    let env = env(&[
        "--no-cross-namespace-refs=true",
        "--default-service-account=deployer",
    ])
    .await;
    tenant(&env).await;
    let foreign =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: other\n";
    env.repo("app", &[("cm.yaml", foreign)]);
    env.source("default", "app", "app").await;
    env.kustomization(
        "tenant",
        "cross",
        json!({"sourceRef": {"kind": "GitRepository", "name": "app", "namespace": "default"}}),
    )
    .await;
    let ks = env.failed_with("tenant", "cross", "AccessDenied").await;
    assert!(
        ready(&ks)
            .unwrap()
            .2
            .contains("cross-namespace references have been blocked")
    );
    assert_eq!(
        condition(&ks, "Stalled").map(|c| c.0),
        Some("True".to_string())
    );

    // without serviceAccountName the default service account is impersonated
    env.source("tenant", "app", "app").await;
    env.kustomization("tenant", "implicit", json!({})).await;
    let ks = env
        .failed_with("tenant", "implicit", "ReconciliationFailed")
        .await;
    assert!(
        ready(&ks)
            .unwrap()
            .2
            .contains("system:serviceaccount:tenant:deployer"),
        "{:?}",
        ready(&ks)
    );
    assert!(env.config_map("other", "theirs").await.is_none());
}
