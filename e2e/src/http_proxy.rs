//! A forward HTTP proxy for tests (Python): checks `Proxy-Authorization` basic credentials on
//! each connection's first request, answers 407 without them, then relays the connection to
//! the target (absolute-form requests, as HTTP clients send them to proxies) and counts it.

use std::process::{Child, Command, Stdio};

const PROXY: &str = r#"
import base64, socket, sys, threading
from urllib.parse import urlsplit
port, user, password, counter = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
lock = threading.Lock()
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
def serve(conn):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            conn.close()
            return
        head += chunk
    text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = text.split("\r\n")
    auth = [l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("proxy-authorization:")]
    if auth != [expected]:
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()
        return
    target = urlsplit(lines[0].split(" ")[1])
    up = socket.create_connection((target.hostname, target.port or 80))
    with lock:
        with open(counter, "a") as f:
            f.write("x")
    up.sendall(head)
    threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
    pipe(up, conn)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(64)
print(server.getsockname()[1], flush=True)
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A running proxy; stops when dropped.
pub struct HttpProxy {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    counter: tempfile::NamedTempFile,
    child: Child,
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HttpProxy {
    /// Starts a proxy that requires `user`/`password`.
    pub fn start(user: &str, password: &str) -> Self {
        let counter = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        let (child, port) = crate::ports::spawn_on_any_port(
            Command::new("python3")
                .args(["-c", PROXY, "0", user, password])
                .arg(counter.path())
                .stderr(Stdio::null()),
            "the proxy",
        );
        Self {
            address: format!("http://127.0.0.1:{port}"),
            counter,
            child,
        }
    }

    /// Connections relayed so far.
    pub fn relayed(&self) -> usize {
        std::fs::read_to_string(self.counter.path())
            .map(|s| s.len())
            .unwrap_or(0)
    }
}
