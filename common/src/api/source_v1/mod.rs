//! `source.toolkit.fluxcd.io/v1`: GitRepository and OCIRepository.

mod gitrepository;
mod ocirepository;

pub use gitrepository::*;
pub use ocirepository::*;

/// The API group of the source kinds.
pub const GROUP: &str = "source.toolkit.fluxcd.io";
/// The API version of the source kinds served by Rill.
pub const VERSION: &str = "v1";
