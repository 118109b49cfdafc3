//! Upstream's `printPod`: READY counts ready containers (sidecar init containers included),
//! STATUS is the reason a user reads (`Init:1/2`, `CrashLoopBackOff`, `Completed`,
//! `Terminating`, ...), RESTARTS adds how long ago the last restart was; the wide columns are the
//! pod IP, node, nominated node and readiness gates.

use serde_json::{Value, json};

use super::{Printer, column, since};
use crate::server::table::age;

/// The printer of Pods.
pub(super) fn printer() -> Printer {
    Printer {
        columns: vec![
            column("Name", "string", 0),
            column("Ready", "string", 0),
            column("Status", "string", 0),
            column("Restarts", "string", 0),
            column("Age", "string", 0),
            column("IP", "string", 1),
            column("Node", "string", 1),
            column("Nominated Node", "string", 1),
            column("Readiness Gates", "string", 1),
        ],
        cells: pod_cells,
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// The later of two RFC 3339 times (they compare as text when both are UTC `Z` times, which
/// is how the API server writes them).
fn later(current: Option<String>, candidate: &Value) -> Option<String> {
    match (current, candidate.as_str().filter(|t| !t.is_empty())) {
        (Some(c), Some(t)) if t > c.as_str() => Some(t.to_string()),
        (None, Some(t)) => Some(t.to_string()),
        (c, _) => c,
    }
}

/// `Signal:N` / `ExitCode:N` for a terminated state without a reason.
fn exit_text(terminated: &Value) -> String {
    match terminated["signal"].as_i64().unwrap_or(0) {
        0 => format!("ExitCode:{}", terminated["exitCode"].as_i64().unwrap_or(0)),
        signal => format!("Signal:{signal}"),
    }
}

fn condition_true(pod: &Value, type_: &str) -> bool {
    list(&pod["status"]["conditions"])
        .iter()
        .any(|c| c["type"] == type_ && c["status"] == "True")
}

fn pod_cells(pod: &Value) -> Vec<Value> {
    let spec = &pod["spec"];
    let status = &pod["status"];
    let init_specs = list(&spec["initContainers"]);
    let sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    };
    let total = list(&spec["containers"]).len()
        + init_specs
            .iter()
            .filter(|c| c["restartPolicy"] == "Always")
            .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<String> = None;
    let mut sidecar_restarts = 0;
    let mut sidecar_last_restart: Option<String> = None;
    let phase = text(&status["phase"]);
    let mut reason = match text(&status["reason"]) {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if list(&status["conditions"])
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut initializing = false;
    for (i, container) in list(&status["initContainerStatuses"]).iter().enumerate() {
        let count = container["restartCount"].as_i64().unwrap_or(0);
        restarts += count;
        let finished = &container["lastState"]["terminated"]["finishedAt"];
        last_restart = later(last_restart, finished);
        let is_sidecar = sidecar(text(&container["name"]));
        if is_sidecar {
            sidecar_restarts += count;
            sidecar_last_restart = later(sidecar_last_restart, finished);
        }
        let state = &container["state"];
        let terminated = &state["terminated"];
        let waiting_reason = text(&state["waiting"]["reason"]);
        if terminated.is_object() && terminated["exitCode"].as_i64().unwrap_or(0) == 0 {
            continue;
        }
        if is_sidecar && container["started"] == true {
            if container["ready"] == true {
                ready += 1;
            }
            continue;
        }
        reason = if terminated.is_object() {
            match text(&terminated["reason"]) {
                "" => format!("Init:{}", exit_text(terminated)),
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut running = false;
        for container in list(&status["containerStatuses"]).iter().rev() {
            restarts += container["restartCount"].as_i64().unwrap_or(0);
            last_restart = later(
                last_restart,
                &container["lastState"]["terminated"]["finishedAt"],
            );
            let state = &container["state"];
            let terminated = &state["terminated"];
            if !text(&state["waiting"]["reason"]).is_empty() {
                reason = text(&state["waiting"]["reason"]).to_string();
            } else if terminated.is_object() {
                reason = match text(&terminated["reason"]) {
                    "" => exit_text(terminated),
                    r => r.to_string(),
                };
            } else if container["ready"] == true && state["running"].is_object() {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = if condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = pod["metadata"]["deletionTimestamp"]
        .as_str()
        .is_some_and(|t| !t.is_empty());
    if deleting && text(&status["reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts = match &last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", age(t)),
        _ => restarts.to_string(),
    };
    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    let ip = list(&status["podIPs"])
        .first()
        .map(|p| text(&p["ip"]).to_string())
        .unwrap_or_default();
    let gates = list(&spec["readinessGates"]);
    let readiness = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let met = gates
            .iter()
            .filter(|g| {
                list(&status["conditions"])
                    .iter()
                    .find(|c| c["type"] == g["conditionType"])
                    .is_some_and(|c| c["status"] == "True")
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        pod["metadata"]["name"].clone(),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        since(&pod["metadata"]["creationTimestamp"]),
        json!(or_none(&ip)),
        json!(or_none(text(&spec["nodeName"]))),
        json!(or_none(text(&status["nominatedNodeName"]))),
        json!(readiness),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(pod: Value) -> Vec<String> {
        pod_cells(&pod)
            .into_iter()
            .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()))
            .collect()
    }

    #[test]
    fn status_ready_and_restarts_read_as_upstream_prints_them() {
        let long_ago = "2020-01-01T00:00:00Z";
        let cases: Vec<(Value, [&str; 4])> = vec![
            (
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                       "status": {"phase": "Running", "containerStatuses": [
                           {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                           {"name": "b", "ready": false, "restartCount": 0, "state": {"running": {}}}]}}),
                ["2", "1/2", "Running", "0"],
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}]},
                       "status": {"phase": "Running", "containerStatuses": [
                           {"name": "a", "ready": false, "restartCount": 4,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                            "lastState": {"terminated": {"exitCode": 1, "finishedAt": long_ago}}}]}}),
                ["1", "0/1", "CrashLoopBackOff", "4 ("],
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
                       "status": {"phase": "Pending", "initContainerStatuses": [
                           {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                           {"name": "i2", "state": {"running": {}}}]}}),
                ["1", "0/1", "Init:1/2", "0"],
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]},
                       "status": {"phase": "Pending", "initContainerStatuses": [
                           {"name": "i1", "state": {"terminated": {"exitCode": 2}}}]}}),
                ["1", "0/1", "Init:ExitCode:2", "0"],
            ),
            (
                json!({"spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
                       "status": {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                           "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "state": {"running": {}}}],
                           "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}}),
                ["2", "2/2", "Running", "0"],
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}]},
                       "status": {"phase": "Succeeded", "containerStatuses": [
                           {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}),
                ["1", "0/1", "Completed", "0"],
            ),
            (
                json!({"metadata": {"deletionTimestamp": long_ago}, "spec": {"containers": [{"name": "a"}]},
                       "status": {"phase": "Running", "containerStatuses": [
                           {"name": "a", "ready": true, "state": {"running": {}}}]}}),
                ["1", "1/1", "Terminating", "0"],
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}]},
                       "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}}),
                ["1", "0/1", "SchedulingGated", "0"],
            ),
        ];
        for (pod, [_, ready, status, restarts]) in cases {
            let got = cells(pod.clone());
            assert_eq!(got[1], ready, "{pod}");
            assert_eq!(got[2], status, "{pod}");
            assert!(got[3].starts_with(restarts), "{got:?} for {pod}");
        }
    }

    #[test]
    fn wide_columns_say_none_when_unset() {
        let got = cells(
            json!({"spec": {"containers": [], "readinessGates": [{"conditionType": "x"}, {"conditionType": "y"}]},
            "status": {"podIPs": [{"ip": "10.0.0.7"}], "conditions": [{"type": "x", "status": "True"}]}}),
        );
        assert_eq!(got[5..], ["10.0.0.7", "<none>", "<none>", "1/2"]);
        let got = cells(json!({"spec": {"nodeName": "node-1"}, "status": {}}));
        assert_eq!(got[5..], ["<none>", "node-1", "<none>", "<none>"]);
    }
}
