//! Rill's native kustomize engine: builds a kustomization directory (on disk or in memory) into
//! resources and into the YAML stream, byte-identical to `kustomize build` v5.5.0, with no
//! Kubernetes client and no network. Filled by the kustomize-engine issue; empty today.
