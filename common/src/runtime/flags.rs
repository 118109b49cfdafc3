//! Flux's common controller flags, with Flux's names and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

/// Log verbosity (`--log-level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Informational messages (default).
    Info,
    /// Debug messages.
    Debug,
    /// Everything.
    Trace,
}

/// Log format (`--log-encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogEncoding {
    /// One JSON object per line (default).
    Json,
    /// Human-readable text.
    Console,
}

/// Parses a Go-style duration flag value (`1m30s`), for clap.
pub fn parse_duration(text: &str) -> Result<Duration, crate::duration::DurationError> {
    crate::duration::parse(text)
}

fn parse_feature_gates(text: &str) -> Result<BTreeMap<String, bool>, String> {
    let mut gates = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("feature gate {pair:?} must be Name=true|false"))?;
        let value = value
            .parse::<bool>()
            .map_err(|_| format!("feature gate {name} must be true or false, got {value:?}"))?;
        gates.insert(name.to_string(), value);
    }
    Ok(gates)
}

/// The flags every Rill controller accepts, named and defaulted as in Flux.
#[derive(Args, Clone, Debug)]
pub struct RuntimeFlags {
    /// The address the metric endpoint binds to.
    #[arg(long, default_value = ":8080")]
    pub metrics_addr: String,
    /// The address the health endpoint binds to.
    #[arg(long, default_value = ":9440")]
    pub health_addr: String,
    /// The address of the events receiver (empty: events are only recorded in Kubernetes).
    #[arg(long, default_value = "")]
    pub events_addr: String,
    /// The number of concurrent reconciles per kind.
    #[arg(long, default_value_t = 4)]
    pub concurrent: u16,
    /// The interval at which failing dependencies are re-checked.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub requeue_dependency: Duration,
    /// Enable leader election, so only one replica reconciles.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub enable_leader_election: bool,
    /// How long a lease is held without renewal.
    #[arg(long, default_value = "35s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How long candidates wait between attempts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
    /// Log verbosity.
    #[arg(long, value_enum, default_value = "info")]
    pub log_level: LogLevel,
    /// Log format.
    #[arg(long, value_enum, default_value = "json")]
    pub log_encoding: LogEncoding,
    /// Queries per second allowed against the API server.
    #[arg(long, default_value_t = 50.0)]
    pub kube_api_qps: f32,
    /// Burst of queries allowed against the API server.
    #[arg(long, default_value_t = 300)]
    pub kube_api_burst: u32,
    /// Watch every namespace; when false only `RUNTIME_NAMESPACE` is watched.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub watch_all_namespaces: bool,
    /// Only reconcile objects matching this label selector (sharding).
    #[arg(long, default_value = "")]
    pub watch_label_selector: String,
    /// ConfigMaps and Secrets with these labels trigger reconciles of objects using them.
    #[arg(long, default_value = WATCH_CONFIGS_DEFAULT)]
    pub watch_configs_label_selector: String,
    /// Percentage of random jitter added to `spec.interval`, 0-99.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..100))]
    pub interval_jitter_percentage: u8,
    /// The shortest delay before retrying a failed reconcile.
    #[arg(long, default_value = "750ms", value_parser = parse_duration)]
    pub min_retry_delay: Duration,
    /// The longest delay before retrying a failed reconcile.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub max_retry_delay: Duration,
    /// Feature gates, as `Name=true,Other=false`.
    #[arg(long, default_value = "", value_parser = parse_feature_gates)]
    pub feature_gates: BTreeMap<String, bool>,
}

/// Per-controller defaults that differ from the shared ones.
#[derive(Clone, Copy, Debug)]
pub struct ControllerDefaults {
    /// Default of `--concurrent` (source 2, kustomize 4, image 4).
    pub concurrent: u16,
    /// The feature gates the controller honours; any other gate is refused at start.
    pub feature_gates: &'static [&'static str],
    /// Whether the controller watches labelled ConfigMaps and Secrets
    /// (`--watch-configs-label-selector`); elsewhere another value than the default is refused.
    pub watches_configs: bool,
}

/// The default of `--watch-configs-label-selector`.
pub const WATCH_CONFIGS_DEFAULT: &str = "reconcile.fluxcd.io/watch=Enabled";

/// Applies a controller's own defaults to a command that flattens [`RuntimeFlags`].
pub fn with_controller_defaults(
    command: clap::Command,
    defaults: ControllerDefaults,
) -> clap::Command {
    // clap keeps defaults as 'static strings; this runs once per process.
    let value: &'static str = Box::leak(defaults.concurrent.to_string().into_boxed_str());
    command.mut_arg("concurrent", |arg| arg.default_value(value))
}

/// A flag value Rill cannot honour; the controller refuses to start with it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `--kube-api-qps` or `--kube-api-burst` out of range.
    #[error(
        "--kube-api-qps must be above 0 and --kube-api-burst at least 1 (got {qps} and {burst})"
    )]
    RateLimit {
        /// `--kube-api-qps`.
        qps: String,
        /// `--kube-api-burst`.
        burst: u32,
    },
    /// The leader election durations cannot work together.
    #[error(
        "leader election needs --leader-election-lease-duration > --leader-election-renew-deadline > --leader-election-retry-period > 0"
    )]
    LeaderElection,
    /// A feature gate this controller does not have.
    #[error("unknown feature gate {gate:?}; this controller knows {known}")]
    UnknownFeatureGate {
        /// The gate.
        gate: String,
        /// The gates it knows, for the message.
        known: String,
    },
    /// A flag this controller has no use for, set to another value than its default.
    #[error("{flag} has no effect on this controller; remove it")]
    NoEffect {
        /// The flag.
        flag: &'static str,
    },
    /// `--watch-label-selector` is not a label selector.
    #[error("--watch-label-selector {0:?} is not a label selector")]
    LabelSelector(String),
}

impl RuntimeFlags {
    /// Refuses values the runtime cannot honour.
    pub fn validate(&self) -> Result<(), FlagError> {
        if !(self.kube_api_qps > 0.0 && self.kube_api_qps.is_finite()) || self.kube_api_burst == 0 {
            return Err(FlagError::RateLimit {
                qps: self.kube_api_qps.to_string(),
                burst: self.kube_api_burst,
            });
        }
        let (lease, renew, retry) = (
            self.leader_election_lease_duration,
            self.leader_election_renew_deadline,
            self.leader_election_retry_period,
        );
        if !(lease > renew && renew > retry && !retry.is_zero()) {
            return Err(FlagError::LeaderElection);
        }
        if label_selector::LabelSelector::parse(&self.watch_label_selector).is_err() {
            return Err(FlagError::LabelSelector(self.watch_label_selector.clone()));
        }
        Ok(())
    }

    /// Refuses what the controller of `defaults` cannot honour: feature gates it does not have,
    /// and a config-watch selector where it watches no configs.
    pub fn check_for(&self, defaults: &ControllerDefaults) -> Result<(), FlagError> {
        self.check_feature_gates(defaults.feature_gates)?;
        if !defaults.watches_configs && self.watch_configs_label_selector != WATCH_CONFIGS_DEFAULT {
            return Err(FlagError::NoEffect {
                flag: "--watch-configs-label-selector",
            });
        }
        Ok(())
    }

    /// Refuses feature gates outside `known` (the gates this controller honours).
    pub fn check_feature_gates(&self, known: &[&str]) -> Result<(), FlagError> {
        match self
            .feature_gates
            .keys()
            .find(|g| !known.contains(&g.as_str()))
        {
            None => Ok(()),
            Some(gate) => Err(FlagError::UnknownFeatureGate {
                gate: gate.clone(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            }),
        }
    }

    /// The label selector of the primary watch (`--watch-label-selector`), if any.
    pub fn label_selector(&self) -> Option<&str> {
        Some(self.watch_label_selector.trim()).filter(|s| !s.is_empty())
    }

    /// The namespace to watch: `None` for all namespaces, otherwise `RUNTIME_NAMESPACE`.
    pub fn watch_namespace(&self) -> Option<String> {
        if self.watch_all_namespaces {
            None
        } else {
            Some(runtime_namespace())
        }
    }

    /// Whether a feature gate is on, given its default.
    pub fn feature_enabled(&self, gate: &str, default: bool) -> bool {
        self.feature_gates.get(gate).copied().unwrap_or(default)
    }
}

/// The namespace the controller runs in (`RUNTIME_NAMESPACE`, default `flux-system`).
pub fn runtime_namespace() -> String {
    std::env::var("RUNTIME_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "flux-system".to_string())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        runtime: RuntimeFlags,
    }

    fn parse(args: &[&str], defaults: ControllerDefaults) -> Result<RuntimeFlags, clap::Error> {
        let command = with_controller_defaults(Cli::command(), defaults);
        let matches =
            command.try_get_matches_from(std::iter::once("ctl").chain(args.iter().copied()))?;
        Ok(Cli::from_arg_matches(&matches)?.runtime)
    }

    const SOURCE: ControllerDefaults = ControllerDefaults {
        concurrent: 2,
        feature_gates: &[],
        watches_configs: false,
    };

    #[test]
    fn defaults_match_flux() {
        let f = parse(&[], SOURCE).unwrap();
        assert_eq!(f.metrics_addr, ":8080");
        assert_eq!(f.health_addr, ":9440");
        assert_eq!(f.concurrent, 2);
        assert_eq!(f.requeue_dependency, Duration::from_secs(30));
        assert!(!f.enable_leader_election);
        assert_eq!(f.leader_election_lease_duration, Duration::from_secs(35));
        assert_eq!(f.log_level, LogLevel::Info);
        assert_eq!(f.log_encoding, LogEncoding::Json);
        assert!(f.watch_all_namespaces);
        assert_eq!(f.interval_jitter_percentage, 5);
        assert_eq!(f.min_retry_delay, Duration::from_millis(750));
        assert_eq!(f.max_retry_delay, Duration::from_secs(900));
        assert_eq!(
            f.watch_configs_label_selector,
            "reconcile.fluxcd.io/watch=Enabled"
        );
    }

    #[test]
    fn go_style_flags_parse() {
        let f = parse(
            &[
                "--enable-leader-election",
                "--watch-all-namespaces=false",
                "--log-encoding=console",
                "--log-level",
                "debug",
                "--concurrent=10",
                "--requeue-dependency=1m30s",
                "--feature-gates=StrictPostBuildSubstitutions=false,CacheSecretsAndConfigMaps=true",
            ],
            SOURCE,
        )
        .unwrap();
        assert!(f.enable_leader_election);
        assert!(!f.watch_all_namespaces);
        assert_eq!(f.log_encoding, LogEncoding::Console);
        assert_eq!(f.log_level, LogLevel::Debug);
        assert_eq!(f.concurrent, 10);
        assert_eq!(f.requeue_dependency, Duration::from_secs(90));
        assert!(!f.feature_enabled("StrictPostBuildSubstitutions", true));
        assert!(f.feature_enabled("CacheSecretsAndConfigMaps", false));
        assert!(f.feature_enabled("Unset", true));
    }

    #[test]
    fn values_the_runtime_cannot_honour_are_refused() {
        let cases: [(&[&str], bool); 8] = [
            (&[], true),
            (&["--kube-api-qps=0"], false),
            (&["--kube-api-burst=0"], false),
            (&["--leader-election-renew-deadline=40s"], false),
            (&["--leader-election-retry-period=30s"], false),
            (
                &["--watch-label-selector=sharding.fluxcd.io/key=shard1"],
                true,
            ),
            (&["--watch-label-selector=a in b"], false),
            (&["--kube-api-qps=5.5", "--kube-api-burst=10"], true),
        ];
        for (args, ok) in cases {
            let flags = parse(args, SOURCE).unwrap();
            assert_eq!(flags.validate().is_ok(), ok, "{args:?}");
        }
    }

    #[test]
    fn only_the_controllers_own_feature_gates_are_accepted() {
        let known = ["StrictPostBuildSubstitutions"];
        let ok = parse(
            &["--feature-gates=StrictPostBuildSubstitutions=false"],
            SOURCE,
        )
        .unwrap();
        assert_eq!(ok.check_feature_gates(&known), Ok(()));
        let other = parse(&["--feature-gates=OptimizedGitClones=false"], SOURCE).unwrap();
        assert!(other.check_feature_gates(&known).is_err());
        assert!(ok.check_feature_gates(&[]).is_err());
        let configs = parse(&["--watch-configs-label-selector=team=a"], SOURCE).unwrap();
        assert!(configs.check_for(&SOURCE).is_err());
        let watching = ControllerDefaults {
            watches_configs: true,
            ..SOURCE
        };
        assert_eq!(configs.check_for(&watching), Ok(()));
        assert_eq!(parse(&[], SOURCE).unwrap().check_for(&SOURCE), Ok(()));
    }

    #[test]
    fn bad_values_are_rejected() {
        for args in [
            &["--requeue-dependency=soon"][..],
            &["--log-encoding=xml"],
            &["--interval-jitter-percentage=100"],
            &["--feature-gates=Foo"],
            &["--feature-gates=Foo=maybe"],
        ] {
            assert!(parse(args, SOURCE).is_err(), "{args:?}");
        }
    }
}
