//! Git's smart HTTP protocol for libgit2 over reqwest (rustls): libgit2 speaks the Git
//! protocol, this module carries its requests (fetches through `git-upload-pack`, pushes
//! through `git-receive-pack`), so HTTPS Git gets the same TLS stack as the OCI client: custom
//! CAs with full chain verification, client certificates and proxies.
//!
//! libgit2 transports are registered process-wide, so the settings of one fetch travel in a
//! thread-local [`Session`] that [`with_session`] installs around the libgit2 call (libgit2
//! creates the transport on the calling thread, submodule fetches included).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};

use rill_common::client_settings::SettingsError;

use super::auth::{Credentials, redact};

const AGENT: &str = concat!("git/2.0 (rill/", env!("CARGO_PKG_VERSION"), ")");

/// The two Git services of smart HTTP: fetching (`upload-pack`) and pushing (`receive-pack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GitService {
    UploadPack,
    ReceivePack,
}

impl GitService {
    fn name(self) -> &'static str {
        match self {
            GitService::UploadPack => "git-upload-pack",
            GitService::ReceivePack => "git-receive-pack",
        }
    }

    /// The path of the reference listing, relative to the repository URL.
    fn refs_path(self) -> String {
        format!("/info/refs?service={}", self.name())
    }

    fn content_type(self, suffix: &str) -> String {
        format!("application/x-{}-{suffix}", self.name())
    }
}

enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

/// The HTTP client and credentials of one repository's Git operations.
pub struct Session {
    client: Client,
    auth: Auth,
    timeout: Option<Duration>,
    secrets: Vec<String>,
}

/// The client of every repository without its own CAs, client certificate or proxy: building
/// a client loads the system's trust store, so it is built once and shared.
static SHARED_CLIENT: OnceLock<Result<Client, SessionError>> = OnceLock::new();

/// The HTTP client of a Git session cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The proxy settings do not make a proxy.
    #[error(transparent)]
    Proxy(#[from] SettingsError),
    /// reqwest refused the configuration (its message and causes, which carry no secrets).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

fn client_builder() -> reqwest::blocking::ClientBuilder {
    rill_common::runtime::install_crypto_provider();
    Client::builder()
        .dns_resolver(std::sync::Arc::new(
            rill_common::dns::HostResolver::default(),
        ))
        .user_agent(AGENT)
        .timeout(None)
        .connect_timeout(Duration::from_secs(30))
}

fn build(builder: reqwest::blocking::ClientBuilder) -> Result<Client, SessionError> {
    builder.build().map_err(|e| SessionError::Client(chain(&e)))
}

impl Session {
    /// A session with the credentials' CAs, client certificate and proxy; `timeout` bounds
    /// each request.
    pub fn new(creds: &Credentials, timeout: Option<Duration>) -> Result<Self, SessionError> {
        let client = if creds.tls.is_set() || creds.proxy.is_some() {
            let mut builder = client_builder();
            for cert in creds.tls.certificates() {
                builder = builder.add_root_certificate(cert);
            }
            if let Some(identity) = creds.tls.identity() {
                builder = builder.identity(identity);
            }
            if let Some(proxy) = &creds.proxy {
                builder = builder.proxy(proxy.proxy()?);
            }
            build(builder)?
        } else {
            SHARED_CLIENT
                .get_or_init(|| build(client_builder()))
                .clone()?
        };
        let auth = match (&creds.basic, &creds.bearer) {
            (Some((user, pass)), _) => Auth::Basic(user.clone(), pass.clone()),
            (None, Some(token)) => Auth::Bearer(token.clone()),
            (None, None) => Auth::None,
        };
        Ok(Self {
            client,
            auth,
            timeout,
            secrets: creds.secrets().into_iter().map(str::to_string).collect(),
        })
    }

    fn authorize(&self, mut request: RequestBuilder) -> RequestBuilder {
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        match &self.auth {
            Auth::None => request,
            Auth::Basic(user, pass) => request.basic_auth(user, Some(pass)),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }
}

thread_local! {
    static SESSION: RefCell<Option<Arc<Session>>> = const { RefCell::new(None) };
}

static REGISTER: Once = Once::new();

fn register() {
    REGISTER.call_once(|| {
        for scheme in ["http", "https"] {
            // SAFETY (the crate's one `unsafe`, see Cargo.toml): libgit2 requires registration to be synchronised with transport
            // creation. Every network call of this crate goes through `with_session`, which
            // runs this `Once` first, so no transport is created while registering.
            #[allow(unsafe_code)]
            let registered = unsafe { git2::transport::register(scheme, factory) };
            if let Err(e) = registered {
                tracing::error!(scheme, error = %e, "cannot register the Git HTTP transport");
            }
        }
    });
}

/// Runs `f` with this thread's HTTP(S) Git traffic going through `session`.
pub fn with_session<T>(session: Session, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<Session>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SESSION.with_borrow_mut(|s| *s = previous);
        }
    }
    register();
    let previous = SESSION.with_borrow_mut(|s| s.replace(Arc::new(session)));
    let _restore = Restore(previous);
    f()
}

fn factory(remote: &git2::Remote<'_>) -> Result<Transport, git2::Error> {
    let session = SESSION
        .with_borrow(|s| s.clone())
        .ok_or_else(|| git2::Error::from_str("Git over HTTP was used outside a session"))?;
    Transport::smart(
        remote,
        true,
        Subtransport {
            session,
            base: Arc::new(Mutex::new(None)),
        },
    )
}

struct Subtransport {
    session: Arc<Session>,
    /// The repository URL, updated when the reference listing was redirected.
    base: Arc<Mutex<Option<String>>>,
}

impl SmartSubtransport for Subtransport {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let base = {
            let mut base = self.base.lock().unwrap_or_else(|p| p.into_inner());
            base.get_or_insert_with(|| url.trim_end_matches('/').to_string())
                .clone()
        };
        let (service, listing) = match action {
            Service::UploadPackLs => (GitService::UploadPack, true),
            Service::UploadPack => (GitService::UploadPack, false),
            Service::ReceivePackLs => (GitService::ReceivePack, true),
            Service::ReceivePack => (GitService::ReceivePack, false),
        };
        Ok(Box::new(Stream {
            session: self.session.clone(),
            base: self.base.clone(),
            url: if listing {
                format!("{base}{}", service.refs_path())
            } else {
                format!("{base}/{}", service.name())
            },
            service,
            listing,
            body: Vec::new(),
            response: None,
        }))
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// One request: libgit2 writes the body, then reads the response.
struct Stream {
    session: Arc<Session>,
    base: Arc<Mutex<Option<String>>>,
    url: String,
    service: GitService,
    listing: bool,
    body: Vec<u8>,
    response: Option<Response>,
}

/// The error text of a reqwest error and its causes, with TLS failures worded like Flux's.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    let text = parts.join(": ");
    if text.contains("UnknownIssuer") {
        format!("x509: certificate signed by unknown authority ({text})")
    } else if text.contains("NotValidForName") {
        format!("x509: certificate is not valid for the host ({text})")
    } else {
        text
    }
}

/// What an unsuccessful status means, for the condition message.
pub fn status_message(status: u16, authenticated: bool) -> String {
    match status {
        401 if authenticated => {
            "authentication failed: the server rejected the credentials (HTTP 401)".into()
        }
        401 => "authentication required but no credentials were provided (HTTP 401)".into(),
        403 => "authentication failed: access denied (HTTP 403)".into(),
        404 => "repository not found (HTTP 404)".into(),
        407 => "authentication failed: the proxy rejected the credentials (HTTP 407)".into(),
        code => format!("unexpected HTTP status {code}"),
    }
}

impl Stream {
    fn send(&mut self) -> io::Result<Response> {
        let session = &self.session;
        let request = if self.listing {
            session.client.get(&self.url)
        } else {
            session
                .client
                .post(&self.url)
                .header(CONTENT_TYPE, self.service.content_type("request"))
                .header(ACCEPT, self.service.content_type("result"))
                .body(std::mem::take(&mut self.body))
        };
        let request = session.authorize(request.header(USER_AGENT, AGENT));
        let failed = |text: String| io::Error::other(redact(&text, &self.secrets()));
        let response = request
            .send()
            .map_err(|e| failed(chain(&e.without_url())))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let authenticated = !matches!(session.auth, Auth::None);
            return Err(failed(status_message(status, authenticated)));
        }
        if self.listing {
            let kind = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !kind.starts_with(&self.service.content_type("advertisement")) {
                return Err(failed(format!(
                    "{} does not speak Git's smart HTTP protocol (content type {kind:?})",
                    self.url
                )));
            }
            let final_url = response.url().as_str();
            if final_url != self.url
                && let Some(moved) = final_url.strip_suffix(&self.service.refs_path())
            {
                let mut base = self.base.lock().unwrap_or_else(|p| p.into_inner());
                *base = Some(moved.to_string());
            }
        }
        Ok(response)
    }

    fn secrets(&self) -> Vec<&str> {
        self.session.secrets.iter().map(String::as_str).collect()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.response.is_none() {
            self.response = Some(self.send()?);
        }
        match self.response.as_mut() {
            Some(response) => response.read(buf),
            None => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.body.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_like_git_failures() {
        let cases = [
            (401, true, "rejected the credentials"),
            (401, false, "no credentials were provided"),
            (403, true, "access denied"),
            (404, false, "repository not found"),
            (407, false, "proxy rejected"),
            (500, false, "unexpected HTTP status 500"),
        ];
        for (status, authenticated, want) in cases {
            assert!(
                status_message(status, authenticated).contains(want),
                "{status}"
            );
        }
    }

    #[test]
    fn tls_failures_are_worded_like_flux() {
        let e = io::Error::other("invalid peer certificate: UnknownIssuer");
        assert!(chain(&e).starts_with("x509: certificate signed by unknown authority"));
        let e = io::Error::other("connection refused");
        assert_eq!(chain(&e), "connection refused");
    }
}
