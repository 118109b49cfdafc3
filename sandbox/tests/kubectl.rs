//! The real `kubectl` (v1.32) against the sandbox: the commands of the spec's Appendix A, with
//! their output and exit codes asserted. Skips with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

mod kubectl_support;

use kubectl_support::Kubectl;

const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: team-a\n  labels: {app: demo}\ndata: {a: \"1\", b: \"2\"}\n";
const GITREPO: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: team-a\nspec:\n  url: https://example.com/podinfo.git\n  interval: 1m\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_created_listed_and_refused_twice() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    assert_eq!(
        k.ok(&["create", "namespace", "team-a"]).await.trim(),
        "namespace/team-a created"
    );
    let dup = k.run(&["create", "namespace", "team-a"]).await;
    assert_eq!(dup.code, 1);
    assert!(
        dup.stderr
            .contains("Error from server (AlreadyExists): namespaces \"team-a\" already exists"),
        "{}",
        dup.stderr
    );
    let table = k.ok(&["get", "namespaces"]).await;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("team-a") && l.contains("Active")),
        "{table}"
    );
    let missing = k.run(&["get", "configmap", "nope", "-n", "team-a"]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("configmaps \"nope\" not found"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_side_apply_of_built_ins() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    let file = k.file("cm.yaml", CONFIGMAP);
    assert_eq!(
        k.ok(&["apply", "-f", &file]).await.trim(),
        "configmap/cfg created"
    );
    assert_eq!(
        k.ok(&["apply", "-f", &file]).await.trim(),
        "configmap/cfg unchanged"
    );
    let changed = k.file("cm2.yaml", &CONFIGMAP.replace("b: \"2\"", "c: \"3\""));
    assert_eq!(
        k.ok(&["apply", "-f", &changed]).await.trim(),
        "configmap/cfg configured"
    );
    assert_eq!(
        k.ok(&["get", "cm", "cfg", "-n", "team-a", "-o", "jsonpath={.data}"])
            .await,
        r#"{"a":"1","c":"3"}"#
    );
    let ssa = k
        .ok(&[
            "apply",
            "--server-side",
            "--field-manager=flux",
            "-f",
            &file,
        ])
        .await;
    assert_eq!(ssa.trim(), "configmap/cfg serverside-applied");
    let yaml = k
        .ok(&[
            "get",
            "cm",
            "cfg",
            "-n",
            "team-a",
            "-o",
            "yaml",
            "--show-managed-fields",
        ])
        .await;
    assert!(
        yaml.contains("manager: flux") && yaml.contains("operation: Apply"),
        "{yaml}"
    );

    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: team-a}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: app, image: nginx:1, env: [{name: A, value: '1'}, {name: B, value: '2'}]}\n      - {name: side, image: busybox}\n";
    let file = k.file("deploy.yaml", deploy);
    k.ok(&["apply", "-f", &file]).await;
    let trimmed = deploy
        .replace(", {name: B, value: '2'}", "")
        .replace("      - {name: side, image: busybox}\n", "")
        .replace("nginx:1", "nginx:2");
    let file = k.file("deploy2.yaml", &trimmed);
    assert_eq!(
        k.ok(&["apply", "-f", &file]).await.trim(),
        "deployment.apps/web configured"
    );
    let containers = k.ok(&["get", "deploy", "web", "-n", "team-a", "-o", "jsonpath={.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[*].name}"]).await;
    assert_eq!(containers, "app nginx:2 A");
    k.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "-n",
        "team-a",
        "--timeout=10s",
    ])
    .await;
    let rollout = k.ok(&["get", "deploy", "web", "-n", "team-a"]).await;
    assert!(
        rollout.lines().nth(1).is_some_and(|l| l.contains("2/2")),
        "{rollout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_show_printer_columns_and_can_be_waited_for() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    let file = k.file("gr.yaml", GITREPO);
    assert_eq!(
        k.ok(&["apply", "--server-side", "-f", &file]).await.trim(),
        "gitrepository.source.toolkit.fluxcd.io/podinfo serverside-applied"
    );
    let table = k.ok(&["get", "gitrepositories", "-n", "team-a"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "URL", "AGE", "READY", "STATUS"]);
    let json_list = k
        .ok(&["get", "gitrepositories", "-n", "team-a", "-o", "json"])
        .await;
    let parsed: serde_json::Value = serde_json::from_str(&json_list).unwrap();
    assert_eq!(parsed["kind"], "List");
    assert_eq!(parsed["items"][0]["metadata"]["name"], "podinfo");
    let yaml = k
        .ok(&["get", "gitrepo", "podinfo", "-n", "team-a", "-o", "yaml"])
        .await;
    assert!(
        yaml.contains("timeout: 60s"),
        "the CRD default is applied:\n{yaml}"
    );
    assert!(yaml.contains("generation: 1"), "{yaml}");

    let status = r#"{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"stored artifact for revision 'main@sha1:abc'","lastTransitionTime":"2025-01-01T00:00:00Z"}]}}"#;
    let wait = k.run(&[
        "wait",
        "--for=condition=Ready",
        "gitrepository/podinfo",
        "-n",
        "team-a",
        "--timeout=15s",
    ]);
    let patch = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        k.curl(
            "PATCH",
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/team-a/gitrepositories/podinfo/status",
            "application/merge-patch+json",
            status,
        )
        .await;
    };
    let (wait, ()) = tokio::join!(wait, patch);
    assert_eq!(wait.code, 0, "{}{}", wait.stdout, wait.stderr);
    assert_eq!(
        wait.stdout.trim(),
        "gitrepository.source.toolkit.fluxcd.io/podinfo condition met"
    );
    let table = k.ok(&["get", "gitrepo", "-n", "team-a"]).await;
    assert!(
        table.contains("True") && table.contains("stored artifact for revision 'main@sha1:abc'"),
        "{table}"
    );

    assert_eq!(
        k.ok(&[
            "annotate",
            "--overwrite",
            "gitrepo",
            "podinfo",
            "-n",
            "team-a",
            "reconcile.fluxcd.io/requestedAt=now"
        ])
        .await
        .trim(),
        "gitrepository.source.toolkit.fluxcd.io/podinfo annotated"
    );
    assert_eq!(k.ok(&["get", "gitrepo", "podinfo", "-n", "team-a", "-o", "jsonpath={.metadata.annotations.reconcile\\.fluxcd\\.io/requestedAt} {.metadata.generation}"]).await, "now 1");
    k.ok(&[
        "patch",
        "gitrepo",
        "podinfo",
        "-n",
        "team-a",
        "--type=merge",
        "-p",
        r#"{"spec":{"interval":"5m"}}"#,
    ])
    .await;
    assert_eq!(
        k.ok(&[
            "get",
            "gitrepo",
            "podinfo",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.metadata.generation}"
        ])
        .await,
        "2"
    );

    let invalid = k
        .run(&[
            "patch",
            "gitrepo",
            "podinfo",
            "-n",
            "team-a",
            "--type=merge",
            "-p",
            r#"{"spec":{"timeout":"1h"}}"#,
        ])
        .await;
    assert_eq!(invalid.code, 1);
    assert!(
        invalid.stderr.contains("spec.timeout") && invalid.stderr.contains("Invalid"),
        "{}",
        invalid.stderr
    );

    let describe = k
        .ok(&["describe", "gitrepo", "podinfo", "-n", "team-a"])
        .await;
    assert!(
        describe.contains("Name:") && describe.contains("podinfo") && describe.contains("Events:"),
        "{describe}"
    );
    let resources = k.ok(&["api-resources"]).await;
    assert!(
        resources.lines().any(|l| l.starts_with("gitrepositories")
            && l.contains("gitrepo")
            && l.contains("source.toolkit.fluxcd.io/v1")),
        "{resources}"
    );
    let explain = k.ok(&["explain", "gitrepositories.spec.ref"]).await;
    assert!(
        explain.contains("KIND:       GitRepository") && explain.contains("FIELD: ref <Object>"),
        "{explain}"
    );
    assert!(explain.contains("semver\t<string>"), "{explain}");
}

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

/// Every namespace gets its `default` ServiceAccount, and gets it back when it is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_has_a_default_service_account() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-b"]).await;
    let present = |ns: &'static str| {
        let k = &k;
        async move {
            k.run(&["get", "serviceaccount", "default", "-n", ns])
                .await
                .code
                == 0
        }
    };
    for ns in ["default", "kube-system", "team-b"] {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !present(ns).await {
            assert!(
                std::time::Instant::now() < deadline,
                "{ns}: no default ServiceAccount"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    k.ok(&["delete", "serviceaccount", "default", "-n", "team-b"])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !present("team-b").await {
        assert!(std::time::Instant::now() < deadline, "not recreated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_waits_for_finalizers_and_namespaces_terminate() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    // The API server's lifecycle admission keeps these namespaces.
    for namespace in ["default", "kube-system", "kube-public"] {
        let refused = k.run(&["delete", "namespace", namespace]).await;
        assert_ne!(refused.code, 0, "{namespace}");
        assert!(
            refused.stderr.contains(&format!(
                "namespaces \"{namespace}\" is forbidden: this namespace may not be deleted"
            )),
            "{}",
            refused.stderr
        );
    }
    k.ok(&["create", "namespace", "team-a"]).await;
    k.ok(&["apply", "-f", &k.file("gr.yaml", GITREPO)]).await;
    k.ok(&[
        "patch",
        "gitrepo",
        "podinfo",
        "-n",
        "team-a",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["finalizers.fluxcd.io"]}}"#,
    ])
    .await;
    let delete = k.run(&[
        "delete",
        "gitrepo",
        "podinfo",
        "-n",
        "team-a",
        "--timeout=15s",
    ]);
    let release = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let terminating = k
            .ok(&[
                "get",
                "gitrepo",
                "podinfo",
                "-n",
                "team-a",
                "-o",
                "jsonpath={.metadata.deletionTimestamp}",
            ])
            .await;
        assert!(
            !terminating.is_empty(),
            "the object waits for its finalizer"
        );
        k.ok(&[
            "patch",
            "gitrepo",
            "podinfo",
            "-n",
            "team-a",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .await;
    };
    let (delete, ()) = tokio::join!(delete, release);
    assert_eq!(delete.code, 0, "{}{}", delete.stdout, delete.stderr);
    assert_eq!(
        delete.stdout.trim(),
        "gitrepository.source.toolkit.fluxcd.io \"podinfo\" deleted"
    );
    assert_eq!(
        k.run(&["get", "gitrepo", "podinfo", "-n", "team-a"])
            .await
            .code,
        1
    );

    k.ok(&["apply", "-f", &k.file("cm.yaml", CONFIGMAP)]).await;
    let deleted = k
        .ok(&["delete", "namespace", "team-a", "--timeout=20s"])
        .await;
    assert_eq!(deleted.trim(), "namespace \"team-a\" deleted");
    let gone = k.run(&["get", "namespace", "team-a"]).await;
    assert_eq!(gone.code, 1, "{}", gone.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_rows_as_objects_change() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    k.ok(&["apply", "-f", &k.file("cm.yaml", CONFIGMAP)]).await;
    let watch = k.run(&["get", "cm", "-n", "team-a", "-w", "--request-timeout=3s"]);
    let change = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        k.ok(&["label", "cm", "cfg", "-n", "team-a", "x=y"]).await;
        k.ok(&["create", "namespace", "other"]).await;
        k.ok(&[
            "apply",
            "-f",
            &k.file("cm2.yaml", &CONFIGMAP.replace("name: cfg", "name: second")),
        ])
        .await;
    };
    let (watch, ()) = tokio::join!(watch, change);
    let rows: Vec<&str> = watch.stdout.lines().collect();
    assert!(rows[0].starts_with("NAME"), "{}", watch.stdout);
    assert!(
        rows.iter().filter(|r| r.starts_with("cfg")).count() >= 2,
        "{}",
        watch.stdout
    );
    assert!(
        rows.iter().any(|r| r.starts_with("second")),
        "{}",
        watch.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_config_maps_and_secrets_print_upstreams_columns() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team-a"]).await;
    let file = k.file("cm.yaml", CONFIGMAP);
    k.ok(&["apply", "-f", &file]).await;
    let secret = k.file(
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: team-a\ntype: kubernetes.io/basic-auth\nstringData: {username: u, password: p}\n",
    );
    k.ok(&["apply", "-f", &secret]).await;
    let event = k.file(
        "event.yaml",
        "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: cfg.1\n  namespace: team-a\neventTime: \"2026-01-01T00:00:00.000000Z\"\nreportingController: kustomize-controller\nreportingInstance: kc-0\naction: Reconcile\nreason: ReconciliationSucceeded\ntype: Normal\nnote: Applied revision main@sha1:abc\nregarding: {kind: ConfigMap, name: cfg, namespace: team-a}\n",
    );
    k.ok(&["create", "-f", &event]).await;

    let cms = k.ok(&["get", "configmaps", "-n", "team-a"]).await;
    let header: Vec<&str> = cms.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"], "{cms}");
    let row = cms.lines().find(|l| l.starts_with("cfg ")).unwrap();
    assert_eq!(row.split_whitespace().nth(1), Some("2"), "{cms}");

    let secrets = k.ok(&["get", "secrets", "-n", "team-a"]).await;
    let header: Vec<&str> = secrets.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "TYPE", "DATA", "AGE"], "{secrets}");
    let row: Vec<&str> = secrets.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row[..3],
        ["creds", "kubernetes.io/basic-auth", "2"],
        "{secrets}"
    );

    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: team-a}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP}]\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot, namespace: team-a}\n";
    k.ok(&["apply", "-f", &k.file("svc.yaml", service)]).await;
    let services = k
        .ok(&["get", "services", "-n", "team-a", "-o", "wide"])
        .await;
    let header: Vec<&str> = services
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ],
        "{services}"
    );
    let row: Vec<&str> = services
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        (
            row[0],
            row[1],
            kubectl_support::in_service_range(row[2]),
            row[3]
        ),
        ("web", "ClusterIP", true, "<none>"),
        "{services}"
    );
    assert_eq!((row[4], row[6]), ("80/TCP,53/UDP", "app=web"), "{services}");
    let accounts = k
        .ok(&["get", "serviceaccounts", "-n", "team-a", "robot"])
        .await;
    let header: Vec<&str> = accounts
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SECRETS", "AGE"], "{accounts}");

    let events = k.ok(&["get", "events", "-n", "team-a"]).await;
    let header = events.lines().next().unwrap();
    let words: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        words,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{events}"
    );
    let row = events.lines().nth(1).unwrap();
    assert!(
        row.contains("Normal")
            && row.contains("ReconciliationSucceeded")
            && row.contains("configmap/cfg")
            && row.ends_with("Applied revision main@sha1:abc"),
        "{events}"
    );
    let wide = k.ok(&["get", "events", "-n", "team-a", "-o", "wide"]).await;
    assert!(wide.lines().next().unwrap().contains("SOURCE"), "{wide}");
    assert!(wide.contains("kustomize-controller, kc-0"), "{wide}");
}

/// kubectl's typed creates send protobuf bodies; each must land as the JSON `kubectl apply`
/// would have stored (read back with `-o json`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_creates_sent_as_protobuf_store_what_kubectl_meant() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let ns = ["-n", "team-a"];
    k.ok(&["create", "namespace", "team-a"]).await;
    let creates: &[&[&str]] = &[
        &[
            "create",
            "secret",
            "generic",
            "git-creds",
            "--from-literal=username=git",
            "--from-literal=password=s3cret",
            "--type=Opaque",
        ],
        &[
            "create",
            "secret",
            "docker-registry",
            "pull",
            "--docker-server=ghcr.io",
            "--docker-username=bot",
            "--docker-password=tok",
        ],
        &[
            "create",
            "configmap",
            "settings",
            "--from-literal=color=blue",
            "--from-literal=size=2",
        ],
        &["create", "serviceaccount", "robot"],
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=0",
            "--port=8080",
        ],
        &[
            "create",
            "job",
            "once",
            "--image=busybox",
            "--",
            "echo",
            "hi",
        ],
        &[
            "create",
            "cronjob",
            "nightly",
            "--image=busybox",
            "--schedule=0 3 * * *",
        ],
        &[
            "create",
            "role",
            "reader",
            "--verb=get,list",
            "--resource=configmaps,secrets",
        ],
        &[
            "create",
            "rolebinding",
            "robot-reads",
            "--role=reader",
            "--serviceaccount=team-a:robot",
        ],
        &["create", "service", "clusterip", "api", "--tcp=80:8080"],
        &[
            "create",
            "poddisruptionbudget",
            "web",
            "--selector=app=web",
            "--min-available=1",
        ],
        &["create", "ingress", "web", "--rule=example.com/=web:80"],
        &["create", "quota", "small", "--hard=pods=10,requests.cpu=2"],
    ];
    for args in creates {
        let mut full: Vec<&str> = ns.to_vec();
        full.extend(args.iter());
        k.ok(&full).await;
    }
    k.ok(&[
        "create",
        "clusterrole",
        "watcher",
        "--verb=watch",
        "--resource=pods",
    ])
    .await;
    k.ok(&[
        "create",
        "clusterrolebinding",
        "robot-watches",
        "--clusterrole=watcher",
        "--serviceaccount=team-a:robot",
    ])
    .await;

    let json = |text: String| -> serde_json::Value { serde_json::from_str(&text).unwrap() };
    let secret = json(
        k.ok(&["get", "secret", "git-creds", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["username"], "Z2l0");
    assert_eq!(secret["data"]["password"], "czNjcmV0");
    let pull = json(
        k.ok(&["get", "secret", "pull", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
    assert!(pull["data"][".dockerconfigjson"].is_string());
    let cm = json(
        k.ok(&["get", "configmap", "settings", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(
        cm["data"],
        serde_json::json!({"color": "blue", "size": "2"})
    );
    let deploy = json(
        k.ok(&["get", "deployment", "web", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(deploy["spec"]["replicas"], 0, "an explicit 0 is kept");
    assert_eq!(deploy["spec"]["selector"]["matchLabels"]["app"], "web");
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    // Go's zero values of non-pointer `omitempty` fields are not in the JSON, as upstream.
    for (object, field) in [
        (&deploy["spec"], "paused"),
        (&deploy["spec"], "minReadySeconds"),
        (&deploy["spec"]["template"]["metadata"], "generation"),
        (container, "stdin"),
        (container, "tty"),
        (&container["ports"][0], "hostPort"),
        (&deploy["spec"]["template"]["spec"], "hostNetwork"),
    ] {
        assert!(object.get(field).is_none(), "{field} in {object}");
    }
    let job = json(
        k.ok(&["get", "job", "once", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["echo", "hi"])
    );
    let cron = json(
        k.ok(&["get", "cronjob", "nightly", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(cron["spec"]["schedule"], "0 3 * * *");
    let role = json(
        k.ok(&["get", "role", "reader", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(
        role["rules"][0]["verbs"],
        serde_json::json!(["get", "list"])
    );
    assert_eq!(
        role["rules"][0]["resources"],
        serde_json::json!(["configmaps", "secrets"])
    );
    let binding = json(
        k.ok(&[
            "get",
            "rolebinding",
            "robot-reads",
            "-n",
            "team-a",
            "-o",
            "json",
        ])
        .await,
    );
    assert_eq!(binding["roleRef"]["name"], "reader");
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    let svc = json(
        k.ok(&["get", "service", "api", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    assert_eq!(
        svc["spec"]["ports"][0]["targetPort"], 8080,
        "an int-or-string as a number"
    );
    let pdb = json(
        k.ok(&["get", "pdb", "web", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let quota = json(
        k.ok(&["get", "quota", "small", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(
        quota["spec"]["hard"]["requests.cpu"], "2",
        "a quantity as its string"
    );
    let crb = json(
        k.ok(&["get", "clusterrolebinding", "robot-watches", "-o", "json"])
            .await,
    );
    assert_eq!(crb["subjects"][0]["namespace"], "team-a");
    // Upstream's printers, column by column.
    let header = |text: &str| {
        text.lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let row = |text: &str| {
        text.lines()
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let jobs = k.ok(&["get", "jobs", "-n", "team-a"]).await;
    assert_eq!(
        header(&jobs),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{jobs}"
    );
    let cron = k.ok(&["get", "cronjobs", "-n", "team-a"]).await;
    assert_eq!(
        header(&cron),
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ],
        "{cron}"
    );
    let bindings = k
        .ok(&["get", "rolebindings", "-n", "team-a", "-o", "wide"])
        .await;
    assert_eq!(
        header(&bindings),
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
        "{bindings}"
    );
    assert_eq!(
        row(&bindings)[..2],
        ["robot-reads", "Role/reader"],
        "{bindings}"
    );
    assert_eq!(
        row(&bindings).last().map(String::as_str),
        Some("team-a/robot"),
        "{bindings}"
    );
    let ingress = k.ok(&["get", "ingress", "-n", "team-a"]).await;
    assert_eq!(
        header(&ingress),
        ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
        "{ingress}"
    );
    assert_eq!(
        row(&ingress)[..3],
        ["web", "<none>", "example.com"],
        "{ingress}"
    );
    // Roles and CRDs print their creation time itself (upstream's Role printer and default
    // table convertor), not an age.
    let rfc3339 = |t: &str| {
        t.len() == 20
            && t.ends_with('Z')
            && t.as_bytes()[10] == b'T'
            && t.parse::<jiff::Timestamp>().is_ok()
    };
    let roles = k.ok(&["get", "roles", "-n", "team-a"]).await;
    assert_eq!(header(&roles), ["NAME", "CREATED", "AT"], "{roles}");
    assert!(rfc3339(&row(&roles)[1]), "{roles}");
    let crds = k.ok(&["get", "crds"]).await;
    assert_eq!(header(&crds), ["NAME", "CREATED", "AT"], "{crds}");
    assert!(rfc3339(&row(&crds)[1]), "{crds}");
    // Pods: READY, STATUS, RESTARTS and, wide, IP, NODE, NOMINATED NODE, READINESS GATES.
    k.ok(&["run", "one-off", "--image=busybox:1.36", "-n", "team-a"])
        .await;
    let pods = k
        .ok(&["get", "pod", "one-off", "-n", "team-a", "-o", "wide"])
        .await;
    assert_eq!(
        header(&pods),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ],
        "{pods}"
    );
    let pod = row(&pods);
    assert_eq!(pod[0], "one-off", "{pods}");
    assert_eq!(pod[1..4], ["0/1", "Pending", "0"], "{pods}");
    assert_eq!(pod.last().map(String::as_str), Some("<none>"), "{pods}");
    // What a typed create cannot encode is still refused the way the API server refuses it.
    let out = k
        .run(&[
            "create",
            "configmap",
            "settings",
            "--from-literal=a=b",
            "-n",
            "team-a",
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
}

/// `kubectl explain` reads the built-in kinds' upstream schemas: field and type descriptions,
/// nested fields, core and grouped kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_describes_built_in_kinds() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let strategy = k.ok(&["explain", "deployment.spec.strategy"]).await;
    for want in [
        "GROUP:      apps",
        "KIND:       Deployment",
        "FIELD: strategy <DeploymentStrategy>",
        "The deployment strategy to use to replace existing pods with new ones.",
        "DeploymentStrategy describes how to replace existing pods with new ones.",
        "rollingUpdate\t<RollingUpdateDeployment>",
    ] {
        assert!(strategy.contains(want), "{want:?} in:\n{strategy}");
    }
    let config_map = k.ok(&["explain", "configmap"]).await;
    assert!(
        config_map.contains("ConfigMap holds configuration data for pods to consume."),
        "{config_map}"
    );
    let role = k.ok(&["explain", "clusterrole.aggregationRule"]).await;
    assert!(role.contains("clusterRoleSelectors"), "{role}");
    let container = k
        .ok(&["explain", "pods.spec.containers.imagePullPolicy"])
        .await;
    assert!(container.contains("Image pull policy"), "{container}");
}

/// CEL rules of a CRD (`x-kubernetes-validations`) refuse what they forbid with the rule's
/// message, as Flux's ImagePolicy CRD does on a real cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_cel_rules_refuse_what_they_forbid() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let policy = |spec: &str| {
        format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: p, namespace: default}}\nspec:\n  imageRepositoryRef: {{name: r}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n{spec}"
        )
    };
    let out = k
        .run(&[
            "apply",
            "-f",
            &k.file("p1.yaml", &policy("  interval: 5m\n")),
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("The ImagePolicy \"p\" is invalid: spec: Invalid value: \"object\": spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'"),
        "{}",
        out.stderr
    );
    let out = k
        .run(&[
            "apply",
            "-f",
            &k.file("p2.yaml", &policy("  digestReflectionPolicy: Always\n")),
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(
            "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'"
        ),
        "{}",
        out.stderr
    );
    k.ok(&[
        "apply",
        "-f",
        &k.file(
            "p3.yaml",
            &policy("  digestReflectionPolicy: Always\n  interval: 5m\n"),
        ),
    ])
    .await;
}

/// Deployments roll out through ReplicaSets numbered by revision, so `kubectl rollout
/// history` and `kubectl rollout undo` work, and scaling is reported as the real controller
/// reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_history_and_undo_follow_the_replica_sets() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
    ])
    .await;
    let until = |what: &'static str, args: &'static [&'static str], want: &'static str| {
        let k = &k;
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let out = k.run(args).await.stdout;
                if out.contains(want) {
                    return out;
                }
                assert!(std::time::Instant::now() < deadline, "{what}: {out}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    until(
        "first ReplicaSet",
        &["rollout", "history", "deployment/web"],
        "1         <none>",
    )
    .await;
    k.ok(&["set", "image", "deployment/web", "nginx=nginx:1.28"])
        .await;
    let history = until(
        "second revision",
        &["rollout", "history", "deployment/web"],
        "2         <none>",
    )
    .await;
    assert!(history.contains("REVISION  CHANGE-CAUSE"), "{history}");
    let sets = k.ok(&["get", "replicasets", "-o", "json"]).await;
    let sets: serde_json::Value = serde_json::from_str(&sets).unwrap();
    let replicas: Vec<(String, i64)> = sets["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| {
            (
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                rs["spec"]["replicas"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert!(replicas.contains(&("nginx:1.27".into(), 0)), "{replicas:?}");
    assert!(replicas.contains(&("nginx:1.28".into(), 2)), "{replicas:?}");

    let undo = k.ok(&["rollout", "undo", "deployment/web"]).await;
    assert!(undo.contains("deployment.apps/web rolled back"), "{undo}");
    let image = k
        .ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(image, "nginx:1.27");
    let history = until(
        "revision 3",
        &["rollout", "history", "deployment/web"],
        "3         <none>",
    )
    .await;
    assert!(
        !history.contains("1         <none>"),
        "revision 1 became 3: {history}"
    );
    let events = until("scaling events", &["get", "events"], "ScalingReplicaSet").await;
    assert!(events.contains("Scaled up replica set web-"), "{events}");
}

/// A kind whose CRD is missing gets kubectl's own advice, not an OpenAPI error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kind_says_to_install_its_crds_first() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let widget = k.file(
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\nspec: {}\n",
    );
    let out = k.run(&["apply", "-f", &widget]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("no matches for kind \"Widget\" in version \"example.com/v1\"")
            && out.stderr.contains("ensure CRDs are installed first"),
        "{}",
        out.stderr
    );
    // Built-in kinds still apply (client-side three-way patch) with validation on.
    let cm = k.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\ndata: {a: \"1\"}\n");
    k.ok(&["apply", "-f", &cm]).await;
    k.ok(&["apply", "-f", &cm]).await;
}
