//! Messages and progress for the operator, recorded with the run.
//!
//! The host caps the total output; a remediation that floods is stopped. In a native
//! build (`cargo test`) there is no host: messages go to standard error instead.

use crate::bindings::medic::remediation::log as wit;

/// A debug message.
pub fn debug(message: &str) {
    write(wit::Level::Debug, "debug", message);
}

/// An informational message.
pub fn info(message: &str) {
    write(wit::Level::Info, "info", message);
}

/// A warning.
pub fn warn(message: &str) {
    write(wit::Level::Warn, "warn", message);
}

/// An error message (the remediation goes on; return an [`crate::Error`] to stop).
pub fn error(message: &str) {
    write(wit::Level::Error, "error", message);
}

/// Report progress from 0 to 100 with a short message; values above 100 are shown as 100.
pub fn progress(percent: u8, message: &str) {
    if cfg!(target_arch = "wasm32") {
        wit::progress(percent.min(100), message);
    } else {
        eprintln!("progress {}%: {message}", percent.min(100));
    }
}

fn write(level: wit::Level, name: &str, message: &str) {
    if cfg!(target_arch = "wasm32") {
        wit::write(level, message);
    } else {
        eprintln!("{name}: {message}");
    }
}
