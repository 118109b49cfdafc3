//! Rill's native kustomize engine: builds a kustomization directory (on disk, [`build`], or an
//! in-memory file tree, [`build_files`]) into resources and into the YAML stream,
//! byte-identical to `kustomize build` v5.5.0, with no Kubernetes client and no network. The
//! crate's README lists what is supported; remote bases and exec, container and Helm plugins
//! fail with an error naming the field.

pub mod build;
pub mod error;
pub mod fieldspec;
pub mod file_system;
pub mod fuzzing;
pub mod generators;
pub mod go_regex;
pub mod kustomization;
pub mod names;
pub mod openapi;
pub mod patch;
pub mod resource;
pub mod strategic;
pub mod yaml;

pub use build::{LoadRestrictor, Options, build, build_files, build_yaml, render};
pub use error::Error;
