//! The HTTP endpoints of a controller: `/metrics` on `--metrics-addr`, `/healthz` and `/readyz`
//! on `--health-addr`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;

/// An address flag that is not `host:port` or `:port`.
#[derive(Debug, thiserror::Error)]
#[error("invalid listen address {0:?}: expected host:port or :port")]
pub struct AddressError(pub String);

/// Parses a Go listen address: `:8080` binds every interface, `127.0.0.1:8080` one.
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, AddressError> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse().map_err(|_| AddressError(text.to_string()))
}

/// Whether the controller is ready to serve (flipped once its watches run).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the controller ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    /// Whether it is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// `/metrics` in the OpenMetrics text format.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }
        }),
    )
}

/// `/healthz` (always OK while the process serves) and `/readyz` (OK once ready).
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ok").into_response()
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
                    }
                }
            }),
        )
}

/// Serves a router on a bound listener until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_listen_addresses_parse() {
        assert_eq!(
            parse_listen_addr(":8080").unwrap(),
            "0.0.0.0:8080".parse().unwrap()
        );
        assert_eq!(
            parse_listen_addr("127.0.0.1:9440").unwrap(),
            "127.0.0.1:9440".parse().unwrap()
        );
        assert!(parse_listen_addr("localhost").is_err());
        assert!(parse_listen_addr("").is_err());
    }
}
