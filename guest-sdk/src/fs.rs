//! Files under the manifest's granted roots, through the host's `fs` capability.
//!
//! Paths are absolute host paths. The host finds the granted root that holds the path,
//! opens it afresh on every call without following symlinks, and opens the rest beneath it
//! the same way: `..` and symlinks are refused, never followed; a FIFO, socket or device is
//! refused; a read-only grant refuses every change, and so does the host while `plan` runs.
//!
//! ```no_run
//! use medic_guest_sdk::{fs, Error};
//!
//! fn log_size(dir: &str) -> Result<u64, Error> {
//!     match fs::list(dir) {
//!         Ok(entries) => Ok(entries.iter().filter(|e| !e.is_dir).map(|e| e.size).sum()),
//!         Err(denied @ Error::Denied { .. }) => Err(denied),
//!         Err(Error::NotFound { .. }) => Ok(0),
//!         Err(other) => Err(other),
//!     }
//! }
//! ```

use crate::Error;
use crate::bindings::medic::remediation::fs as wit;

/// A directory entry or a file's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (for `metadata`, the last path component).
    pub name: String,
    /// A directory.
    pub is_dir: bool,
    /// A symbolic link (not followed).
    pub is_symlink: bool,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, in seconds since the Unix epoch.
    pub modified: u64,
}

impl From<wit::Entry> for Entry {
    fn from(entry: wit::Entry) -> Self {
        Entry {
            name: entry.name,
            is_dir: entry.is_dir,
            is_symlink: entry.is_symlink,
            size: entry.size,
            modified: entry.modified,
        }
    }
}

/// Read a whole file.
pub fn read(path: &str) -> Result<Vec<u8>, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("fs::read"));
    }
    Ok(wit::read(path)?)
}

/// Read a whole file as UTF-8 text.
pub fn read_to_string(path: &str) -> Result<String, Error> {
    String::from_utf8(read(path)?).map_err(|_| Error::failed(format!("`{path}` is not UTF-8")))
}

/// Create or replace a file (needs a read-write grant).
pub fn write(path: &str, data: &[u8]) -> Result<(), Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("fs::write"));
    }
    Ok(wit::write(path, data)?)
}

/// The entries of a directory, in no particular order.
pub fn list(path: &str) -> Result<Vec<Entry>, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("fs::list"));
    }
    Ok(wit::list_dir(path)?.into_iter().map(Entry::from).collect())
}

/// A file's metadata, without following a final symlink.
pub fn metadata(path: &str) -> Result<Entry, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("fs::metadata"));
    }
    Ok(wit::metadata(path)?.into())
}

/// Create a directory and its missing parents (needs a read-write grant).
pub fn create_dir(path: &str) -> Result<(), Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("fs::create_dir"));
    }
    Ok(wit::create_dir(path)?)
}

/// Move a file; both paths must be under read-write grants of the same root.
pub fn rename(src: &str, dst: &str) -> Result<(), Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("fs::rename"));
    }
    Ok(wit::rename(src, dst)?)
}

/// Delete a file (needs a read-write grant).
pub fn remove_file(path: &str) -> Result<(), Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("fs::remove_file"));
    }
    Ok(wit::remove_file(path)?)
}
