//! Leader election on a `coordination.k8s.io/v1` Lease (through kube-lease-manager), so only
//! one replica of a controller reconciles at a time.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;

/// Leader election settings, from the `--leader-election-*` flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Lease name (`<controller>-leader-election`).
    pub lease_name: String,
    /// Namespace of the Lease (the controller's runtime namespace).
    pub namespace: String,
    /// This replica's identity.
    pub identity: String,
    /// How long a lease is valid without renewal.
    pub lease_duration: Duration,
    /// How long before expiry the leader renews.
    pub renew_deadline: Duration,
}

impl LeaderElectionConfig {
    /// Flux's naming: lease `<controller>-leader-election`, identity from the pod's hostname.
    pub fn for_controller(
        controller: &str,
        namespace: &str,
        lease_duration: Duration,
        renew_deadline: Duration,
    ) -> Self {
        let host = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "rill".to_string());
        Self {
            lease_name: format!("{controller}-leader-election"),
            namespace: namespace.to_string(),
            identity: format!("{host}_{:08x}", rand::random::<u32>()),
            lease_duration,
            renew_deadline,
        }
    }

    /// The lease duration and renewal grace in whole seconds, as the lease manager takes them.
    pub fn seconds(&self) -> (u64, u64) {
        let duration = self.lease_duration.as_secs().max(2);
        let grace = duration
            .saturating_sub(self.renew_deadline.as_secs())
            .clamp(1, duration - 1);
        (duration, grace)
    }
}

/// Leader election failed to start.
#[derive(Debug, thiserror::Error)]
#[error("leader election on lease {lease}: {message}")]
pub struct LeaderError {
    /// The lease.
    pub lease: String,
    /// What went wrong.
    pub message: String,
}

/// Starts competing for the lease; the receiver says whether this replica leads.
pub async fn start(
    client: Client,
    config: &LeaderElectionConfig,
) -> Result<watch::Receiver<bool>, LeaderError> {
    let (duration, grace) = config.seconds();
    let manager = LeaseManagerBuilder::new(client, &config.lease_name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .map_err(|e| LeaderError {
            lease: config.lease_name.clone(),
            message: e.to_string(),
        })?;
    let (receiver, _task) = manager.watch().await;
    Ok(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_defaults_map_to_lease_seconds() {
        let c = LeaderElectionConfig::for_controller(
            "source-controller",
            "flux-system",
            Duration::from_secs(35),
            Duration::from_secs(30),
        );
        assert_eq!(c.lease_name, "source-controller-leader-election");
        assert_eq!(c.seconds(), (35, 5));
        let odd = LeaderElectionConfig {
            renew_deadline: Duration::from_secs(60),
            ..c.clone()
        };
        assert_eq!(odd.seconds(), (35, 1));
        let tiny = LeaderElectionConfig {
            lease_duration: Duration::ZERO,
            ..c
        };
        assert_eq!(tiny.seconds(), (2, 1));
    }
}
