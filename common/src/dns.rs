//! Name resolution in Rust for every outbound connection: `/etc/hosts` first, then the name
//! servers, search list and `ndots` of `/etc/resolv.conf` (hickory). A static binary in an
//! empty (`FROM scratch`) image has no NSS modules, so glibc's `getaddrinfo` cannot resolve
//! even `localhost` there; this resolver reads the two files the kubelet mounts instead, for
//! the HTTP clients (reqwest), the Kubernetes client and Git over SSH.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use std::str::FromStr;

use hickory_resolver::config::{LookupIpStrategy, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::rr::{Name, RecordType};
use hickory_resolver::{Hosts, TokioResolver};

/// A name that did not resolve.
#[derive(Debug, Clone, thiserror::Error)]
#[error("lookup {host}: {reason}")]
pub struct ResolveError {
    /// The name looked up.
    pub host: String,
    /// Why it failed ("no such host", or the resolver's words).
    pub reason: String,
}

/// A resolver built on first use from `/etc/hosts` and `/etc/resolv.conf`. Clones share one
/// resolver and its cache; give each client its own (`HostResolver::default()`), because the
/// resolver's background work belongs to the Tokio runtime it first ran on.
#[derive(Clone, Default)]
pub struct HostResolver {
    state: Arc<OnceLock<State>>,
}

/// The hosts file, read once, and the resolver for everything else.
struct State {
    hosts: Hosts,
    resolver: Result<TokioResolver, String>,
}

impl std::fmt::Debug for HostResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostResolver")
    }
}

impl HostResolver {
    /// The addresses of `host` (an IP literal is its own answer), from a Tokio runtime.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        if let Some(ip) = ip_literal(host) {
            return Ok(vec![ip]);
        }
        let fail = |reason: String| ResolveError {
            host: host.to_string(),
            reason,
        };
        let state = self.state.get_or_init(|| State {
            hosts: Hosts::from_system().unwrap_or_default(),
            resolver: build_resolver(),
        });
        // The name as written is looked up in the hosts file before any search domain is
        // tried, as glibc's `files` source does; hickory alone would first send the
        // search-list candidates to the name servers (`ndots:5` in every pod).
        let from_hosts = hosts_file_addresses(&state.hosts, host);
        if !from_hosts.is_empty() {
            return Ok(from_hosts);
        }
        let resolver = state.resolver.as_ref().map_err(|e| fail(e.clone()))?;
        let answer = resolver.lookup_ip(host).await.map_err(|e| {
            if e.is_no_records_found() || e.is_nx_domain() {
                fail("no such host".to_string())
            } else {
                fail(e.to_string())
            }
        })?;
        let ips: Vec<IpAddr> = answer.iter().collect();
        if ips.is_empty() {
            return Err(fail("no such host".to_string()));
        }
        Ok(ips)
    }
}

/// The address `host` spells out (`10.0.0.1`, `[::1]`), if it is one: its own answer.
fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The addresses the hosts file gives `host` (IPv4 first), or none.
fn hosts_file_addresses(hosts: &Hosts, host: &str) -> Vec<IpAddr> {
    let Ok(name) = Name::from_str(host) else {
        return Vec::new();
    };
    [RecordType::A, RecordType::AAAA]
        .into_iter()
        .filter_map(|kind| hosts.lookup_static_host(&Query::query(name.clone(), kind)))
        .flat_map(|lookup| {
            lookup
                .answers()
                .iter()
                .filter_map(|record| record.data.ip_addr())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Resolves `host` from blocking code (Git over SSH, whose socket libgit2 opens itself), on a
/// short-lived thread with its own runtime so it works inside and outside a Tokio runtime.
pub fn lookup_blocking(host: &str) -> Result<Vec<IpAddr>, ResolveError> {
    if let Some(ip) = ip_literal(host) {
        return Ok(vec![ip]);
    }
    let fail = |reason: String| ResolveError {
        host: host.to_string(),
        reason,
    };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| fail(e.to_string()))?;
                runtime.block_on(HostResolver::default().lookup(host))
            })
            .join()
            .unwrap_or_else(|_| Err(fail("the resolver thread panicked".to_string())))
    })
}

/// The system configuration, or hosts-file-only resolution when `/etc/resolv.conf` is missing
/// or unreadable (never a public resolver the cluster did not name).
fn build_resolver() -> Result<TokioResolver, String> {
    let mut builder = match TokioResolver::builder_tokio() {
        Ok(builder) => builder,
        Err(e) => {
            tracing::debug!(error = %e, "no usable /etc/resolv.conf; resolving from /etc/hosts only");
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, Vec::new(), Vec::new()),
                TokioRuntimeProvider::default(),
            )
        }
    };
    builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    builder.build().map_err(|e| e.to_string())
}

impl reqwest::dns::Resolve for HostResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = this.lookup(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// hyper's resolver interface, for the Kubernetes client's connector.
impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for HostResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = ResolveError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ResolveError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ResolveError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let ips = this.lookup(name.as_str()).await?;
            let addrs: Vec<SocketAddr> = ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(addrs.into_iter())
        })
    }
}

/// The service a Kubernetes client builder starts from (kube's own `GenericService`).
pub type KubeService = tower::util::BoxService<
    http::Request<kube::client::Body>,
    http::Response<Box<kube::client::DynBody>>,
    tower::BoxError,
>;

/// A Kubernetes client builder for `config` whose connections resolve names with
/// [`HostResolver`]; otherwise the stack `kube` builds itself (TLS, timeouts, base URI,
/// authentication, extra headers, retries). A proxied configuration, and one whose credentials
/// come from an exec plugin (whose certificates expire), are left to `kube`'s own builder.
pub fn kube_client_builder(
    config: kube::Config,
) -> Result<kube::client::ClientBuilder<KubeService>, kube::Error> {
    use http_body_util::BodyExt;
    use kube::client::ConfigExt;
    use tower::ServiceExt;

    if config.proxy_url.is_some() || config.auth_info.exec.is_some() {
        return kube::client::ClientBuilder::try_from(config);
    }
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(
        HostResolver::default(),
    );
    http.enforce_http(false);
    let https = config.rustls_https_connector_with_connector(http)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let retry = config
        .default_retry
        .then(|| tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()));
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(client)
        .map_response(|response: http::Response<hyper::body::Incoming>| {
            response.map(|body| {
                Box::new(body.map_err(tower::BoxError::from)) as Box<kube::client::DynBody>
            })
        })
        .boxed();
    Ok(kube::client::ClientBuilder::new(
        service,
        config.default_namespace.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ip_literals_are_their_own_answer() {
        let resolver = HostResolver::default();
        for (host, want) in [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("[::1]", "::1")] {
            let ips = resolver.lookup(host).await.expect("literal");
            assert_eq!(ips, vec![want.parse::<IpAddr>().expect("ip")], "{host}");
        }
    }

    #[tokio::test]
    async fn names_in_the_hosts_file_resolve_and_unknown_ones_fail_clearly() {
        let ips = HostResolver::default()
            .lookup("localhost")
            .await
            .expect("localhost resolves");
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        let err = HostResolver::default()
            .lookup("no-such-host.invalid")
            .await
            .expect_err("an .invalid name never resolves");
        assert!(
            err.to_string().starts_with("lookup no-such-host.invalid: "),
            "{err}"
        );
    }

    #[test]
    fn the_hosts_file_answers_the_name_as_written() {
        let mut hosts = Hosts::default();
        hosts
            .read_hosts_conf(
                "127.0.0.1 localhost\n10.1.2.3 git.rill.test source.rill.test\n::1 ip6-localhost\n"
                    .as_bytes(),
            )
            .expect("hosts");
        let cases: [(&str, &[&str]); 5] = [
            ("git.rill.test", &["10.1.2.3"]),
            ("source.rill.test", &["10.1.2.3"]),
            ("localhost", &["127.0.0.1"]),
            ("ip6-localhost", &["::1"]),
            ("elsewhere.rill.test", &[]),
        ];
        for (host, want) in cases {
            let want: Vec<IpAddr> = want.iter().map(|ip| ip.parse().expect("ip")).collect();
            assert_eq!(hosts_file_addresses(&hosts, host), want, "{host}");
        }
    }

    #[test]
    fn blocking_lookups_work_inside_and_outside_a_runtime() {
        let ips = lookup_blocking("localhost").expect("outside a runtime");
        assert!(ips.iter().all(|ip| ip.is_loopback()));
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let ips = runtime
            .block_on(async { lookup_blocking("localhost") })
            .expect("inside a runtime");
        assert!(ips.iter().all(|ip| ip.is_loopback()));
    }
}
