//! Structured logging: JSON lines (Flux's default) or console text, filtered by `--log-level`
//! (`RUST_LOG` refines it when set).

use tracing_subscriber::EnvFilter;

use super::flags::{LogEncoding, LogLevel};

/// Installs the global subscriber. A second call is ignored.
pub fn init(level: LogLevel, encoding: LogEncoding) {
    let default = match level {
        LogLevel::Error => "error",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match encoding {
        LogEncoding::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogEncoding::Console => builder.try_init(),
    };
}
