//! Writes through the `scale` subresource (`kubectl scale`, autoscalers): the patch is
//! applied to the `autoscaling/v1` Scale view, and its `spec.replicas` is written back to the
//! object, attributed to the request's field manager.

use serde_json::{Value, json};

use super::read::scale_of;
use super::request::ResourcePath;
use super::write::{after_write, commit, write_for};
use super::{ApiServer, RequestContext};
use crate::error::{ApiError, ApiResult};
use crate::patch::json_patch::apply_json_patch;
use crate::patch::merge::merge_patch;
use crate::resources::ResourceType;

/// PATCH of `.../scale`: merge, strategic (same as merge for a Scale) or JSON patch.
pub fn patch(
    api: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    ctx: &RequestContext,
    content_type: &str,
    body: &[u8],
) -> ApiResult<(u16, Value)> {
    if !rt.scale_subresource || content_type.starts_with("application/apply-patch") {
        return Err(ApiError::unknown_resource());
    }
    let patch_body = super::decode_body(body, content_type)?;
    let main = ResourcePath {
        subresource: None,
        ..path.clone()
    };
    let w = write_for(rt, &main, ctx, false)?;
    let name = w.key.name.clone();
    let result = api.store.write(|tx| {
        let old = tx
            .get(&w.key)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
        let mut view = scale_of(&old);
        if content_type.starts_with("application/json-patch+json") {
            apply_json_patch(&mut view, &patch_body).map_err(ApiError::unprocessable)?;
        } else {
            merge_patch(&mut view, &patch_body);
        }
        let replicas = view["spec"]["replicas"].as_i64().ok_or_else(|| {
            ApiError::unprocessable("spec.replicas: Required value: must be an integer")
        })?;
        if replicas < 0 {
            return Err(ApiError::unprocessable(
                "spec.replicas: Invalid value: must be greater than or equal to 0",
            ));
        }
        let mut new = (*old).clone();
        new["spec"]["replicas"] = json!(replicas);
        commit(tx, &w, Some(&old), new)
    })?;
    after_write(api, rt);
    Ok((result.0, scale_of(&result.1)))
}
