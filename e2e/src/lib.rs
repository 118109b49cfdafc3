//! End-to-end test support: starts the sandbox, real Git servers (git http-backend, OpenSSH),
//! the CNCF registry and the controller binaries, and drives them with `kubectl`. The fixtures
//! arrive with the controller issues; the tests live in `e2e/tests/`.
