//! Flux's controller metrics: `gotk_reconcile_duration_seconds{kind,name,namespace}`,
//! `gotk_reconcile_condition{kind,name,namespace,type,status}` and
//! `gotk_suspend_status{kind,name,namespace}`, the reconcile counters Flux's dashboards read
//! (`controller_runtime_reconcile_total{controller,result}`,
//! `controller_runtime_reconcile_errors_total{controller}`), and failures by reason
//! (`gotk_reconcile_failures_total{kind,reason}`), encoded in the OpenMetrics text format.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Identifies one object in the metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    /// Kind of the object.
    pub kind: String,
    /// Name of the object.
    pub name: String,
    /// Namespace of the object.
    pub namespace: String,
}

/// One condition status of one object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    /// Kind of the object.
    pub kind: String,
    /// Name of the object.
    pub name: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Condition type.
    pub r#type: String,
    /// `True`, `False`, `Unknown` or `Deleted`.
    pub status: String,
}

/// One controller and the result of a reconcile (`success` or `error`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// The controller of the kind (its lower-case kind, as controller-runtime names it).
    pub controller: String,
    /// `success` or `error`.
    pub result: String,
}

/// One controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// The controller of the kind.
    pub controller: String,
}

/// A failure reason of one kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// Kind of the object.
    pub kind: String,
    /// The error's metric label.
    pub reason: String,
}

type HistogramFamily = Family<ObjectLabels, Histogram, fn() -> Histogram>;

fn reconcile_histogram() -> Histogram {
    // Flux: prometheus.ExponentialBuckets(10e-9, 10, 10).
    Histogram::new(exponential_buckets(10e-9, 10.0, 10))
}

/// The registry and the metric families of one controller.
pub struct Metrics {
    registry: Registry,
    reconcile_duration: HistogramFamily,
    condition: Family<ConditionLabels, Gauge>,
    suspend: Family<ObjectLabels, Gauge>,
    reconciles: Family<ResultLabels, Counter>,
    errors: Family<ControllerLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    drift: Family<ObjectLabels, Gauge>,
}

impl Metrics {
    /// Creates and registers the families.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let reconcile_duration: HistogramFamily = Family::new_with_constructor(reconcile_histogram);
        let condition = Family::<ConditionLabels, Gauge>::default();
        let suspend = Family::<ObjectLabels, Gauge>::default();
        registry.register(
            "gotk_reconcile_duration_seconds",
            "The duration in seconds of a GitOps Toolkit resource reconciliation.",
            reconcile_duration.clone(),
        );
        registry.register(
            "gotk_reconcile_condition",
            "The current condition status of a GitOps Toolkit resource reconciliation.",
            condition.clone(),
        );
        registry.register(
            "gotk_suspend_status",
            "The current suspend status of a GitOps Toolkit resource.",
            suspend.clone(),
        );
        let reconciles = Family::<ResultLabels, Counter>::default();
        let errors = Family::<ControllerLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller.",
            reconciles.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller.",
            errors.clone(),
        );
        registry.register(
            "gotk_reconcile_failures",
            "Failed reconciliations of a GitOps Toolkit kind, by reason.",
            failures.clone(),
        );
        let drift = Family::<ObjectLabels, Gauge>::default();
        registry.register(
            "rill_drift_objects",
            "Objects of a Rill Kustomization whose live state drifted from its last applied build and is not corrected yet.",
            drift.clone(),
        );
        Arc::new(Self {
            registry,
            reconcile_duration,
            condition,
            suspend,
            reconciles,
            errors,
            failures,
            drift,
        })
    }

    /// Starts timing a reconcile; the duration is recorded when the timer is dropped, so every
    /// exit path is measured.
    pub fn reconcile_timer(
        self: &Arc<Self>,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> ReconcileTimer {
        ReconcileTimer {
            metrics: self.clone(),
            labels: ObjectLabels {
                kind: kind.into(),
                name: name.into(),
                namespace: namespace.into(),
            },
            start: Instant::now(),
        }
    }

    /// Records the conditions of an object: 1 for each type's current status, 0 for the others.
    /// With `deleted`, only the `Deleted` status is 1.
    pub fn record_conditions(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        conditions: &[Condition],
        deleted: bool,
    ) {
        for condition in conditions {
            for status in ["True", "False", "Unknown", "Deleted"] {
                let current = if deleted {
                    status == "Deleted"
                } else {
                    condition.status == status
                };
                let labels = ConditionLabels {
                    kind: kind.into(),
                    name: name.into(),
                    namespace: namespace.into(),
                    r#type: condition.type_.clone(),
                    status: status.into(),
                };
                self.condition
                    .get_or_create(&labels)
                    .set(i64::from(current));
            }
        }
    }

    /// Records whether an object is suspended.
    pub fn record_suspend(&self, kind: &str, namespace: &str, name: &str, suspended: bool) {
        let labels = ObjectLabels {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
        };
        self.suspend
            .get_or_create(&labels)
            .set(i64::from(suspended));
    }

    /// Records how many objects of an object (a Kustomization) drifted from what it applied.
    pub fn record_drift(&self, kind: &str, namespace: &str, name: &str, objects: usize) {
        let labels = ObjectLabels {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
        };
        self.drift
            .get_or_create(&labels)
            .set(i64::try_from(objects).unwrap_or(i64::MAX));
    }

    /// Counts one reconcile of `kind`: a success, or a failure labelled `failure`.
    pub fn record_result(&self, kind: &str, failure: Option<&str>) {
        let controller = kind.to_ascii_lowercase();
        let result = if failure.is_some() {
            "error"
        } else {
            "success"
        };
        self.reconciles
            .get_or_create(&ResultLabels {
                controller: controller.clone(),
                result: result.into(),
            })
            .inc();
        if let Some(reason) = failure {
            self.errors
                .get_or_create(&ControllerLabels { controller })
                .inc();
            self.failures
                .get_or_create(&FailureLabels {
                    kind: kind.into(),
                    reason: reason.into(),
                })
                .inc();
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Records the reconcile duration when dropped.
pub struct ReconcileTimer {
    metrics: Arc<Metrics>,
    labels: ObjectLabels,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        let seconds = self.start.elapsed().as_secs_f64();
        self.metrics
            .reconcile_duration
            .get_or_create(&self.labels)
            .observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_timer_is_recorded_with_fluxs_labels() {
        let metrics = Metrics::new();
        {
            let _timer = metrics.reconcile_timer("GitRepository", "flux-system", "podinfo");
        }
        let text = metrics.encode();
        assert!(
            text.contains(r#"gotk_reconcile_duration_seconds_count{kind="GitRepository",name="podinfo",namespace="flux-system"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn results_and_failures_are_counted_by_controller_and_reason() {
        let metrics = Metrics::new();
        metrics.record_result("GitRepository", None);
        metrics.record_result("GitRepository", Some("auth"));
        metrics.record_result("GitRepository", Some("auth"));
        let text = metrics.encode();
        for line in [
            r#"controller_runtime_reconcile_total{controller="gitrepository",result="success"} 1"#,
            r#"controller_runtime_reconcile_total{controller="gitrepository",result="error"} 2"#,
            r#"controller_runtime_reconcile_errors_total{controller="gitrepository"} 2"#,
            r#"gotk_reconcile_failures_total{kind="GitRepository",reason="auth"} 2"#,
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
    }

    #[test]
    fn conditions_and_suspend_are_gauges() {
        let metrics = Metrics::new();
        let ready = Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Succeeded".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::UNIX_EPOCH,
            ),
        };
        metrics.record_conditions("Kustomization", "apps", "web", &[ready], false);
        metrics.record_suspend("Kustomization", "apps", "web", true);
        metrics.record_drift("Kustomization", "apps", "web", 3);
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"rill_drift_objects{kind="Kustomization",name="web",namespace="apps"} 3"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"gotk_reconcile_condition{kind="Kustomization",name="web",namespace="apps",type="Ready",status="True"} 1"#), "{text}");
        assert!(text.contains(r#"gotk_reconcile_condition{kind="Kustomization",name="web",namespace="apps",type="Ready",status="False"} 0"#), "{text}");
        assert!(
            text.contains(
                r#"gotk_suspend_status{kind="Kustomization",name="web",namespace="apps"} 1"#
            ),
            "{text}"
        );
    }
}
