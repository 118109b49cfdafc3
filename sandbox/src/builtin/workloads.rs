//! Workloads (`apps/v1` and `batch/v1`): upstream's `SetDefaults_Deployment`, `_StatefulSet`,
//! `_DaemonSet`, `_ReplicaSet`, `_Job`, `_CronJob`, the Job selector the registry generates,
//! and the checks of their validation: selectors that must match the template, restart
//! policies, and the fields that may not change.

use serde_json::{Value, json};

use super::cron;
use super::field_errors::FieldErrors;
use super::pod_spec::{default_pod_spec, validate_pod_spec};
use super::{at_mut, set_default};
use crate::selectors::object_selector_matches;

/// Fills a workload's defaults; `kind` is the plural resource.
pub fn default_workload(kind: &str, object: &mut Value) {
    if !object["spec"].is_object() {
        return;
    }
    let spec = &mut object["spec"];
    match kind {
        "deployments" => {
            set_default(spec, "replicas", json!(1));
            set_default(spec, "strategy", json!({}));
            set_default(&mut spec["strategy"], "type", json!("RollingUpdate"));
            if spec["strategy"]["type"] == "RollingUpdate" {
                set_default(&mut spec["strategy"], "rollingUpdate", json!({}));
                let rolling = &mut spec["strategy"]["rollingUpdate"];
                set_default(rolling, "maxUnavailable", json!("25%"));
                set_default(rolling, "maxSurge", json!("25%"));
            }
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
        }
        "replicasets" => set_default(spec, "replicas", json!(1)),
        "statefulsets" => {
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(spec, "updateStrategy", json!({}));
            if spec["updateStrategy"]["type"]
                .as_str()
                .unwrap_or("")
                .is_empty()
            {
                spec["updateStrategy"]["type"] = json!("RollingUpdate");
                set_default(&mut spec["updateStrategy"], "rollingUpdate", json!({}));
            }
            if spec["updateStrategy"]["type"] == "RollingUpdate"
                && spec["updateStrategy"]["rollingUpdate"].is_object()
            {
                set_default(
                    &mut spec["updateStrategy"]["rollingUpdate"],
                    "partition",
                    json!(0),
                );
            }
            set_default(spec, "persistentVolumeClaimRetentionPolicy", json!({}));
            let retention = &mut spec["persistentVolumeClaimRetentionPolicy"];
            set_default(retention, "whenDeleted", json!("Retain"));
            set_default(retention, "whenScaled", json!("Retain"));
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            for claim in spec["volumeClaimTemplates"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                if claim["spec"].is_object() {
                    set_default(&mut claim["spec"], "volumeMode", json!("Filesystem"));
                }
            }
        }
        "daemonsets" => {
            set_default(spec, "updateStrategy", json!({}));
            set_default(&mut spec["updateStrategy"], "type", json!("RollingUpdate"));
            if spec["updateStrategy"]["type"] == "RollingUpdate" {
                set_default(&mut spec["updateStrategy"], "rollingUpdate", json!({}));
                let rolling = &mut spec["updateStrategy"]["rollingUpdate"];
                set_default(rolling, "maxUnavailable", json!(1));
                set_default(rolling, "maxSurge", json!(0));
            }
            set_default(spec, "revisionHistoryLimit", json!(10));
        }
        "jobs" => default_job(object),
        "cronjobs" => {
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            at_mut(spec, "/jobTemplate/spec/template/spec", default_pod_spec);
            return;
        }
        _ => return,
    }
    at_mut(object, "/spec/template/spec", default_pod_spec);
}

fn default_job(object: &mut Value) {
    let spec = &mut object["spec"];
    if spec["completions"].is_null() && spec["parallelism"].is_null() {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    let replacement = if spec["podFailurePolicy"].is_object() {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_default(spec, "podReplacementPolicy", json!(replacement));
    let template_labels = spec["template"]["metadata"]["labels"].clone();
    if template_labels.is_object()
        && object["metadata"]["labels"]
            .as_object()
            .is_none_or(|l| l.is_empty())
    {
        object["metadata"]["labels"] = template_labels;
    }
}

/// The Job registry's `generateSelector` on create: unless `manualSelector`, the selector is
/// the Job's uid and the template carries the labels it selects.
pub fn generate_job_selector(job: &mut Value) {
    if job["spec"]["manualSelector"] == json!(true) || !job["spec"].is_object() {
        return;
    }
    let uid = job["metadata"]["uid"].clone();
    let name = job["metadata"]["name"].clone();
    let labels = &mut job["spec"]["template"]["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (key, value) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        set_default(labels, key, value.clone());
    }
    if job["spec"]["selector"].is_null() {
        job["spec"]["selector"] =
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    }
}

/// A selector that is required, not empty, and matches the template's labels.
fn validate_selector(spec: &Value, kind_word: &str, errors: &mut FieldErrors) {
    let selector = &spec["selector"];
    if !selector.is_object() {
        errors.required("spec.selector", "");
        return;
    }
    let empty = |f: &str| {
        selector[f].as_object().is_none_or(|m| m.is_empty())
            && selector[f].as_array().is_none_or(|a| a.is_empty())
    };
    if empty("matchLabels") && empty("matchExpressions") {
        errors.invalid(
            "spec.selector",
            selector,
            &format!("empty selector is invalid for {kind_word}"),
        );
        return;
    }
    let labels = &spec["template"]["metadata"]["labels"];
    if !object_selector_matches(selector, labels) {
        errors.invalid(
            "spec.template.metadata.labels",
            labels,
            "`selector` does not match template `labels`",
        );
    }
}

/// Validates a workload (`old` on updates).
pub fn validate_workload(kind: &str, new: &Value, old: Option<&Value>, errors: &mut FieldErrors) {
    let spec = &new["spec"];
    let template = "spec.template.spec";
    match kind {
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" => {
            let word = match kind {
                "deployments" => "deployment",
                "replicasets" => "replicaset",
                "statefulsets" => "statefulset",
                _ => "daemonset",
            };
            validate_selector(spec, word, errors);
            errors.non_negative("spec.replicas", &spec["replicas"]);
            validate_pod_spec(&spec["template"]["spec"], template, errors);
            errors.one_of(
                "spec.template.spec.restartPolicy",
                &spec["template"]["spec"]["restartPolicy"],
                &["Always"],
            );
            if kind == "deployments" {
                validate_strategy(spec, errors);
            }
            if let Some(old) = old {
                if kind == "statefulsets" {
                    validate_statefulset_update(spec, &old["spec"], errors);
                } else {
                    errors.immutable("spec.selector", &spec["selector"], &old["spec"]["selector"]);
                }
            }
        }
        "jobs" => {
            validate_job_spec(spec, "spec", errors);
            if spec["selector"].is_null() {
                errors.required("spec.selector", "");
            } else if !object_selector_matches(
                &spec["selector"],
                &spec["template"]["metadata"]["labels"],
            ) {
                errors.invalid(
                    "spec.template.metadata.labels",
                    &spec["template"]["metadata"]["labels"],
                    "`selector` does not match template `labels`",
                );
            }
            if let Some(old) = old {
                let old = &old["spec"];
                errors.immutable(
                    "spec.completions",
                    &spec["completions"],
                    &old["completions"],
                );
                errors.immutable("spec.selector", &spec["selector"], &old["selector"]);
                errors.immutable("spec.template", &spec["template"], &old["template"]);
            }
        }
        "cronjobs" => {
            validate_cron_schedule(new, old, errors);
            errors.one_of(
                "spec.concurrencyPolicy",
                &spec["concurrencyPolicy"],
                &["Allow", "Forbid", "Replace"],
            );
            validate_job_spec(
                &spec["jobTemplate"]["spec"],
                "spec.jobTemplate.spec",
                errors,
            );
            validate_cron_tail(new, old, errors);
        }
        _ => {}
    }
}

/// `validateCronJobSpec`'s schedule, starting deadline and time zone.
fn validate_cron_schedule(new: &Value, old: Option<&Value>, errors: &mut FieldErrors) {
    let spec = &new["spec"];
    let old_spec = old.map(|o| &o["spec"]);
    match spec["schedule"].as_str() {
        None | Some("") => errors.required("spec.schedule", ""),
        Some(schedule) => {
            if let Err(message) = cron::parse_standard(schedule) {
                errors.invalid("spec.schedule", &spec["schedule"], &message);
            }
            let tz_allowed =
                old_spec.is_some_and(|o| o["schedule"].as_str().unwrap_or("").contains("TZ"));
            if schedule.contains("TZ") {
                if !tz_allowed {
                    errors.invalid(
                        "spec.schedule",
                        &spec["schedule"],
                        "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                    );
                } else if !spec["timeZone"].is_null() {
                    errors.invalid(
                        "spec.schedule",
                        &spec["schedule"],
                        "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                    );
                }
            }
        }
    }
    errors.non_negative(
        "spec.startingDeadlineSeconds",
        &spec["startingDeadlineSeconds"],
    );
    if old_spec.is_none_or(|o| o["timeZone"] != spec["timeZone"])
        && let Some(zone) = spec["timeZone"].as_str()
        && let Some(message) = cron::time_zone_error(zone)
    {
        errors.invalid("spec.timeZone", &spec["timeZone"], &message);
    }
}

/// The rest of `ValidateCronJobCreate`/`Update` after the job template's spec, in upstream's
/// order: the template's generated selector, history limits, and the 52-character name limit
/// on create (the controller appends `-<timestamp>` to name its Jobs).
fn validate_cron_tail(new: &Value, old: Option<&Value>, errors: &mut FieldErrors) {
    let spec = &new["spec"];
    let job = &spec["jobTemplate"]["spec"];
    if !job["selector"].is_null() {
        errors.invalid(
            "spec.jobTemplate.spec.selector",
            &job["selector"],
            "`selector` will be auto-generated",
        );
    }
    if job["manualSelector"] == true {
        errors.not_supported(
            "spec.jobTemplate.spec.manualSelector",
            &job["manualSelector"],
            &["nil", "false"],
        );
    }
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        errors.non_negative(&format!("spec.{field}"), &spec[field]);
    }
    if old.is_none()
        && let Some(name) = new["metadata"]["name"].as_str()
        && name.len() > 52
    {
        errors.invalid(
            "metadata.name",
            &new["metadata"]["name"],
            "must be no more than 52 characters",
        );
    }
}

fn validate_job_spec(spec: &Value, path: &str, errors: &mut FieldErrors) {
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
    ] {
        errors.non_negative(&format!("{path}.{field}"), &spec[field]);
    }
    validate_pod_spec(
        &spec["template"]["spec"],
        &format!("{path}.template.spec"),
        errors,
    );
    let restart = &spec["template"]["spec"]["restartPolicy"];
    if !matches!(restart.as_str(), Some("OnFailure" | "Never")) {
        errors.not_supported(
            &format!("{path}.template.spec.restartPolicy"),
            restart,
            &["OnFailure", "Never"],
        );
    }
}

fn validate_strategy(spec: &Value, errors: &mut FieldErrors) {
    let strategy = &spec["strategy"];
    errors.one_of(
        "spec.strategy.type",
        &strategy["type"],
        &["Recreate", "RollingUpdate"],
    );
    if strategy["type"] == "Recreate" && !strategy["rollingUpdate"].is_null() {
        errors.forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        );
    }
}

/// `ValidateStatefulSetUpdate`: only some fields of a StatefulSet's spec may change.
fn validate_statefulset_update(spec: &Value, old: &Value, errors: &mut FieldErrors) {
    let mutable = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            for field in mutable {
                map.remove(field);
            }
        }
        v
    };
    if strip(spec) != strip(old) {
        errors.forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        );
    }
}

#[cfg(test)]
#[path = "workloads_tests.rs"]
mod tests;
