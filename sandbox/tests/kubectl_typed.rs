//! The real `kubectl` against the sandbox's protobuf bodies and table printers: typed creates
//! (`create secret`, `configmap`, `deployment`, `job`, ...) store what kubectl meant, and
//! Events, ConfigMaps, Secrets, Services and ServiceAccounts print upstream's columns. Skips
//! with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod kubectl_support;

use kubectl_support::{CONFIGMAP, Kubectl};

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
    // The scheduler binds it to the sandbox's node and the kubelet starts it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let pods = loop {
        let pods = k
            .ok(&["get", "pod", "one-off", "-n", "team-a", "-o", "wide"])
            .await;
        if row(&pods).get(2).map(String::as_str) == Some("Running") {
            break pods;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never Running: {pods}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
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
    assert_eq!(pod[1..4], ["1/1", "Running", "0"], "{pods}");
    assert!(pod[5].starts_with("10.244.0."), "{pods}");
    assert_eq!(pod[6], "rill-sandbox", "{pods}");
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
