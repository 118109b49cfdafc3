//! Rill's Git layer, shared by the controllers: Git over the network in-process with libgit2
//! (listing remote references, shallow fetches and checkouts, and in [`commit`] cloning a
//! branch, committing and pushing), with credentials from memory, SSH host keys verified
//! against known_hosts and HTTP(S) carried by [`http_transport`]. Everything here blocks;
//! callers run it on the blocking pool.

pub mod auth;
pub mod commit;
pub mod http_transport;
pub mod known_hosts;
pub mod reference;
pub mod repository;
pub mod sign;
pub mod tree;

use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{
    CertificateCheckStatus, Cred, CredentialType, FetchOptions, Oid, RemoteCallbacks, Repository,
};

use self::auth::{Credentials, redact};
use self::http_transport::{Session, with_session};

/// A reference advertised by the remote, with the commit it points to (tags peeled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full name (`refs/heads/main`, `refs/tags/v1.0.0`, `HEAD`).
    pub name: String,
    /// The commit (hex).
    pub commit: String,
}

/// What to fetch and which commit to check out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPlan {
    /// Refspecs to fetch.
    pub refspecs: Vec<String>,
    /// Shallow depth, or a full fetch.
    pub depth: Option<i32>,
    /// The commit to check out (hex).
    pub commit: String,
    /// Only these directories are checked out (sparse checkout).
    pub sparse: Vec<String>,
    /// Initialise submodules.
    pub submodules: bool,
}

/// A finished checkout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkout {
    /// The checked-out commit (hex).
    pub commit: String,
    /// The first line of its message.
    pub summary: String,
}

/// A failed Git operation, with credentials already redacted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    /// The server refused the credentials, or the host key is unknown.
    #[error("{0}")]
    Auth(String),
    /// The repository has no commits.
    #[error("repository is empty")]
    Empty,
    /// A requested path or commit does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Any other failure (network, protocol).
    #[error("{0}")]
    Other(String),
}

fn classify(error: git2::Error, secrets: &[&str]) -> GitError {
    let message = redact(error.message(), secrets);
    let lower = message.to_lowercase();
    if lower.contains("hostkey") || lower.contains("host key") {
        return GitError::Auth(format!("host key verification failed: {message}"));
    }
    let auth = matches!(
        error.code(),
        git2::ErrorCode::Auth | git2::ErrorCode::Certificate
    ) || [
        "authentication",
        "credentials",
        "http 401",
        "http 403",
        "http 407",
        "unauthorized",
        "permission denied",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if auth {
        GitError::Auth(message)
    } else {
        GitError::Other(message)
    }
}

/// Host and port of a Git URL, for host key checks.
pub fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let default = match scheme {
        "ssh" => 22,
        "https" => 443,
        _ => 80,
    };
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => Some((
            host.trim_matches(['[', ']']).to_string(),
            port.parse().ok()?,
        )),
        _ => Some((host_port.trim_matches(['[', ']']).to_string(), default)),
    }
}

/// The URL libgit2 connects to. For `ssh://` the host is replaced by an address resolved in
/// Rust (libgit2 would call glibc's `getaddrinfo`, which resolves nothing in an empty image);
/// the host key is still checked against the URL's own host name (see `callbacks`).
fn connect_url(url: &str) -> Result<String, GitError> {
    let Some(rest) = url.strip_prefix("ssh://") else {
        return Ok(url.to_string());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, port)) => (host, port),
            None => return Ok(url.to_string()),
        },
        None => match host_port.rsplit_once(':') {
            Some((host, _)) => (host, &host_port[host.len()..]),
            None => (host_port, ""),
        },
    };
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(url.to_string());
    }
    let ips =
        rill_common::dns::lookup_blocking(host).map_err(|e| GitError::Other(e.to_string()))?;
    let Some(ip) = ips.first() else {
        return Err(GitError::Other(format!("lookup {host}: no such host")));
    };
    let ip = match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    };
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    Ok(format!("ssh://{user}{ip}{port}{path}"))
}

fn callbacks<'a>(creds: &'a Credentials, url: &str) -> RemoteCallbacks<'a> {
    let (host_name, port) = host_and_port(url).unwrap_or_default();
    let mut cb = RemoteCallbacks::new();
    let mut attempts = 0;
    cb.credentials(move |_url, username, allowed| {
        attempts += 1;
        if attempts > 1 {
            return Err(git2::Error::from_str(
                "authentication failed: the server rejected the credentials",
            ));
        }
        if allowed.contains(CredentialType::SSH_KEY)
            && let Some((key, passphrase)) = &creds.ssh_identity
        {
            return Cred::ssh_key_from_memory(
                username.unwrap_or("git"),
                None,
                key,
                passphrase.as_deref(),
            );
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some((user, pass)) = &creds.basic
        {
            return Cred::userpass_plaintext(user, pass);
        }
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(username.unwrap_or("git"));
        }
        Err(git2::Error::from_str(
            "authentication required but no credentials were provided",
        ))
    });
    // HTTP(S) goes through `http_transport`; only SSH host keys reach this callback.
    // libgit2 connected to an address (`connect_url`); the host key belongs to the name.
    cb.certificate_check(move |cert, _address| {
        let host = host_name.as_str();
        let Some(hostkey) = cert.as_hostkey() else {
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        match (&creds.known_hosts, hostkey.hostkey()) {
            (Some(known), Some(key)) if known.accepts(host, port, key) => {
                Ok(CertificateCheckStatus::CertificateOk)
            }
            _ => Err(git2::Error::new(
                git2::ErrorCode::Certificate,
                git2::ErrorClass::Ssh,
                format!("host key verification failed for {host}: the key is not in known_hosts"),
            )),
        }
    });
    cb
}

fn fetch_options<'a>(creds: &'a Credentials, url: &str) -> FetchOptions<'a> {
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(callbacks(creds, url));
    fo.download_tags(git2::AutotagOption::None);
    fo
}

/// Runs a network operation with the credentials' HTTP session installed.
fn networked<T>(
    creds: &Credentials,
    op: impl FnOnce() -> Result<T, GitError>,
) -> Result<T, GitError> {
    let session = Session::new(creds, creds.timeout)
        .map_err(|e| GitError::Other(redact(&e.to_string(), &creds.secrets())))?;
    with_session(session, op)
}

/// Lists the remote's references (annotated tags resolved to their commits).
pub fn ls_remote(
    url: &str,
    creds: &Credentials,
    scratch: &Path,
) -> Result<Vec<RemoteRef>, GitError> {
    networked(creds, || list_refs(url, creds, scratch))
}

fn list_refs(url: &str, creds: &Credentials, scratch: &Path) -> Result<Vec<RemoteRef>, GitError> {
    let secrets = creds.secrets();
    let err = |e: git2::Error| classify(e, &secrets);
    let repo = Repository::init_bare(scratch).map_err(err)?;
    let mut remote = repo.remote_anonymous(&connect_url(url)?).map_err(err)?;
    let mut fo = fetch_options(creds, url);
    // Fetching a refspec that matches nothing connects, lists the references and downloads
    // nothing.
    remote
        .fetch(
            &["+refs/rill-ls-remote/*:refs/rill-ls-remote/*"],
            Some(&mut fo),
            None,
        )
        .map_err(err)?;
    let heads = remote.list().map_err(err)?;
    let mut refs: Vec<RemoteRef> = Vec::new();
    for head in heads {
        let name = head.name();
        let commit = head.oid().to_string();
        if let Some(base) = name.strip_suffix("^{}") {
            match refs.iter_mut().find(|r| r.name == base) {
                Some(existing) => existing.commit = commit,
                None => refs.push(RemoteRef {
                    name: base.to_string(),
                    commit,
                }),
            }
        } else if !refs.iter().any(|r| r.name == name) {
            refs.push(RemoteRef {
                name: name.to_string(),
                commit,
            });
        }
    }
    if refs.is_empty() {
        return Err(GitError::Empty);
    }
    Ok(refs)
}

/// Fetches and checks out `plan.commit` into `dir` (an empty directory).
pub fn checkout(
    url: &str,
    creds: &Credentials,
    plan: &FetchPlan,
    dir: &Path,
) -> Result<Checkout, GitError> {
    networked(creds, || {
        let secrets = creds.secrets();
        let err = |e: git2::Error| classify(e, &secrets);
        let repo = fetch_into(url, creds, plan, dir, false)?;
        checkout_fetched(&repo, url, creds, plan, &err)
    })
}

/// Fetches the plan's refspecs into a new repository at `dir` (bare when `bare`).
pub fn fetch(
    url: &str,
    creds: &Credentials,
    plan: &FetchPlan,
    dir: &Path,
    bare: bool,
) -> Result<Repository, GitError> {
    networked(creds, || fetch_into(url, creds, plan, dir, bare))
}

fn fetch_into(
    url: &str,
    creds: &Credentials,
    plan: &FetchPlan,
    dir: &Path,
    bare: bool,
) -> Result<Repository, GitError> {
    let secrets = creds.secrets();
    let err = |e: git2::Error| classify(e, &secrets);
    let repo = if bare {
        Repository::init_bare(dir)
    } else {
        Repository::init(dir)
    }
    .map_err(err)?;
    {
        let mut remote = repo.remote("origin", &connect_url(url)?).map_err(err)?;
        let mut fo = fetch_options(creds, url);
        if let Some(depth) = plan.depth {
            fo.depth(depth);
        }
        let refspecs: Vec<&str> = plan.refspecs.iter().map(String::as_str).collect();
        remote.fetch(&refspecs, Some(&mut fo), None).map_err(err)?;
    }
    Ok(repo)
}

/// The commit of the plan in a fetched repository, and the first line of its message.
pub fn fetched_commit(repo: &Repository, plan: &FetchPlan) -> Result<(Oid, String), GitError> {
    let oid = Oid::from_str(&plan.commit)
        .map_err(|_| GitError::NotFound(format!("commit '{}' is not a valid id", plan.commit)))?;
    let commit = repo
        .find_commit(oid)
        .map_err(|_| GitError::NotFound(format!("commit '{}' not found", plan.commit)))?;
    let summary = String::from_utf8_lossy(commit.message_bytes())
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    Ok((oid, summary))
}

fn checkout_fetched(
    repo: &Repository,
    url: &str,
    creds: &Credentials,
    plan: &FetchPlan,
    err: &dyn Fn(git2::Error) -> GitError,
) -> Result<Checkout, GitError> {
    let oid = Oid::from_str(&plan.commit).map_err(err)?;
    let commit = repo
        .find_commit(oid)
        .map_err(|_| GitError::NotFound(format!("commit '{}' not found", plan.commit)))?;
    let tree = commit.tree().map_err(err)?;
    let mut builder = CheckoutBuilder::new();
    builder.force();
    for dir in &plan.sparse {
        let clean = dir.trim_start_matches("./").trim_end_matches('/');
        if tree.get_path(Path::new(clean)).is_err() {
            return Err(GitError::NotFound(format!(
                "sparse checkout directory '{clean}' does not exist"
            )));
        }
        builder.path(clean);
    }
    repo.checkout_tree(commit.as_object(), Some(&mut builder))
        .map_err(err)?;
    repo.set_head_detached(oid).map_err(err)?;
    if plan.submodules {
        for mut submodule in repo.submodules().map_err(err)? {
            let mut options = git2::SubmoduleUpdateOptions::new();
            options.fetch(fetch_options(creds, url));
            submodule.update(true, Some(&mut options)).map_err(err)?;
        }
    }
    Ok(Checkout {
        commit: plan.commit.clone(),
        summary: String::from_utf8_lossy(commit.message_bytes())
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_by_what_they_say() {
        let auth = |m: &str| matches!(classify(git2::Error::from_str(m), &[]), GitError::Auth(_));
        let cases = [
            (
                "authentication failed: the server rejected the credentials (HTTP 401)",
                true,
            ),
            ("authentication failed: access denied (HTTP 403)", true),
            (
                "failed to authenticate SSH session: Permission denied",
                true,
            ),
            ("host key verification failed for 127.0.0.1", true),
            // a port number is not a status code
            (
                "http://127.0.0.1:40103/app.git: tcp connect error: Connection refused",
                false,
            ),
            ("repository not found (HTTP 404)", false),
        ];
        for (message, want) in cases {
            assert_eq!(auth(message), want, "{message}");
        }
    }

    #[test]
    fn ssh_urls_connect_to_an_address_resolved_in_rust() {
        let cases = [
            (
                "ssh://git@localhost:2222/repo.git",
                "ssh://git@127.0.0.1:2222/repo.git",
            ),
            ("ssh://localhost/org/repo", "ssh://127.0.0.1/org/repo"),
            (
                "ssh://git@127.0.0.1:2222/repo.git",
                "ssh://git@127.0.0.1:2222/repo.git",
            ),
            ("ssh://git@[::1]:2222/r", "ssh://git@[::1]:2222/r"),
            ("https://localhost/repo", "https://localhost/repo"),
            (
                "http://user:pw@localhost:8080/r",
                "http://user:pw@localhost:8080/r",
            ),
        ];
        for (url, want) in cases {
            let got = connect_url(url).expect("resolves");
            // localhost may come first as ::1 where the hosts file says so.
            let got = got.replace("[::1]", "127.0.0.1");
            let want = if url.contains("[::1]") {
                want.replace("[::1]", "127.0.0.1")
            } else {
                want.to_string()
            };
            assert_eq!(got, want, "{url}");
        }
        let err = connect_url("ssh://git@no-such-host.invalid/repo").expect_err("unknown name");
        assert!(
            err.to_string().contains("lookup no-such-host.invalid"),
            "{err}"
        );
    }

    #[test]
    fn host_and_port_come_from_the_url() {
        let cases = [
            ("ssh://git@127.0.0.1:2222/repo.git", ("127.0.0.1", 2222)),
            ("ssh://git@github.com/org/repo", ("github.com", 22)),
            ("https://example.com/repo", ("example.com", 443)),
            ("http://user:pw@localhost:8080/r", ("localhost", 8080)),
            ("ssh://git@[::1]:2222/r", ("::1", 2222)),
        ];
        for (url, (host, port)) in cases {
            assert_eq!(host_and_port(url), Some((host.to_string(), port)), "{url}");
        }
    }
}
