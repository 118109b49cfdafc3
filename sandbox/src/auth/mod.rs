//! Authentication (bearer tokens, an anonymous default), impersonation and RBAC.

pub mod bootstrap;
pub mod identity;
pub mod rbac;
