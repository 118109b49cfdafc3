//! TLS and proxy settings read from Flux Secrets (`ca.crt`/`tls.crt`/`tls.key`, and a
//! `proxySecretRef`'s `address`/`username`/`password`), shared by the Git and OCI HTTP clients.
//! Parsing is checked once here, so a bad Secret is reported before any connection is made.
//! Also reads a referenced Secret's data for any credential.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;

/// A referenced Secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The Secret does not exist.
    #[error("failed to get secret '{namespace}/{name}': secrets \"{name}\" not found")]
    NotFound {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The API refused or failed.
    #[error("failed to get secret '{namespace}/{name}': {source}")]
    Api {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// The data of the Secret `namespace/name` (`data` and `stringData`), for credentials.
pub async fn secret_data(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, SecretError> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| SecretError::Api {
            namespace: namespace.into(),
            name: name.into(),
            source,
        })?
        .ok_or_else(|| SecretError::NotFound {
            namespace: namespace.into(),
            name: name.into(),
        })?;
    Ok(secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

/// Custom CAs and a client certificate. `Debug` never prints the key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificates trusted in addition to the system's.
    ca_pem: Option<Vec<u8>>,
    /// The client certificate chain followed by its private key (PEM).
    identity_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.identity_pem.is_some())
            .finish()
    }
}

fn first<'a>(data: &'a BTreeMap<String, Vec<u8>>, keys: &[&str]) -> Option<&'a Vec<u8>> {
    keys.iter()
        .filter_map(|k| data.get(*k))
        .find(|v| !v.is_empty())
}

/// A TLS or proxy Secret that cannot be used. Messages name the key, never its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `ca.crt` holds no certificate.
    #[error("'ca.crt' holds no valid PEM certificate")]
    InvalidCa,
    /// `tls.crt`/`tls.key` do not parse as a pair.
    #[error("'tls.crt' and 'tls.key' are not a valid PEM certificate and private key")]
    InvalidIdentity,
    /// Half of the client identity is missing (`tls.crt` or `tls.key`).
    #[error("'{given}' needs '{missing}'")]
    HalfIdentity {
        /// The key given.
        given: &'static str,
        /// The key missing.
        missing: &'static str,
    },
    /// The proxy Secret has no `address`.
    #[error("'address' is required")]
    MissingProxyAddress,
    /// Only one of `username` and `password`.
    #[error("'username' and 'password' must be given together")]
    HalfProxyCredentials,
    /// The proxy address is not a URL.
    #[error("invalid proxy 'address'")]
    InvalidProxyAddress,
}

impl TlsSettings {
    /// Reads `ca.crt`, `tls.crt` and `tls.key` (and, when `legacy_keys`, Flux's deprecated
    /// `caFile`, `certFile` and `keyFile`). A certificate needs its key and the other way round.
    pub fn from_secret(
        data: &BTreeMap<String, Vec<u8>>,
        legacy_keys: bool,
    ) -> Result<Self, SettingsError> {
        let keys = |current: &'static str, legacy: &'static str| {
            if legacy_keys {
                vec![current, legacy]
            } else {
                vec![current]
            }
        };
        let ca = first(data, &keys("ca.crt", "caFile"));
        let cert = first(data, &keys("tls.crt", "certFile"));
        let key = first(data, &keys("tls.key", "keyFile"));
        let mut settings = Self::default();
        if let Some(ca) = ca {
            let certs = reqwest::Certificate::from_pem_bundle(ca).unwrap_or_default();
            if certs.is_empty() {
                return Err(SettingsError::InvalidCa);
            }
            settings.ca_pem = Some(ca.clone());
        }
        match (cert, key) {
            (Some(cert), Some(key)) => {
                let mut pem = cert.clone();
                pem.push(b'\n');
                pem.extend_from_slice(key);
                reqwest::Identity::from_pem(&pem).map_err(|_| SettingsError::InvalidIdentity)?;
                settings.identity_pem = Some(pem);
            }
            (Some(_), None) => {
                return Err(SettingsError::HalfIdentity {
                    given: "tls.crt",
                    missing: "tls.key",
                });
            }
            (None, Some(_)) => {
                return Err(SettingsError::HalfIdentity {
                    given: "tls.key",
                    missing: "tls.crt",
                });
            }
            (None, None) => {}
        }
        Ok(settings)
    }

    /// Whether a CA or a client certificate was given.
    pub fn is_set(&self) -> bool {
        self.ca_pem.is_some() || self.identity_pem.is_some()
    }

    /// The extra trusted CAs.
    pub fn certificates(&self) -> Vec<reqwest::Certificate> {
        self.ca_pem
            .as_deref()
            .and_then(|pem| reqwest::Certificate::from_pem_bundle(pem).ok())
            .unwrap_or_default()
    }

    /// The client certificate and key.
    pub fn identity(&self) -> Option<reqwest::Identity> {
        self.identity_pem
            .as_deref()
            .and_then(|pem| reqwest::Identity::from_pem(pem).ok())
    }
}

/// A forward proxy. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// `http://host:port` (or https/socks5).
    pub address: String,
    /// Basic credentials for the proxy.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySettings")
            .field("address", &self.address)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl ProxySettings {
    /// Reads a `proxySecretRef` Secret: `address` is required; `username` and `password`
    /// go together.
    pub fn from_secret(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, SettingsError> {
        let text = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(v).trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let address = text("address").ok_or(SettingsError::MissingProxyAddress)?;
        let credentials = match (text("username"), text("password")) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => return Err(SettingsError::HalfProxyCredentials),
        };
        let settings = Self {
            address,
            credentials,
        };
        settings.proxy()?;
        Ok(settings)
    }

    /// The proxy for every scheme, with its credentials.
    pub fn proxy(&self) -> Result<reqwest::Proxy, SettingsError> {
        let mut proxy =
            reqwest::Proxy::all(&self.address).map_err(|_| SettingsError::InvalidProxyAddress)?;
        if let Some((user, password)) = &self.credentials {
            proxy = proxy.basic_auth(user, password);
        }
        Ok(proxy)
    }

    /// The password, for redaction.
    pub fn password(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(_, p)| p.as_str())
    }
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
    fn tls_secrets_are_checked() {
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, Option<&'a str>);
        let cases: &[Case] = &[
            (&[], false, None),
            (&[("ca.crt", "not pem")], false, Some("no valid PEM")),
            (&[("tls.crt", "x")], false, Some("needs 'tls.key'")),
            (&[("tls.key", "x")], false, Some("needs 'tls.crt'")),
            (
                &[("tls.crt", "x"), ("tls.key", "y")],
                false,
                Some("not a valid"),
            ),
            (&[("certFile", "x")], true, Some("needs 'tls.key'")),
            // legacy keys are ignored where Flux ignores them
            (&[("certFile", "x")], false, None),
        ];
        for (pairs, legacy, want) in cases {
            let got = TlsSettings::from_secret(&data(pairs), *legacy);
            match want {
                None => assert!(got.is_ok_and(|s| !s.is_set()), "{pairs:?}"),
                Some(text) => assert!(
                    got.as_ref().is_err_and(|e| e.to_string().contains(text)),
                    "{pairs:?}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn proxy_secrets_are_checked_and_never_print_the_password() {
        let ok = ProxySettings::from_secret(&data(&[
            ("address", "http://proxy:3128"),
            ("username", "u"),
            ("password", "hunter22"),
        ]))
        .unwrap();
        assert_eq!(ok.password(), Some("hunter22"));
        assert!(!format!("{ok:?}").contains("hunter22"));
        let bad = [
            data(&[]),
            data(&[("address", "http://p:1"), ("username", "u")]),
            data(&[("address", "::not a url::")]),
        ];
        for d in bad {
            assert!(ProxySettings::from_secret(&d).is_err(), "{d:?}");
        }
    }
}
