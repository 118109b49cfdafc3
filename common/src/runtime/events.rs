//! Kubernetes events, emitted only on transitions of the Ready condition.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::conditions::{get, types};

/// Event severity, as Flux names it (`info` is Normal, `error` is Warning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// A Normal event.
    Info,
    /// A Warning event.
    Error,
}

/// An event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    /// Normal or Warning.
    pub severity: Severity,
    /// The reason (a Flux constant).
    pub reason: String,
    /// The human-readable message.
    pub message: String,
}

/// The event for a Ready transition between two condition lists, or `None` when Ready's
/// status, reason and message are unchanged. `Ready=False` becomes a Warning.
pub fn ready_transition(before: &[Condition], after: &[Condition]) -> Option<EventNote> {
    let now = get(after, types::READY)?;
    let key = |c: &Condition| (c.status.clone(), c.reason.clone(), c.message.clone());
    if get(before, types::READY).map(key) == Some(key(now)) || now.status == "Unknown" {
        return None;
    }
    let severity = if now.status == "False" {
        Severity::Error
    } else {
        Severity::Info
    };
    Some(EventNote {
        severity,
        reason: now.reason.clone(),
        message: now.message.clone(),
    })
}

/// Publishes events as the controller. Each note becomes its own Event: kube-rs would fold
/// notes with the same reason into one series that keeps only the first message, while Flux's
/// change logs and errors must each stay readable.
#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    reporter: Reporter,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (for example `source-controller`).
    pub fn new(client: Client, controller: &str) -> Self {
        let reporter = Reporter {
            controller: controller.to_string(),
            instance: std::env::var("POD_NAME")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok()),
        };
        Self { client, reporter }
    }

    /// Publishes one event about `object`.
    pub async fn publish(
        &self,
        object: &ObjectReference,
        note: &EventNote,
    ) -> Result<(), kube::Error> {
        let event = Event {
            type_: match note.severity {
                Severity::Info => EventType::Normal,
                Severity::Error => EventType::Warning,
            },
            reason: note.reason.clone(),
            note: Some(note.message.clone()),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        Recorder::new(self.client.clone(), self.reporter.clone())
            .publish(&event, object)
            .await
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn ready(status: &str, reason: &str, message: &str) -> Vec<Condition> {
        vec![Condition {
            type_: types::READY.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: Some(1),
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }]
    }

    #[test]
    fn events_fire_on_transitions_only() {
        let ok1 = ready("True", "Succeeded", "stored artifact for revision 'a'");
        let ok2 = ready("True", "Succeeded", "stored artifact for revision 'b'");
        let bad = ready("False", "GitOperationFailed", "clone failed");
        let progressing = ready("Unknown", "Progressing", "reconciliation in progress");
        assert_eq!(ready_transition(&ok1, &ok1), None);
        assert_eq!(ready_transition(&bad, &bad), None);
        assert_eq!(ready_transition(&ok1, &progressing), None);
        assert_eq!(
            ready_transition(&ok1, &ok2).map(|n| n.severity),
            Some(Severity::Info)
        );
        let failure = ready_transition(&ok1, &bad).unwrap();
        assert_eq!(
            (failure.severity, failure.reason.as_str()),
            (Severity::Error, "GitOperationFailed")
        );
        assert_eq!(
            ready_transition(&[], &ok1).map(|n| n.severity),
            Some(Severity::Info)
        );
        assert_eq!(ready_transition(&ok1, &[]), None);
    }
}
