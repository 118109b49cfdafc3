//! Rill's sandbox: an embedded Kubernetes API server that real `kubectl` and kube-rs accept,
//! used by every end-to-end test and by the quickstart (see `shared/spec/apiserver.md`).
//! Filled by the sandbox issue; empty today. It will never depend on Flux types.
