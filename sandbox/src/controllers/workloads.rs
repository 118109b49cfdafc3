//! The workload simulator: after each spec change, Deployments, ReplicaSets, StatefulSets,
//! DaemonSets and Jobs get the status a healthy rollout would produce, and PVCs are Bound.
//! A container image whose tag is `fail` (for example `nginx:fail`) makes the rollout never
//! finish: Deployments report `ProgressDeadlineExceeded`, Jobs `Failed`.

use serde_json::{Value, json};

use crate::server::ApiServer;
use crate::server::meta::{is_deleting, now};
use crate::store::ObjectKey;

const KINDS: &[(&str, &str)] = &[
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("", "persistentvolumeclaims"),
];

/// Whether any container of the pod template uses the failure marker.
pub fn has_failure_marker(object: &Value) -> bool {
    spec_has_failure_marker(&object["spec"]["template"]["spec"])
}

/// Whether a container image of the pod `spec` carries the `fail` tag marker.
pub fn spec_has_failure_marker(spec: &Value) -> bool {
    ["containers", "initContainers"].iter().any(|field| {
        spec[field].as_array().into_iter().flatten().any(|c| {
            c["image"]
                .as_str()
                .is_some_and(|i| i.rsplit_once(':').is_some_and(|(_, tag)| tag == "fail"))
        })
    })
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, time: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message, "lastUpdateTime": time, "lastTransitionTime": time})
}

/// The simulated status of a workload.
pub fn simulated_status(resource: &str, object: &Value) -> Value {
    let generation = object["metadata"]["generation"].clone();
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let failing = has_failure_marker(object);
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let t = now();
    match resource {
        "deployments" if failing => json!({
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": 0,
            "availableReplicas": 0, "unavailableReplicas": replicas,
            "conditions": [
                condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", &t),
                condition("Progressing", "False", "ProgressDeadlineExceeded", &format!(
                    "ReplicaSet \"{name}-{}\" has timed out progressing.",
                    super::rollouts::template_hash(&object["spec"]["template"])
                ), &t),
            ],
        }),
        "deployments" => json!({
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", &t),
                condition("Progressing", "True", "NewReplicaSetAvailable", &format!(
                    "ReplicaSet \"{name}-{}\" has successfully progressed.",
                    super::rollouts::template_hash(&object["spec"]["template"])
                ), &t),
            ],
        }),
        "replicasets" => {
            let ready = if failing { 0 } else { replicas };
            json!({"observedGeneration": generation, "replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready})
        }
        "statefulsets" => {
            let ready = if failing { 0 } else { replicas };
            json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": ready, "currentReplicas": replicas,
                   "updatedReplicas": replicas, "availableReplicas": ready, "currentRevision": format!("{name}-1"), "updateRevision": format!("{name}-1")})
        }
        "daemonsets" => {
            let ready = if failing { 0 } else { 1 };
            json!({"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": ready,
                   "updatedNumberScheduled": 1, "numberAvailable": ready, "numberMisscheduled": 0})
        }
        "jobs" if failing => json!({
            "startTime": t, "failed": 1, "active": 0,
            "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": t, "lastTransitionTime": t}],
        }),
        "jobs" => json!({
            "startTime": t, "completionTime": t, "succeeded": object["spec"]["completions"].as_i64().unwrap_or(1), "active": 0,
            "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": t, "lastTransitionTime": t}],
        }),
        "persistentvolumeclaims" => {
            json!({"phase": "Bound", "accessModes": object["spec"]["accessModes"], "capacity": object["spec"]["resources"]["requests"]})
        }
        _ => Value::Null,
    }
}

fn needs_status(resource: &str, object: &Value) -> bool {
    if is_deleting(object) {
        return false;
    }
    match resource {
        "jobs" => object["status"]["conditions"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "persistentvolumeclaims" => object["status"]["phase"].as_str() != Some("Bound"),
        _ => object["status"]["observedGeneration"] != object["metadata"]["generation"],
    }
}

/// One simulation pass.
pub fn simulate(api: &ApiServer) {
    for (group, resource) in KINDS {
        let (objects, _) = api.store.list(group, resource, None);
        for object in objects.iter().filter(|o| needs_status(resource, o)) {
            let key = ObjectKey::new(
                group,
                resource,
                object["metadata"]["namespace"].as_str().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default(),
            );
            api.store.write(|tx| {
                let Some(current) = tx.get(&key) else { return };
                if !needs_status(resource, &current) {
                    return;
                }
                let mut updated = (*current).clone();
                updated["status"] = simulated_status(resource, &current);
                tx.put(key.clone(), updated);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fail_tag_marks_a_rollout_that_never_finishes() {
        let ok = json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}});
        let bad = json!({"metadata": {"name": "web", "generation": 2}, "spec": {"template": {"spec": {"containers": [{"image": "nginx:fail"}]}}}});
        let status = simulated_status("deployments", &ok);
        assert_eq!(
            (
                status["observedGeneration"].clone(),
                status["availableReplicas"].clone()
            ),
            (json!(2), json!(3))
        );
        let status = simulated_status("deployments", &bad);
        assert_eq!(
            status["conditions"][1]["reason"],
            "ProgressDeadlineExceeded"
        );
        assert_eq!(
            simulated_status("jobs", &bad)["conditions"][0]["type"],
            "Failed"
        );
        assert_eq!(
            simulated_status("jobs", &ok)["conditions"][0]["type"],
            "Complete"
        );
    }
}
