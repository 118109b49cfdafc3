//! Upstream's printers (`pkg/printers/internalversion`) for workloads and storage:
//! ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, PersistentVolumeClaims and Ingresses,
//! column by column, wide columns included.

use serde_json::{Value, json};

use super::{Printer, column, since};
use crate::server::table::human_duration;

fn int(v: &Value) -> Value {
    json!(v.as_i64().unwrap_or(0))
}

/// `layoutContainerCells`: container names and images, comma-separated.
fn containers(pod_spec: &Value) -> (Value, Value) {
    let list = pod_spec["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let join = |field: &str| {
        list.iter()
            .map(|c| c[field].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    (json!(join("name")), json!(join("image")))
}

/// `labels.FormatLabels`: `k=v,...` sorted, `<none>` when empty.
pub(super) fn format_labels(map: &Value) -> String {
    let pairs: Vec<String> = map
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// `metav1.FormatLabelSelector`: match labels, then expressions, `<none>` when empty.
fn format_selector(selector: &Value) -> Value {
    let mut terms: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => String::new(),
        });
    }
    terms.sort();
    json!(if terms.is_empty() {
        "<none>".to_string()
    } else {
        terms.join(",")
    })
}

fn template_columns(priority_selector: bool) -> Vec<Value> {
    let mut out = vec![
        column("Containers", "string", 1),
        column("Images", "string", 1),
    ];
    if priority_selector {
        out.push(column("Selector", "string", 1));
    }
    out
}

fn has_condition(o: &Value, type_: &str) -> bool {
    o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == type_ && c["status"] == "True")
}

fn seconds(t: &Value) -> Option<i64> {
    t.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// Upstream's `printJob`: status from the conditions, completions, duration.
fn job_cells(o: &Value) -> Vec<Value> {
    let (spec, status) = (&o["spec"], &o["status"]);
    let succeeded = status["succeeded"].as_i64().unwrap_or(0);
    let completions = match spec["completions"].as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None => match spec["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        seconds(&status["startTime"]),
        seconds(&status["completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(jiff::Timestamp::now().as_second() - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let state = if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else if has_condition(o, "Suspended") {
        "Suspended"
    } else if has_condition(o, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(&spec["template"]["spec"]);
    vec![
        o["metadata"]["name"].clone(),
        json!(state),
        json!(completions),
        json!(duration),
        since(&o["metadata"]["creationTimestamp"]),
        names,
        images,
        format_selector(&spec["selector"]),
    ]
}

/// `GetAccessModesAsString`.
fn access_modes(modes: &Value) -> String {
    let has = |m: &str| modes.as_array().is_some_and(|a| a.iter().any(|v| v == m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn pvc_cells(o: &Value) -> Vec<Value> {
    let (spec, status) = (&o["spec"], &o["status"]);
    let phase = if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else {
        status["phase"].as_str().unwrap_or_default()
    };
    let volume = spec["volumeName"].as_str().unwrap_or_default();
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            status["capacity"]["storage"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            access_modes(&status["accessModes"]),
        )
    };
    let class = spec["storageClassName"]
        .as_str()
        .or_else(|| {
            o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"].as_str()
        })
        .unwrap_or_default();
    let unset = |v: &Value| json!(v.as_str().unwrap_or("<unset>"));
    vec![
        o["metadata"]["name"].clone(),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        unset(&spec["volumeAttributesClassName"]),
        since(&o["metadata"]["creationTimestamp"]),
        unset(&spec["volumeMode"]),
    ]
}

/// Upstream's `formatHosts`: up to three hosts, `*` when none.
fn ingress_cells(o: &Value) -> Vec<Value> {
    let rules = o["spec"]["rules"].as_array().cloned().unwrap_or_default();
    let hosts: Vec<&str> = rules
        .iter()
        .filter_map(|r| r["host"].as_str())
        .filter(|h| !h.is_empty())
        .take(3)
        .collect();
    let hosts = match (hosts.is_empty(), rules.len() > 3) {
        (true, _) => "*".to_string(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
        (false, false) => hosts.join(","),
    };
    let mut addresses: Vec<&str> = o["status"]["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["ip"]
                .as_str()
                .filter(|s| !s.is_empty())
                .or(i["hostname"].as_str())
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    let ports = if o["spec"]["tls"].as_array().is_some_and(|t| !t.is_empty()) {
        "80, 443"
    } else {
        "80"
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(o["spec"]["ingressClassName"].as_str().unwrap_or("<none>")),
        json!(hosts),
        json!(addresses.join(",")),
        json!(ports),
        since(&o["metadata"]["creationTimestamp"]),
    ]
}

/// The printer of a workload or storage resource, when upstream has one.
pub(super) fn builtin(group: &str, plural: &str) -> Option<Printer> {
    let name = || column("Name", "string", 0);
    let age = || column("Age", "string", 0);
    Some(match (group, plural) {
        ("apps", "replicasets") => Printer {
            columns: [
                vec![
                    name(),
                    column("Desired", "integer", 0),
                    column("Current", "integer", 0),
                    column("Ready", "integer", 0),
                    age(),
                ],
                template_columns(true),
            ]
            .concat(),
            cells: |o| {
                let (names, images) = containers(&o["spec"]["template"]["spec"]);
                vec![
                    o["metadata"]["name"].clone(),
                    int(&o["spec"]["replicas"]),
                    int(&o["status"]["replicas"]),
                    int(&o["status"]["readyReplicas"]),
                    since(&o["metadata"]["creationTimestamp"]),
                    names,
                    images,
                    format_selector(&o["spec"]["selector"]),
                ]
            },
        },
        ("apps", "statefulsets") => Printer {
            columns: [
                vec![name(), column("Ready", "string", 0), age()],
                template_columns(false),
            ]
            .concat(),
            cells: |o| {
                let (names, images) = containers(&o["spec"]["template"]["spec"]);
                let ready = format!(
                    "{}/{}",
                    o["status"]["readyReplicas"].as_i64().unwrap_or(0),
                    o["spec"]["replicas"].as_i64().unwrap_or(0)
                );
                vec![
                    o["metadata"]["name"].clone(),
                    json!(ready),
                    since(&o["metadata"]["creationTimestamp"]),
                    names,
                    images,
                ]
            },
        },
        ("apps", "daemonsets") => Printer {
            columns: [
                vec![
                    name(),
                    column("Desired", "integer", 0),
                    column("Current", "integer", 0),
                    column("Ready", "integer", 0),
                    column("Up-to-date", "integer", 0),
                    column("Available", "integer", 0),
                    column("Node Selector", "string", 0),
                    age(),
                ],
                template_columns(true),
            ]
            .concat(),
            cells: |o| {
                let (s, pod) = (&o["status"], &o["spec"]["template"]["spec"]);
                let (names, images) = containers(pod);
                vec![
                    o["metadata"]["name"].clone(),
                    int(&s["desiredNumberScheduled"]),
                    int(&s["currentNumberScheduled"]),
                    int(&s["numberReady"]),
                    int(&s["updatedNumberScheduled"]),
                    int(&s["numberAvailable"]),
                    json!(format_labels(&pod["nodeSelector"])),
                    since(&o["metadata"]["creationTimestamp"]),
                    names,
                    images,
                    format_selector(&o["spec"]["selector"]),
                ]
            },
        },
        ("batch", "jobs") => Printer {
            columns: [
                vec![
                    name(),
                    column("Status", "string", 0),
                    column("Completions", "string", 0),
                    column("Duration", "string", 0),
                    age(),
                ],
                template_columns(true),
            ]
            .concat(),
            cells: job_cells,
        },
        ("batch", "cronjobs") => Printer {
            columns: [
                vec![
                    name(),
                    column("Schedule", "string", 0),
                    column("Timezone", "string", 0),
                    column("Suspend", "boolean", 0),
                    column("Active", "integer", 0),
                    column("Last Schedule", "string", 0),
                    age(),
                ],
                template_columns(true),
            ]
            .concat(),
            cells: |o| {
                let spec = &o["spec"];
                let job = &spec["jobTemplate"]["spec"];
                let (names, images) = containers(&job["template"]["spec"]);
                let suspend = match spec["suspend"].as_bool() {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                };
                let last = match o["status"]["lastScheduleTime"].as_str() {
                    Some(_) => since(&o["status"]["lastScheduleTime"]),
                    None => json!("<none>"),
                };
                vec![
                    o["metadata"]["name"].clone(),
                    json!(spec["schedule"].as_str().unwrap_or_default()),
                    json!(spec["timeZone"].as_str().unwrap_or("<none>")),
                    json!(suspend),
                    json!(o["status"]["active"].as_array().map_or(0, Vec::len)),
                    last,
                    since(&o["metadata"]["creationTimestamp"]),
                    names,
                    images,
                    format_selector(&job["selector"]),
                ]
            },
        },
        ("", "persistentvolumeclaims") => Printer {
            columns: vec![
                name(),
                column("Status", "string", 0),
                column("Volume", "string", 0),
                column("Capacity", "string", 0),
                column("Access Modes", "string", 0),
                column("StorageClass", "string", 0),
                column("VolumeAttributesClass", "string", 0),
                age(),
                column("VolumeMode", "string", 1),
            ],
            cells: pvc_cells,
        },
        ("networking.k8s.io", "ingresses") => Printer {
            columns: vec![
                name(),
                column("Class", "string", 0),
                column("Hosts", "string", 0),
                column("Address", "string", 0),
                column("Ports", "string", 0),
                age(),
            ],
            cells: ingress_cells,
        },
        _ => return None,
    })
}
