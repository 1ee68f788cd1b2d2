//! Errors from reading manifests and risk ceilings. Each names the file, the field and,
//! where known, the line.

use std::path::PathBuf;

use thiserror::Error;

/// Where a bad value sits: a file, a dotted field path and a 1-based line when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file (or `<bundled>/name` for a built-in manifest).
    pub file: PathBuf,
    /// The field, e.g. `capabilities.exec[0].program`.
    pub field: String,
    /// The line in the file, when the parser gave one.
    pub line: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": `{}`", self.field)
    }
}

/// Why a manifest or ceiling could not be loaded.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, a field is missing, unknown or of the wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A field has a value medic refuses.
    #[error("{origin}: {message}")]
    Invalid {
        /// Where.
        origin: Origin,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A grant asks for more than the operator's ceiling for its risk level allows.
    #[error("{origin}: {message}")]
    BeyondCeiling {
        /// Where.
        origin: Origin,
        /// Which entry and which ceiling.
        message: String,
    },
    /// The component's bytes do not hash to the manifest's `sha256`.
    #[error(
        "remediation `{name}`: component `{component}` has sha256 `{actual}`, but the manifest pins `{expected}`"
    )]
    HashMismatch {
        /// The remediation.
        name: String,
        /// The component file.
        component: PathBuf,
        /// The manifest's value.
        expected: String,
        /// What the file hashes to.
        actual: String,
    },
    /// The operator pinned this remediation to another hash.
    #[error(
        "remediation `{name}`: the operator pins sha256 `{pinned}`, but the manifest says `{declared}`"
    )]
    PinMismatch {
        /// The remediation.
        name: String,
        /// The operator's pin (medic.toml `[pins]`).
        pinned: String,
        /// The manifest's `sha256`.
        declared: String,
    },
    /// The operator requires a pin and this remediation has none.
    #[error("remediation `{name}` is not pinned in medic.toml `[pins]`, and `require_pins` is on")]
    NotPinned {
        /// The remediation.
        name: String,
    },
    /// No bundled remediation has that name.
    #[error(
        "no bundled remediation `{name}` (see `medic remediations list`); name a directory as a path, e.g. `./{name}`"
    )]
    UnknownRemediation {
        /// What was asked for.
        name: String,
    },
    /// A directory's manifest claims the name of a bundled remediation.
    #[error("`{path}` claims the name `{name}`, which belongs to a bundled remediation; rename it")]
    ShadowsBundled {
        /// The claimed name.
        name: String,
        /// The manifest.
        path: PathBuf,
    },
    /// The operator requires signatures, and this remediation's does not hold.
    #[error(transparent)]
    Signature(#[from] super::signature::SignatureError),
    /// A grant would reach medic's own state, or names a program medic never runs.
    #[error("{origin}: {message}")]
    Unsafe {
        /// Where.
        origin: Origin,
        /// What it would reach, or why the program is refused.
        message: String,
    },
}
