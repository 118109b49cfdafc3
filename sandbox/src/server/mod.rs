//! The HTTP front: one handler that authenticates, impersonates, authorizes and routes every
//! request to discovery, OpenAPI, or the resource operations.

pub mod delete;
pub mod discovery;
mod gnostic;
pub mod meta;
pub mod openapi;
pub(crate) mod openapi_schemas;
mod openapi_v2;
mod pod_log;
pub mod printers;
pub mod protobuf;
pub mod read;
pub mod request;
pub mod respond;
pub mod reviews;
pub mod scale;
pub mod table;
mod token_request;
pub mod watch;
pub mod write;

use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use self::request::{Query, ResourcePath, Shape, Target};
use self::respond::{error_response, json_response, text_response};
use crate::auth::identity::{Authenticator, UserInfo, impersonate};
use crate::auth::rbac::{Attributes, Authorizer, RbacAuthorizer};
use crate::error::{ApiError, ApiResult};
use crate::resources::{ResourceType, builtin_types, types_from_crd};
use crate::store::Store;

/// Behaviour switches.
#[derive(Clone, Debug)]
pub struct Options {
    /// Run the workload simulator (Deployments and friends become ready).
    pub simulate_workloads: bool,
    /// Interval of watch bookmarks.
    pub bookmark_interval: std::time::Duration,
    /// The cluster CA (PEM) when serving HTTPS: published in every namespace's
    /// `kube-root-ca.crt`.
    pub root_ca: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            simulate_workloads: true,
            bookmark_interval: std::time::Duration::from_secs(1),
            root_ca: None,
        }
    }
}

/// The servable resource types: built-ins plus Established CRDs.
#[derive(Default)]
pub struct TypeRegistry {
    types: Vec<ResourceType>,
}

impl TypeRegistry {
    /// The type at group/version/plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// Any version of a group/plural (for storage-level work).
    pub fn find_any_version(&self, group: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.plural == plural && t.version == t.storage_version)
            .cloned()
    }

    /// Every type.
    pub fn all(&self) -> &[ResourceType] {
        &self.types
    }
}

/// The API server state shared by all requests and background controllers.
pub struct ApiServer {
    /// The objects.
    pub store: Store,
    /// The servable types.
    pub types: RwLock<TypeRegistry>,
    /// Tokens and the anonymous identity.
    pub authenticator: RwLock<Authenticator>,
    /// Behaviour switches.
    pub options: Options,
    /// Wakes the background controllers after writes.
    pub changed: tokio::sync::Notify,
}

impl ApiServer {
    /// A server over `store`, seeding namespaces and bootstrap RBAC when the store is empty.
    pub fn new(store: Store, options: Options) -> Arc<Self> {
        let api = Arc::new(Self {
            store,
            types: RwLock::new(TypeRegistry::default()),
            authenticator: RwLock::new(Authenticator::default()),
            options,
            changed: tokio::sync::Notify::new(),
        });
        api.refresh_types();
        if api.store.keys().is_empty() {
            api.seed();
        }
        api
    }

    fn seed(&self) {
        for ns in crate::auth::bootstrap::NAMESPACES {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            if let Err(e) = self.create_object("", "v1", "namespaces", None, body, "rill-sandbox") {
                tracing::error!(namespace = ns, error = %e.message, "cannot seed namespace");
            }
        }
        let node = crate::controllers::nodes::node();
        if let Err(e) = self.create_object("", "v1", "nodes", None, node, "kubelet") {
            tracing::error!(error = %e.message, "cannot seed the node");
        }
        let lease = crate::controllers::nodes::node_lease();
        if let Err(e) = self.create_object(
            "coordination.k8s.io",
            "v1",
            "leases",
            Some("kube-node-lease"),
            lease,
            "kubelet",
        ) {
            tracing::error!(error = %e.message, "cannot seed the node lease");
        }
        for object in crate::auth::bootstrap::policy() {
            let plural = if object["kind"] == "ClusterRole" {
                "clusterroles"
            } else {
                "clusterrolebindings"
            };
            if let Err(e) = self.create_object(
                "rbac.authorization.k8s.io",
                "v1",
                plural,
                None,
                object,
                "rill-sandbox",
            ) {
                tracing::error!(error = %e.message, "cannot seed RBAC");
            }
        }
    }

    /// Rebuilds the type registry from the built-ins and the Established CRDs.
    pub fn refresh_types(&self) {
        let mut types = builtin_types();
        let (crds, _) = self
            .store
            .list("apiextensions.k8s.io", "customresourcedefinitions", None);
        for crd in crds {
            let established = crd["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
            if established {
                types.extend(types_from_crd(&crd));
            }
        }
        if let Ok(mut registry) = self.types.write() {
            registry.types = types;
        }
    }

    /// The type at group/version/plural.
    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types.read().ok()?.find(group, version, plural)
    }

    /// Every servable type.
    pub fn all_types(&self) -> Vec<ResourceType> {
        self.types
            .read()
            .map(|t| t.all().to_vec())
            .unwrap_or_default()
    }

    /// Creates an object directly (seeding, controllers).
    pub fn create_object(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
        body: Value,
        manager: &str,
    ) -> ApiResult<Value> {
        let rt = self
            .find_type(group, version, plural)
            .ok_or_else(ApiError::unknown_resource)?;
        let path = ResourcePath {
            group: group.into(),
            version: version.into(),
            resource: plural.into(),
            namespace: namespace.map(str::to_string),
            ..ResourcePath::default()
        };
        let query = Query::parse(Some(&format!("fieldManager={manager}")));
        write::create(self, &rt, &path, (&query, None), body).map(|(_, v)| v)
    }
}

/// Everything a request handler needs.
pub struct RequestContext {
    /// The effective user.
    pub user: UserInfo,
    /// Query parameters.
    pub query: Query,
    /// Requested shape.
    pub shape: Shape,
    /// Raw `Accept`.
    pub accept: String,
    /// Field manager derived from the User-Agent for writes without `fieldManager`.
    pub default_manager: String,
}

/// The axum handler for every path.
pub async fn handle(
    State(api): State<Arc<ApiServer>>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<crate::tls::Peer>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let certificate_user = peer.and_then(|p| p.0.0.user);
    match dispatch(&api, certificate_user, &method, &uri, &headers, body).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn dispatch(
    api: &Arc<ApiServer>,
    certificate_user: Option<UserInfo>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // As kube-apiserver's authenticator chain: a verified client certificate first, then
    // bearer tokens, then anonymous.
    let requester = match certificate_user {
        Some(user) => user,
        None => api
            .authenticator
            .read()
            .map_err(|_| ApiError::internal("lock"))?
            .authenticate(headers, |namespace, name| {
                let key = crate::store::ObjectKey::new("", "serviceaccounts", namespace, name);
                let account = api.store.get(&key)?;
                account["metadata"]["uid"].as_str().map(str::to_string)
            })?,
    };
    let user = impersonate(requester, headers, &RbacAuthorizer { store: &api.store })?;
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let ctx = RequestContext {
        user,
        query: Query::parse(uri.query()),
        shape: request::shape(&accept),
        accept,
        default_manager: user_agent
            .split('/')
            .next()
            .unwrap_or("unknown")
            .to_string(),
    };
    let target = request::parse_path(uri.path());
    if !matches!(target, Target::Resource(_)) {
        let attrs = Attributes::non_resource("get", uri.path());
        if !(RbacAuthorizer { store: &api.store }).allowed(&ctx.user, &attrs) {
            return Err(ApiError::forbidden(attrs.forbidden_message(&ctx.user)));
        }
    }
    match target {
        Target::Version => Ok(json_response(200, &version())),
        Target::Health => Ok(text_response(200, "ok")),
        Target::CoreVersions => Ok(discovery::core_versions(api, &ctx)),
        Target::Groups => Ok(discovery::groups(api, &ctx)),
        Target::Group(group) => discovery::group(api, &group),
        Target::GroupVersion(group, version) => discovery::resource_list(api, &group, &version),
        Target::OpenApiRoot => Ok(openapi::root(api)),
        Target::OpenApi(path) => openapi::document(api, &path),
        Target::OpenApiV2 => Ok(openapi_v2::v2(
            api,
            headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
        )),
        Target::Unknown => Err(ApiError::unknown_resource()),
        Target::Resource(path) => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            resource(api, &ctx, method, &path, &content_type, body).await
        }
    }
}

/// The `/version` document (minor 32, as kubectl's dispatcher needs).
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-rill-sandbox", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn rbac_verb(method: &Method, path: &ResourcePath, query: &Query) -> &'static str {
    match *method {
        Method::GET if path.name.is_some() => "get",
        Method::GET if query.watch() => "watch",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if path.name.is_some() => "delete",
        Method::DELETE => "deletecollection",
        _ => "unknown",
    }
}

async fn resource(
    api: &Arc<ApiServer>,
    ctx: &RequestContext,
    method: &Method,
    path: &ResourcePath,
    content_type: &str,
    body: Bytes,
) -> ApiResult<Response> {
    let rt = api
        .find_type(&path.group, &path.version, &path.resource)
        .ok_or_else(ApiError::unknown_resource)?;
    let all_namespaces_read = path.name.is_none() && *method == Method::GET;
    let scope_ok = match (rt.namespaced, path.namespace.is_some()) {
        (true, true) | (false, false) => true,
        (true, false) => all_namespaces_read,
        (false, true) => false,
    };
    if !scope_ok {
        return Err(ApiError::unknown_resource());
    }
    let verb = rbac_verb(method, path, &ctx.query);
    let namespace = if rt.group.is_empty() && rt.plural == "namespaces" {
        path.name.clone().unwrap_or_default()
    } else {
        path.namespace.clone().unwrap_or_default()
    };
    let pinned = ctx
        .query
        .get("fieldSelector")
        .and_then(|f| crate::selectors::FieldSelector::parse(f, &rt.plural).ok())
        .and_then(|s| s.pinned_name().map(str::to_string));
    let attrs = Attributes {
        subresource: path.subresource.clone().unwrap_or_default(),
        ..Attributes::resource(
            verb,
            &rt.group,
            &rt.plural,
            &namespace,
            path.name.as_deref().or(pinned.as_deref()).unwrap_or(""),
        )
    };
    let authorizer = RbacAuthorizer { store: &api.store };
    if !rt.create_only && !authorizer.allowed(&ctx.user, &attrs) {
        return Err(ApiError::forbidden(attrs.forbidden_message(&ctx.user))
            .with_details(json!({"name": attrs.name, "group": rt.group, "kind": rt.plural})));
    }
    if rt.create_only {
        if *method != Method::POST {
            return Err(ApiError::method_not_allowed());
        }
        let body = decode_body(&body, content_type)?;
        return reviews::create(api, &rt, ctx, path, body);
    }
    match (method, path.name.is_some()) {
        (&Method::GET, true)
            if rt.group.is_empty()
                && rt.plural == "pods"
                && path.subresource.as_deref() == Some("log") =>
        {
            pod_log::get(api.clone(), path, ctx)
        }
        (&Method::GET, true) => read::get(api, &rt, path, ctx),
        (&Method::POST, true)
            if rt.group.is_empty()
                && rt.plural == "serviceaccounts"
                && path.subresource.as_deref() == Some("token") =>
        {
            let body = decode_body(&body, content_type)?;
            token_request::create(api, path, body)
        }
        (&Method::GET, false) if ctx.query.watch() => {
            watch::watch(api.clone(), rt, path.namespace.clone(), ctx)
        }
        (&Method::GET, false) => read::list(api, &rt, path, ctx),
        (&Method::POST, false) => {
            let body = decode_body(&body, content_type)?;
            let (code, object) =
                write::create(api, &rt, path, (&ctx.query, Some(&ctx.user)), body)?;
            Ok(read::respond_object(&rt, &object, code, ctx))
        }
        (&Method::PUT, true) => {
            let body = decode_body(&body, content_type)?;
            let (code, object) = write::update(api, &rt, path, ctx, body)?;
            Ok(read::respond_object(&rt, &object, code, ctx))
        }
        (&Method::PATCH, true) => {
            if content_type.starts_with("application/apply-patch") {
                let create = Attributes {
                    verb: "create".into(),
                    ..attrs.clone()
                };
                let exists = api.store.get(&write::key_for(&rt, path)).is_some();
                if !exists && !authorizer.allowed(&ctx.user, &create) {
                    return Err(ApiError::forbidden(create.forbidden_message(&ctx.user)));
                }
            }
            if path.subresource.as_deref() == Some("scale") {
                let (code, view) = scale::patch(api, &rt, path, ctx, content_type, &body)?;
                return Ok(respond::json_response(code, &view));
            }
            let (code, object) = write::patch(api, &rt, path, ctx, content_type, &body)?;
            Ok(read::respond_object(&rt, &object, code, ctx))
        }
        (&Method::DELETE, true) => {
            let options: Value = if body.is_empty() {
                json!({})
            } else {
                serde_json::from_slice(&body).unwrap_or(json!({}))
            };
            delete::delete(api, &rt, path, ctx, &options)
        }
        (&Method::DELETE, false) => delete::delete_collection(api, &rt, path, ctx),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Decodes a JSON, YAML or Kubernetes-protobuf request body.
pub fn decode_body(body: &[u8], content_type: &str) -> ApiResult<Value> {
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return protobuf::decode(body);
    }
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(json_error) => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
            if content_type.contains("yaml") {
                serde_saphyr::from_str(text)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
            } else {
                Err(ApiError::bad_request(format!(
                    "error decoding request body: {json_error}"
                )))
            }
        }
    }
}
