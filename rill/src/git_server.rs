//! A Git smart-HTTP server: git's own `http-backend` (CGI) behind a small axum front that
//! checks HTTP basic auth or a bearer token. The quickstart serves its demo repository with it
//! and the end-to-end tests their fixtures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use tokio::io::AsyncWriteExt;

/// How clients must authenticate.
#[derive(Clone, Debug)]
pub enum HttpAuth {
    /// No authentication.
    None,
    /// HTTP basic auth.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

#[derive(Clone)]
struct Server {
    root: PathBuf,
    auth: HttpAuth,
    backend: PathBuf,
    packs: Arc<AtomicU64>,
}

/// A running server; stops when dropped.
pub struct GitHttpServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    packs: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn exec_path() -> PathBuf {
    let out = std::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    PathBuf::from(out).join("git-http-backend")
}

impl GitHttpServer {
    /// Serves the bare repositories under `root` on a free loopback port.
    pub async fn start(root: &Path, auth: HttpAuth) -> std::io::Result<Self> {
        Self::start_at(root, auth, 0).await
    }

    /// Serves the bare repositories under `root` on loopback `port` (0: a free one); the port
    /// may be one a stopped server used a moment ago.
    pub async fn start_at(root: &Path, auth: HttpAuth, port: u16) -> std::io::Result<Self> {
        let packs = Arc::new(AtomicU64::new(0));
        let state = Server {
            root: root.to_path_buf(),
            auth,
            backend: exec_path(),
            packs: packs.clone(),
        };
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        let listener = socket.listen(128)?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = Router::new().fallback(handle).with_state(state);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            url,
            packs,
            task,
            stop: Some(stop),
        })
    }

    /// How many fetches negotiated a pack (`POST .../git-upload-pack`: clones and fetches; a
    /// reference listing alone is not one).
    pub fn packs_served(&self) -> u64 {
        self.packs.load(Ordering::Relaxed)
    }

    /// Stops serving: the port is closed and open connections end (a server that is down).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = &mut self.task;
        if tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

fn unauthorized() -> Response {
    let mut response = Response::new(Body::from("authentication required"));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        "www-authenticate",
        axum::http::HeaderValue::from_static("Basic realm=\"git\""),
    );
    response
}

fn authorized(auth: &HttpAuth, headers: &HeaderMap) -> bool {
    use base64::Engine;
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match auth {
        HttpAuth::None => true,
        HttpAuth::Basic { user, password } => {
            let expected =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            given == format!("Basic {expected}")
        }
        HttpAuth::Bearer(token) => given == format!("Bearer {token}"),
    }
}

async fn handle(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&server.auth, &headers) {
        return unauthorized();
    }
    if method == Method::POST && uri.path().ends_with("/git-upload-pack") {
        server.packs.fetch_add(1, Ordering::Relaxed);
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut command = tokio::process::Command::new(&server.backend);
    command
        .env_clear()
        .env("GIT_PROJECT_ROOT", &server.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "test")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let Ok(mut child) = command.spawn() else {
        return Response::builder()
            .status(500)
            .body(Body::from("cannot start git http-backend"))
            .unwrap_or_default();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body).await;
    }
    let Ok(output) = child.wait_with_output().await else {
        return Response::builder()
            .status(500)
            .body(Body::empty())
            .unwrap_or_default();
    };
    cgi_response(&output.stdout)
}

fn cgi_response(out: &[u8]) -> Response {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, skip)) = split else {
        return Response::builder()
            .status(500)
            .body(Body::from(out.to_vec()))
            .unwrap_or_default();
    };
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut builder = Response::builder().status(200);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .unwrap_or(500);
            builder = builder.status(code);
        } else {
            builder = builder.header(name.trim(), value);
        }
    }
    builder
        .body(Body::from(out[end + skip..].to_vec()))
        .unwrap_or_default()
}
