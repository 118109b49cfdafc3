//! The real `kubectl` (v1.32) against the sandbox: the commands of the spec's Appendix A
//! (namespaces, apply, custom resources, deletion, watches, explain, CEL rules), with their
//! output and exit codes asserted. RBAC, typed creates and printers, and the built-in kinds'
//! rules have their own files. Skips with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

mod kubectl_support;

use kubectl_support::{CONFIGMAP, GITREPO, Kubectl};

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

/// OpenAPI v2 carries every served kind's definition: kubectl reads it as gnostic protobuf for
/// `explain --output plaintext-openapiv2` (built-in and CRD kinds) and for the strategic merge
/// patch of a client-side apply, which merges containers by name from the document's
/// `x-kubernetes-patch-merge-key`, so a container another writer added survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_v2_describes_every_kind_and_drives_client_side_patches() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let v2 = |target: &'static str| ["explain", "--output", "plaintext-openapiv2", target];
    let strategy = k.ok(&v2("deployment.spec.strategy")).await;
    for want in [
        "KIND:     Deployment",
        "VERSION:  apps/v1",
        "RESOURCE: strategy <Object>",
        "DeploymentStrategy describes how to replace existing pods with new ones.",
        "rollingUpdate\t<Object>",
    ] {
        assert!(strategy.contains(want), "{want:?} in:\n{strategy}");
    }
    let source = k.ok(&v2("kustomization.spec.sourceRef")).await;
    assert!(
        source.contains("VERSION:  kustomize.toolkit.fluxcd.io/v1")
            && source.contains("kind\t<string> -required-"),
        "{source}"
    );
    let labels = k.ok(&v2("kustomization.metadata.labels")).await;
    assert!(labels.contains("labels <map[string]string>"), "{labels}");
    let pods = k
        .ok(&[
            "explain",
            "--output",
            "plaintext-openapiv2",
            "pods",
            "--recursive",
        ])
        .await;
    assert!(pods.contains("imagePullPolicy\t<string>"), "{pods}");

    let raw = k.ok(&["get", "--raw", "/openapi/v2"]).await;
    let doc: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(doc["swagger"], "2.0");
    let definitions = &doc["definitions"];
    assert_eq!(
        definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]["x-kubernetes-patch-merge-key"],
        "name"
    );
    assert_eq!(
        definitions["io.fluxcd.toolkit.kustomize.v1.Kustomization"]["x-kubernetes-group-version-kind"]
            [0]["kind"],
        "Kustomization"
    );

    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: app, image: 'nginx:1.25'}\n";
    k.ok(&["apply", "-f", &k.file("d1.yaml", deploy)]).await;
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}"#,
    ])
    .await;
    let newer = k.file("d2.yaml", &deploy.replace("nginx:1.25", "nginx:1.27"));
    let apply = k.run(&["apply", "-f", &newer, "-v=6"]).await;
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("/openapi/v2") && !apply.stderr.contains("error calculating patch"),
        "{}",
        apply.stderr
    );
    let containers = k
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}",
        ])
        .await;
    assert_eq!(containers.trim(), "app=nginx:1.27 sidecar=busybox:1.36");
}
