//! Environment variables the manifest declares, read through the host's `env` capability.
//!
//! The component's own WASI environment is empty: a remediation sees only the names its
//! manifest lists, read from medic's environment when asked, and each read is audited.
//!
//! ```no_run
//! use medic_guest_sdk::{env, Error};
//!
//! fn token() -> Result<String, Error> {
//!     match env::get("ADMIN_TOKEN") {
//!         Ok(Some(value)) => Ok(value),
//!         Ok(None) => Err(Error::failed("ADMIN_TOKEN is not set on this host")),
//!         Err(other) => Err(other),
//!     }
//! }
//! ```

use crate::Error;
use crate::bindings::medic::remediation::env as wit;

/// The value of `name`, or `None` when the host does not set it.
pub fn get(name: &str) -> Result<Option<String>, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("env::get"));
    }
    Ok(wit::get(name)?)
}
