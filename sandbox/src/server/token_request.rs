//! `serviceaccounts/token` (TokenRequest, `kubectl create token`): a service account token for
//! an existing account, `expirationSeconds` checked and defaulted (one hour) as upstream, the
//! audiences defaulted to the API server's, a bound object (Pod, Secret, Node) required to
//! exist when named. The token authenticates as `system:serviceaccount:<ns>:<name>` until it
//! expires or the account is deleted.

use axum::response::Response;
use serde_json::{Value, json};

use super::ApiServer;
use super::meta::{new_uid, time};
use super::request::ResourcePath;
use super::respond::json_response;
use crate::auth::service_account_token::{ISSUER, TokenSubject};
use crate::builtin::FieldErrors;
use crate::error::{ApiError, ApiResult};
use crate::store::ObjectKey;

/// `expirationSeconds` when the request leaves it out.
const DEFAULT_EXPIRATION: i64 = 3600;

/// `ValidateTokenRequest`'s checks of the requested lifetime.
fn check_expiration(spec: &Value) -> Result<i64, FieldErrors> {
    let mut errors = FieldErrors::default();
    let value = &spec["expirationSeconds"];
    let seconds = value.as_i64().unwrap_or(DEFAULT_EXPIRATION);
    if seconds < 600 {
        errors.invalid(
            "spec.expirationSeconds",
            value,
            "may not specify a duration less than 10 minutes",
        );
    } else if seconds > 1 << 32 {
        errors.invalid(
            "spec.expirationSeconds",
            value,
            "may not specify a duration larger than 2^32 seconds",
        );
    }
    if errors.0.is_empty() {
        Ok(seconds)
    } else {
        Err(errors)
    }
}

/// POST `serviceaccounts/{name}/token`.
pub fn create(api: &ApiServer, path: &ResourcePath, body: Value) -> ApiResult<Response> {
    let namespace = path.namespace.clone().unwrap_or_default();
    let name = path.name.clone().unwrap_or_default();
    let account = api
        .store
        .get(&ObjectKey::new("", "serviceaccounts", &namespace, &name))
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", &name))?;
    let spec = &body["spec"];
    let seconds = check_expiration(spec).map_err(|errors| {
        ApiError::invalid("TokenRequest.authentication.k8s.io", &name, errors.0)
    })?;
    let bound = &spec["boundObjectRef"];
    if let Some(kind) = bound["kind"].as_str() {
        let plural = match kind {
            "Pod" => "pods",
            "Secret" => "secrets",
            "Node" => "nodes",
            other => {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for object of type {other}"
                )));
            }
        };
        let bound_name = bound["name"].as_str().unwrap_or_default();
        let scope = if plural == "nodes" {
            ""
        } else {
            namespace.as_str()
        };
        let object = api
            .store
            .get(&ObjectKey::new("", plural, scope, bound_name))
            .ok_or_else(|| ApiError::not_found("", plural, bound_name))?;
        if let Some(uid) = bound["uid"].as_str().filter(|u| !u.is_empty())
            && object["metadata"]["uid"] != uid
        {
            return Err(ApiError::conflict(
                "",
                plural,
                bound_name,
                &format!(
                    "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
            ));
        }
    }
    let mut audiences: Vec<String> = spec["audiences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    if audiences.is_empty() {
        audiences.push(ISSUER.to_string());
    }
    let subject = TokenSubject {
        namespace: namespace.clone(),
        name: name.clone(),
        uid: account["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let issued = jiff::Timestamp::now();
    let expires = issued.as_second().saturating_add(seconds);
    let token = api
        .authenticator
        .read()
        .map_err(|_| ApiError::internal("lock"))?
        .service_account_tokens()
        .issue(
            &subject,
            &audiences,
            issued.as_second(),
            expires,
            &new_uid(),
        )
        .ok_or_else(|| ApiError::internal("cannot sign the token"))?;
    let expiration = jiff::Timestamp::from_second(expires)
        .map(time)
        .map_err(|_| ApiError::internal("expiry out of range"))?;
    let mut spec_out =
        json!({"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": null});
    if bound.is_object() {
        spec_out["boundObjectRef"] = bound.clone();
    }
    Ok(json_response(
        201,
        &json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
            "spec": spec_out,
            "status": {"token": token, "expirationTimestamp": expiration},
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_checked_and_defaulted_as_upstream() {
        assert_eq!(check_expiration(&json!({})).unwrap(), 3600);
        assert_eq!(
            check_expiration(&json!({"expirationSeconds": 600})).unwrap(),
            600
        );
        let short = check_expiration(&json!({"expirationSeconds": 599})).unwrap_err();
        assert_eq!(
            short.lines(),
            [
                "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
            ]
        );
        let long = check_expiration(&json!({"expirationSeconds": 4_294_967_297_i64})).unwrap_err();
        assert_eq!(
            long.lines(),
            [
                "spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"
            ]
        );
    }
}
