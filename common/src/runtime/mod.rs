//! Controller scaffolding shared by every Rill binary: Flux's flags, logging, the metrics and
//! health endpoints, leader election, the error-class to requeue policy, interval jitter, the
//! `requestedAt` annotation, status patching only on change, and events on transitions.

pub mod error_policy;
pub mod events;
pub mod flags;
pub mod frame;
pub mod health;
pub mod jitter;
pub mod leader;
pub mod logging;
pub mod manager;
pub mod metrics;
pub mod rate_limit;
pub mod reconcile_request;
pub mod status;
pub mod watch;

/// Installs rustls' ring crypto provider as the process default. Every `main` calls this
/// first, and every place that builds an HTTP client calls it again (harmless), so library
/// users and tests need not remember it.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
