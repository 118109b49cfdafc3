//! HTTPS for the sandbox (the default): a cluster CA made at first start (kept in the data
//! dir, when there is one, so a restarted sandbox is still trusted), a serving certificate it signs
//! for the listen address, `localhost` and the `kubernetes.default.svc` names, client
//! certificates it signs (the admin kubeconfig's), and a listener that completes each TLS
//! handshake before handing the connection to the server, with the user a verified client
//! certificate names (CN the user, O the groups, as kube-apiserver's x509 authenticator reads
//! them). The CA is what kubeconfigs trust and what every namespace's `kube-root-ca.crt`
//! ConfigMap publishes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, pki_types};

use crate::auth::identity::UserInfo;

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
    /// The client certificate verifier could not be built.
    #[error("cannot configure client certificates: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// The kept CA could not be read or written.
    #[error("cannot keep the cluster CA in {path}: {source}")]
    Keep {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The CA's distinguished name and constraints (the same at every start, so a kept key signs
/// certificates that chain to the kept CA certificate).
fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "rill-sandbox-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// The CA certificate (DER) and its key: read from `keep` when a previous start left them
/// there, else made now (and written to `keep`, the key readable by its owner only).
fn cluster_ca(
    keep: Option<&std::path::Path>,
) -> Result<(pki_types::CertificateDer<'static>, KeyPair), TlsError> {
    let failed = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| TlsError::Keep { path, source }
    };
    if let Some(dir) = keep {
        let (cert_path, key_path) = (dir.join("ca.crt.der"), dir.join("ca.key.der"));
        if cert_path.is_file() && key_path.is_file() {
            let cert = std::fs::read(&cert_path).map_err(failed(&cert_path))?;
            let key = std::fs::read(&key_path).map_err(failed(&key_path))?;
            return Ok((cert.into(), KeyPair::try_from(key)?));
        }
    }
    let key = KeyPair::generate()?;
    let cert = ca_params()?.self_signed(&key)?;
    if let Some(dir) = keep {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir).map_err(failed(dir))?;
        let key_path = dir.join("ca.key.der");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key_path)
            .and_then(|mut file| file.write_all(&key.serialize_der()))
            .map_err(failed(&key_path))?;
        let cert_path = dir.join("ca.crt.der");
        std::fs::write(&cert_path, cert.der()).map_err(failed(&cert_path))?;
    }
    Ok((cert.der().clone(), key))
}

/// The sandbox's cluster CA and the server configuration of a certificate it signed.
pub struct ClusterCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// rustls' server configuration with the serving certificate and its chain.
    pub server: Arc<rustls::ServerConfig>,
    issuer: Issuer<'static, KeyPair>,
}

impl ClusterCa {
    /// A client certificate the CA signs for `user` in `group`: (certificate PEM, key PEM).
    pub fn client_certificate(
        &self,
        user: &str,
        group: Option<&str>,
    ) -> Result<(String, String), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        if let Some(group) = group {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group);
        }
        params.distinguished_name.push(DnType::CommonName, user);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((
            pem(cert.der()),
            pem_block("PRIVATE KEY", &key.serialize_der()),
        ))
    }
}

/// The user a client certificate names: CN the user, each O a group, plus
/// `system:authenticated` (`None` for a certificate without a CN).
pub fn certificate_user(der: &[u8]) -> Option<UserInfo> {
    use x509_cert::der::Decode;
    const COMMON_NAME: &str = "2.5.4.3";
    const ORGANIZATION: &str = "2.5.4.10";
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let mut name = None;
    let mut groups = Vec::new();
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for attribute in rdn.0.iter() {
            let value = attribute
                .value
                .decode_as::<String>()
                .or_else(|_| {
                    attribute
                        .value
                        .decode_as::<x509_cert::der::asn1::PrintableString>()
                        .map(|s| s.to_string())
                })
                .ok();
            match (attribute.oid.to_string().as_str(), value) {
                (COMMON_NAME, Some(value)) => name = Some(value),
                (ORGANIZATION, Some(value)) => groups.push(value),
                _ => {}
            }
        }
    }
    groups.push("system:authenticated".to_string());
    Some(UserInfo {
        name: name.filter(|n| !n.is_empty())?,
        groups,
    })
}

/// PEM text of a DER certificate.
fn pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

/// A PEM block of `der` under `label`.
fn pem_block(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The cluster CA (kept in `keep` across starts when given) and a serving certificate for
/// `listen` (plus `localhost`, `127.0.0.1` and the in-cluster names of the API server).
pub fn generate(listen: SocketAddr, keep: Option<&std::path::Path>) -> Result<ClusterCa, TlsError> {
    let (ca_der, ca_key) = cluster_ca(keep)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_der.clone())?;

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
    // Client certificates signed by the CA authenticate; connections without one stay open to
    // bearer tokens and anonymous requests, as on a real API server.
    let clients = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(clients)
        .with_single_cert(
            vec![server_cert.der().clone(), ca_der.clone()],
            pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )?;
    // HTTP/2 first, as a real API server offers it; HTTP/1.1 for clients without it.
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ClusterCa {
        ca_pem: pem(&ca_der),
        server: Arc::new(server),
        issuer,
    })
}

/// A TCP listener that hands out connections after their TLS handshake; handshakes run
/// side by side, so a slow or silent client delays nobody else.
pub struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream, Peer)>,
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
                    let handshake = acceptor.accept(stream).into_fallible();
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(tls)) => {
                            let user = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|chain| chain.first())
                                .and_then(|cert| certificate_user(cert));
                            let _ = sender.send((tls, Peer { addr, user })).await;
                        }
                        Ok(Err((e, tcp))) => {
                            tracing::debug!(error = %e, %addr, "TLS handshake failed");
                            linger(tcp).await;
                        }
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

/// Closes a connection whose handshake failed after rustls sent its alert: our side ends
/// first, then what the client still sends (its request, written right after its handshake
/// messages) is read and dropped for a moment, so closing does not reset the connection
/// before the client has read the alert that says why (a bad certificate, say).
async fn linger(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut left = 64 * 1024;
        while left > 0 {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left -= n.min(left),
            }
        }
    })
    .await;
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Who is at the other end of a TLS connection: its address and the user its verified client
/// certificate names.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The user of its client certificate, if it presented one.
    pub user: Option<UserInfo>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone (only on shutdown): never hand out anything again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Peer {
            addr: self.local,
            user: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_name_their_user_and_group() {
        let ca = generate(SocketAddr::from(([127, 0, 0, 1], 6443)), None).unwrap();
        let (cert, key) = ca
            .client_certificate("kubernetes-admin", Some("system:masters"))
            .unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let body: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(
            certificate_user(&der),
            Some(UserInfo {
                name: "kubernetes-admin".into(),
                groups: vec!["system:masters".into(), "system:authenticated".into()],
            })
        );
        assert_eq!(certificate_user(b"not a certificate"), None);
    }

    #[test]
    fn the_ca_is_pem_and_the_server_offers_h2_then_http_1_1() {
        let ca = generate(SocketAddr::from(([127, 0, 0, 1], 6443)), None).unwrap();
        assert!(ca.ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(ca.ca_pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(ca.ca_pem.lines().all(|l| l.len() <= 64));
        assert_eq!(
            ca.server.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn a_kept_ca_signs_for_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("pki");
        let listen = SocketAddr::from(([127, 0, 0, 1], 6443));
        let first = generate(listen, Some(&keep)).unwrap();
        let second = generate(listen, Some(&keep)).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        let other = generate(listen, Some(&dir.path().join("elsewhere"))).unwrap();
        assert_ne!(first.ca_pem, other.ca_pem);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keep.join("ca.key.der"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A certificate the second start signs verifies against the first start's CA.
        let (cert, _) = second.client_certificate("alice", None).unwrap();
        let der = |pem: &str| {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
        };
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(&first.ca_pem).into()).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let now = pki_types::UnixTime::now();
        assert!(
            verifier
                .verify_client_cert(&der(&cert).into(), &[], now)
                .is_ok()
        );
        let (foreign, _) = other.client_certificate("alice", None).unwrap();
        assert!(
            verifier
                .verify_client_cert(&der(&foreign).into(), &[], now)
                .is_err()
        );
    }
}
