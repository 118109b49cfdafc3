//! Status writes: compute the desired status, compare with the observed one, and patch the
//! status subresource (server-side apply) only on a difference.

use std::fmt::Debug;

use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Whether a status write is needed.
pub fn status_changed<S: PartialEq>(observed: Option<&S>, desired: &S) -> bool {
    observed != Some(desired)
}

/// Applies `desired` to the status subresource of `name` with `field_manager`, unless it equals
/// `observed`. Returns whether a write happened.
pub async fn patch_status_if_changed<K, S>(
    api: &Api<K>,
    name: &str,
    observed: Option<&S>,
    desired: &S,
    field_manager: &str,
) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if !status_changed(observed, desired) {
        return Ok(false);
    }
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": desired,
    });
    let params = PatchParams::apply(field_manager).force();
    api.patch_status(name, &params, &Patch::Apply(&body))
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::source_v1::GitRepositoryStatus;

    #[test]
    fn only_a_difference_needs_a_write() {
        let status = |generation| {
            let mut s = GitRepositoryStatus::default();
            s.reconcile.observed_generation = Some(generation);
            s
        };
        let (a, b) = (status(1), status(2));
        assert!(status_changed(None, &a));
        assert!(status_changed(Some(&a), &b));
        assert!(!status_changed(Some(&a), &a.clone()));
    }
}
