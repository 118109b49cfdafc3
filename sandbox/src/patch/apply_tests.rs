//! Server-side apply table: managers, conflicts, force, ownership transfer, removal of fields
//! a manager stopped applying, list-map merges and status applies.

use serde_json::{Value, json};

use super::*;
use crate::resources::builtin_types;

fn configmaps() -> ResourceType {
    builtin_types()
        .into_iter()
        .find(|t| t.plural == "configmaps")
        .unwrap()
}

fn deployments() -> ResourceType {
    builtin_types()
        .into_iter()
        .find(|t| t.plural == "deployments")
        .unwrap()
}

fn apply(
    live: Option<&Value>,
    config: Value,
    rt: &ResourceType,
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    let params = ApplyParams {
        manager,
        force,
        status_endpoint: false,
        api_version: &rt.api_version(),
        now: "2025-01-01T00:00:00Z",
    };
    server_side_apply(live, &config, rt, &params)
}

fn cm(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "a"}, "data": data})
}

fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["manager"].as_str().unwrap(),
                e["operation"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn two_managers_share_equal_values_and_conflict_on_different_ones() {
    let rt = configmaps();
    let live = apply(None, cm(json!({"a": "1", "b": "2"})), &rt, "flux", false).unwrap();
    let shared = apply(Some(&live), cm(json!({"a": "1"})), &rt, "other", false).unwrap();
    assert_eq!(managers(&shared), ["flux/Apply", "other/Apply"]);

    let err = apply(
        Some(&shared),
        cm(json!({"a": "changed"})),
        &rt,
        "other",
        false,
    )
    .unwrap_err();
    assert_eq!((err.code, err.reason), (409, "Conflict"));
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"flux\": .data.a"
    );
    assert_eq!(err.details.unwrap()["causes"][0]["field"], ".data.a");
}

#[test]
fn force_transfers_ownership() {
    let rt = configmaps();
    let live = apply(None, cm(json!({"a": "1", "b": "2"})), &rt, "flux", false).unwrap();
    let forced = apply(Some(&live), cm(json!({"a": "mine"})), &rt, "other", true).unwrap();
    assert_eq!(forced["data"], json!({"a": "mine", "b": "2"}));
    // flux no longer owns .data.a: re-applying its old config now conflicts the other way.
    let err = apply(
        Some(&forced),
        cm(json!({"a": "1", "b": "2"})),
        &rt,
        "flux",
        false,
    )
    .unwrap_err();
    assert!(
        err.message.contains("conflict with \"other\": .data.a"),
        "{}",
        err.message
    );
}

#[test]
fn fields_a_manager_stops_applying_are_removed_unless_someone_else_owns_them() {
    let rt = configmaps();
    let live = apply(
        None,
        cm(json!({"a": "1", "b": "2", "c": "3"})),
        &rt,
        "flux",
        false,
    )
    .unwrap();
    let live = apply(Some(&live), cm(json!({"c": "3"})), &rt, "other", false).unwrap();
    let reapplied = apply(Some(&live), cm(json!({"a": "1"})), &rt, "flux", false).unwrap();
    assert_eq!(
        reapplied["data"],
        json!({"a": "1", "c": "3"}),
        "b is gone, c is kept for its other owner"
    );
}

#[test]
fn updates_by_other_writers_survive_reapply() {
    let rt = configmaps();
    let live = apply(None, cm(json!({"a": "1"})), &rt, "flux", false).unwrap();
    let mut edited = live.clone();
    edited["data"]["extra"] = json!("kubectl edit");
    record_update(
        Some(&live),
        &mut edited,
        &rt,
        "kubectl-edit",
        "v1",
        false,
        "2025-01-01T00:00:01Z",
    );
    assert_eq!(managers(&edited), ["flux/Apply", "kubectl-edit/Update"]);
    let reapplied = apply(Some(&edited), cm(json!({"a": "1"})), &rt, "flux", false).unwrap();
    assert_eq!(reapplied["data"]["extra"], "kubectl edit");
    // A conflict with an Update manager names its API version.
    let err = apply(Some(&edited), cm(json!({"extra": "x"})), &rt, "flux", false).unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.extra"
    );
}

fn deploy(containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "a"},
           "spec": {"template": {"spec": {"containers": containers}}}})
}

#[test]
fn containers_ports_and_env_merge_by_key() {
    let rt = deployments();
    let base = deploy(
        json!([{"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}]),
    );
    let live = apply(None, base, &rt, "flux", false).unwrap();
    let sidecar = deploy(
        json!([{"name": "side", "image": "envoy"}, {"name": "app", "env": [{"name": "B", "value": "2"}]}]),
    );
    let merged = apply(Some(&live), sidecar, &rt, "mesh", false).unwrap();
    let containers = &merged["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().unwrap().len(), 2);
    assert_eq!(containers[0]["image"], "nginx:1");
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(containers[0]["ports"], json!([{"containerPort": 80}]));
    let fields = &merged["metadata"]["managedFields"][0]["fieldsV1"];
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:ports"]
            ["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]
            .is_object(),
        "{fields}"
    );

    // flux drops env A: only its own entry goes; the mesh's env B and sidecar stay.
    let reapplied = apply(
        Some(&merged),
        deploy(json!([{"name": "app", "image": "nginx:2", "ports": [{"containerPort": 80}]}])),
        &rt,
        "flux",
        false,
    )
    .unwrap();
    let containers = &reapplied["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["env"], json!([{"name": "B", "value": "2"}]));
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(containers[1]["name"], "side");
}

#[test]
fn status_applies_touch_only_status_and_record_the_subresource() {
    let mut rt = configmaps();
    rt.status_subresource = true;
    let live = apply(None, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "a"}, "data": {"a": "1"}, "status": {"ignored": true}}), &rt, "flux", false).unwrap();
    assert!(
        live.get("status").is_none(),
        "the main endpoint ignores status"
    );
    let params = ApplyParams {
        manager: "ctrl",
        force: true,
        status_endpoint: true,
        api_version: "v1",
        now: "2025-01-01T00:00:00Z",
    };
    let with_status = server_side_apply(Some(&live), &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "status": {"ready": true}, "data": {"a": "no"}}), &rt, &params).unwrap();
    assert_eq!(with_status["status"], json!({"ready": true}));
    assert_eq!(with_status["data"]["a"], "1");
    let entry = &with_status["metadata"]["managedFields"][1];
    assert_eq!(
        (entry["manager"].as_str(), entry["subresource"].as_str()),
        (Some("ctrl"), Some("status"))
    );
}

#[test]
fn removing_the_last_label_removes_the_empty_map() {
    let rt = configmaps();
    let with_label = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "labels": {"app": "x"}}, "data": {"a": "1"}});
    let live = apply(None, with_label, &rt, "flux", false).unwrap();
    let without = apply(Some(&live), cm(json!({"a": "1"})), &rt, "flux", false).unwrap();
    assert!(without["metadata"].get("labels").is_none(), "{without}");
}
