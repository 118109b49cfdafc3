//! A Kustomization's timing normalised once at the edge: `interval`, `retryInterval` (the
//! interval when unset) and `timeout` (the interval minus 30 s when unset, never below 30 s),
//! so the steps take durations instead of re-reading strings (pure).

use std::time::Duration;

use rill_common::api::kustomize_v1::Kustomization;

/// Flux's default when a duration is unreadable (the schema makes that rare).
const FALLBACK_INTERVAL: Duration = Duration::from_secs(60);
const MIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The durations one reconcile of a Kustomization works with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `spec.interval`.
    pub interval: Duration,
    /// `spec.retryInterval`, defaulting to the interval.
    pub retry_interval: Duration,
    /// `spec.timeout`, defaulting to the interval minus 30 s; at least 30 s.
    pub timeout: Duration,
}

impl Timing {
    /// The timing of `ks`.
    pub fn of(ks: &Kustomization) -> Self {
        let parse = |t: &str| rill_common::duration::parse(t).ok();
        let interval = parse(&ks.spec.interval).unwrap_or(FALLBACK_INTERVAL);
        let retry_interval = ks
            .spec
            .retry_interval
            .as_deref()
            .and_then(parse)
            .unwrap_or(interval);
        let timeout = ks
            .spec
            .timeout
            .as_deref()
            .and_then(parse)
            .unwrap_or_else(|| interval.saturating_sub(MIN_TIMEOUT))
            .max(MIN_TIMEOUT);
        Self {
            interval,
            retry_interval,
            timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(interval: &str, retry: Option<&str>, timeout: Option<&str>) -> Kustomization {
        let mut spec = serde_json::json!({"interval": interval, "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "app"}});
        if let Some(r) = retry {
            spec["retryInterval"] = r.into();
        }
        if let Some(t) = timeout {
            spec["timeout"] = t.into();
        }
        serde_json::from_value(
            serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization", "metadata": {"name": "a"}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn defaults_follow_flux() {
        let s = Duration::from_secs;
        let cases = [
            (("10m", None, None), (s(600), s(600), s(570))),
            (("10m", Some("1m"), Some("2m")), (s(600), s(60), s(120))),
            (("40s", None, None), (s(40), s(40), s(30))),
            (("10m", None, Some("5s")), (s(600), s(600), s(30))),
            (("nonsense", None, None), (s(60), s(60), s(30))),
        ];
        for ((interval, retry, timeout), (i, r, t)) in cases {
            let got = Timing::of(&ks(interval, retry, timeout));
            assert_eq!(
                got,
                Timing {
                    interval: i,
                    retry_interval: r,
                    timeout: t
                },
                "{interval} {retry:?} {timeout:?}"
            );
        }
    }
}
