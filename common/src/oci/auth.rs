//! Registry credentials from Kubernetes Secrets of type `kubernetes.io/dockerconfigjson`
//! (pure): the entry for the registry host, as `user:password` for basic auth and token
//! requests. Never printed.

use base64::Engine;
use serde_json::Value;

/// A user name and password (or token) for one registry.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    /// Credentials from a user and password.
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    /// `Basic base64(user:password)`.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The credentials for `host` in a `.dockerconfigjson` document, if any.
pub fn from_docker_config(config: &[u8], host: &str) -> Result<Option<Credentials>, String> {
    let doc: Value = serde_json::from_slice(config)
        .map_err(|_| "the .dockerconfigjson key is not valid JSON".to_string())?;
    let auths = doc["auths"]
        .as_object()
        .ok_or("the .dockerconfigjson holds no 'auths'")?;
    let entry = auths.iter().find(|(key, _)| {
        let key = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        key.split('/').next() == Some(host)
    });
    let Some((_, entry)) = entry else {
        return Ok(None);
    };
    if let (Some(user), Some(password)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Ok(Some(Credentials::new(user, password)));
    }
    let encoded = entry["auth"]
        .as_str()
        .ok_or("the registry entry has neither 'auth' nor 'username'")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "the registry entry's 'auth' is not base64")?;
    let text =
        String::from_utf8(decoded).map_err(|_| "the registry entry's 'auth' is not UTF-8")?;
    let (user, password) = text
        .split_once(':')
        .ok_or("the registry entry's 'auth' is not user:password")?;
    Ok(Some(Credentials::new(user, password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries_resolve_by_host() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bot:s3cret");
        let config = format!(
            r#"{{"auths": {{"https://registry.example.com": {{"auth": "{auth}"}}, "localhost:5000": {{"username": "u", "password": "p"}}}}}}"#
        );
        let found = from_docker_config(config.as_bytes(), "registry.example.com")
            .unwrap_or_default()
            .map(|c| c.basic_header());
        assert_eq!(found, Some(format!("Basic {auth}")));
        assert!(
            from_docker_config(config.as_bytes(), "localhost:5000")
                .unwrap_or_default()
                .is_some()
        );
        assert!(
            from_docker_config(config.as_bytes(), "other.io")
                .unwrap_or_default()
                .is_none()
        );
        assert!(from_docker_config(b"not json", "x").is_err());
        assert_eq!(
            format!("{:?}", Credentials::new("a", "b")),
            "Credentials(<redacted>)"
        );
    }
}
