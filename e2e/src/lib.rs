//! End-to-end test support: real Git servers (git's own `http-backend` behind a small HTTP
//! front with basic or bearer auth, and Debian's OpenSSH), Git repositories built with the
//! `git` CLI, a real OCI registry (`docker-registry` + `skopeo`), and helpers to run Rill's
//! controllers against the sandbox.

pub use rill::git_server as git_http;
pub mod cluster;
pub mod event_receiver;
pub mod flux;
pub mod git_repo;
pub mod git_ssh;
pub mod http_proxy;
pub mod ports;
pub mod registry;
pub mod tls_front;
