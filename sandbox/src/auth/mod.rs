//! Authentication (bearer tokens, service account tokens, anonymous requests),
//! impersonation and RBAC.

pub mod bootstrap;
pub mod escalation;
pub mod identity;
pub mod rbac;
pub mod service_account_token;
