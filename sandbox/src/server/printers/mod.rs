//! Built-in Table printers whose cells are computed rather than read from one path, with
//! the upstream printers' columns (`pkg/printers/internalversion`): Events, ConfigMaps,
//! Secrets, Services and ServiceAccounts here; Pods in `pods.rs`, Nodes in `nodes.rs`, workloads and storage in
//! `workloads.rs`, bindings and Leases in `access.rs`.

mod access;
mod nodes;
mod pods;
mod workloads;

use serde_json::{Value, json};

use super::table::age;

/// A printer: its columns (name, type, priority) and the cells of one object.
pub struct Printer {
    /// Column definitions in the Table's shape.
    pub columns: Vec<Value>,
    /// The cells of one row.
    pub cells: fn(&Value) -> Vec<Value>,
}

pub(super) fn column(name: &str, type_: &str, priority: i64) -> Value {
    json!({"name": name, "type": type_, "format": if name == "Name" { "name" } else { "" }, "description": "", "priority": priority})
}

/// The printer of a built-in resource, when it has one here.
pub fn builtin(group: &str, plural: &str) -> Option<Printer> {
    match (group, plural) {
        ("", "events") => Some(Printer {
            columns: vec![
                column("Last Seen", "string", 0),
                column("Type", "string", 0),
                column("Reason", "string", 0),
                column("Object", "string", 0),
                column("Subobject", "string", 1),
                column("Source", "string", 1),
                column("Message", "string", 0),
                column("First Seen", "string", 1),
                column("Count", "string", 1),
                column("Name", "string", 1),
            ],
            cells: event_cells,
        }),
        ("", "pods") => Some(pods::printer()),
        ("", "nodes") => Some(nodes::printer()),
        ("", "configmaps") => Some(Printer {
            columns: vec![
                column("Name", "string", 0),
                column("Data", "string", 0),
                column("Age", "string", 0),
            ],
            cells: |o| {
                let count = |f: &str| o[f].as_object().map_or(0, |m| m.len());
                vec![
                    o["metadata"]["name"].clone(),
                    json!(count("data") + count("binaryData")),
                    since(&o["metadata"]["creationTimestamp"]),
                ]
            },
        }),
        ("", "secrets") => Some(Printer {
            columns: vec![
                column("Name", "string", 0),
                column("Type", "string", 0),
                column("Data", "string", 0),
                column("Age", "string", 0),
            ],
            cells: |o| {
                vec![
                    o["metadata"]["name"].clone(),
                    json!(o["type"].as_str().unwrap_or_default()),
                    json!(o["data"].as_object().map_or(0, |m| m.len())),
                    since(&o["metadata"]["creationTimestamp"]),
                ]
            },
        }),
        ("", "services") => Some(Printer {
            columns: vec![
                column("Name", "string", 0),
                column("Type", "string", 0),
                column("Cluster-IP", "string", 0),
                column("External-IP", "string", 0),
                column("Port(s)", "string", 0),
                column("Age", "string", 0),
                column("Selector", "string", 1),
            ],
            cells: service_cells,
        }),
        ("", "serviceaccounts") => Some(Printer {
            columns: vec![
                column("Name", "string", 0),
                column("Secrets", "string", 0),
                column("Age", "string", 0),
            ],
            cells: |o| {
                vec![
                    o["metadata"]["name"].clone(),
                    json!(o["secrets"].as_array().map_or(0, Vec::len)),
                    since(&o["metadata"]["creationTimestamp"]),
                ]
            },
        }),
        _ => workloads::builtin(group, plural).or_else(|| access::builtin(group, plural)),
    }
}

fn texts(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Upstream's `printService`: the external IPs by type (`<pending>` for a load balancer
/// without ingress), ports as `port[:nodePort]/protocol`, the selector as `k=v,...`.
fn service_cells(o: &Value) -> Vec<Value> {
    let spec = &o["spec"];
    let type_ = spec["type"].as_str().unwrap_or("ClusterIP");
    let cluster_ip = spec["clusterIP"]
        .as_str()
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let external_ips = texts(&spec["externalIPs"]);
    let external = match type_ {
        "ExternalName" => spec["externalName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        "LoadBalancer" => {
            let mut ips: Vec<String> = o["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["ip"].as_str().or_else(|| i["hostname"].as_str()))
                .map(str::to_string)
                .collect();
            ips.extend(external_ips);
            if ips.is_empty() {
                "<pending>".to_string()
            } else {
                ips.join(",")
            }
        }
        _ if external_ips.is_empty() => "<none>".to_string(),
        _ => external_ips.join(","),
    };
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            let port = p["port"].as_i64().unwrap_or(0);
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(node) => format!("{port}:{node}/{protocol}"),
                None => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let mut selector: Vec<String> = spec["selector"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    selector.sort();
    let or_none = |list: Vec<String>| {
        if list.is_empty() {
            "<none>".to_string()
        } else {
            list.join(",")
        }
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(type_),
        json!(cluster_ip),
        json!(external),
        json!(or_none(ports)),
        since(&o["metadata"]["creationTimestamp"]),
        json!(or_none(selector)),
    ]
}

/// The age of a timestamp, `<unknown>` without one (as upstream).
pub(super) fn since(timestamp: &Value) -> Value {
    match timestamp.as_str().filter(|t| !t.is_empty()) {
        Some(t) => json!(age(t)),
        None => json!("<unknown>"),
    }
}

/// Upstream's `printEvent`: first/last seen fall back on `eventTime` and each other, a series
/// gives the last time and count, the object is `kind/name` in lower-case kind.
fn event_cells(o: &Value) -> Vec<Value> {
    let present = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
    let first = if present(&o["firstTimestamp"]) {
        since(&o["firstTimestamp"])
    } else {
        since(&o["eventTime"])
    };
    let mut last = if present(&o["lastTimestamp"]) {
        since(&o["lastTimestamp"])
    } else {
        first.clone()
    };
    let mut count = o["count"].as_i64().unwrap_or(0);
    if o["series"].is_object() {
        last = since(&o["series"]["lastObservedTime"]);
        count = o["series"]["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let involved = &o["involvedObject"];
    let kind = involved["kind"].as_str().unwrap_or_default().to_lowercase();
    let target = match involved["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let first_non_empty = |a: &Value, b: &Value| {
        let a = text(a);
        if a.is_empty() { text(b) } else { a }
    };
    let component = first_non_empty(&o["source"]["component"], &o["reportingComponent"]);
    let instance = first_non_empty(&o["source"]["host"], &o["reportingInstance"]);
    let source = match (component.is_empty(), instance.is_empty()) {
        (true, _) => String::new(),
        (false, true) => component,
        (false, false) => format!("{component}, {instance}"),
    };
    vec![
        last,
        json!(text(&o["type"])),
        json!(text(&o["reason"])),
        json!(target),
        json!(text(&involved["fieldPath"])),
        json!(source),
        json!(text(&o["message"]).trim()),
        first,
        json!(count),
        o["metadata"]["name"].clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_rows_follow_the_upstream_printer() {
        let cases = [
            (
                json!({"metadata": {"name": "web"}, "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                    "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"b": "2", "a": "1"}}}),
                [
                    "ClusterIP",
                    "10.96.0.10",
                    "<none>",
                    "80/TCP,53/UDP",
                    "a=1,b=2",
                ],
            ),
            (
                json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11",
                    "ports": [{"port": 443, "nodePort": 30443}]}}),
                [
                    "LoadBalancer",
                    "10.96.0.11",
                    "<pending>",
                    "443:30443/TCP",
                    "<none>",
                ],
            ),
            (
                json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
                [
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "<none>",
                ],
            ),
            (
                json!({"metadata": {"name": "lb2"}, "spec": {"type": "LoadBalancer", "clusterIP": "None"},
                    "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}}),
                ["LoadBalancer", "None", "203.0.113.7", "<none>", "<none>"],
            ),
        ];
        for (service, want) in cases {
            let cells = service_cells(&service);
            let got: Vec<&str> = [1, 2, 3, 4, 6]
                .iter()
                .map(|i| cells[*i].as_str().unwrap_or_default())
                .collect();
            assert_eq!(got, want, "{service}");
        }
    }

    #[test]
    fn event_rows_follow_the_upstream_printer() {
        let printer = builtin("", "events").unwrap_or_else(|| panic!("no event printer"));
        let event = json!({"metadata": {"name": "app.1"}, "type": "Normal", "reason": "ReconciliationSucceeded",
            "involvedObject": {"kind": "Kustomization", "name": "app"}, "message": " Applied \n",
            "reportingComponent": "kustomize-controller", "eventTime": "2020-01-01T00:00:00.000000Z"});
        let cells = (printer.cells)(&event);
        assert_eq!(cells.len(), printer.columns.len());
        assert_eq!(cells[0], cells[7], "last seen falls back on first seen");
        assert_eq!(cells[3], json!("kustomization/app"));
        assert_eq!(cells[5], json!("kustomize-controller"));
        assert_eq!(cells[6], json!("Applied"));
        assert_eq!(cells[8], json!(1));
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": ""}});
        let cells = (builtin("", "configmaps")
            .unwrap_or_else(|| panic!("no printer"))
            .cells)(&cm);
        assert_eq!(cells[1], json!(2));
        assert_eq!(cells[2], json!("<unknown>"));
    }
}
