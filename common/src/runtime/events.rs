//! Events: Kubernetes Events, and Flux's JSON event payload posted to `--events-addr` (the
//! notification-controller) when it is set. Ready emits events only on transitions.

use std::collections::BTreeMap;
use std::time::Duration;

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
    /// Flux's event metadata (`revision`, `digest`, ...); forwarded prefixed with the API
    /// group of the object, as Flux does.
    pub metadata: BTreeMap<String, String>,
}

impl EventNote {
    /// A Normal event.
    pub fn info(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Info,
            reason: reason.into(),
            message: message.into(),
            metadata: BTreeMap::new(),
        }
    }

    /// A Warning event.
    pub fn error(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            ..Self::info(reason, message)
        }
    }

    /// Adds a metadata entry (`key` without the group prefix).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.insert(key.to_string(), value.into());
        self
    }
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
        metadata: BTreeMap::new(),
    })
}

/// Publishes events as the controller. Each note becomes its own Event: kube-rs would fold
/// notes with the same reason into one series that keeps only the first message, while Flux's
/// change logs and errors must each stay readable.
#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    reporter: Reporter,
    forwarder: Option<EventForwarder>,
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
        Self {
            client,
            reporter,
            forwarder: None,
        }
    }

    /// Also posts every event to `forwarder` (`--events-addr`), when there is one.
    pub fn with_forwarding(mut self, forwarder: Option<EventForwarder>) -> Self {
        self.forwarder = forwarder;
        self
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
        if let Some(forwarder) = &self.forwarder {
            forwarder.post(flux_payload(object, note, &self.reporter));
        }
        Recorder::new(self.client.clone(), self.reporter.clone())
            .publish(&event, object)
            .await
    }
}

/// Flux's event payload (`fluxcd/pkg/apis/event` v1beta1) for `note` about `object`.
pub fn flux_payload(
    object: &ObjectReference,
    note: &EventNote,
    reporter: &Reporter,
) -> serde_json::Value {
    let group = object
        .api_version
        .as_deref()
        .and_then(|v| v.split_once('/').map(|(g, _)| g))
        .unwrap_or_default();
    let metadata: BTreeMap<String, String> = note
        .metadata
        .iter()
        .map(|(k, v)| (format!("{group}/{k}"), v.clone()))
        .collect();
    let mut payload = serde_json::json!({
        "involvedObject": object,
        "severity": match note.severity { Severity::Info => "info", Severity::Error => "error" },
        "timestamp": jiff::Timestamp::now().to_string(),
        "message": note.message,
        "reason": note.reason,
        "reportingController": reporter.controller,
    });
    if let Some(instance) = &reporter.instance {
        payload["reportingInstance"] = serde_json::json!(instance);
    }
    if !metadata.is_empty() {
        payload["metadata"] = serde_json::json!(metadata);
    }
    payload
}

/// Posts events to the notification-controller (`--events-addr`) in the background: 5 s per
/// attempt, up to four attempts on network errors and 5xx answers; a 429 means the receiver
/// already has it (dropped, as in Flux).
#[derive(Clone, Debug)]
pub struct EventForwarder {
    http: reqwest::Client,
    url: String,
}

impl EventForwarder {
    /// A forwarder posting to `address` (a URL, as Flux's `--events-addr`).
    pub fn new(address: &str) -> Result<Self, EventAddressError> {
        let url = url::Url::parse(address).map_err(|source| EventAddressError::Url {
            address: address.to_string(),
            source,
        })?;
        super::install_crypto_provider();
        let http = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(crate::dns::HostResolver::default()))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(EventAddressError::Client)?;
        Ok(Self {
            http,
            url: url.to_string(),
        })
    }

    /// Posts `payload` in a background task; failures are logged, never returned.
    pub fn post(&self, payload: serde_json::Value) {
        let (http, url) = (self.http.clone(), self.url.clone());
        let body = payload.to_string();
        tokio::spawn(async move {
            for attempt in 0..4u32 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                }
                let request = http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
                match request.send().await {
                    Ok(r) if r.status().is_success() || r.status().as_u16() == 429 => return,
                    Ok(r) if r.status().is_client_error() => {
                        tracing::warn!(status = %r.status(), "events receiver refused an event");
                        return;
                    }
                    Ok(r) => tracing::debug!(status = %r.status(), "events receiver failed"),
                    Err(e) => tracing::debug!(error = %e, "cannot reach the events receiver"),
                }
            }
            tracing::warn!("event dropped: the events receiver did not answer");
        });
    }
}

/// `--events-addr` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EventAddressError {
    /// The flag value is not a URL.
    #[error("--events-addr {address:?} is not a URL: {source}")]
    Url {
        /// The flag value.
        address: String,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// The HTTP client cannot be built.
    #[error("cannot build the events client: {0}")]
    Client(#[source] reqwest::Error),
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
