//! Rill's command line as a library: the in-process stack (sandbox and every controller), the
//! local Git server and registry, and the quickstart demo built on them.

pub mod git_server;
pub mod registry;
pub mod stack;
