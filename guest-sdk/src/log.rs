//! Messages and progress for the operator, recorded with the run.
//!
//! The host caps the total output; a remediation that floods is stopped.

use crate::bindings::medic::remediation::log as wit;

/// A debug message.
pub fn debug(message: &str) {
    wit::write(wit::Level::Debug, message);
}

/// An informational message.
pub fn info(message: &str) {
    wit::write(wit::Level::Info, message);
}

/// A warning.
pub fn warn(message: &str) {
    wit::write(wit::Level::Warn, message);
}

/// An error message (the remediation goes on; return an [`crate::Error`] to stop).
pub fn error(message: &str) {
    wit::write(wit::Level::Error, message);
}

/// Report progress from 0 to 100 with a short message; values above 100 are shown as 100.
pub fn progress(percent: u8, message: &str) {
    wit::progress(percent.min(100), message);
}
