//! The pods the workload controllers would start, simulated: ReplicaSets (so Deployments),
//! StatefulSets (`<name>-<ordinal>`) and DaemonSets (one pod for the one simulated node,
//! `nodes.rs`) keep
//! as many Pods as they ask for, Jobs get their completions' Pods once; each Pod is owned by
//! its workload, is bound to the node, carries the template (with the Pod defaults) and a
//! status that matches the
//! simulated rollout (Running and Ready, `Succeeded` for Jobs, waiting on `ImagePullBackOff`
//! under the `fail` tag marker). Creations and deletions emit the controllers' Events
//! (`SuccessfulCreate` "Created pod: ...", `SuccessfulDelete`, a Job's `Completed`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::nodes::{NODE_IP, NODE_NAME};
use super::workloads::has_failure_marker;
use crate::server::ApiServer;
use crate::server::meta::{is_deleting, name_suffix, new_uid, now};
use crate::store::ObjectKey;

/// Pods per workload are capped, so a `replicas: 10000` typo cannot fill the sandbox.
const MAX_PODS: i64 = 50;

/// A workload kind the simulator starts pods for.
struct Owner {
    group: &'static str,
    resource: &'static str,
    kind: &'static str,
    controller: &'static str,
}

const OWNERS: [Owner; 4] = [
    Owner {
        group: "apps",
        resource: "replicasets",
        kind: "ReplicaSet",
        controller: "replicaset-controller",
    },
    Owner {
        group: "apps",
        resource: "statefulsets",
        kind: "StatefulSet",
        controller: "statefulset-controller",
    },
    Owner {
        group: "apps",
        resource: "daemonsets",
        kind: "DaemonSet",
        controller: "daemonset-controller",
    },
    Owner {
        group: "batch",
        resource: "jobs",
        kind: "Job",
        controller: "job-controller",
    },
];

fn job_finished(job: &Value) -> bool {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| matches!(c["type"].as_str(), Some("Complete" | "Failed")) && c["status"] == "True")
}

/// How many pods `workload` wants now (None: leave its pods alone).
fn wanted(owner: &Owner, workload: &Value, existing: usize) -> Option<i64> {
    let n = match owner.resource {
        "daemonsets" => 1,
        "jobs" => {
            // A Job's pods are started once; finished Jobs keep the pods they ran.
            if existing > 0 || job_finished(workload) {
                return None;
            }
            workload["spec"]["completions"].as_i64().unwrap_or(1)
        }
        _ => workload["spec"]["replicas"].as_i64().unwrap_or(1),
    };
    Some(n.clamp(0, MAX_PODS))
}

/// The status of a simulated pod: its containers waiting on `ImagePullBackOff` when
/// `failing`, done when it `completes` (a Job's), else running; `index` picks its IP.
pub(super) fn pod_status(failing: bool, completes: bool, pod: &Value, index: usize) -> Value {
    let t = now();
    let condition = |type_: &str, status: &str| json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": t});
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let (state, ready) = match (failing, completes) {
                (true, _) => (json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{}\"", c["image"].as_str().unwrap_or_default())}}), false),
                (false, true) => (json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}), false),
                (false, _) => (json!({"running": {"startedAt": t}}), true),
            };
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": ready, "restartCount": 0,
                "started": ready, "state": state})
        })
        .collect();
    let (phase, ready) = match (failing, completes) {
        (true, _) => ("Pending", "False"),
        (false, true) => ("Succeeded", "False"),
        (false, _) => ("Running", "True"),
    };
    let qos = pod["status"]["qosClass"].clone();
    let pod_ip = format!("10.244.0.{}", 2 + index % 250);
    json!({"phase": phase, "conditions": [condition("PodReadyToStartContainers", "True"), condition("Initialized", "True"),
            condition("Ready", ready), condition("ContainersReady", ready), condition("PodScheduled", "True")],
        "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": t,
        "containerStatuses": containers, "qosClass": qos})
}

/// A new Pod of `workload` from its template.
fn new_pod(owner: &Owner, workload: &Value, name: &str, namespace: &str, index: usize) -> Value {
    let template = &workload["spec"]["template"];
    let mut spec = template["spec"].clone();
    crate::builtin::default_pod(&mut spec);
    // Bound to the one node, as the scheduler would.
    spec["nodeName"] = json!(NODE_NAME);
    let workload_name = workload["metadata"]["name"].as_str().unwrap_or_default();
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    if owner.resource == "statefulsets" {
        labels["statefulset.kubernetes.io/pod-name"] = json!(name);
        labels["apps.kubernetes.io/pod-index"] = json!(index.to_string());
        spec["hostname"] = json!(name);
        if let Some(service) = workload["spec"]["serviceName"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            spec["subdomain"] = json!(service);
        }
    }
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": new_uid(), "creationTimestamp": now(),
            "labels": labels,
            "ownerReferences": [{"apiVersion": workload["apiVersion"], "kind": owner.kind, "name": workload_name,
                "uid": workload["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]},
        "spec": spec});
    if owner.resource != "statefulsets" {
        pod["metadata"]["generateName"] = json!(format!("{workload_name}-"));
    }
    if let Some(annotations) = template["metadata"]["annotations"].as_object() {
        pod["metadata"]["annotations"] = Value::Object(annotations.clone());
    }
    pod["status"] = json!({"qosClass": crate::controllers::defaults::qos_class(&pod["spec"])});
    pod["status"] = pod_status(
        has_failure_marker(workload),
        owner.resource == "jobs",
        &pod,
        index,
    );
    pod
}

/// One pass over every workload, given the Pods as read at the start of the pass.
pub fn reconcile(api: &ApiServer, pods: &[Arc<Value>]) {
    // Grouped by their controller's uid.
    let mut by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
    for pod in pods.iter().map(|p| &**p).filter(|p| !is_deleting(p)) {
        let controller = pod["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["controller"] == true);
        if let Some(uid) = controller.and_then(|o| o["uid"].as_str()) {
            by_owner.entry(uid).or_default().push(pod);
        }
    }
    for owner in &OWNERS {
        let (workloads, _) = api.store.list(owner.group, owner.resource, None);
        for workload in workloads.iter().filter(|w| !is_deleting(w)) {
            let uid = workload["metadata"]["uid"].as_str().unwrap_or_default();
            let mine = by_owner.get(uid).cloned().unwrap_or_default();
            reconcile_one(api, owner, workload, mine);
        }
    }
}

fn reconcile_one(api: &ApiServer, owner: &Owner, workload: &Value, mut mine: Vec<&Value>) {
    let namespace = workload["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let workload_name = workload["metadata"]["name"].as_str().unwrap_or_default();

    let Some(wanted) = wanted(owner, workload, mine.len()) else {
        return;
    };
    let have = i64::try_from(mine.len()).unwrap_or(i64::MAX);
    if have < wanted {
        for index in 0..usize::try_from(wanted - have).unwrap_or(0) {
            let (name, index) = if owner.resource == "statefulsets" {
                let taken: Vec<&str> = mine
                    .iter()
                    .filter_map(|p| p["metadata"]["name"].as_str())
                    .collect();
                let Some(ordinal) = (0..MAX_PODS as usize)
                    .find(|o| !taken.contains(&format!("{workload_name}-{o}").as_str()))
                else {
                    return;
                };
                (format!("{workload_name}-{ordinal}"), ordinal)
            } else {
                (
                    format!("{workload_name}-{}", name_suffix()),
                    mine.len() + index,
                )
            };
            let pod = new_pod(owner, workload, &name, namespace, index);
            let key = ObjectKey::new("", "pods", namespace, &name);
            let created = api.store.write(|tx| {
                if tx.get(&key).is_some() {
                    return false;
                }
                tx.put(key.clone(), pod);
                true
            });
            if created {
                let message = if owner.resource == "statefulsets" {
                    format!("create Pod {name} in StatefulSet {workload_name} successful")
                } else {
                    format!("Created pod: {name}")
                };
                record_event(api, owner, workload, "SuccessfulCreate", &message);
            }
        }
        if owner.resource == "jobs" && !has_failure_marker(workload) {
            record_event(api, owner, workload, "Completed", "Job completed");
        }
    } else if have > wanted {
        // The newest go first (StatefulSets: the highest ordinals).
        mine.sort_by(|a, b| {
            let key = |p: &Value| {
                (
                    p["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    p["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            };
            key(b).cmp(&key(a))
        });
        for pod in mine
            .iter()
            .take(usize::try_from(have - wanted).unwrap_or(0))
        {
            let name = pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let key = ObjectKey::new("", "pods", namespace, &name);
            if api.store.write(|tx| tx.delete(&key)).is_some() {
                let message = if owner.resource == "statefulsets" {
                    format!("delete Pod {name} in StatefulSet {workload_name} successful")
                } else {
                    format!("Deleted pod: {name}")
                };
                record_event(api, owner, workload, "SuccessfulDelete", &message);
            }
        }
    }
}

/// A Normal Event from the owner's controller about `workload`.
fn record_event(api: &ApiServer, owner: &Owner, workload: &Value, reason: &str, message: &str) {
    super::events::record(api, workload, owner.kind, owner.controller, reason, message);
}
