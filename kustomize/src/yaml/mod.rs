//! YAML in and out, with go-yaml v3's semantics as kustomize exposes them.

pub mod emit;
pub mod read;
pub mod resolve;

pub use emit::to_yaml;
pub use read::{
    ExplicitNulls, PathSeg, YamlError, read_documents, read_documents_last_key_wins,
    read_documents_with_nulls, read_patch_documents,
};
