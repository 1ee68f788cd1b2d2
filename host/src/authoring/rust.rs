//! Building a Rust remediation crate: `cargo build` for `wasm32-wasip2` with medic's
//! guest profile and path remapping (`medic-build-guests`), in the cargo workspace the
//! crate belongs to, so the bytes (and the sha256) are the same on every machine with the
//! same toolchain and lock file.

use std::path::{Path, PathBuf};

use medic_build_guests::{CargoBuild, TARGET};

use super::AuthoringError;
use crate::process::tool::{run_tool, tool_command, tool_output};

/// Build the crate in `dir` and return its component's bytes.
pub(crate) fn build_rust(dir: &Path) -> Result<Vec<u8>, AuthoringError> {
    let name = medic_build_guests::crate_name(dir)
        .map_err(|error| AuthoringError::Project(error.to_string()))?;
    let root = cargo_root(dir)?;
    check_target(&root)?;
    let target_dir = root.join("target").join("guests");
    let crates = [name.clone()];
    // With a lock file, the build uses exactly its versions (commit it: the same source
    // and lock give the same bytes); the first build writes it.
    let locked = root.join("Cargo.lock").is_file();
    let cargo_home = crate::config::cargo_home();
    let command = medic_build_guests::cargo_command(&CargoBuild {
        root: &root,
        target_dir: &target_dir,
        crates: &crates,
        locked,
        toolchain: None,
        cargo: None,
        cargo_home: cargo_home.as_deref(),
    });
    let mut tool = tool_command(command.get_program());
    tool.args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        tool.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => tool.env(key, value),
            None => tool.env_remove(key),
        };
    }
    run_tool(tool)?;
    let wasm = medic_build_guests::wasm_path(&target_dir, &name);
    std::fs::read(&wasm).map_err(|source| AuthoringError::Io { path: wasm, source })
}

/// The root of the cargo workspace `dir` belongs to: the nearest folder at or above it
/// whose `Cargo.toml` has a `[workspace]` table, else `dir` itself.
fn cargo_root(dir: &Path) -> Result<PathBuf, AuthoringError> {
    let dir = std::fs::canonicalize(dir).map_err(|source| AuthoringError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(super::workspace_of(&dir)?.unwrap_or(dir))
}

/// Fail early, with the fix, when rustup lacks the guest target.
fn check_target(root: &Path) -> Result<(), AuthoringError> {
    match tool_output("rustup", &["target", "list", "--installed"], root) {
        Some(installed) if !installed.lines().any(|line| line.trim() == TARGET) => {
            Err(AuthoringError::Toolchain(format!(
                "the Rust target `{TARGET}` is not installed: run `rustup target add {TARGET}`"
            )))
        }
        // Installed, or no rustup to ask: cargo says what is wrong.
        _ => Ok(()),
    }
}
