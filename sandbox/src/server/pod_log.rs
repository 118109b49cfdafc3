//! `pods/log`: which container is meant (as the API server's `ValidateContainer` picks it) and
//! what the kubelet would answer for its state. Simulated containers print nothing, so a
//! started container's log is empty; with `follow` the stream stays open while the container
//! runs, as `kubectl logs -f` expects.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::request::ResourcePath;
use super::{ApiServer, RequestContext};
use crate::error::{ApiError, ApiResult};
use crate::store::ObjectKey;

/// What the log request gets, decided from the pod alone.
#[derive(Debug, PartialEq, Eq)]
pub enum LogAnswer {
    /// An empty log; `running` when the container is still running (a follow waits).
    Empty { running: bool },
    /// 400 with the API server's or kubelet's message.
    Refused(String),
}

/// Decides the answer for `container` (`None`: not named) of `pod`, `previous` as the query.
pub fn answer(pod: &Value, container: Option<&str>, previous: bool) -> LogAnswer {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let names = |field: &str| -> Vec<&str> {
        pod["spec"][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect()
    };
    let containers = names("containers");
    // Every container of the pod, in the order the API server lists them.
    let all = [
        names("initContainers"),
        containers.clone(),
        names("ephemeralContainers"),
    ]
    .concat();
    let container = match container.filter(|c| !c.is_empty()) {
        Some(name) if all.contains(&name) => name,
        Some(name) => {
            return LogAnswer::Refused(format!("container {name} is not valid for pod {pod_name}"));
        }
        None => match containers.as_slice() {
            [only] => only,
            [] => {
                return LogAnswer::Refused(format!(
                    "a container name must be specified for pod {pod_name}"
                ));
            }
            _ => {
                return LogAnswer::Refused(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    all.join(" ")
                ));
            }
        },
    };
    let status = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|f| pod["status"][f].as_array().into_iter().flatten())
        .find(|s| s["name"] == container);
    let state = status.map(|s| &s["state"]);
    if previous {
        return LogAnswer::Refused(format!(
            "previous terminated container {container:?} in pod {pod_name:?} not found"
        ));
    }
    match state {
        Some(state) if !state["waiting"].is_null() => {
            let reason = state["waiting"]["reason"].as_str().unwrap_or_default();
            let why = match reason {
                "ErrImagePull" => "image can't be pulled".to_string(),
                "ImagePullBackOff" => "trying and failing to pull image".to_string(),
                other => other.to_string(),
            };
            LogAnswer::Refused(format!(
                "container {container:?} in pod {pod_name:?} is waiting to start: {why}"
            ))
        }
        Some(state) if !state["running"].is_null() => LogAnswer::Empty { running: true },
        Some(_) => LogAnswer::Empty { running: false },
        None => LogAnswer::Refused(format!(
            "container {container:?} in pod {pod_name:?} is waiting to start: ContainerCreating"
        )),
    }
}

/// GET `pods/{name}/log`.
pub fn get(api: Arc<ApiServer>, path: &ResourcePath, ctx: &RequestContext) -> ApiResult<Response> {
    let name = path.name.clone().unwrap_or_default();
    let key = ObjectKey {
        group: String::new(),
        resource: "pods".into(),
        namespace: path.namespace.clone().unwrap_or_default(),
        name: name.clone(),
    };
    let pod = api
        .store
        .get(&key)
        .ok_or_else(|| ApiError::not_found("", "pods", &name))?;
    let running = match answer(&pod, ctx.query.get("container"), ctx.query.flag("previous")) {
        LogAnswer::Refused(message) => return Err(ApiError::bad_request(message)),
        LogAnswer::Empty { running } => running,
    };
    let body = if running && ctx.query.flag("follow") {
        let uid = pod["metadata"]["uid"].clone();
        let container = ctx.query.get("container").map(str::to_string);
        // Ends when the pod goes away (or is replaced) or the container stops running.
        let ticks = futures::stream::unfold((), move |()| {
            let (api, key, uid, container) =
                (api.clone(), key.clone(), uid.clone(), container.clone());
            async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let pod = api.store.get(&key)?;
                let still = pod["metadata"]["uid"] == uid
                    && answer(&pod, container.as_deref(), false)
                        == LogAnswer::Empty { running: true };
                still.then_some((Ok::<_, std::convert::Infallible>(bytes::Bytes::new()), ()))
            }
        });
        Body::from_stream(ticks)
    } else {
        Body::empty()
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], state: Value) -> Value {
        let specs: Vec<Value> = containers.iter().map(|c| json!({"name": c})).collect();
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| json!({"name": c, "state": state}))
            .collect();
        json!({"metadata": {"name": "web-1"}, "spec": {"containers": specs},
               "status": {"containerStatuses": statuses}})
    }

    #[test]
    fn the_container_and_its_state_decide_the_answer() {
        let running = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
        let cases = [
            (pod(&["app"], running.clone()), None, false, LogAnswer::Empty { running: true }),
            (pod(&["app"], running.clone()), Some("app"), false, LogAnswer::Empty { running: true }),
            (
                pod(&["app"], json!({"terminated": {"exitCode": 0}})),
                None,
                false,
                LogAnswer::Empty { running: false },
            ),
            (
                pod(&["app", "sidecar"], running.clone()),
                None,
                false,
                LogAnswer::Refused(
                    "a container name must be specified for pod web-1, choose one of: [app sidecar]".into(),
                ),
            ),
            (
                pod(&["app"], running.clone()),
                Some("db"),
                false,
                LogAnswer::Refused("container db is not valid for pod web-1".into()),
            ),
            (
                pod(&["app"], json!({"waiting": {"reason": "ImagePullBackOff"}})),
                None,
                false,
                LogAnswer::Refused(
                    "container \"app\" in pod \"web-1\" is waiting to start: trying and failing to pull image".into(),
                ),
            ),
            (
                json!({"metadata": {"name": "web-1"}, "spec": {"containers": [{"name": "app"}]}}),
                None,
                false,
                LogAnswer::Refused(
                    "container \"app\" in pod \"web-1\" is waiting to start: ContainerCreating".into(),
                ),
            ),
            (
                pod(&["app"], running),
                None,
                true,
                LogAnswer::Refused(
                    "previous terminated container \"app\" in pod \"web-1\" not found".into(),
                ),
            ),
        ];
        for (pod, container, previous, want) in cases {
            assert_eq!(answer(&pod, container, previous), want, "{container:?}");
        }
    }
}
