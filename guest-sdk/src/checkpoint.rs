//! State saved by `apply` for `rollback`, kept by the host per incident and remediation.
//!
//! ```no_run
//! use medic_guest_sdk::{checkpoint, Error};
//!
//! fn remember(moved: &[String]) -> Result<(), Error> {
//!     checkpoint::save_str("moved", &moved.join("\n"))
//! }
//!
//! fn recall() -> Result<Vec<String>, Error> {
//!     Ok(checkpoint::load_string("moved")?
//!         .map(|text| text.lines().map(str::to_string).collect())
//!         .unwrap_or_default())
//! }
//! ```

use crate::Error;
use crate::bindings::medic::remediation::checkpoint as wit;

/// Save `value` under `key`, replacing what was there.
pub fn save(key: &str, value: &[u8]) -> Result<(), Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("checkpoint::save"));
    }
    Ok(wit::save(key, value)?)
}

/// The bytes saved under `key`, if any.
pub fn load(key: &str) -> Result<Option<Vec<u8>>, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("checkpoint::load"));
    }
    Ok(wit::load(key)?)
}

/// Save text under `key`.
pub fn save_str(key: &str, value: &str) -> Result<(), Error> {
    save(key, value.as_bytes())
}

/// The text saved under `key`, if any.
pub fn load_string(key: &str) -> Result<Option<String>, Error> {
    match load(key)? {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::failed(format!("checkpoint `{key}` is not UTF-8"))),
        None => Ok(None),
    }
}
