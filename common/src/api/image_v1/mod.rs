//! `image.toolkit.fluxcd.io/v1`: ImageRepository, ImagePolicy and ImageUpdateAutomation.

mod imagepolicy;
mod imagerepository;
mod imageupdateautomation;

pub use imagepolicy::*;
pub use imagerepository::*;
pub use imageupdateautomation::*;

/// The API group of the image kinds.
pub const GROUP: &str = "image.toolkit.fluxcd.io";
/// The API version served by Rill.
pub const VERSION: &str = "v1";
