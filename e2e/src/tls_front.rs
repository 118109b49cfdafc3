//! An HTTPS front for test servers: a certificate authority and a server certificate for
//! 127.0.0.1 made with the `openssl` CLI, and a small Python TLS terminator that forwards each
//! connection to a plain-HTTP backend; optionally it demands a client certificate issued by
//! its CA (mutual TLS).

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running TLS front; stops when dropped.
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The PEM of the CA that issued the server certificate.
    pub ca_pem: String,
    /// With mutual TLS: a client certificate and key (PEM) the front accepts.
    pub client: Option<(String, String)>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TERMINATOR: &str = r#"
import socket, ssl, sys, threading
port, backend, cert, key, client_ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if client_ca != "-":
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(client_ca)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(64)
print(server.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(raw):
    try:
        tls = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    up = socket.create_connection(("127.0.0.1", backend))
    threading.Thread(target=pipe, args=(tls, up), daemon=True).start()
    pipe(up, tls)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a CA (`<name>.crt`, `<name>.key`) in `dir`.
pub fn make_ca(dir: &Path, name: &str) -> String {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::read_to_string(dir.join(format!("{name}.crt"))).unwrap_or_else(|e| panic!("{e}"))
}

/// Issues `<name>.crt` and `<name>.key` from the CA in `dir` (`ca.crt`, `ca.key`).
fn issue(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let (key, csr, crt, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.cnf"),
    );
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject,
        ],
    );
    std::fs::write(dir.join(&ext), extensions).unwrap_or_else(|e| panic!("{e}"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

impl TlsFront {
    /// Whether `openssl` and `python3` are available.
    pub fn available() -> bool {
        ["openssl", "python3"].iter().all(|b| {
            Command::new(b)
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
                || Command::new(b)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok()
        })
    }

    /// Serves `https://127.0.0.1:PORT` in front of `backend` (`http://127.0.0.1:PORT`).
    pub fn start(backend: &str) -> Self {
        Self::start_with(backend, false)
    }

    /// Like [`TlsFront::start`], but every client must present a certificate from the CA.
    pub fn start_mutual(backend: &str) -> Self {
        Self::start_with(backend, true)
    }

    fn start_with(backend: &str, mutual: bool) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca_pem = make_ca(dir.path(), "ca");
        issue(
            dir.path(),
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        let client = mutual.then(|| {
            issue(
                dir.path(),
                "client",
                "/CN=rill-client",
                "extendedKeyUsage=clientAuth\n",
            );
            let read = |f: &str| {
                std::fs::read_to_string(dir.path().join(f)).unwrap_or_else(|e| panic!("{e}"))
            };
            (read("client.crt"), read("client.key"))
        });
        let backend_port = backend
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        let (child, port) = crate::ports::spawn_on_any_port(
            Command::new("python3")
                .args(["-c", TERMINATOR, "0", &backend_port])
                .arg(dir.path().join("server.crt"))
                .arg(dir.path().join("server.key"))
                .arg(if mutual {
                    dir.path().join("ca.crt")
                } else {
                    "-".into()
                })
                .stderr(Stdio::null()),
            "the TLS front",
        );
        Self {
            url: format!("https://127.0.0.1:{port}"),
            ca_pem,
            client,
            child,
            _dir: dir,
        }
    }
}
