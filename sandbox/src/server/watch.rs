//! Watches: initial events or history from a resourceVersion, then live events; selector
//! transitions; bookmarks (including the initial-events-end bookmark of streaming lists);
//! the in-stream 410 ERROR for histories that are gone; Table and metadata-only shapes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch as rv_watch};

use super::read::{Selectors, present};
use super::request::Shape;
use super::respond::partial_metadata;
use super::table::table;
use super::{ApiServer, RequestContext};
use crate::error::ApiResult;
use crate::resources::ResourceType;
use crate::store::{EventType, StoredEvent};

/// Initial lines, the RV they reach, and the live receiver.
type WatchStart = (Vec<Bytes>, u64, rv_watch::Receiver<u64>);

struct Stream {
    rt: ResourceType,
    namespace: Option<String>,
    selectors: Selectors,
    shape: Shape,
    first_table: bool,
}

impl Stream {
    fn line(&mut self, type_: &str, object: &Value) -> Bytes {
        let object = present(&self.rt, object);
        let object = match self.shape {
            Shape::Full => object,
            Shape::Metadata => partial_metadata(&object),
            Shape::Table => {
                let mut t = table(
                    &self.rt,
                    &[&object],
                    object["metadata"]["resourceVersion"].as_str().unwrap_or(""),
                    None,
                );
                if !self.first_table {
                    t["columnDefinitions"] = json!([]);
                }
                self.first_table = false;
                t
            }
        };
        let mut text = json!({"type": type_, "object": object}).to_string();
        text.push('\n');
        Bytes::from(text)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let mut text = json!({"type": "BOOKMARK", "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": metadata}}).to_string();
        text.push('\n');
        Bytes::from(text)
    }

    fn relevant(&self, event: &StoredEvent) -> bool {
        event.key.group == self.rt.group
            && event.key.resource == self.rt.plural
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == event.key.namespace)
    }

    /// The event type this watcher sees, following selector transitions.
    fn translate(&self, event: &StoredEvent) -> Option<&'static str> {
        let now = self.selectors.matches(&event.object);
        let before = event
            .previous
            .as_ref()
            .is_some_and(|p| self.selectors.matches(p));
        match event.type_ {
            EventType::Added => now.then_some("ADDED"),
            EventType::Deleted => (before || now).then_some("DELETED"),
            EventType::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
        }
    }
}

fn expired_line(requested: u64, floor: u64) -> Bytes {
    let mut text = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("too old resource version: {requested} ({floor})"), "reason": "Expired", "code": 410}})
    .to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Starts a watch and returns the streaming response.
pub fn watch(
    api: Arc<ApiServer>,
    rt: ResourceType,
    namespace: Option<String>,
    ctx: &RequestContext,
) -> ApiResult<Response> {
    let selectors = Selectors::from_query(&rt, ctx)?;
    let mut stream = Stream {
        rt,
        namespace,
        selectors,
        shape: ctx.shape,
        first_table: true,
    };
    let query = &ctx.query;
    let bookmarks = query.flag("allowWatchBookmarks");
    let send_initial = query.flag("sendInitialEvents");
    let timeout = query
        .number("timeoutSeconds")
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(3600));
    let requested_rv = query
        .get("resourceVersion")
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse::<u64>().ok());
    let interval = api.options.bookmark_interval;

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let start: Result<WatchStart, Bytes> = match requested_rv {
        Some(rv) if rv > 0 && !send_initial => match api.store.watch_from(rv) {
            Ok((past, receiver)) => {
                let mut lines = Vec::new();
                let mut last = rv;
                for event in &past {
                    last = last.max(event.rv);
                    if !stream.relevant(event) {
                        continue;
                    }
                    if let Some(t) = stream.translate(event) {
                        lines.push(stream.line(t, &event.object));
                    }
                }
                Ok((lines, last, receiver))
            }
            Err(too_old) => Err(expired_line(too_old.requested, too_old.floor)),
        },
        _ => {
            let (objects, rv, receiver) = api.store.snapshot_and_subscribe(
                &stream.rt.group,
                &stream.rt.plural,
                stream.namespace.as_deref(),
            );
            let mut lines = Vec::new();
            for object in &objects {
                if stream.selectors.matches(object) {
                    lines.push(stream.line("ADDED", object));
                }
            }
            if send_initial {
                lines.push(stream.bookmark(rv, true));
            }
            Ok((lines, rv, receiver))
        }
    };

    tokio::spawn(async move {
        let (initial, mut last_rv, mut receiver) = match start {
            Ok(start) => start,
            Err(line) => {
                let _ = tx.send(line).await;
                return;
            }
        };
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    if bookmarks {
                        let _ = tx.send(stream.bookmark(last_rv, false)).await;
                    }
                    return;
                }
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(stream.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
                changed = receiver.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let events = match api.store.events_after(last_rv) {
                        Ok(events) => events,
                        Err(too_old) => {
                            let _ = tx.send(expired_line(too_old.requested, too_old.floor)).await;
                            return;
                        }
                    };
                    for event in events {
                        last_rv = event.rv;
                        if !stream.relevant(&event) {
                            continue;
                        }
                        if let Some(t) = stream.translate(&event)
                            && tx.send(stream.line(t, &event.object)).await.is_err() {
                                return;
                            }
                    }
                }
            }
        }
    });

    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    }));
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(response)
}
