//! Patch formats: JSON merge patch, JSON patch (with Kubernetes' quirks), strategic merge patch
//! for built-in kinds, and server-side apply with managed fields.

pub mod apply;
pub mod fields;
pub mod json_patch;
pub mod merge;
pub mod schema;
pub mod strategic;
