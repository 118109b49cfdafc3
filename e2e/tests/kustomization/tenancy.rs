//! Tenant isolation: a Kustomization impersonating a tenant's service account can only touch
//! what RBAC grants it, cannot grant itself more (RBAC escalation is refused as on a real
//! cluster), a failed validation creates nothing, and the lockdown flag refuses cross-namespace
//! sources.

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

/// A tenant holding `admin` in its namespace tries to raise itself: binding `cluster-admin`
/// there, and a Role with every verb on every resource. Both need the `bind` / `escalate`
/// a real API server asks for; both are refused and nothing of either build is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_cannot_grant_itself_more_than_it_holds() {
    let env = env(&[]).await;
    tenant(&env).await;
    let bind_cluster_admin = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: grab\n  namespace: tenant\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: tenant\n";
    let wildcard_role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: everything\n  namespace: tenant\nrules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n";
    let marker =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marker\n  namespace: tenant\n";
    let repo = env.repo(
        "app",
        &[
            ("bind/rb.yaml", bind_cluster_admin),
            ("bind/cm.yaml", marker),
            ("wildcard/role.yaml", wildcard_role),
            ("wildcard/cm.yaml", marker),
        ],
    );
    let _ = repo.run(&["rev-parse", "HEAD"]);
    env.source("tenant", "app", "app").await;
    for (name, suffix) in [("bind", "-b"), ("wildcard", "-w")] {
        env.kustomization(
            "tenant",
            name,
            json!({"path": format!("./{name}"), "serviceAccountName": "deployer", "nameSuffix": suffix}),
        )
        .await;
        let ks = env
            .failed_with("tenant", name, "ReconciliationFailed")
            .await;
        let message = ready(&ks).unwrap().2;
        assert!(
            message.contains("forbidden")
                && message.contains("system:serviceaccount:tenant:deployer"),
            "{name}: {message}"
        );
        assert!(
            env.config_map("tenant", &format!("marker{suffix}"))
                .await
                .is_none(),
            "{name}: nothing of a refused build is created"
        );
    }
    let (ok, out) = env.kubectl(&["get", "rolebinding", "grab-b", "-n", "tenant"]);
    assert!(!ok && out.contains("NotFound"), "{out}");
    let (ok, out) = env.kubectl(&["get", "role", "everything-w", "-n", "tenant"]);
    assert!(!ok && out.contains("NotFound"), "{out}");
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
