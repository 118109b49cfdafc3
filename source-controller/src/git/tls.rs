//! Custom certificate authorities for HTTPS Git servers (`ca.crt` in the secret): libgit2's CA
//! bundle is process-wide, so the server certificate it hands to the certificate callback is
//! verified here against the secret's CAs with webpki (chain to a CA, validity, server name).
//! The server must present a certificate issued directly by one of the CAs.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// The CA certificates of a secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomCa {
    certs: Vec<CertificateDer<'static>>,
}

impl CustomCa {
    /// Parses PEM certificates; at least one is required.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|_| "'ca.crt' is not valid PEM".to_string())?;
        if certs.is_empty() {
            return Err("'ca.crt' holds no certificate".into());
        }
        Ok(Self { certs })
    }

    /// Verifies the server's DER certificate for `host` against the CAs.
    pub fn verify(&self, der: &[u8], host: &str) -> Result<(), String> {
        let anchors: Vec<_> = self
            .certs
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .collect();
        let cert = CertificateDer::from(der);
        let end_entity = webpki::EndEntityCert::try_from(&cert)
            .map_err(|e| format!("x509: cannot parse the server certificate: {e}"))?;
        end_entity
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &[],
                UnixTime::now(),
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|e| format!("x509: certificate signed by unknown authority ({e})"))?;
        let name = ServerName::try_from(host)
            .map_err(|_| format!("x509: invalid server name {host:?}"))?;
        end_entity
            .verify_is_valid_for_subject_name(&name)
            .map_err(|e| format!("x509: certificate is not valid for {host} ({e})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_refused() {
        assert!(CustomCa::from_pem(b"not pem").is_err());
        assert!(CustomCa::from_pem(b"").is_err());
        let ca = CustomCa::default();
        assert!(ca.verify(b"garbage", "localhost").is_err());
    }
}
