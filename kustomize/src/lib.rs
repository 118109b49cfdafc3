//! Rill's native kustomize engine: builds a kustomization directory into resources and into the
//! YAML stream, byte-identical to `kustomize build` v5.5.0, with no Kubernetes client and no
//! network. Supported so far: resources (files, multi-document files, `List` kinds, nested
//! kustomizations), `namespace`, patches (JSON 6902 and strategic merge, with or without targets; `patchesStrategicMerge`, `patchesJson6902`), the legacy output order and go-yaml v3's output format; every
//! other kustomization field fails with an error naming it.

pub mod build;
pub mod error;
pub mod fieldspec;
pub mod generators;
pub mod kustomization;
pub mod names;
pub mod patch;
pub mod resource;
pub mod strategic;
pub mod yaml;

pub use build::{LoadRestrictor, Options, build, build_yaml};
pub use error::Error;
