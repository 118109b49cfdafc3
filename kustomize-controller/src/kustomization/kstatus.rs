//! kstatus (pure): whether a live object is Current, InProgress or Failed, for the workload
//! kinds, Jobs, CRDs, Namespaces, PVCs, Services and any object with standard conditions.

use serde_json::Value;

/// The computed status of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Fully reconciled.
    Current,
    /// Still progressing, with the reason.
    InProgress(String),
    /// Failed, with the reason.
    Failed(String),
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn condition_is(object: &Value, type_: &str, status: &str) -> bool {
    condition(object, type_).is_some_and(|c| c["status"] == status)
}

fn in_progress(text: impl Into<String>) -> Health {
    Health::InProgress(text.into())
}

/// The kstatus of `object`.
pub fn compute(object: &Value) -> Health {
    let generation = int(&object["metadata"]["generation"]);
    let observed = &object["status"]["observedGeneration"];
    if !observed.is_null() && int(observed) < generation {
        return in_progress("the latest generation has not been observed yet");
    }
    let kind = object["kind"].as_str().unwrap_or_default();
    let group = object["apiVersion"]
        .as_str()
        .and_then(|a| a.rsplit_once('/'))
        .map_or("", |(g, _)| g);
    match (group, kind) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("apps", "ReplicaSet") => replicas_ready(object, &object["spec"]["replicas"]),
        ("batch", "Job") => job(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(object),
        ("", "Namespace") => match object["status"]["phase"].as_str() {
            Some("Terminating") => in_progress("the namespace is terminating"),
            _ => Health::Current,
        },
        ("", "PersistentVolumeClaim") => match object["status"]["phase"].as_str() {
            Some("Bound") => Health::Current,
            _ => in_progress("the claim is not bound yet"),
        },
        ("", "Service") => service(object),
        ("", "Pod") => pod(object),
        _ => generic(object),
    }
}

fn deployment(object: &Value) -> Health {
    if let Some(c) = condition(object, "Progressing")
        && c["reason"] == "ProgressDeadlineExceeded"
    {
        return Health::Failed(format!(
            "progress deadline exceeded: {}",
            c["message"].as_str().unwrap_or_default()
        ));
    }
    if object["status"]["observedGeneration"].is_null() {
        return in_progress("the deployment has not been observed yet");
    }
    let spec = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &object["status"];
    let updated = int(&status["updatedReplicas"]);
    if updated < spec {
        return in_progress(format!("updated: {updated}/{spec}"));
    }
    if int(&status["replicas"]) > updated {
        return in_progress(format!(
            "pending termination: {}",
            int(&status["replicas"]) - updated
        ));
    }
    let available = int(&status["availableReplicas"]);
    if available < updated {
        return in_progress(format!("available: {available}/{updated}"));
    }
    if int(&status["readyReplicas"]) < updated {
        return in_progress(format!(
            "ready: {}/{updated}",
            int(&status["readyReplicas"])
        ));
    }
    Health::Current
}

fn replicas_ready(object: &Value, desired: &Value) -> Health {
    let spec = desired.as_i64().unwrap_or(1);
    let ready = int(&object["status"]["readyReplicas"]);
    if ready < spec {
        in_progress(format!("ready: {ready}/{spec}"))
    } else {
        Health::Current
    }
}

fn stateful_set(object: &Value) -> Health {
    if object["status"]["observedGeneration"].is_null() {
        return in_progress("the statefulset has not been observed yet");
    }
    let spec = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &object["status"];
    let ready = int(&status["readyReplicas"]);
    if ready < spec {
        return in_progress(format!("ready: {ready}/{spec}"));
    }
    let (current, update) = (&status["currentRevision"], &status["updateRevision"]);
    if !update.is_null() && current != update {
        return in_progress("waiting for the rolling update to finish");
    }
    Health::Current
}

fn daemon_set(object: &Value) -> Health {
    let status = &object["status"];
    if status["observedGeneration"].is_null() {
        return in_progress("the daemonset has not been observed yet");
    }
    let desired = int(&status["desiredNumberScheduled"]);
    for (field, label) in [
        ("updatedNumberScheduled", "updated"),
        ("numberAvailable", "available"),
        ("numberReady", "ready"),
    ] {
        let have = int(&status[field]);
        if have < desired {
            return in_progress(format!("{label}: {have}/{desired}"));
        }
    }
    Health::Current
}

fn job(object: &Value) -> Health {
    if condition_is(object, "Failed", "True") {
        let message = condition(object, "Failed")
            .and_then(|c| c["message"].as_str())
            .unwrap_or("job failed");
        return Health::Failed(message.to_string());
    }
    if condition_is(object, "Complete", "True") {
        return Health::Current;
    }
    in_progress("the job has not completed yet")
}

fn crd(object: &Value) -> Health {
    if condition_is(object, "NamesAccepted", "False") {
        return Health::Failed("the CRD's names were not accepted".into());
    }
    if condition_is(object, "Established", "True") {
        Health::Current
    } else {
        in_progress("the CRD is not established yet")
    }
}

fn service(object: &Value) -> Health {
    if object["spec"]["type"] == "LoadBalancer"
        && object["spec"]["clusterIP"] != "None"
        && object["status"]["loadBalancer"]["ingress"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        return in_progress("the load balancer has no ingress yet");
    }
    Health::Current
}

fn pod(object: &Value) -> Health {
    match object["status"]["phase"].as_str() {
        Some("Succeeded") => Health::Current,
        Some("Failed") => Health::Failed("the pod failed".into()),
        Some("Running") if condition_is(object, "Ready", "True") => Health::Current,
        _ => in_progress("the pod is not ready yet"),
    }
}

/// Any other kind: Stalled/Ready/Reconciling conditions as kstatus reads them.
fn generic(object: &Value) -> Health {
    if condition_is(object, "Stalled", "True") {
        let message = condition(object, "Stalled")
            .and_then(|c| c["message"].as_str())
            .unwrap_or_default();
        return Health::Failed(message.to_string());
    }
    if condition_is(object, "Reconciling", "True") {
        return in_progress("reconciling");
    }
    match condition(object, "Ready") {
        Some(c) if c["status"] == "True" => Health::Current,
        Some(c) if c["status"] == "False" => in_progress(format!(
            "not ready: {}",
            c["message"].as_str().unwrap_or_default()
        )),
        Some(_) => in_progress("readiness unknown"),
        None => Health::Current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn current(h: &Health) -> bool {
        *h == Health::Current
    }

    #[test]
    fn workloads_follow_kstatus() {
        let deploy = |status: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": status});
        let cases = [
            (deploy(json!({})), false),
            (
                deploy(
                    json!({"observedGeneration": 1, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3, "replicas": 3}),
                ),
                false,
            ),
            (
                deploy(json!({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3})),
                false,
            ),
            (
                deploy(
                    json!({"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3, "replicas": 3}),
                ),
                true,
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
                true,
            ),
            (
                json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "status": {"conditions": [{"type": "Established", "status": "True"}]}}),
                true,
            ),
            (
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}),
                false,
            ),
            (json!({"apiVersion": "v1", "kind": "ConfigMap"}), true),
            (
                json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
                false,
            ),
            (
                json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}}),
                false,
            ),
        ];
        for (object, want) in cases {
            assert_eq!(current(&compute(&object)), want, "{object}");
        }
    }

    #[test]
    fn failures_are_reported() {
        let deadline = json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": {"observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "too slow"}]}});
        assert!(matches!(compute(&deadline), Health::Failed(m) if m.contains("too slow")));
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert!(matches!(compute(&job), Health::Failed(_)));
        let stalled = json!({"apiVersion": "x/v1", "kind": "Y", "status": {"conditions": [{"type": "Stalled", "status": "True", "message": "bad"}]}});
        assert_eq!(compute(&stalled), Health::Failed("bad".into()));
    }
}
