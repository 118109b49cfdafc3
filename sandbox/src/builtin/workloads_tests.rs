//! Table tests of workload defaulting and validation.

use serde_json::json;

use super::*;

fn errors_of(kind: &str, new: &Value, old: Option<&Value>) -> Vec<String> {
    let mut errors = FieldErrors::default();
    validate_workload(kind, new, old, &mut errors);
    errors.lines()
}

fn deployment(selector: Value, labels: Value) -> Value {
    json!({"metadata": {"name": "web"}, "spec": {"selector": selector,
        "template": {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
}

#[test]
fn deployment_defaults_as_upstream() {
    let mut d = deployment(
        json!({"matchLabels": {"app": "web"}}),
        json!({"app": "web"}),
    );
    default_workload("deployments", &mut d);
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let mut recreate = json!({"spec": {"strategy": {"type": "Recreate"}, "replicas": 0}});
    default_workload("deployments", &mut recreate);
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(recreate["spec"]["replicas"], 0);
}

#[test]
fn other_workload_defaults_as_upstream() {
    let mut s = json!({"spec": {"volumeClaimTemplates": [{"spec": {}}]}});
    default_workload("statefulsets", &mut s);
    assert_eq!(
        s["spec"],
        json!({"podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "replicas": 1, "revisionHistoryLimit": 10,
            "volumeClaimTemplates": [{"spec": {"volumeMode": "Filesystem"}}]})
    );
    let mut d = json!({"spec": {}});
    default_workload("daemonsets", &mut d);
    assert_eq!(
        d["spec"],
        json!({"updateStrategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}, "revisionHistoryLimit": 10})
    );
    let mut j = json!({"metadata": {}, "spec": {"template": {"metadata": {"labels": {"a": "b"}}}}});
    default_workload("jobs", &mut j);
    assert_eq!(
        j,
        json!({"metadata": {"labels": {"a": "b"}}, "spec": {"completions": 1, "parallelism": 1,
            "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": false,
            "podReplacementPolicy": "TerminatingOrFailed",
            "template": {"metadata": {"labels": {"a": "b"}}}}})
    );
    let mut c = json!({"spec": {"schedule": "* * * * *"}});
    default_workload("cronjobs", &mut c);
    assert_eq!(
        c["spec"],
        json!({"schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": false,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1})
    );
}

#[test]
fn workload_errors_carry_upstream_field_paths() {
    let ok = deployment(
        json!({"matchLabels": {"app": "web"}}),
        json!({"app": "web"}),
    );
    let cases = [
        (
            "deployments",
            deployment(Value::Null, json!({"app": "web"})),
            None,
            vec!["spec.selector: Required value"],
        ),
        (
            "deployments",
            deployment(
                json!({"matchLabels": {"app": "api"}}),
                json!({"app": "web"}),
            ),
            None,
            vec![
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
            ],
        ),
        (
            "deployments",
            deployment(json!({}), json!({"app": "web"})),
            None,
            vec!["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
        ),
        (
            "deployments",
            deployment(
                json!({"matchLabels": {"app": "web", "v": "2"}}),
                json!({"app": "web", "v": "2"}),
            ),
            Some(&ok),
            vec![
                "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: field is immutable",
            ],
        ),
        ("deployments", ok.clone(), Some(&ok), vec![]),
    ];
    for (kind, new, old, want) in cases {
        assert_eq!(errors_of(kind, &new, old), want, "{new}");
    }
}

#[test]
fn job_selector_is_generated_and_its_template_immutable() {
    let mut job = json!({"metadata": {"name": "once", "uid": "u-1"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "a", "image": "busybox"}]}}}});
    default_workload("jobs", &mut job);
    generate_job_selector(&mut job);
    assert_eq!(
        job["spec"]["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["job-name"],
        "once"
    );
    assert!(errors_of("jobs", &job, None).is_empty());
    let mut changed = job.clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:2");
    let errors = errors_of("jobs", &changed, Some(&job));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("spec.template: Invalid value: {")
            && errors[0].ends_with("}: field is immutable"),
        "{errors:?}"
    );
    let mut always = job.clone();
    always["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    assert_eq!(
        errors_of("jobs", &always, None),
        [
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        ]
    );
}

#[test]
fn statefulset_updates_are_limited_to_upstream_fields() {
    let set = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "serviceName": "db",
        "replicas": 1, "template": {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "a", "image": "x"}], "restartPolicy": "Always"}}}});
    let mut scaled = set.clone();
    scaled["spec"]["replicas"] = json!(3);
    assert!(errors_of("statefulsets", &scaled, Some(&set)).is_empty());
    let mut renamed = set.clone();
    renamed["spec"]["serviceName"] = json!("other");
    assert_eq!(
        errors_of("statefulsets", &renamed, Some(&set)),
        [
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        ]
    );
}
