//! Authentication (bearer tokens, an anonymous default), impersonation and RBAC.

pub mod bootstrap;
pub mod escalation;
pub mod identity;
pub mod rbac;
