//! Events the simulated cluster controllers emit: Normal core/v1 Events about an object, as
//! client-go's event recorder writes them (`<name>.<suffix>`, count 1, source component).

use serde_json::{Value, json};

use crate::server::ApiServer;
use crate::server::meta::{new_uid, now};
use crate::store::ObjectKey;

/// Records a Normal Event from `component` about `object` (of `kind`).
pub fn record(
    api: &ApiServer,
    object: &Value,
    kind: &str,
    component: &str,
    reason: &str,
    message: &str,
) {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = new_uid();
    let event_name = format!("{name}.{}", &uid[..8]);
    let t = now();
    let event = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": event_name, "namespace": namespace, "uid": uid, "creationTimestamp": t},
        "involvedObject": {"apiVersion": object["apiVersion"], "kind": kind, "name": name,
            "namespace": namespace, "uid": object["metadata"]["uid"],
            "resourceVersion": object["metadata"]["resourceVersion"]},
        "reason": reason, "message": message, "type": "Normal", "count": 1,
        "firstTimestamp": t, "lastTimestamp": t,
        "source": {"component": component},
        "reportingComponent": component, "reportingInstance": ""});
    let key = ObjectKey::new("", "events", namespace, &event_name);
    api.store.write(|tx| {
        tx.put(key.clone(), event);
    });
}
