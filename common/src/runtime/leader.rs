//! Leader election on a `coordination.k8s.io/v1` Lease with client-go's semantics, so only one
//! replica of a controller reconciles at a time: candidates try every `--leader-election-retry-period`,
//! the leader renews on the same period and steps down when it could not renew for
//! `--leader-election-renew-deadline`; a lease not renewed for
//! `--leader-election-lease-duration` may be taken over. Dropping the receiver releases it.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
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
    /// How long the leader keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// How often candidates try to take the lease, and the leader renews it.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// Flux's naming: lease `<controller>-leader-election`, identity from the pod's hostname.
    pub fn for_controller(
        controller: &str,
        namespace: &str,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
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
            retry_period,
        }
    }
}

/// Leader election failed to start.
#[derive(Debug, thiserror::Error)]
#[error("leader election on lease {lease}: {source}")]
pub struct LeaderError {
    /// The lease.
    pub lease: String,
    /// The API error.
    #[source]
    pub source: kube::Error,
}

/// What a replica does with the lease it sees (pure).
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// No lease yet: create it, held by us.
    Create(LeaseSpec),
    /// Write this spec (renew ours, or take an expired or released one).
    Update(LeaseSpec),
    /// Someone else holds a live lease.
    Wait,
}

/// Decides what `identity` does with `current` at `now`.
pub fn claim(
    current: Option<&LeaseSpec>,
    identity: &str,
    now: Timestamp,
    lease_duration: Duration,
) -> Claim {
    let seconds = i32::try_from(lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let fresh = |transitions: i32, acquired: Option<MicroTime>| LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(seconds),
        acquire_time: acquired.or(Some(MicroTime(now))),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let Some(spec) = current else {
        return Claim::Create(fresh(0, None));
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    let transitions = spec.lease_transitions.unwrap_or(0);
    if holder == identity {
        return Claim::Update(fresh(transitions, spec.acquire_time.clone()));
    }
    let held_for = i64::from(spec.lease_duration_seconds.unwrap_or(seconds));
    let expires = spec
        .renew_time
        .as_ref()
        .map(|t| t.0.as_second().saturating_add(held_for));
    let live = !holder.is_empty() && expires.is_some_and(|e| e > now.as_second());
    if live {
        Claim::Wait
    } else {
        Claim::Update(fresh(transitions.saturating_add(1), None))
    }
}

/// Starts competing for the lease; the receiver says whether this replica leads. Dropping every
/// receiver releases the lease.
pub async fn start(
    client: Client,
    config: &LeaderElectionConfig,
) -> Result<watch::Receiver<bool>, LeaderError> {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    // Fail early when the API refuses us (RBAC), rather than retrying silently.
    api.get_opt(&config.lease_name)
        .await
        .map_err(|source| LeaderError {
            lease: config.lease_name.clone(),
            source,
        })?;
    let (sender, receiver) = watch::channel(false);
    let config = config.clone();
    tokio::spawn(async move {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            let leading = *sender.borrow();
            match try_acquire_or_renew(&api, &config).await {
                Ok(true) => {
                    last_renewal = tokio::time::Instant::now();
                    sender.send_if_modified(|l| !std::mem::replace(l, true));
                }
                Ok(false) => {
                    sender.send_if_modified(|l| std::mem::replace(l, false));
                }
                Err(e) => {
                    tracing::debug!(error = %e, lease = %config.lease_name, "lease update failed");
                    if leading && last_renewal.elapsed() >= config.renew_deadline {
                        sender.send_replace(false);
                    }
                }
            }
            tokio::select! {
                _ = sender.closed() => break,
                _ = tokio::time::sleep(config.retry_period) => {}
            }
        }
        release(&api, &config).await;
    });
    Ok(receiver)
}

async fn try_acquire_or_renew(
    api: &Api<Lease>,
    config: &LeaderElectionConfig,
) -> Result<bool, kube::Error> {
    let current = api.get_opt(&config.lease_name).await?;
    let now = Timestamp::now();
    let spec = current.as_ref().and_then(|l| l.spec.as_ref());
    match claim(spec, &config.identity, now, config.lease_duration) {
        Claim::Wait => Ok(false),
        Claim::Create(spec) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.lease_name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
            };
            api.create(&PostParams::default(), &lease).await?;
            Ok(true)
        }
        Claim::Update(spec) => {
            let mut lease = current.unwrap_or_default();
            lease.spec = Some(spec);
            // The resourceVersion read above makes a concurrent writer's update conflict.
            api.replace(&config.lease_name, &PostParams::default(), &lease)
                .await?;
            Ok(true)
        }
    }
}

async fn release(api: &Api<Lease>, config: &LeaderElectionConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&config.lease_name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    if let Err(e) = api
        .replace(&config.lease_name, &PostParams::default(), &lease)
        .await
    {
        tracing::debug!(error = %e, "cannot release the lease");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(by: &str, renewed: i64, seconds: i32, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            lease_duration_seconds: Some(seconds),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            acquire_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    type Verdict = (&'static str, Option<String>, Option<i32>);

    fn verdict(c: &Claim) -> Verdict {
        match c {
            Claim::Wait => ("wait", None, None),
            Claim::Create(s) => ("create", s.holder_identity.clone(), s.lease_transitions),
            Claim::Update(s) => ("update", s.holder_identity.clone(), s.lease_transitions),
        }
    }

    #[test]
    fn a_lease_goes_to_its_holder_or_whoever_finds_it_expired() {
        let now = Timestamp::from_second(1_000).unwrap();
        let d = Duration::from_secs(35);
        let me = Some("me".to_string());
        let released = LeaseSpec {
            holder_identity: None,
            ..held("x", 999, 1, 3)
        };
        let cases: [(Option<LeaseSpec>, Verdict); 5] = [
            (None, ("create", me.clone(), Some(0))),
            (
                Some(held("me", 990, 35, 2)),
                ("update", me.clone(), Some(2)),
            ),
            (Some(held("other", 990, 35, 2)), ("wait", None, None)),
            (
                Some(held("other", 960, 35, 2)),
                ("update", me.clone(), Some(3)),
            ),
            (Some(released), ("update", me.clone(), Some(4))),
        ];
        for (current, want) in cases {
            let got = claim(current.as_ref(), "me", now, d);
            assert_eq!(verdict(&got), want, "{current:?}");
        }
    }

    #[test]
    fn renewing_keeps_the_acquire_time() {
        let now = Timestamp::from_second(1_000).unwrap();
        let Claim::Update(spec) = claim(
            Some(&held("me", 990, 35, 0)),
            "me",
            now,
            Duration::from_secs(35),
        ) else {
            panic!("the holder renews");
        };
        assert_eq!(
            spec.acquire_time,
            Some(MicroTime(Timestamp::from_second(990).unwrap()))
        );
        assert_eq!(spec.renew_time, Some(MicroTime(now)));
    }
}
