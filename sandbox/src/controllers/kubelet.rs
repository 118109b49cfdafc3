//! The scheduler and kubelet for Pods no simulated workload made (`kubectl run`, Pods other
//! controllers create): a Pod without a node is bound to the sandbox's node while that node
//! exists and is not cordoned, and its containers start as the workload pods' do (running;
//! waiting on `ImagePullBackOff` under the `fail` tag marker), with the scheduler's and the
//! kubelet's Events (`Scheduled`, `Pulled`, `Created`, `Started`, or `BackOff`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::nodes::NODE_NAME;
use super::pods::pod_status;
use super::workloads::spec_has_failure_marker;
use crate::server::ApiServer;
use crate::server::meta::is_deleting;
use crate::store::ObjectKey;

/// Whether the scheduler would bind `pod` now: not deleting, no node yet, and the node ready
/// for Pods (present, not cordoned).
fn to_bind(pod: &Value, node: Option<&Value>) -> bool {
    let unbound = pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .is_empty();
    let schedulable = node.is_some_and(|n| n["spec"]["unschedulable"] != true);
    unbound && schedulable && !is_deleting(pod)
}

/// One pass: binds and starts every Pod of `pods` (as read at the start of the pass) that
/// waits for a node.
pub fn reconcile(api: &ApiServer, pods: &[Arc<Value>]) {
    let node = api.store.get(&ObjectKey::new("", "nodes", "", NODE_NAME));
    for pod in pods.iter().filter(|p| to_bind(p, node.as_deref())) {
        let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let key = ObjectKey::new("", "pods", namespace, name);
        let index = name.bytes().map(usize::from).sum::<usize>();
        let mut started = (**pod).clone();
        started["spec"]["nodeName"] = json!(NODE_NAME);
        let failing = spec_has_failure_marker(&pod["spec"]);
        started["status"] = pod_status(failing, false, &started, index);
        let seen = pod["metadata"]["resourceVersion"].clone();
        // Only over the version read, so a write in between is not undone.
        let written = api.store.write(|tx| {
            if tx
                .get(&key)
                .is_none_or(|now| now["metadata"]["resourceVersion"] != seen)
            {
                return None;
            }
            Some(tx.put(key.clone(), started))
        });
        let Some(written) = written else { continue };
        let event = |component: &str, reason: &str, message: &str| {
            super::events::record(api, &written, "Pod", component, reason, message);
        };
        event(
            "default-scheduler",
            "Scheduled",
            &format!("Successfully assigned {namespace}/{name} to {NODE_NAME}"),
        );
        for container in written["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let image = container["image"].as_str().unwrap_or_default();
            let container = container["name"].as_str().unwrap_or_default();
            if failing {
                event(
                    "kubelet",
                    "BackOff",
                    &format!("Back-off pulling image \"{image}\""),
                );
            } else {
                event(
                    "kubelet",
                    "Pulled",
                    &format!("Container image \"{image}\" already present on machine"),
                );
                event(
                    "kubelet",
                    "Created",
                    &format!("Created container: {container}"),
                );
                event(
                    "kubelet",
                    "Started",
                    &format!("Started container {container}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_without_a_node_are_bound_while_the_node_takes_pods() {
        let node = json!({"metadata": {"name": NODE_NAME}, "spec": {}});
        let cordoned = json!({"metadata": {"name": NODE_NAME}, "spec": {"unschedulable": true}});
        let waiting = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let bound = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "other"}});
        let deleting = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}});
        let cases = [
            (&waiting, Some(&node), true),
            (&waiting, Some(&cordoned), false),
            (&waiting, None, false),
            (&bound, Some(&node), false),
            (&deleting, Some(&node), false),
        ];
        for (pod, node, want) in cases {
            assert_eq!(to_bind(pod, node), want, "{pod} on {node:?}");
        }
        assert!(spec_has_failure_marker(
            &json!({"containers": [{"image": "registry:5000/app:fail"}]})
        ));
        assert!(!spec_has_failure_marker(
            &json!({"containers": [{"image": "registry:5000/fail"}]})
        ));
    }
}
