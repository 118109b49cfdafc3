//! Git credentials and connection settings from a Flux `secretRef` Secret, decided without
//! I/O, and redaction of credentials from every text that leaves the controller.

use std::collections::BTreeMap;

use super::known_hosts::KnownHosts;
use rill_common::client_settings::{ProxySettings, TlsSettings};

/// Credentials and connection settings for one repository. `Debug` never prints secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// HTTP basic auth.
    pub basic: Option<(String, String)>,
    /// HTTP bearer token.
    pub bearer: Option<String>,
    /// SSH private key (PEM or OpenSSH) and its passphrase.
    pub ssh_identity: Option<(String, Option<String>)>,
    /// Accepted SSH host keys.
    pub known_hosts: Option<KnownHosts>,
    /// Certificate authorities and client certificate for HTTPS.
    pub tls: TlsSettings,
    /// The proxy for HTTP(S), from `proxySecretRef`.
    pub proxy: Option<ProxySettings>,
    /// The timeout of each HTTP request (none: no limit besides the caller's).
    pub timeout: Option<std::time::Duration>,
}

impl Credentials {
    /// The secret values, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        let mut list = Vec::new();
        if let Some((_, pass)) = &self.basic {
            list.push(pass.as_str());
        }
        if let Some(token) = &self.bearer {
            list.push(token.as_str());
        }
        if let Some(password) = self.proxy.as_ref().and_then(ProxySettings::password) {
            list.push(password);
        }
        list
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "basic",
                &self.basic.as_ref().map(|(u, _)| (u, "<redacted>")),
            )
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field(
                "ssh_identity",
                &self.ssh_identity.as_ref().map(|_| "<redacted>"),
            )
            .field("known_hosts", &self.known_hosts.is_some())
            .field("tls", &self.tls)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// A Secret that cannot be used for the repository's URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid '{secret}' secret data: {problem}")]
pub struct SecretError {
    /// The Secret name.
    pub secret: String,
    /// What is wrong.
    pub problem: String,
}

/// Builds credentials from the Secret's decoded data for a URL scheme (`http`, `https`, `ssh`).
pub fn credentials(
    secret: &str,
    data: &BTreeMap<String, Vec<u8>>,
    scheme: &str,
) -> Result<Credentials, SecretError> {
    let err = |problem: &str| SecretError {
        secret: secret.to_string(),
        problem: problem.to_string(),
    };
    let text = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .filter(|v| !v.is_empty())
    };
    let mut creds = Credentials::default();
    if scheme == "https" {
        creds.tls = TlsSettings::from_secret(data, true).map_err(|e| err(&e.to_string()))?;
    }
    match scheme {
        "ssh" => {
            let identity = text("identity").ok_or_else(|| err("'identity' is required for SSH"))?;
            let known_hosts =
                text("known_hosts").ok_or_else(|| err("'known_hosts' is required for SSH"))?;
            let parsed = KnownHosts::parse(&known_hosts);
            if parsed.is_empty() {
                return Err(err("'known_hosts' has no usable entries"));
            }
            creds.ssh_identity = Some((identity, text("password")));
            creds.known_hosts = Some(parsed);
        }
        _ => {
            let (user, pass, bearer) = (text("username"), text("password"), text("bearerToken"));
            if bearer.is_some() && (user.is_some() || pass.is_some()) {
                return Err(err(
                    "'bearerToken' cannot be combined with 'username' or 'password'",
                ));
            }
            if pass.is_some() && user.is_none() {
                return Err(err("'password' requires 'username'"));
            }
            if let Some(user) = user {
                creds.basic = Some((user, pass.unwrap_or_default()));
            }
            creds.bearer = bearer;
        }
    }
    Ok(creds)
}

/// Removes user info from every URL in `text` (`https://user:pass@host` -> `https://host`)
/// and masks the given secret values.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret, "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn secret_formats_follow_flux() {
        let basic = credentials(
            "s",
            &data(&[("username", "git"), ("password", "pw")]),
            "https",
        )
        .unwrap();
        assert_eq!(basic.basic, Some(("git".into(), "pw".into())));
        let bearer = credentials("s", &data(&[("bearerToken", "tok")]), "https").unwrap();
        assert_eq!(bearer.bearer.as_deref(), Some("tok"));
        let errors = [
            (data(&[("bearerToken", "t"), ("username", "u")]), "https"),
            (data(&[("password", "p")]), "https"),
            (data(&[("identity", "k")]), "ssh"),
            (data(&[("known_hosts", "h ssh-ed25519 AAAA")]), "ssh"),
            (data(&[("ca.crt", "x")]), "https"),
        ];
        for (d, scheme) in errors {
            assert!(credentials("s", &d, scheme).is_err(), "{d:?}");
        }
    }

    #[test]
    fn credentials_never_print() {
        let c = credentials(
            "s",
            &data(&[("username", "git"), ("password", "hunter22")]),
            "https",
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter22"));
    }

    #[test]
    fn redaction_removes_user_info_and_secret_values() {
        let cases = [
            (
                "failed to fetch https://user:hunter22@example.com/repo.git: 401",
                "failed to fetch https://example.com/repo.git: 401",
            ),
            ("ssh://git@host:2222/repo", "ssh://host:2222/repo"),
            ("no url here", "no url here"),
            ("token hunter22 leaked", "token <redacted> leaked"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input, &["hunter22"]), want);
        }
    }
}
