//! Rill's shared crate: Flux-compatible API types, condition bookkeeping, artifacts and the
//! controller runtime every Rill binary is built on.

pub mod api;
pub mod artifact;
pub mod client_settings;
pub mod conditions;
pub mod dns;
pub mod duration;
pub mod ignore;
pub mod oci;
pub mod runtime;
/// Semver constraints (Masterminds semantics), from the `semver-range` crate.
pub use semver_range;
#[cfg(feature = "testing")]
pub mod testing;
