//! The process wrapper every controller binary runs in: logging, metrics and health servers,
//! the Kubernetes client, leader election and graceful shutdown.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use kube::Client;

use super::events::{EventAddressError, EventForwarder};
use super::flags::{RuntimeFlags, runtime_namespace};
use super::health::{self, AddressError, Readiness};
use super::leader::{self, LeaderElectionConfig, LeaderError};
use super::metrics::Metrics;
use super::{install_crypto_provider, logging};

/// The runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A listen address is invalid.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No Kubernetes configuration was found or it is invalid.
    #[error("cannot build a Kubernetes client: {0}")]
    Client(String),
    /// Leader election failed.
    #[error(transparent)]
    Leader(#[from] LeaderError),
    /// `--events-addr` cannot be used.
    #[error(transparent)]
    Events(#[from] EventAddressError),
    /// A flag value Rill cannot honour.
    #[error("{0}")]
    Flag(#[from] super::flags::FlagError),
}

/// Shared runtime state handed to the controllers.
#[derive(Clone)]
pub struct ControllerRuntime {
    /// The controller name (`source-controller`).
    pub name: &'static str,
    /// The parsed common flags.
    pub flags: RuntimeFlags,
    /// The metric families.
    pub metrics: Arc<Metrics>,
    /// The readiness reported on `/readyz`.
    pub readiness: Readiness,
    /// Where events are forwarded (`--events-addr`), when set.
    pub events: Option<EventForwarder>,
    /// The configuration the controller's client was built from, for the clients that need
    /// their own rate limit (events, as client-go's event broadcaster has its own client).
    config: Arc<OnceLock<kube::Config>>,
}

impl ControllerRuntime {
    /// Installs the crypto provider and logging, and creates the metrics.
    pub fn init(name: &'static str, flags: RuntimeFlags) -> Result<Self, RuntimeError> {
        install_crypto_provider();
        logging::init(flags.log_level, flags.log_encoding);
        Self::new(name, flags)
    }

    /// The runtime of controller `name` with `flags` (no global logging set-up, for
    /// in-process use); refuses flag values it cannot honour.
    pub fn new(name: &'static str, flags: RuntimeFlags) -> Result<Self, RuntimeError> {
        flags.validate()?;
        let events = match flags.events_addr.as_str() {
            "" => None,
            address => Some(EventForwarder::new(address)?),
        };
        Ok(Self {
            name,
            flags,
            metrics: Metrics::new(),
            readiness: Readiness::default(),
            events,
            config: Arc::default(),
        })
    }

    /// A client from the in-cluster config or `KUBECONFIG`, rate-limited by `--kube-api-qps`
    /// and `--kube-api-burst`.
    pub async fn client(&self) -> Result<Client, RuntimeError> {
        let config = kube::Config::infer()
            .await
            .map_err(|e| RuntimeError::Client(e.to_string()))?;
        self.client_for(config)
    }

    /// A client for `config`, rate-limited by `--kube-api-qps` and `--kube-api-burst`.
    pub fn client_for(&self, config: kube::Config) -> Result<Client, RuntimeError> {
        let _ = self.config.set(config.clone());
        super::rate_limit::rate_limited_client(
            config,
            self.flags.kube_api_qps,
            self.flags.kube_api_burst,
        )
        .map_err(|e| RuntimeError::Client(e.to_string()))
    }

    /// The client events are written with: its own rate limit when the controller's client was
    /// built by this runtime, else `client` itself.
    pub fn events_client(&self, client: &Client) -> Client {
        self.config
            .get()
            .and_then(|config| {
                super::rate_limit::rate_limited_client(
                    config.clone(),
                    self.flags.kube_api_qps,
                    self.flags.kube_api_burst,
                )
                .ok()
            })
            .unwrap_or_else(|| client.clone())
    }

    /// Serves metrics and health, waits for leadership when enabled, then runs `controllers`
    /// until it ends, a shutdown signal arrives, or leadership is lost.
    pub async fn run<F, Fut>(self, client: Client, controllers: F) -> Result<(), RuntimeError>
    where
        F: FnOnce(ControllerRuntime, Client) -> Fut,
        Fut: Future<Output = ()>,
    {
        let metrics_listener = bind(&self.flags.metrics_addr).await?;
        let health_listener = bind(&self.flags.health_addr).await?;
        tokio::spawn(health::serve(
            metrics_listener,
            health::metrics_router(self.metrics.clone()),
        ));
        tokio::spawn(health::serve(
            health_listener,
            health::health_router(self.readiness.clone()),
        ));
        self.readiness.set(true);

        let mut leadership = if self.flags.enable_leader_election {
            let config = LeaderElectionConfig::for_controller(
                self.name,
                &runtime_namespace(),
                self.flags.leader_election_lease_duration,
                self.flags.leader_election_renew_deadline,
                self.flags.leader_election_retry_period,
            );
            let mut receiver = leader::start(client.clone(), &config).await?;
            tracing::info!(lease = %config.lease_name, identity = %config.identity, "waiting for leadership");
            tokio::select! {
                _ = receiver.wait_for(|leading| *leading) => {}
                _ = shutdown_signal() => return Ok(()),
            }
            tracing::info!(lease = %config.lease_name, "acquired leadership");
            Some(receiver)
        } else {
            None
        };
        let lost = async {
            match leadership.as_mut() {
                Some(receiver) => {
                    let _ = receiver.wait_for(|leading| !*leading).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tracing::info!(controller = self.name, "starting controllers");
        tokio::select! {
            _ = controllers(self.clone(), client) => tracing::info!("controllers stopped"),
            _ = shutdown_signal() => tracing::info!("shutdown signal received"),
            _ = lost => tracing::error!("leadership lost, exiting"),
        }
        Ok(())
    }
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, RuntimeError> {
    let socket = health::parse_listen_addr(addr)?;
    tokio::net::TcpListener::bind(socket)
        .await
        .map_err(|source| RuntimeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The whole `main` of a controller binary: parses its flags (with its own defaults), sets up
/// the runtime, connects to Kubernetes and runs `run` until shutdown. Exits 1 with a message
/// when the runtime cannot start.
pub async fn controller_main<Flags, F, Fut>(
    name: &'static str,
    defaults: super::flags::ControllerDefaults,
    runtime_flags: fn(&Flags) -> RuntimeFlags,
    run: F,
) -> std::process::ExitCode
where
    Flags: clap::CommandFactory + clap::FromArgMatches,
    F: FnOnce(Flags, ControllerRuntime, Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let matches = super::flags::with_controller_defaults(Flags::command(), defaults).get_matches();
    let flags = match Flags::from_arg_matches(&matches) {
        Ok(flags) => flags,
        Err(e) => e.exit(),
    };
    let result = async {
        let common = runtime_flags(&flags);
        common.check_for(&defaults)?;
        let runtime = ControllerRuntime::init(name, common)?;
        let client = runtime.client().await?;
        runtime
            .run(client, move |runtime, client| run(flags, runtime, client))
            .await
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} failed");
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
