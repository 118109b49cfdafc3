//! Rill's native kustomize engine: builds a kustomization directory into resources and into the
//! YAML stream, byte-identical to `kustomize build` v5.5.0, with no Kubernetes client and no
//! network. Supported: resources (files, multi-document files, `List` kinds, nested
//! kustomizations), components, `namespace`, `namePrefix`/`nameSuffix` with name-reference
//! fixing, patches (JSON 6902 and strategic merge, targeted or by id), ConfigMap and Secret
//! generators with content-hash names, labels, `commonLabels`, `commonAnnotations`, `images`,
//! `replicas`, `replacements`, built-in plugins in `transformers` and `generators`, `sortOptions`,
//! and go-yaml v3's output format. Every other kustomization field (`configurations`, `vars`,
//! `openapi`, `buildMetadata`, Helm, remote bases) fails with an error naming it.

pub mod build;
pub mod error;
pub mod fieldspec;
pub mod fuzzing;
pub mod generators;
pub mod kustomization;
pub mod names;
pub mod openapi;
pub mod patch;
pub mod resource;
pub mod strategic;
pub mod yaml;

pub use build::{LoadRestrictor, Options, build, build_yaml, render};
pub use error::Error;
