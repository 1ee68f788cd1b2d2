//! The one error type every SDK call returns.

use std::fmt;

use crate::bindings::medic::remediation::types::HostError;

/// Why a host call, or a remediation, did not succeed.
///
/// `Denied` is not `Failed`: a denied call was refused by the manifest or the operator's
/// risk ceiling before anything happened, and the audit log holds the refusal.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The host refused the call; `reason` names the grant that would allow it.
    Denied {
        /// The host's explanation.
        reason: String,
    },
    /// The target does not exist: a file, a directory, a checkpoint key.
    NotFound {
        /// What was missing.
        what: String,
    },
    /// The call was allowed but failed, or the remediation itself gave up.
    Failed {
        /// What went wrong.
        message: String,
    },
    /// The incident lacks a parameter the remediation needs, or one is invalid; the
    /// remediation did nothing.
    InvalidInput {
        /// Which parameter, and what is wrong with it.
        message: String,
    },
    /// A host call was made outside medic's sandbox: in a native build (an author's
    /// `cargo test`), where there is no host to answer. Nothing happened. Test the logic
    /// around host calls natively, and the calls themselves with `medic test`.
    NotInSandbox {
        /// The SDK function called, e.g. `exec::run`.
        call: &'static str,
    },
}

impl Error {
    /// A failure with a message, for a remediation's own errors.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed {
            message: message.into(),
        }
    }

    /// An incident parameter is missing or invalid.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// What a host call returns in a native build: there is no host.
    pub(crate) fn not_in_sandbox(call: &'static str) -> Self {
        Error::NotInSandbox { call }
    }

    /// True when the host refused the call.
    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Denied { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Denied { reason } => write!(f, "denied: {reason}"),
            Error::NotFound { what } => write!(f, "not found: {what}"),
            Error::Failed { message } => write!(f, "{message}"),
            Error::InvalidInput { message } => write!(f, "invalid input: {message}"),
            Error::NotInSandbox { call } => write!(
                f,
                "`{call}` is a medic host call: it is answered only inside medic's sandbox \
                 (a wasm32-wasip2 component run by `medic run` or `medic test`), not in a \
                 native build such as `cargo test`"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<HostError> for Error {
    fn from(error: HostError) -> Self {
        match error {
            HostError::Denied(reason) => Error::Denied { reason },
            HostError::NotFound(what) => Error::NotFound { what },
            HostError::Failed(message) => Error::Failed { message },
            HostError::InvalidInput(message) => Error::InvalidInput { message },
        }
    }
}

impl From<Error> for HostError {
    fn from(error: Error) -> Self {
        match error {
            Error::Denied { reason } => HostError::Denied(reason),
            Error::NotFound { what } => HostError::NotFound(what),
            Error::Failed { message } => HostError::Failed(message),
            Error::InvalidInput { message } => HostError::InvalidInput(message),
            not_in_sandbox @ Error::NotInSandbox { .. } => {
                HostError::Failed(not_in_sandbox.to_string())
            }
        }
    }
}
