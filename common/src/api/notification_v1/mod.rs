//! `notification.toolkit.fluxcd.io/v1`: the `Receiver` kind, which turns webhook calls (a
//! registry push, a Git push) into `requestedAt` annotations on Flux objects.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::meta::{DURATION_PATTERN, LocalObjectReference, ReconcileStatus};

/// The desired state of a webhook receiver.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Receiver",
    plural = "receivers",
    namespaced,
    status = "ReceiverStatus",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    doc = "Receiver is the Schema for the receivers API.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverSpec {
    /// The webhook sender.
    #[serde(rename = "type")]
    pub receiver_type: ReceiverType,
    /// How often the Receiver is reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN), extend("default" = "10m"))]
    pub interval: Option<String>,
    /// The events accepted (for `github`, `gitlab`); empty accepts all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// The objects annotated on a valid call.
    pub resources: Vec<ReceiverResource>,
    /// A CEL expression over `res` and `req` selecting resources (not supported by Rill yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// The Secret holding `token`.
    pub secret_ref: LocalObjectReference,
    /// Stops reconciliation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// The webhook senders Flux understands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiverType {
    /// Any sender; the secret path is the authentication.
    Generic,
    /// HMAC signature in `X-Signature`.
    GenericHmac,
    /// OIDC tokens.
    GenericOidc,
    /// GitHub.
    Github,
    /// GitLab.
    Gitlab,
    /// Bitbucket Server.
    Bitbucket,
    /// Harbor.
    Harbor,
    /// Docker Hub.
    Dockerhub,
    /// Quay.
    Quay,
    /// Google Container Registry.
    Gcr,
    /// Nexus.
    Nexus,
    /// Azure Container Registry.
    Acr,
    /// CDEvents.
    Cdevents,
}

/// An object (or, with name `*`, the labelled objects of a namespace) a Receiver annotates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverResource {
    /// API version of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the object.
    pub kind: String,
    /// Name, or `*` for every object matching `matchLabels`.
    pub name: String,
    /// Namespace; defaults to the Receiver's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels the objects must carry when `name` is `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// A CEL filter (not supported by Rill yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// The observed state of a Receiver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverStatus {
    /// `observedGeneration`, `conditions`, `lastHandledReconcileAt`.
    #[serde(flatten)]
    pub reconcile: ReconcileStatus,
    /// `/hook/<sha256(token + name + namespace)>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
}
