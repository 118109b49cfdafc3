//! Pod specs (Pods and every workload's template): upstream's `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, probes, volumes and ports, and the checks of `ValidatePodSpec`
//! our users meet first (containers, names, images, ports, policies).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::field_errors::{DNS1123_LABEL_MESSAGE, FieldErrors};
use super::{list_mut, set_default};
use crate::server::meta::is_dns_label as is_dns1123_label;

const CONTAINER_LISTS: [&str; 2] = ["initContainers", "containers"];

/// The tag of an image reference (`parsers.ParseImageName`): `latest` when neither tag nor
/// digest is given.
fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or_default();
    let has_digest = image.contains('@');
    let last = without_digest.rsplit('/').next().unwrap_or_default();
    match last.split_once(':') {
        Some((_, tag)) => Some(tag),
        None if has_digest => None,
        None => Some("latest"),
    }
}

/// `SetDefaults_Container` plus the defaults of its probes and ports.
fn default_container(container: &mut Value) {
    if !container.is_object() {
        return;
    }
    let policy = match container["image"].as_str().map(image_tag) {
        Some(Some("latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    };
    set_default(container, "imagePullPolicy", json!(policy));
    set_default(
        container,
        "terminationMessagePath",
        json!("/dev/termination-log"),
    );
    set_default(container, "terminationMessagePolicy", json!("File"));
    set_default(container, "resources", json!({}));
    for port in list_mut(container, "ports") {
        set_default(port, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = container.get_mut(probe).filter(|p| p.is_object()) else {
            continue;
        };
        for (field, value) in [
            ("timeoutSeconds", 1),
            ("periodSeconds", 10),
            ("successThreshold", 1),
            ("failureThreshold", 3),
        ] {
            if probe[field].as_i64().unwrap_or(0) == 0 {
                probe[field] = json!(value);
            }
        }
        if probe["httpGet"].is_object() {
            set_default(&mut probe["httpGet"], "path", json!("/"));
            set_default(&mut probe["httpGet"], "scheme", json!("HTTP"));
        }
    }
    for env in list_mut(container, "env") {
        if env["valueFrom"]["fieldRef"].is_object() {
            set_default(&mut env["valueFrom"]["fieldRef"], "apiVersion", json!("v1"));
        }
    }
}

/// `SetDefaults_Volume` and the volume sources' default modes.
fn default_volume(volume: &mut Value) {
    let Some(map) = volume.as_object_mut() else {
        return;
    };
    if map.keys().all(|k| k == "name") {
        map.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if map.get(source).is_some_and(Value::is_object) {
            set_default(&mut map[source], "defaultMode", json!(420));
        }
    }
    if map.get("hostPath").is_some_and(Value::is_object) {
        set_default(&mut map["hostPath"], "type", json!(""));
    }
    if let Some(sources) = map
        .get_mut("projected")
        .and_then(|p| p.get_mut("sources"))
        .and_then(Value::as_array_mut)
    {
        for source in sources {
            if source["serviceAccountToken"].is_object() {
                set_default(
                    &mut source["serviceAccountToken"],
                    "expirationSeconds",
                    json!(3600),
                );
            }
        }
    }
}

/// `SetDefaults_PodSpec` and everything below it, for a spec at any depth.
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in CONTAINER_LISTS {
        for container in list_mut(spec, list) {
            default_container(container);
        }
    }
    for volume in list_mut(spec, "volumes") {
        default_volume(volume);
    }
}

/// `SetDefaults_Pod` on top of the spec's defaults: requests default to limits, service
/// links enabled, and what the ServiceAccount and Priority admission plugins add.
pub fn default_pod(spec: &mut Value) {
    default_pod_spec(spec);
    if !spec.is_object() {
        return;
    }
    for list in CONTAINER_LISTS {
        for container in list_mut(spec, list) {
            let Some(limits) = container["resources"]["limits"].as_object().cloned() else {
                continue;
            };
            if !container["resources"]["requests"].is_object() {
                container["resources"]["requests"] = json!({});
            }
            for (key, value) in limits {
                set_default(&mut container["resources"]["requests"], &key, value);
            }
        }
    }
    set_default(spec, "enableServiceLinks", json!(true));
    set_default(spec, "serviceAccountName", json!("default"));
    let account = spec["serviceAccountName"].clone();
    set_default(spec, "serviceAccount", account);
    set_default(spec, "priority", json!(0));
    set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// The checks of `ValidatePodSpec` for the spec at `path` (`spec.template.spec`).
pub fn validate_pod_spec(spec: &Value, path: &str, errors: &mut FieldErrors) {
    let containers = spec["containers"].as_array().map_or(&[][..], Vec::as_slice);
    if containers.is_empty() {
        errors.required(&format!("{path}.containers"), "");
    }
    let mut names = BTreeSet::new();
    for list in CONTAINER_LISTS {
        for (i, container) in spec[list].as_array().into_iter().flatten().enumerate() {
            let at = format!("{path}.{list}[{i}]");
            validate_container(container, &at, &mut names, errors);
        }
    }
    errors.one_of(
        &format!("{path}.restartPolicy"),
        &spec["restartPolicy"],
        &["Always", "OnFailure", "Never"],
    );
    errors.one_of(
        &format!("{path}.dnsPolicy"),
        &spec["dnsPolicy"],
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    );
    errors.non_negative(
        &format!("{path}.terminationGracePeriodSeconds"),
        &spec["terminationGracePeriodSeconds"],
    );
    let mut volumes = BTreeSet::new();
    for (i, volume) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let field = format!("{path}.volumes[{i}].name");
        match volume["name"].as_str() {
            None | Some("") => errors.required(&field, ""),
            Some(name) if !volumes.insert(name.to_string()) => {
                errors.duplicate(&field, &volume["name"]);
            }
            Some(name) if !is_dns1123_label(name) => {
                errors.invalid(&field, &volume["name"], DNS1123_LABEL_MESSAGE);
            }
            Some(_) => {}
        }
    }
}

fn validate_container(
    container: &Value,
    at: &str,
    names: &mut BTreeSet<String>,
    errors: &mut FieldErrors,
) {
    let name_field = format!("{at}.name");
    match container["name"].as_str() {
        None | Some("") => errors.required(&name_field, ""),
        Some(name) if !is_dns1123_label(name) => {
            errors.invalid(&name_field, &container["name"], DNS1123_LABEL_MESSAGE);
        }
        Some(name) if !names.insert(name.to_string()) => {
            errors.duplicate(&name_field, &container["name"]);
        }
        Some(_) => {}
    }
    if container["image"]
        .as_str()
        .is_none_or(|i| i.trim().is_empty())
    {
        errors.required(&format!("{at}.image"), "");
    }
    errors.one_of(
        &format!("{at}.imagePullPolicy"),
        &container["imagePullPolicy"],
        &["Always", "IfNotPresent", "Never"],
    );
    errors.one_of(
        &format!("{at}.terminationMessagePolicy"),
        &container["terminationMessagePolicy"],
        &["File", "FallbackToLogsOnError"],
    );
    let mut port_names = BTreeSet::new();
    for (j, port) in container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let p = format!("{at}.ports[{j}]");
        errors.port_number(&format!("{p}.containerPort"), &port["containerPort"], false);
        errors.port_number(&format!("{p}.hostPort"), &port["hostPort"], true);
        errors.one_of(
            &format!("{p}.protocol"),
            &port["protocol"],
            &["SCTP", "TCP", "UDP"],
        );
        if let Some(name) = port["name"].as_str()
            && !name.is_empty()
            && !port_names.insert(name.to_string())
        {
            errors.duplicate(&format!("{p}.name"), &port["name"]);
        }
    }
}

/// `ValidatePodUpdate`: a Pod's spec may change only in its images, `activeDeadlineSeconds`,
/// added tolerations and `terminationGracePeriodSeconds`.
pub fn validate_pod_update(spec: &Value, old: &Value, errors: &mut FieldErrors) {
    let mut comparable = spec.clone();
    for list in CONTAINER_LISTS {
        let old_images: Vec<Value> = old[list]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["image"].clone())
            .collect();
        let new_list = list_mut(&mut comparable, list);
        for (container, image) in new_list.zip(old_images) {
            container["image"] = image;
        }
    }
    let old_tolerations = old["tolerations"].as_array().cloned().unwrap_or_default();
    let new_tolerations = spec["tolerations"].as_array().cloned().unwrap_or_default();
    let only_added = old_tolerations.iter().all(|t| new_tolerations.contains(t));
    for field in [
        "activeDeadlineSeconds",
        "terminationGracePeriodSeconds",
        "tolerations",
    ] {
        if field == "tolerations" && !only_added {
            continue;
        }
        match old.get(field) {
            Some(value) => comparable[field] = value.clone(),
            None => {
                if let Some(map) = comparable.as_object_mut() {
                    map.remove(field);
                }
            }
        }
    }
    if &comparable != old {
        errors.forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry:5000/team/app", "Always"),
            ("registry:5000/team/app:v2", "IfNotPresent"),
            ("app@sha256:abc", "IfNotPresent"),
            ("app:latest@sha256:abc", "Always"),
        ] {
            let mut spec = json!({"containers": [{"name": "a", "image": image}]});
            default_pod_spec(&mut spec);
            assert_eq!(spec["containers"][0]["imagePullPolicy"], policy, "{image}");
        }
    }

    #[test]
    fn pod_spec_defaults_as_upstream() {
        let mut spec = json!({
            "containers": [{"name": "a", "image": "app:1", "imagePullPolicy": "Never",
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
            "volumes": [{"name": "s", "secret": {"secretName": "x"}}, {"name": "e"}],
        });
        default_pod_spec(&mut spec);
        assert_eq!(
            spec,
            json!({
                "containers": [{"name": "a", "image": "app:1", "imagePullPolicy": "Never",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                        "failureThreshold": 3},
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name",
                        "apiVersion": "v1"}}}],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "resources": {}}],
                "volumes": [{"name": "s", "secret": {"secretName": "x", "defaultMode": 420}},
                    {"name": "e", "emptyDir": {}}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {},
                "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
            })
        );
    }

    #[test]
    fn pod_spec_errors_carry_upstream_field_paths() {
        let cases = [
            (json!({}), vec!["s.containers: Required value"]),
            (
                json!({"containers": [{"name": "a"}, {"name": "a", "image": "x"}]}),
                vec![
                    "s.containers[0].image: Required value",
                    "s.containers[1].name: Duplicate value: \"a\"",
                ],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 0}]}],
                    "restartPolicy": "Sometimes"}),
                vec![
                    "s.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive",
                    "s.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"containers": [{"name": "A_b", "image": "x"}]}),
                vec![
                    "s.containers[0].name: Invalid value: \"A_b\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                ],
            ),
        ];
        for (spec, want) in cases {
            let mut errors = FieldErrors::default();
            validate_pod_spec(&spec, "s", &mut errors);
            assert_eq!(errors.lines(), want, "{spec}");
        }
    }

    #[test]
    fn pod_specs_change_only_where_upstream_allows() {
        let old =
            json!({"containers": [{"name": "a", "image": "app:1"}], "restartPolicy": "Always"});
        let mut errors = FieldErrors::default();
        validate_pod_update(
            &json!({"containers": [{"name": "a", "image": "app:2"}], "restartPolicy": "Always",
            "activeDeadlineSeconds": 30, "tolerations": [{"key": "k", "operator": "Exists"}]}),
            &old,
            &mut errors,
        );
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        validate_pod_update(
            &json!({"containers": [{"name": "a", "image": "app:1"}], "restartPolicy": "Never"}),
            &old,
            &mut errors,
        );
        assert_eq!(errors.0.len(), 1);
        assert!(
            errors.0[0]
                .message
                .starts_with("Forbidden: pod updates may not change fields other than")
        );
    }
}
