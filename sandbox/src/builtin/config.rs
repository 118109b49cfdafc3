//! ConfigMaps and Secrets: `SetDefaults_Secret`, key names, the keys each Secret type
//! requires, and what `immutable: true` freezes (`ValidateConfigMap(Update)`,
//! `ValidateSecret(Update)`).

use serde_json::{Value, json};

use super::field_errors::FieldErrors;

const KEY_MESSAGE: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

fn is_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && key != "."
        && key != ".."
        && !key.starts_with("..")
}

/// `SetDefaults_Secret`: a Secret without a type is `Opaque`.
pub fn default_secret(secret: &mut Value) {
    if secret["type"].as_str().is_none_or(str::is_empty) && secret.is_object() {
        secret["type"] = json!("Opaque");
    }
}

fn validate_keys(object: &Value, fields: &[&str], errors: &mut FieldErrors) {
    for field in fields {
        for key in object[*field]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            let at = format!("{field}[{key}]");
            if !is_config_key(key) {
                let detail = if key.starts_with("..") {
                    "must not start with '..'"
                } else {
                    KEY_MESSAGE
                };
                errors.invalid(&at, &json!(key), detail);
            }
            if *field == "data" && object["binaryData"].get(key).is_some() {
                errors.invalid(&at, &json!(key), "duplicate of key present in binaryData");
            }
        }
    }
}

/// What `immutable: true` freezes, for the fields of this kind.
fn validate_frozen(new: &Value, old: &Value, fields: &[&str], errors: &mut FieldErrors) {
    if old["immutable"] != json!(true) {
        return;
    }
    if new["immutable"] != json!(true) {
        errors.forbidden("immutable", "field is immutable when `immutable` is set");
    }
    for field in fields {
        if new[*field] != old[*field] {
            errors.forbidden(field, "field is immutable when `immutable` is set");
        }
    }
}

/// Validates a ConfigMap (`old` on updates).
pub fn validate_config_map(new: &Value, old: Option<&Value>, errors: &mut FieldErrors) {
    validate_keys(new, &["data", "binaryData"], errors);
    if let Some(old) = old {
        validate_frozen(new, old, &["data", "binaryData"], errors);
    }
}

/// Validates a Secret (`old` on updates).
pub fn validate_secret(new: &Value, old: Option<&Value>, errors: &mut FieldErrors) {
    validate_keys(new, &["data"], errors);
    let required: &[&str] = match new["type"].as_str().unwrap_or_default() {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for key in required {
        if new["data"].get(*key).is_none() {
            errors.required(&format!("data[{key}]"), "");
        }
    }
    if new["type"] == "kubernetes.io/basic-auth"
        && new["data"].get("username").is_none()
        && new["data"].get("password").is_none()
    {
        errors.required("data[username]", "");
        errors.required("data[password]", "");
    }
    if let Some(old) = old {
        errors.immutable("type", &new["type"], &old["type"]);
        validate_frozen(new, old, &["data"], errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_carry_upstream_field_paths() {
        let mut errors = FieldErrors::default();
        validate_config_map(
            &json!({"data": {"ok.key": "1", "bad key": "2"}}),
            None,
            &mut errors,
        );
        assert_eq!(
            errors.lines(),
            [format!(
                "data[bad key]: Invalid value: \"bad key\": {KEY_MESSAGE}"
            )]
        );

        let frozen = json!({"immutable": true, "data": {"a": "1"}});
        let mut errors = FieldErrors::default();
        validate_config_map(
            &json!({"immutable": true, "data": {"a": "2"}}),
            Some(&frozen),
            &mut errors,
        );
        assert_eq!(
            errors.lines(),
            ["data: Forbidden: field is immutable when `immutable` is set"]
        );

        let mut secret = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        let mut errors = FieldErrors::default();
        validate_secret(&secret, None, &mut errors);
        assert_eq!(errors.lines(), ["data[tls.key]: Required value"]);

        let old = secret.clone();
        secret["type"] = json!("Opaque");
        let mut errors = FieldErrors::default();
        validate_secret(&secret, Some(&old), &mut errors);
        assert_eq!(
            errors.lines(),
            ["type: Invalid value: \"Opaque\": field is immutable"]
        );

        let mut untyped = json!({"data": {}});
        default_secret(&mut untyped);
        assert_eq!(untyped["type"], "Opaque");
    }
}
