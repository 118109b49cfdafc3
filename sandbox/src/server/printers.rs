//! Built-in Table printers whose cells are computed rather than read from one path, with
//! the upstream printers' columns (`pkg/printers/internalversion`): Events, ConfigMaps and
//! Secrets.

use serde_json::{Value, json};

use super::table::age;

/// A printer: its columns (name, type, priority) and the cells of one object.
pub struct Printer {
    /// Column definitions in the Table's shape.
    pub columns: Vec<Value>,
    /// The cells of one row.
    pub cells: fn(&Value) -> Vec<Value>,
}

fn column(name: &str, type_: &str, priority: i64) -> Value {
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
        _ => None,
    }
}

/// The age of a timestamp, `<unknown>` without one (as upstream).
fn since(timestamp: &Value) -> Value {
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
