//! An OCIRepository's spec normalised once at the start of a reconcile: unsupported settings
//! refused, the URL parsed, the wanted tag, range or digest and the timeout resolved; the
//! steps read the plan, never the spec (pure).

use std::time::Duration;

use rill_common::api::source_v1::{OCILayerSelector, OCIProvider, OCIRepository};
use rill_common::oci::OciUrl;

use super::reference::{Wanted, wanted};
use crate::error::Error;
use crate::outcome::refuse_unsupported;

/// What one reconcile of an OCIRepository works from.
#[derive(Clone, Debug)]
pub struct OciPlan {
    /// The repository (`oci://` URL parsed; `insecure` applied).
    pub url: OciUrl,
    /// The tag, semver range or digest wanted.
    pub wanted: Wanted,
    /// `spec.timeout` (Flux's default 60 s).
    pub timeout: Duration,
    /// `spec.ignore`.
    pub ignore: Option<String>,
    /// `spec.layerSelector` as written (recorded in `observedLayerSelector`).
    pub layer_selector: Option<OCILayerSelector>,
}

impl OciPlan {
    /// The plan of `repo`, or why it cannot run.
    pub fn of(repo: &OCIRepository) -> Result<OciPlan, Error> {
        let spec = &repo.spec;
        let generic = spec.provider.is_none_or(|p| p == OCIProvider::Generic);
        refuse_unsupported(spec.verify.is_some(), generic, "artifacts")?;
        let url = OciUrl::parse(&spec.url, spec.insecure == Some(true))
            .map_err(|e| Error::InvalidUrl(e.to_string()))?;
        Ok(OciPlan {
            url,
            wanted: wanted(spec.reference.as_ref()),
            timeout: crate::reconcile::spec_timeout(spec.timeout.as_deref()),
            ignore: spec.ignore.clone(),
            layer_selector: spec.layer_selector.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(spec: serde_json::Value) -> OCIRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "r", "namespace": "default"}, "spec": spec
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn specs_become_plans_or_refusals() {
        let plan = OciPlan::of(&repo(
            serde_json::json!({"url": "oci://ghcr.io/acme/app", "interval": "1m",
            "ref": {"semver": ">=1.0.0"}, "timeout": "30s"}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.timeout, Duration::from_secs(30));
        assert!(matches!(plan.wanted, Wanted::Semver { .. }));
        for bad in [
            serde_json::json!({"url": "https://ghcr.io/acme/app", "interval": "1m"}),
            serde_json::json!({"url": "oci://ghcr.io/acme/app", "interval": "1m", "provider": "aws"}),
        ] {
            assert!(OciPlan::of(&repo(bad)).is_err());
        }
    }
}
