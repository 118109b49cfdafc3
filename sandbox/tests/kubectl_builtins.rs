//! The real `kubectl` against the sandbox's built-in kinds: objects come back with the
//! defaults a real API server fills in, invalid ones are refused with Kubernetes' field paths,
//! and immutable fields stay as they are; workloads start Pods and roll out through
//! ReplicaSets (`kubectl rollout history` / `undo`). Skips with a message when kubectl is not installed.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod kubectl_support;

use std::time::Duration;

use kubectl_support::Kubectl;
use serde_json::Value;

const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {port: 8080}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
";

async fn json(k: &Kubectl, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&k.ok(&all).await).unwrap()
}

/// Runs kubectl expecting a refusal; returns its stderr.
async fn refused(k: &Kubectl, args: &[&str]) -> String {
    let out = k.run(args).await;
    assert_ne!(out.code, 0, "kubectl {args:?} succeeded:\n{}", out.stdout);
    out.stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_come_back_with_the_servers_defaults() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["apply", "--server-side", "-f", &k.file("app.yaml", APP)])
        .await;
    let d = json(&k, &["get", "deployment", "web"]).await;
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["strategy"],
        serde_json::json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        (
            &pod["restartPolicy"],
            &pod["dnsPolicy"],
            &pod["schedulerName"],
            &pod["terminationGracePeriodSeconds"],
        ),
        (
            &"Always".into(),
            &"ClusterFirst".into(),
            &"default-scheduler".into(),
            &30.into()
        )
    );
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(container["readinessProbe"]["periodSeconds"], 10);
    assert_eq!(container["readinessProbe"]["httpGet"]["scheme"], "HTTP");
    // Defaults are nobody's in server-side apply: the applier owns only what it sent.
    let managed = d["metadata"]["managedFields"].to_string();
    assert!(!managed.contains("f:revisionHistoryLimit"), "{managed}");

    let svc = json(&k, &["get", "service", "web"]).await;
    let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(kubectl_support::in_service_range(&ip), "{ip}");
    assert_eq!(svc["spec"]["clusterIPs"], serde_json::json!([ip]));
    assert_eq!(svc["spec"]["sessionAffinity"], "None");
    assert_eq!(svc["spec"]["ipFamilies"], serde_json::json!(["IPv4"]));
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
    let table = k.ok(&["get", "service", "web"]).await;
    assert!(table.contains(&ip), "{table}");

    // A re-apply of the same files changes nothing, although the files carry no defaults.
    let again = k
        .ok(&["apply", "--server-side", "-f", &k.file("app.yaml", APP)])
        .await;
    assert!(again.contains("serverside-applied"), "{again}");
    let d2 = json(&k, &["get", "deployment", "web"]).await;
    assert_eq!(
        d["metadata"]["resourceVersion"], d2["metadata"]["resourceVersion"],
        "a no-op apply wrote"
    );
    let diff = k.run(&["diff", "-f", &k.file("app.yaml", APP)]).await;
    assert_eq!(
        diff.code, 0,
        "kubectl diff saw drift:\n{}{}",
        diff.stdout, diff.stderr
    );

    // A replace without the cluster IP keeps it, as the registry carries it over.
    let mut replaced = svc.clone();
    replaced["spec"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "selector" || k == "ports");
    replaced["metadata"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "name" || k == "namespace");
    let file = k.file("svc.json", &replaced.to_string());
    k.ok(&["replace", "-f", &file]).await;
    let svc = json(&k, &["get", "service", "web"]).await;
    assert_eq!(svc["spec"]["clusterIP"], ip.as_str());

    // Secrets without a type are Opaque; claims have a file-system volume mode (and the
    // simulator's provisioner binds them).
    k.ok(&["create", "secret", "generic", "s", "--from-literal=a=b"])
        .await;
    assert_eq!(json(&k, &["get", "secret", "s"]).await["type"], "Opaque");
    let claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n";
    k.ok(&["apply", "-f", &k.file("pvc.yaml", claim)]).await;
    let pvc = json(&k, &["get", "pvc", "data"]).await;
    assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_refused_with_field_paths() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let cases = [
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nosel}\nspec:\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: x, image: x}]}\n",
            "The Deployment \"nosel\" is invalid: spec.selector: Required value",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: mismatch}\nspec:\n  selector: {matchLabels: {app: other}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: x, image: x}]}\n",
            "spec.template.metadata.labels: Invalid value: {\"app\":\"x\"}: `selector` does not match template `labels`",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: noimage}\nspec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: x}]}\n",
            "spec.template.spec.containers[0].image: Required value",
        ),
        (
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: always}\nspec:\n  template:\n    spec: {containers: [{name: x, image: x}]}\n",
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
        ),
        (
            // YAML 1.1 reads `y` as true: the decoder refuses it where a string belongs.
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typed}\nspec:\n  replicas: \"2\"\n  selector: {matchLabels: {app: y}}\n",
            "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: noports}\nspec:\n  selector: {app: x}\n",
            "The Service \"noports\" is invalid: spec.ports: Required value",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: badkey}\ndata: {\"a b\": c}\n",
            "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters",
        ),
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: noverbs}\nrules: [{apiGroups: [\"\"], resources: [pods]}]\n",
            "rules[0].verbs: Required value: verbs must contain at least one value",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: badlabel, labels: {app: \"bad value!\"}}\n",
            "The ConfigMap \"badlabel\" is invalid: metadata.labels: Invalid value: \"bad value!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: badnote, annotations: {\"bad key\": x}}\n",
            "metadata.annotations: Invalid value: \"bad key\": name part must consist of alphanumeric characters",
        ),
        (
            // Metadata of custom kinds is validated too.
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: badcr, labels: {\"Team.io/a\": x}}\nspec: {url: \"https://example.com/x.git\", interval: 1m}\n",
            "The GitRepository \"badcr\" is invalid: metadata.labels: Invalid value: \"Team.io/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
        ),
        (
            // CronJob schedules go through the cron parser the API server uses.
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: badcron}\nspec:\n  schedule: \"0 25 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: Never, containers: [{name: x, image: x}]}\n",
            "The CronJob \"badcron\" is invalid: spec.schedule: Invalid value: \"0 25 * * *\": end of range (25) above maximum (23): 25",
        ),
        (
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: badzone}\nspec:\n  schedule: \"TZ=UTC @daily\"\n  timeZone: Mars/Olympus\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: Never, containers: [{name: x, image: x}]}\n",
            "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus",
        ),
        (
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: tzcron}\nspec:\n  schedule: \"CRON_TZ=Europe/Paris 0 9 * * mon-fri\"\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: Never, containers: [{name: x, image: x}]}\n",
            "spec.schedule: Invalid value: \"CRON_TZ=Europe/Paris 0 9 * * mon-fri\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ),
        (
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: a-cronjob-whose-name-leaves-no-room-for-the-job-suffix}\nspec:\n  schedule: \"@every 1h\"\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: Never, containers: [{name: x, image: x}]}\n",
            "metadata.name: Invalid value: \"a-cronjob-whose-name-leaves-no-room-for-the-job-suffix\": must be no more than 52 characters",
        ),
    ];
    for (i, (manifest, want)) in cases.into_iter().enumerate() {
        let file = k.file(&format!("bad{i}.yaml"), manifest);
        let stderr = refused(&k, &["apply", "-f", &file]).await;
        assert!(
            stderr.contains(want),
            "{manifest}\nwanted {want}\ngot {stderr}"
        );
    }
    let listed = k
        .ok(&[
            "get",
            "deployments,jobs,services,configmaps,roles",
            "-o",
            "name",
        ])
        .await;
    for name in [
        "nosel", "mismatch", "noimage", "always", "noports", "badkey", "noverbs", "badlabel",
        "badnote",
    ] {
        assert!(
            !listed.contains(&format!("/{name}\n")),
            "{name} was stored:\n{listed}"
        );
    }
    assert!(
        k.ok(&["get", "gitrepositories", "-o", "name"])
            .await
            .is_empty()
    );

    // An object being deleted may lose finalizers but not gain new ones.
    let held = k.file(
        "held.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\n",
    );
    k.ok(&["apply", "-f", &held]).await;
    k.ok(&["delete", "configmap", "held", "--wait=false"]).await;
    let added = refused(
        &k,
        &[
            "patch",
            "configmap",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold","example.com/more"]}}"#,
        ],
    )
    .await;
    assert!(
        added.contains("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/more\"}"),
        "{added}"
    );
    k.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    let gone = k.run(&["get", "configmap", "held"]).await;
    assert_ne!(gone.code, 0, "{}", gone.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_fields_stay_as_they_are() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["apply", "-f", &k.file("app.yaml", APP)]).await;

    let moved = APP
        .replace(
            "{matchLabels: {app: web}}",
            "{matchLabels: {app: web, v: \"2\"}}",
        )
        .replace("labels: {app: web}}", "labels: {app: web, v: \"2\"}}");
    let stderr = refused(&k, &["apply", "-f", &k.file("moved.yaml", &moved)]).await;
    assert!(
        stderr.contains("The Deployment \"web\" is invalid: spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: field is immutable"),
        "{stderr}"
    );

    let headless = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  clusterIP: None\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n";
    let stderr = refused(&k, &["apply", "-f", &k.file("headless.yaml", headless)]).await;
    assert!(
        stderr.contains("The Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: [\"None\"]: may not change once set"),
        "{stderr}"
    );

    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: main, image: \"busybox:1.36\"}]\n";
    k.ok(&["apply", "-f", &k.file("job.yaml", job)]).await;
    let stored = json(&k, &["get", "job", "once"]).await;
    let uid = stored["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        stored["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        stored["spec"]["template"]["metadata"]["labels"]["job-name"],
        "once"
    );
    let stderr = refused(
        &k,
        &[
            "apply",
            "-f",
            &k.file("job2.yaml", &job.replace("1.36", "1.37")),
        ],
    )
    .await;
    assert!(
        stderr.contains("The Job \"once\" is invalid: spec.template: Invalid value: {")
            && stderr.contains("field is immutable"),
        "{stderr}"
    );

    k.ok(&[
        "create",
        "rolebinding",
        "viewers",
        "--clusterrole=view",
        "--user=ann",
    ])
    .await;
    let binding = json(&k, &["get", "rolebinding", "viewers"]).await;
    assert_eq!(
        binding["subjects"][0]["apiGroup"],
        "rbac.authorization.k8s.io"
    );
    let stderr = refused(
        &k,
        &[
            "patch",
            "rolebinding",
            "viewers",
            "--type=merge",
            "-p",
            "{\"roleRef\":{\"name\":\"edit\"}}",
        ],
    )
    .await;
    assert!(stderr.contains("cannot change roleRef"), "{stderr}");

    k.ok(&["run", "solo", "--image=nginx:1.27"]).await;
    k.ok(&["set", "image", "pod/solo", "solo=nginx:1.28"]).await;
    let stderr = refused(
        &k,
        &[
            "patch",
            "pod",
            "solo",
            "--type=merge",
            "-p",
            "{\"spec\":{\"restartPolicy\":\"Never\"}}",
        ],
    )
    .await;
    assert!(
        stderr.contains("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"),
        "{stderr}"
    );

    k.ok(&["create", "configmap", "frozen", "--from-literal=a=1"])
        .await;
    k.ok(&[
        "patch",
        "configmap",
        "frozen",
        "--type=merge",
        "-p",
        "{\"immutable\":true}",
    ])
    .await;
    let stderr = refused(
        &k,
        &[
            "patch",
            "configmap",
            "frozen",
            "--type=merge",
            "-p",
            "{\"data\":{\"a\":\"2\"}}",
        ],
    )
    .await;
    assert!(
        stderr.contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{stderr}"
    );
}

/// Polls `kubectl args -o json` until `check` holds on its items (10 s).
async fn wait_items(k: &Kubectl, args: &[&str], what: &str, check: impl Fn(&[Value]) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = json(k, args).await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if check(&items) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: never held; last: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_start_pods_and_say_so_in_events() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["apply", "-f", &k.file("app.yaml", APP)]).await;
    let running = |n: usize| {
        move |items: &[Value]| {
            items.len() == n
                && items.iter().all(|p| {
                    p["status"]["phase"] == "Running"
                        && p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
                        && p["spec"]["containers"][0]["image"] == "nginx:1.27"
                        && p["spec"]["enableServiceLinks"] == true
                })
        }
    };
    let pods = ["get", "pods", "-l", "app=web"];
    wait_items(&k, &pods, "one Running pod", running(1)).await;
    let table = k.ok(&["get", "pods", "-l", "app=web"]).await;
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[1..4], ["1/1", "Running", "0"], "{table}");

    k.ok(&["scale", "deployment/web", "--replicas=3"]).await;
    wait_items(&k, &pods, "three Running pods", running(3)).await;
    k.ok(&["scale", "deployment/web", "--replicas=1"]).await;
    wait_items(&k, &pods, "back to one pod", running(1)).await;
    let events = k
        .ok(&[
            "get",
            "events",
            "-o",
            "custom-columns=REASON:.reason,MESSAGE:.message",
        ])
        .await;
    for wanted in [
        "SuccessfulCreate",
        "Created pod: web-",
        "SuccessfulDelete",
        "Deleted pod: web-",
        "ScalingReplicaSet",
    ] {
        assert!(events.contains(wanted), "no {wanted} event:\n{events}");
    }

    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: main, image: \"busybox:1.36\"}]\n";
    k.ok(&["apply", "-f", &k.file("job.yaml", job)]).await;
    wait_items(
        &k,
        &["get", "pods", "-l", "job-name=once"],
        "a Succeeded job pod",
        |items| items.len() == 1 && items[0]["status"]["phase"] == "Succeeded",
    )
    .await;
    k.ok(&[
        "wait",
        "--for=condition=Complete",
        "job/once",
        "--timeout=10s",
    ])
    .await;
    let events = k
        .ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=Job",
            "-o",
            "custom-columns=REASON:.reason,MESSAGE:.message",
        ])
        .await;
    assert!(
        events.contains("Completed") && events.contains("Job completed"),
        "{events}"
    );

    // The pods go with their owners.
    k.ok(&["delete", "deployment/web", "job/once"]).await;
    wait_items(&k, &["get", "pods"], "no pods left", <[Value]>::is_empty).await;
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
