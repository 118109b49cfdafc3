//! Request parsing: URL path to target, query parameters, and the media type asked for.

use std::collections::HashMap;

/// What a path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    GroupVersion(String, String),
    /// `/openapi/v3`.
    OpenApiRoot,
    /// `/openapi/v3/<group-version path>`.
    OpenApi(String),
    /// `/openapi/v2` (the definitions of every served kind).
    OpenApiV2,
    /// A resource, collection or subresource.
    Resource(ResourcePath),
    /// Anything else.
    Unknown,
}

/// The parts of a resource path.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourcePath {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource.
    pub resource: String,
    /// Namespace from the URL, if any.
    pub namespace: Option<String>,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource, if any.
    pub subresource: Option<String>,
}

/// Parses a URL path.
pub fn parse_path(path: &str) -> Target {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Target::Version,
        ["healthz"] | ["livez"] | ["readyz"] => Target::Health,
        ["api"] => Target::CoreVersions,
        ["apis"] => Target::Groups,
        ["apis", g] => Target::Group(g.to_string()),
        ["openapi", "v3"] => Target::OpenApiRoot,
        ["openapi", "v3", rest @ ..] => Target::OpenApi(rest.join("/")),
        ["openapi", "v2"] => Target::OpenApiV2,
        ["api", "v1", rest @ ..] => resource_target("", "v1", rest),
        ["apis", g, v, rest @ ..] => resource_target(g, v, rest),
        _ => Target::Unknown,
    }
}

fn resource_target(group: &str, version: &str, rest: &[&str]) -> Target {
    let path = |resource: &str, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Target::Resource(ResourcePath {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        })
    };
    match rest {
        [] => Target::GroupVersion(group.into(), version.into()),
        [r] => path(r, None, None, None),
        [r, n] => path(r, None, Some(n), None),
        ["namespaces", n, s @ ("status" | "finalize")] => {
            path("namespaces", None, Some(n), Some(s))
        }
        ["namespaces", ns, r] => path(r, Some(ns), None, None),
        [r, n, s] => path(r, None, Some(n), Some(s)),
        ["namespaces", ns, r, n] => path(r, Some(ns), Some(n), None),
        ["namespaces", ns, r, n, s] => path(r, Some(ns), Some(n), Some(s)),
        _ => Target::Unknown,
    }
}

/// Query parameters (empty pairs ignored, unknown ones kept for completeness).
#[derive(Clone, Debug, Default)]
pub struct Query {
    params: HashMap<String, String>,
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let params = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { params }
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A boolean parameter (`true` or `1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    /// `watch=true`.
    pub fn watch(&self) -> bool {
        self.flag("watch")
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> bool {
        self.get("dryRun").is_some_and(|v| !v.is_empty())
    }

    /// A numeric parameter.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.parse().ok())
    }
}

/// The response shape a client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Plain JSON objects and lists.
    Full,
    /// `as=Table`.
    Table,
    /// `as=PartialObjectMetadata` / `PartialObjectMetadataList`.
    Metadata,
}

/// The shape asked for by an `Accept` header.
pub fn shape(accept: &str) -> Shape {
    if accept.contains("as=Table") {
        Shape::Table
    } else if accept.contains("as=PartialObjectMetadata") {
        Shape::Metadata
    } else {
        Shape::Full
    }
}

/// Whether aggregated discovery was asked for.
pub fn wants_aggregated_discovery(accept: &str) -> bool {
    accept.contains("g=apidiscovery.k8s.io")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(
        g: &str,
        v: &str,
        r: &str,
        ns: Option<&str>,
        n: Option<&str>,
        s: Option<&str>,
    ) -> Target {
        Target::Resource(ResourcePath {
            group: g.into(),
            version: v.into(),
            resource: r.into(),
            namespace: ns.map(Into::into),
            name: n.map(Into::into),
            subresource: s.map(Into::into),
        })
    }

    #[test]
    fn paths_route_like_the_apiserver() {
        let cases = [
            ("/version", Target::Version),
            ("/api", Target::CoreVersions),
            ("/apis", Target::Groups),
            ("/apis/apps", Target::Group("apps".into())),
            ("/api/v1", Target::GroupVersion("".into(), "v1".into())),
            (
                "/apis/apps/v1",
                Target::GroupVersion("apps".into(), "v1".into()),
            ),
            (
                "/api/v1/namespaces",
                res("", "v1", "namespaces", None, None, None),
            ),
            (
                "/api/v1/namespaces/a",
                res("", "v1", "namespaces", None, Some("a"), None),
            ),
            (
                "/api/v1/namespaces/a/status",
                res("", "v1", "namespaces", None, Some("a"), Some("status")),
            ),
            (
                "/api/v1/namespaces/a/configmaps",
                res("", "v1", "configmaps", Some("a"), None, None),
            ),
            (
                "/api/v1/namespaces/a/configmaps/c",
                res("", "v1", "configmaps", Some("a"), Some("c"), None),
            ),
            (
                "/api/v1/configmaps",
                res("", "v1", "configmaps", None, None, None),
            ),
            (
                "/apis/x.io/v1/namespaces/a/ws/w/status",
                res("x.io", "v1", "ws", Some("a"), Some("w"), Some("status")),
            ),
            (
                "/apis/x.io/v1/clusterthings/t/status",
                res(
                    "x.io",
                    "v1",
                    "clusterthings",
                    None,
                    Some("t"),
                    Some("status"),
                ),
            ),
            ("/openapi/v3/api/v1", Target::OpenApi("api/v1".into())),
            ("/nope", Target::Unknown),
        ];
        for (path, want) in cases {
            assert_eq!(parse_path(path), want, "{path}");
        }
    }

    #[test]
    fn queries_ignore_empty_pairs() {
        let q = Query::parse(Some(
            "&watch=true&&fieldSelector=metadata.name%3Dw1&limit=500",
        ));
        assert!(q.watch());
        assert_eq!(q.get("fieldSelector"), Some("metadata.name=w1"));
        assert_eq!(q.number("limit"), Some(500));
    }
}
