//! Entry point for the request fuzz target in `fuzz/` (and the stable smoke test that
//! replays its findings): arbitrary bytes become one request to the API server, handled in
//! process as an admin (so it reaches paths, queries, selectors, bodies, patches and
//! server-side apply), which must answer with a status, never panic.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};

use crate::auth::identity::ADMIN_TOKEN;
use crate::server::{ApiServer, Options, handle};
use crate::store::Store;

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

const CONTENT_TYPES: [&str; 7] = [
    "application/json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

fn server() -> &'static (tokio::runtime::Runtime, Arc<ApiServer>) {
    static SERVER: OnceLock<(tokio::runtime::Runtime, Arc<ApiServer>)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime for the fuzz target: {e}"));
        let api = ApiServer::new(
            Store::new(),
            Options {
                simulate_workloads: false,
                ..Options::default()
            },
        );
        (runtime, api)
    })
}

/// Handles `data` as a request: byte 0 picks the method, byte 1 the content type, then the
/// URI up to the first NUL, then the body. Watches are skipped (they wait for events).
/// Returns the status code, `None` when the bytes make no request.
pub fn request(data: &[u8]) -> Option<u16> {
    let (&method, rest) = data.split_first()?;
    let (&content_type, rest) = rest.split_first()?;
    let split = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    let uri_text = String::from_utf8_lossy(&rest[..split]).into_owned();
    if uri_text.contains("watch") {
        return None;
    }
    let uri: Uri = uri_text.parse().ok()?;
    let body = Bytes::copy_from_slice(rest.get(split + 1..).unwrap_or_default());
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}")).ok()?,
    );
    let content_type = CONTENT_TYPES[usize::from(content_type) % CONTENT_TYPES.len()];
    headers.insert("content-type", HeaderValue::from_static(content_type));
    let method = METHODS[usize::from(method) % METHODS.len()].clone();
    let (runtime, api) = server();
    let response = runtime.block_on(handle(
        State(Arc::clone(api)),
        None,
        method,
        uri,
        headers,
        body,
    ));
    Some(response.status().as_u16())
}
