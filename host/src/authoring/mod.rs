//! What a remediation author runs besides `medic test`: `medic new` lays out a working
//! remediation (`scaffold.rs`), `medic build` builds its component reproducibly (Rust:
//! `rust.rs`; Python: `python.rs`), pins its sha256 in the manifest (`pin.rs`) and writes
//! the ceiling drop-in its grants need (`drop_in.rs`).
//!
//! Owns: the author's side of a remediation's folder. Does not own: checking a
//! manifest (`manifest/`, `catalog.rs`), running one (`run/`, `scenario/`). Build tools
//! run through `process/tool.rs`, with the author's rights, never in a command that runs a
//! remediation.

/// The host/guest contract this medic speaks, as `wit/medic.wit` declares its package: a
/// component built against another version does not load.
pub const CONTRACT: &str = "medic:remediation@0.2.0";

/// Largest `Cargo.toml` medic reads (a crate's, or a workspace's above it).
const MAX_CARGO_TOML_BYTES: u64 = 1 << 20;

pub mod drop_in;
pub mod pin;
pub mod python;
mod rust;
pub mod scaffold;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::manifest::{self, MANIFEST_FILE, MAX_MANIFEST_BYTES};

/// Why a remediation could not be built or laid out.
#[derive(Debug, Error)]
pub enum AuthoringError {
    /// A file could not be read or written.
    #[error("`{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The folder is not a remediation medic knows how to build.
    #[error("{0}")]
    Project(String),
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    /// A build tool is missing or not set up.
    #[error("{0}")]
    Toolchain(String),
    /// A build tool failed.
    #[error(transparent)]
    Tool(#[from] crate::process::tool::ToolError),
}

/// What a remediation is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A crate using `medic-guest-sdk` (`Cargo.toml`).
    Rust,
    /// A module `app.py` using the `medic_guest` package, built with componentize-py.
    Python,
}

impl Language {
    /// The language's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
        }
    }
}

/// What `medic build` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Built {
    /// The remediation's name.
    pub name: String,
    /// What it is written in.
    pub language: Language,
    /// The component written beside the manifest.
    pub component: PathBuf,
    /// Its size in bytes.
    pub bytes: usize,
    /// Its sha256, now pinned in the manifest.
    pub sha256: String,
    /// The sha256 the manifest pinned before.
    pub previous_sha256: String,
}

/// What `dir` holds: a `Cargo.toml` is Rust, an `app.py` is Python.
pub fn detect_language(dir: &Path) -> Result<Language, AuthoringError> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Language::Rust)
    } else if dir.join("app.py").is_file() {
        Ok(Language::Python)
    } else {
        Err(AuthoringError::Project(format!(
            "`{}` holds neither a Cargo.toml (Rust) nor an app.py (Python); `medic new remediation NAME` lays one out",
            dir.display()
        )))
    }
}

/// Build the remediation in `dir`: its component, written where the manifest's
/// `component` says, and its sha256 written into the manifest. The manifest is checked
/// before anything is built, and both files are replaced whole (never half-written).
pub fn build_remediation(dir: &Path) -> Result<Built, AuthoringError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    // Never through a symlink, never blocking on a FIFO: this file is rewritten below.
    let text = crate::nofollow::read_folder_text(&manifest_path, MAX_MANIFEST_BYTES)
        .map_err(|error| AuthoringError::Project(error.to_string()))?;
    let manifest = manifest::parse_manifest(&text, &manifest_path)?;
    check_inside(dir, &dir.join(&manifest.component))?;
    let language = detect_language(dir)?;
    let wasm = match language {
        Language::Rust => rust::build_rust(dir)?,
        Language::Python => python::build_python(dir)?,
    };
    let sha256 = manifest::sha256_hex(&wasm);
    let component = dir.join(&manifest.component);
    // The new manifest text is made before anything is written, so a manifest the pin
    // cannot be written into leaves both files as they were.
    let pinned = pin::set_sha256(&text, &sha256).map_err(|message| {
        AuthoringError::Project(format!("`{}`: {message}", manifest_path.display()))
    })?;
    write_atomically(&component, &wasm).map_err(|source| AuthoringError::Io {
        path: component.clone(),
        source,
    })?;
    if pinned != text {
        write_atomically(&manifest_path, pinned.as_bytes()).map_err(|source| {
            AuthoringError::Io {
                path: manifest_path.clone(),
                source,
            }
        })?;
    }
    Ok(Built {
        name: manifest.name.clone(),
        language,
        component,
        bytes: wasm.len(),
        sha256,
        previous_sha256: manifest.sha256.clone(),
    })
}

/// The nearest folder at or above `dir` whose `Cargo.toml` has a `[workspace]` table, as
/// cargo finds the workspace a crate belongs to.
pub(crate) fn workspace_of(dir: &Path) -> Result<Option<PathBuf>, AuthoringError> {
    for candidate in dir.ancestors() {
        let manifest = candidate.join("Cargo.toml");
        // Regular files only, never blocking: a folder above may be anyone's.
        let Ok(text) = crate::nofollow::read_regular_text(&manifest, MAX_CARGO_TOML_BYTES) else {
            continue;
        };
        let table: toml::Table = toml::from_str(&text).map_err(|error| {
            AuthoringError::Project(format!(
                "`{}`: {}",
                manifest.display(),
                crate::text::toml_error(&text, &error)
            ))
        })?;
        if table.contains_key("workspace") {
            return Ok(Some(candidate.to_path_buf()));
        }
    }
    Ok(None)
}

/// Refuse to write `file` (a path beneath `dir`) when a symlink on the way would put it
/// somewhere else: the folder may be someone else's, and `medic build` writes as its user.
fn check_inside(dir: &Path, file: &Path) -> Result<(), AuthoringError> {
    let (Some(parent), Ok(relative)) = (file.parent(), file.strip_prefix(dir)) else {
        return Ok(());
    };
    let canonical = |path: &Path| {
        std::fs::canonicalize(path).map_err(|source| AuthoringError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let expected = canonical(dir)?.join(relative.parent().unwrap_or(Path::new("")));
    if canonical(parent)? != expected {
        return Err(AuthoringError::Project(format!(
            "`{}` lies behind a symlink inside `{}`; medic build writes the component only inside the remediation's folder",
            file.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Replace `path` with `bytes` whole, keeping its mode (0644 for a new file): write a
/// sibling temporary file, then rename it over.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).map_or(0o644, |metadata| metadata.permissions().mode());
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}
