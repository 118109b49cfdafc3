//! The sandbox's one simulated node, as a single-node cluster (kind, minikube) shows it: a
//! Ready `Node` with the control-plane role label, this machine's CPU count, memory and kernel
//! in its status, and its heartbeat `Lease` in `kube-node-lease`. The workload simulator
//! schedules its Pods here.

use serde_json::{Value, json};

use crate::server::meta::{micro_time, now};

/// The node's name (also its hostname).
pub const NODE_NAME: &str = "rill-sandbox";
/// The node's InternalIP, the `hostIP` of its Pods.
pub const NODE_IP: &str = "10.0.0.10";
/// The node's Pod CIDR.
const POD_CIDR: &str = "10.244.0.0/24";
/// The kubelet version the node reports (the sandbox serves 1.32).
const KUBELET_VERSION: &str = "v1.32.0";

/// This machine's memory in KiB, from `/proc/meminfo` (0 when unreadable).
fn memory_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The `Node` object.
pub fn node() -> Value {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let resources = json!({
        "cpu": cpus.to_string(),
        "memory": format!("{}Ki", memory_kib()),
        "pods": "110",
        "ephemeral-storage": "10Gi",
        "hugepages-2Mi": "0",
    });
    let t = now();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": t, "lastTransitionTime": t})
    };
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": "",
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]},
        "status": {
            "capacity": resources, "allocatable": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": NODE_NAME}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": "", "systemUUID": "", "bootID": "",
                "kernelVersion": kernel, "osImage": "Rill sandbox (simulated node)",
                "containerRuntimeVersion": "rill-sandbox://simulated",
                "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux", "architecture": "amd64",
            },
        },
    })
}

/// The node's `Lease` in `kube-node-lease`.
pub fn node_lease() -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": NODE_NAME, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": NODE_NAME, "leaseDurationSeconds": 40, "renewTime": micro_time(jiff::Timestamp::now())},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_is_ready_with_this_machines_resources() {
        let node = node();
        assert_eq!(node["metadata"]["name"], NODE_NAME);
        let ready = node["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        let cpu: usize = node["status"]["capacity"]["cpu"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(cpu >= 1);
        assert!(
            node["status"]["capacity"]["memory"]
                .as_str()
                .unwrap()
                .ends_with("Ki")
        );
        assert!(memory_kib() > 0);
        // A MicroTime: six fraction digits.
        let renew = node_lease()["spec"]["renewTime"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(renew.len(), "2026-01-01T00:00:00.000000Z".len(), "{renew}");
        assert_eq!(renew.as_bytes()[19], b'.', "{renew}");
    }
}
