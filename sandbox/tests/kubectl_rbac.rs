//! The real `kubectl` against the sandbox's RBAC: escalation refused to a namespace admin,
//! `auth can-i` with impersonation, and admin/edit/view aggregating labelled ClusterRoles.
//! Skips with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

mod kubectl_support;

use kubectl_support::Kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_admin_cannot_grant_more_than_it_holds() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    let admin = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: tenant-admin, namespace: team-a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}\nsubjects: [{kind: ServiceAccount, name: tenant, namespace: team-a}]\n";
    k.ok(&["apply", "-f", &k.file("admin.yaml", admin)]).await;
    let tenant = "--as=system:serviceaccount:team-a:tenant";
    let binding = |name: &str, role: &str| {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {name}, namespace: team-a}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects: [{{kind: ServiceAccount, name: tenant, namespace: team-a}}]\n"
        )
    };
    // Binding what it already holds is fine; binding cluster-admin is an escalation.
    for role in ["edit", "view"] {
        let file = k.file(
            &format!("{role}.yaml"),
            &binding(&format!("tenant-{role}"), role),
        );
        k.ok(&["apply", "-f", &file, tenant]).await;
    }
    let escalate = k.file("escalate.yaml", &binding("tenant-root", "cluster-admin"));
    let refused = k.run(&["apply", "-f", &escalate, tenant]).await;
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("is attempting to grant RBAC permissions not currently held"),
        "{}",
        refused.stderr
    );
    // A Role is held to the same rule.
    let role = |name: &str, resource: &str| {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {name}, namespace: team-a}}\nrules: [{{apiGroups: [\"\"], resources: [{resource}], verbs: [get]}}]\n"
        )
    };
    k.ok(&[
        "apply",
        "-f",
        &k.file("secrets.yaml", &role("read-secrets", "secrets")),
        tenant,
    ])
    .await;
    let nodes = k
        .run(&[
            "apply",
            "-f",
            &k.file("nodes.yaml", &role("read-nodes", "nodes")),
            tenant,
        ])
        .await;
    assert_ne!(nodes.code, 0);
    assert!(
        nodes.stderr.contains("not currently held"),
        "{}",
        nodes.stderr
    );
    // The cluster's admin may.
    k.ok(&["apply", "-f", &escalate]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_follows_rbac_and_impersonation() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    let sa = "--as=system:serviceaccount:team-a:sa";
    let denied = k
        .run(&["auth", "can-i", "create", "configmaps", "-n", "team-a", sa])
        .await;
    assert_eq!((denied.code, denied.stdout.trim()), (1, "no"));
    let binding = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: sa-edit, namespace: team-a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\nsubjects: [{kind: ServiceAccount, name: sa, namespace: team-a}]\n";
    k.ok(&["apply", "-f", &k.file("rb.yaml", binding)]).await;
    let allowed = k
        .run(&["auth", "can-i", "create", "configmaps", "-n", "team-a", sa])
        .await;
    assert_eq!((allowed.code, allowed.stdout.trim()), (0, "yes"));
    let other_ns = k
        .run(&["auth", "can-i", "create", "configmaps", "-n", "default", sa])
        .await;
    assert_eq!((other_ns.code, other_ns.stdout.trim()), (1, "no"));
    let denied_user = k
        .run(&[
            "auth",
            "can-i",
            "create",
            "configmaps",
            "-n",
            "team-a",
            "--as=denied-user",
            "--as-group=g1",
        ])
        .await;
    assert_eq!((denied_user.code, denied_user.stdout.trim()), (1, "no"));
    let forbidden = k.run(&["get", "configmaps", "-n", "default", sa]).await;
    assert_eq!(forbidden.code, 1);
    assert!(
        forbidden.stderr.contains(
            "cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        forbidden.stderr
    );
}

/// Flux's install labels `flux-edit` to aggregate into `admin` and `edit`: a namespace admin
/// may then manage Kustomizations, and loses that when the role goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_edit_and_view_aggregate_labelled_cluster_roles() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    let sa = "--as=system:serviceaccount:team-a:tenant";
    k.ok(&[
        "create",
        "rolebinding",
        "tenant-admin",
        "--clusterrole=admin",
        "--serviceaccount=team-a:tenant",
        "-n",
        "team-a",
    ])
    .await;
    let can = |verb: &'static str, resource: &'static str| {
        let k = &k;
        async move {
            k.run(&["auth", "can-i", verb, resource, "-n", "team-a", sa])
                .await
                .stdout
                .trim()
                .to_string()
        }
    };
    assert_eq!(can("create", "configmaps").await, "yes", "admin holds edit");
    assert_eq!(can("list", "pods").await, "yes", "admin holds view");
    assert_eq!(
        can("create", "kustomizations.kustomize.toolkit.fluxcd.io").await,
        "no"
    );
    let flux_edit = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: flux-edit\n  labels:\n    rbac.authorization.k8s.io/aggregate-to-admin: \"true\"\n    rbac.authorization.k8s.io/aggregate-to-edit: \"true\"\nrules:\n- apiGroups: [kustomize.toolkit.fluxcd.io]\n  resources: ['*']\n  verbs: [create, delete, get, list, patch, update, watch]\n";
    k.ok(&["apply", "-f", &k.file("flux-edit.yaml", flux_edit)])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while can("create", "kustomizations.kustomize.toolkit.fluxcd.io").await != "yes" {
        assert!(
            std::time::Instant::now() < deadline,
            "never aggregated into admin"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admin: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "clusterrole", "admin", "-o", "json"]).await).unwrap();
    assert_eq!(
        admin["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
    let view: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "clusterrole", "view", "-o", "json"]).await).unwrap();
    assert!(
        !view["rules"]
            .to_string()
            .contains("kustomize.toolkit.fluxcd.io"),
        "view does not aggregate flux-edit: {view}"
    );
    k.ok(&["delete", "clusterrole", "flux-edit"]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while can("create", "kustomizations.kustomize.toolkit.fluxcd.io").await != "no" {
        assert!(
            std::time::Instant::now() < deadline,
            "the rules stayed after the role went"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `kubectl create token` gives a service account a token that authenticates as the account,
/// with its RBAC; a token for another audience, from before the account was re-created, or
/// asked for too short a time is refused as upstream refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_tokens_act_as_their_account() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    k.ok(&["create", "serviceaccount", "deployer", "-n", "team-a"])
        .await;
    k.ok(&[
        "create",
        "rolebinding",
        "deployer-edit",
        "--clusterrole=edit",
        "--serviceaccount=team-a:deployer",
        "-n",
        "team-a",
    ])
    .await;
    let token = k
        .ok(&["create", "token", "deployer", "-n", "team-a"])
        .await
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let as_token = |file: &str, token: &str| {
        k.file(
            file,
            &k.sandbox()
                .kubeconfig_for(sandbox::Credentials::Token(token)),
        )
    };
    let deployer = as_token("deployer.kubeconfig", &token);
    let whoami = k.ok(&["--kubeconfig", &deployer, "auth", "whoami"]).await;
    assert!(
        whoami.contains("system:serviceaccount:team-a:deployer")
            && whoami.contains("system:serviceaccounts:team-a"),
        "{whoami}"
    );
    k.ok(&[
        "--kubeconfig",
        &deployer,
        "get",
        "configmaps",
        "-n",
        "team-a",
    ])
    .await;
    let denied = k
        .run(&[
            "--kubeconfig",
            &deployer,
            "get",
            "secrets",
            "-n",
            "kube-system",
        ])
        .await;
    assert!(
        denied.stderr.contains("secrets is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\""),
        "{}",
        denied.stderr
    );

    // Refusals: too short, no such account, another audience.
    let short = k
        .run(&[
            "create",
            "token",
            "deployer",
            "-n",
            "team-a",
            "--duration=5m",
        ])
        .await;
    assert!(
        short
            .stderr
            .contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
        "{}",
        short.stderr
    );
    let missing = k.run(&["create", "token", "nobody", "-n", "team-a"]).await;
    assert!(
        missing
            .stderr
            .contains("serviceaccounts \"nobody\" not found"),
        "{}",
        missing.stderr
    );
    let vault = k
        .ok(&[
            "create",
            "token",
            "deployer",
            "-n",
            "team-a",
            "--audience=vault",
        ])
        .await;
    let for_vault = as_token("vault.kubeconfig", vault.trim());
    let refused = k
        .run(&[
            "--kubeconfig",
            &for_vault,
            "get",
            "configmaps",
            "-n",
            "team-a",
        ])
        .await;
    assert!(
        refused.stderr.contains("Unauthorized"),
        "{}",
        refused.stderr
    );

    // A re-created account does not inherit the old account's tokens.
    k.ok(&["delete", "serviceaccount", "deployer", "-n", "team-a"])
        .await;
    k.ok(&["create", "serviceaccount", "deployer", "-n", "team-a"])
        .await;
    let stale = k.run(&["--kubeconfig", &deployer, "auth", "whoami"]).await;
    assert!(stale.stderr.contains("Unauthorized"), "{}", stale.stderr);
}
