//! Rill's kustomize-controller: reconciles `Kustomization`s (download and verify the source
//! artifact, build with Rill's kustomize engine, substitute, validate with a server-side
//! dry-run, apply in stages, prune, check health, honour `dependsOn`) as the tenant's service
//! account. A library with a thin `main`, so it can also run inside another process.

pub mod error;
pub mod kustomization;

use std::sync::Arc;

use clap::Parser;
use rill_common::artifact::Fetcher;
use rill_common::runtime::flags::{ControllerDefaults, RuntimeFlags};
use rill_common::runtime::frame::Frame;
use rill_common::runtime::manager::ControllerRuntime;

use crate::kustomization::{Context, Settings, cluster::RestMapper};

/// The controller name used for leases, events and field managers.
pub const CONTROLLER_NAME: &str = "kustomize-controller";

/// Flux's default `--concurrent` for the kustomize-controller.
pub const DEFAULTS: ControllerDefaults = ControllerDefaults {
    concurrent: 4,
    feature_gates: &[
        "StrictPostBuildSubstitutions",
        "AdditiveCELDependencyCheck",
        "DisableConfigWatchers",
    ],
    watches_configs: true,
};

/// Command-line flags.
#[derive(Parser, Debug, Clone)]
#[command(name = CONTROLLER_NAME, version, about = "Flux-compatible kustomize-controller")]
pub struct Flags {
    /// Flags shared by every controller.
    #[command(flatten)]
    pub runtime: RuntimeFlags,
    /// Refuse sources in another namespace than the Kustomization's.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,
    /// The service account impersonated when a Kustomization names none.
    #[arg(long, default_value = "")]
    pub default_service_account: String,
    /// Refuse remote bases (Rill's engine always builds from local files only).
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub no_remote_bases: bool,
    /// Retries of an artifact download.
    #[arg(long, default_value_t = 9)]
    pub http_retry: u32,
    /// Objects applied at once within an apply stage.
    #[arg(long, default_value_t = 4)]
    pub concurrent_ssa: usize,
    /// More field managers whose fields the controller takes over (repeatable).
    #[arg(long)]
    pub override_manager: Vec<String>,
    /// `group/Kind` entries applied after the `*Class` stage and before the rest.
    #[arg(long, value_delimiter = ',')]
    pub custom_apply_stage_kinds: Vec<String>,
    /// A Secret in the controller's namespace whose `*.agekey` entries decrypt SOPS files of
    /// Kustomizations that set `decryption` without a `secretRef`.
    #[arg(long, default_value = "")]
    pub sops_age_secret: String,
    /// Memory for unpacked artifacts shared by the Kustomizations on one revision (bytes, or
    /// with a `Ki`/`Mi`/`Gi` suffix); the least recently used leave first.
    #[arg(long, default_value = "64Mi", value_parser = parse_size)]
    pub artifact_cache_size: usize,
    /// What to do when an applied object is changed outside Git or deleted, for
    /// Kustomizations without the `rill.dev/drift` annotation: `correct` (re-apply at once),
    /// `detect` (report only) or `off`.
    #[arg(long, value_enum, default_value = "correct")]
    pub drift_mode: kustomization::drift::DriftMode,
}

/// A size flag that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// A suffix other than `Ki`, `Mi`, `Gi`.
    #[error("unknown size unit {0:?}: use Ki, Mi or Gi")]
    Unit(String),
    /// Not a number, or too large.
    #[error("{0:?} is not a size")]
    Number(String),
}

/// A size in bytes, with an optional binary suffix (`512Ki`, `64Mi`, `1Gi`).
pub fn parse_size(text: &str) -> Result<usize, SizeError> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit {
        "" => 0,
        "Ki" => 10,
        "Mi" => 20,
        "Gi" => 30,
        other => return Err(SizeError::Unit(other.to_string())),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1usize << shift))
        .ok_or_else(|| SizeError::Number(text.to_string()))
}

impl Flags {
    /// The reconciler settings the flags select.
    pub fn settings(&self) -> Settings {
        Settings {
            no_cross_namespace_refs: self.no_cross_namespace_refs,
            default_service_account: Some(self.default_service_account.clone())
                .filter(|s| !s.is_empty()),
            requeue_dependency: self.runtime.requeue_dependency,
            jitter_percentage: self.runtime.interval_jitter_percentage,
            strict_substitution: self
                .runtime
                .feature_enabled("StrictPostBuildSubstitutions", true),
            watch_configs_selector: if self.runtime.feature_enabled("DisableConfigWatchers", false)
            {
                String::new()
            } else {
                self.runtime.watch_configs_label_selector.clone()
            },
            additive_cel_dependency_check: self
                .runtime
                .feature_enabled("AdditiveCELDependencyCheck", false),
            apply: kustomization::apply::ApplyOptions {
                concurrency: self.concurrent_ssa,
                override_managers: self.override_manager.clone(),
                custom_stage_kinds: self.custom_apply_stage_kinds.clone(),
            },
            decryption: kustomization::decryption::GlobalKeys {
                age_secret: Some(self.sops_age_secret.clone())
                    .filter(|s| !s.is_empty())
                    .map(|name| (rill_common::runtime::flags::runtime_namespace(), name)),
            },
        }
    }
}

/// Runs the reconcilers with the configuration found the usual way (in-cluster, then
/// `KUBECONFIG`) until shutdown.
pub async fn run(flags: Flags, runtime: ControllerRuntime, client: kube::Client) {
    match kube::Config::infer().await {
        Ok(config) => run_with_config(flags, runtime, client, config).await,
        Err(e) => tracing::error!(error = %e, "cannot read the Kubernetes configuration"),
    }
}

impl Context {
    /// The reconciler's state for `flags`, reporting through `runtime`; tenant clients are
    /// derived from `config`.
    pub fn new(
        flags: &Flags,
        runtime: &ControllerRuntime,
        client: kube::Client,
        config: kube::Config,
    ) -> Result<Self, reqwest::Error> {
        rill_common::runtime::install_crypto_provider();
        let http = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(
                rill_common::dns::HostResolver::default(),
            ))
            .build()?;
        let rt = &runtime.flags;
        Ok(Self {
            frame: Frame::new(client, runtime, kustomization::STATUS_MANAGER),
            base_config: config,
            mapper: RestMapper::default(),
            api_rate: kustomization::cluster::ApiRate {
                qps: rt.kube_api_qps,
                burst: rt.kube_api_burst,
            },
            artifacts: kustomization::artifact_cache::ArtifactCache::new(
                Fetcher::new(http, flags.http_retry),
                flags.artifact_cache_size,
            ),
            drift: kustomization::drift::DriftWatch::new(
                flags.drift_mode,
                flags.override_manager.clone(),
                runtime.metrics.clone(),
            ),
            settings: flags.settings(),
            namespace: rt.watch_namespace(),
            label_selector: rt.label_selector().map(str::to_string),
            concurrency: rt.concurrent,
        })
    }
}

/// Runs the reconcilers with an explicit configuration (tenant clients are derived from it).
pub async fn run_with_config(
    flags: Flags,
    runtime: ControllerRuntime,
    client: kube::Client,
    config: kube::Config,
) {
    match Context::new(&flags, &runtime, client, config) {
        Ok(ctx) => kustomization::run(Arc::new(ctx)).await,
        Err(e) => tracing::error!(error = %e, "cannot build the HTTP client"),
    }
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_read_plain_bytes_and_binary_suffixes() {
        let cases: [(&str, Result<usize, ()>); 7] = [
            ("1024", Ok(1024)),
            ("64Mi", Ok(64 << 20)),
            ("512Ki", Ok(512 << 10)),
            ("1Gi", Ok(1 << 30)),
            ("64MB", Err(())),
            ("", Err(())),
            ("99999999999999999999Gi", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).map_err(|_| ()), want, "{text}");
        }
    }
}
