//! Rill's command line as a library: the in-process stack (sandbox, source-controller,
//! kustomize-controller), the local Git server and the quickstart demo built on them.

pub mod git_server;
pub mod stack;
