//! HTTPS for the sandbox (`--tls`): a cluster CA made at start, a serving certificate it signs
//! for the listen address, `localhost` and the `kubernetes.default.svc` names, and a listener
//! that completes each TLS handshake before handing the connection to the server. The CA is
//! what kubeconfigs trust and what every namespace's `kube-root-ca.crt` ConfigMap publishes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

/// A handshake that takes longer is dropped, so a silent client cannot hold the listener.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificates or the TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating or signing a certificate failed.
    #[error("cannot make the sandbox certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("cannot configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// The sandbox's cluster CA and the server configuration of a certificate it signed.
pub struct ClusterCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// rustls' server configuration with the serving certificate and its chain.
    pub server: Arc<rustls::ServerConfig>,
}

/// PEM text of a DER certificate.
fn pem(der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Makes a CA and a serving certificate for `listen` (plus `localhost`, `127.0.0.1` and the
/// in-cluster names of the API server).
pub fn generate(listen: SocketAddr) -> Result<ClusterCa, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rill-sandbox-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names: Vec<String> = [
        "localhost",
        "127.0.0.1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    .iter()
    .map(|n| n.to_string())
    .collect();
    let ip = listen.ip();
    if !ip.is_unspecified() && ip != IpAddr::from([127, 0, 0, 1]) {
        names.push(ip.to_string());
    }
    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(names)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone(), ca_cert.der().clone()],
            pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )?;
    // HTTP/2 first, as a real API server offers it; HTTP/1.1 for clients without it.
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ClusterCa {
        ca_pem: pem(ca_cert.der()),
        server: Arc::new(server),
    })
}

/// A TCP listener that hands out connections after their TLS handshake; handshakes run
/// side by side, so a slow or silent client delays nobody else.
pub struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

type TlsStream = tokio_rustls::server::TlsStream<TcpStream>;

impl TlsListener {
    /// Starts accepting on `tcp` with `server`.
    pub fn new(tcp: TcpListener, server: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(server);
        let (sender, ready) = tokio::sync::mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, %addr, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            local,
            ready,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone (only on shutdown): never hand out anything again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_pem_and_the_server_offers_http_1_1() {
        let ca = generate(SocketAddr::from(([127, 0, 0, 1], 6443))).unwrap();
        assert!(ca.ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(ca.ca_pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(ca.ca_pem.lines().all(|l| l.len() <= 64));
        assert_eq!(
            ca.server.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
