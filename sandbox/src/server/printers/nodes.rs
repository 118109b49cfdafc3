//! Upstream's `printNode`: STATUS from the Ready condition (`Ready`, `NotReady`, `Unknown`)
//! plus `SchedulingDisabled` when cordoned, ROLES from the `node-role.kubernetes.io/<role>`
//! and `kubernetes.io/role` labels; the wide columns are the internal and external IPs, the
//! OS image, kernel and container runtime.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Printer, column, since};

/// The printer of Nodes.
pub(super) fn printer() -> Printer {
    Printer {
        columns: vec![
            column("Name", "string", 0),
            column("Status", "string", 0),
            column("Roles", "string", 0),
            column("Age", "string", 0),
            column("Version", "string", 0),
            column("Internal-IP", "string", 1),
            column("External-IP", "string", 1),
            column("OS-Image", "string", 1),
            column("Kernel-Version", "string", 1),
            column("Container-Runtime", "string", 1),
        ],
        cells: node_cells,
    }
}

fn node_cells(node: &Value) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    let conditions = node["status"]["conditions"].as_array();
    if let Some(ready) = conditions
        .into_iter()
        .flatten()
        .rfind(|c| c["type"] == "Ready")
    {
        status.push(if ready["status"] == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if node["spec"]["unschedulable"] == true {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    for (key, value) in node["metadata"]["labels"].as_object().into_iter().flatten() {
        let value = value.as_str().unwrap_or_default();
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == "kubernetes.io/role" && !value.is_empty() {
            roles.insert(value.to_string());
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let address = |kind: &str| {
        node["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == kind)
            .and_then(|a| a["address"].as_str())
            .unwrap_or("<none>")
            .to_string()
    };
    let info = &node["status"]["nodeInfo"];
    let known = |field: &str| match info[field].as_str() {
        Some(text) if !text.is_empty() => text.to_string(),
        _ => "<unknown>".to_string(),
    };
    vec![
        node["metadata"]["name"].clone(),
        json!(status.join(",")),
        json!(roles),
        since(&node["metadata"]["creationTimestamp"]),
        json!(info["kubeletVersion"].as_str().unwrap_or_default()),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(known("osImage")),
        json!(known("kernelVersion")),
        json!(known("containerRuntimeVersion")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_roles_read_as_kubectl_prints_them() {
        let cases = [
            (json!({}), "Unknown", "<none>"),
            (
                json!({"metadata": {"labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "x"}},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
                "Ready",
                "control-plane",
            ),
            (
                json!({"metadata": {"labels": {"kubernetes.io/role": "worker", "node-role.kubernetes.io/infra": ""}},
                       "spec": {"unschedulable": true},
                       "status": {"conditions": [{"type": "MemoryPressure", "status": "True"}, {"type": "Ready", "status": "Unknown"}]}}),
                "NotReady,SchedulingDisabled",
                "infra,worker",
            ),
        ];
        for (node, status, roles) in cases {
            let cells = node_cells(&node);
            assert_eq!(cells[1], status, "{node}");
            assert_eq!(cells[2], roles, "{node}");
            assert_eq!(cells[6], "<none>");
            assert_eq!(cells[7], "<unknown>");
        }
    }
}
