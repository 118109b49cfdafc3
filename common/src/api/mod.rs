//! Flux-compatible API types for every kind Rill serves, plus the CRD list `crdgen` writes.

// kube-derive's repeated `printcolumn(type_ = ...)` arguments look like duplicated attributes
// to clippy; they are distinct columns.
#![allow(clippy::duplicated_attributes)]

pub mod image_v1;
pub mod kustomize_v1;
pub mod meta;
pub mod notification_v1;
pub mod object;
pub mod source_v1;

mod crds;

pub use crds::{all_crds, crd_file_name, crd_yaml, crds_kustomization};
