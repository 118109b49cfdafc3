//! The `rill` command: `rill quickstart [--once]`.

fn main() {}
