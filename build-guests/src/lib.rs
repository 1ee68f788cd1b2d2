//! Builds guest crates (remediations and test guests) into `wasm32-wasip2` components
//! from a build script, reproducibly.
//!
//! Reproducible means the same bytes, and so the same sha256, on any machine with the same
//! toolchain: the `guest` profile strips debug info, and `--remap-path-prefix` replaces the
//! workspace and cargo-home paths that panic messages would otherwise embed. A manifest can
//! therefore pin a bundled component's hash in git and a fresh clone still matches it.
//!
//! Guests are built in their own target directory (`target/guests`) so that the nested
//! cargo never waits on the lock of the build that runs this script.
#![expect(
    clippy::disallowed_methods,
    reason = "a build helper runs cargo and reads cargo's environment"
)]

use std::env;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The target guests are built for.
pub const TARGET: &str = "wasm32-wasip2";
/// The cargo profile guests are built with (see the workspace `Cargo.toml`).
pub const PROFILE: &str = "guest";

/// A built component.
#[derive(Debug, Clone)]
pub struct Built {
    /// The crate name, as in its `Cargo.toml`.
    pub crate_name: String,
    /// The crate's folder.
    pub crate_dir: PathBuf,
    /// The `.wasm` component.
    pub wasm_path: PathBuf,
    /// Lowercase hex sha256 of the component.
    pub sha256: String,
}

/// Why a guest could not be built.
#[derive(Debug)]
pub struct BuildError(String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// The workspace root, found from a member's `CARGO_MANIFEST_DIR`.
pub fn workspace_root(manifest_dir: &Path) -> PathBuf {
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("wit").join("medic.wit").is_file())
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// The crate folders directly under `parent` (those holding a `Cargo.toml`), sorted.
pub fn crate_dirs(parent: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entries = fs::read_dir(parent)
        .map_err(|error| BuildError(format!("cannot list `{}`: {error}", parent.display())))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Names the rustup toolchain to build the guests with, when it is not the outer build's.
pub const GUEST_TOOLCHAIN_VAR: &str = "MEDIC_GUEST_TOOLCHAIN";

/// medic's `guest` profile, passed to cargo on its command line so that every guest is
/// built the same way whatever its own `Cargo.toml` says: small, one codegen unit, no
/// debug info, stripped (the same values as the workspace's `[profile.guest]`).
pub const PROFILE_SETTINGS: &[(&str, &str)] = &[
    ("inherits", "\"release\""),
    ("opt-level", "\"s\""),
    ("codegen-units", "1"),
    ("debug", "false"),
    ("strip", "true"),
    ("incremental", "false"),
];

/// Build every crate in `crate_dirs` for `wasm32-wasip2` in one cargo invocation, and
/// tell cargo to rerun the calling build script when any of them, the SDK or the WIT
/// changes. For build scripts: it prints cargo directives on standard output.
pub fn build(workspace: &Path, crate_dirs: &[PathBuf]) -> Result<Vec<Built>, BuildError> {
    let target_dir = workspace.join("target").join("guests");
    for dir in crate_dirs
        .iter()
        .chain([&workspace.join("guest-sdk"), &workspace.join("wit")])
    {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let mut names = Vec::new();
    for dir in crate_dirs {
        names.push(crate_name(dir)?);
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    println!("cargo:rerun-if-env-changed={GUEST_TOOLCHAIN_VAR}");
    let guest_toolchain = env::var_os(GUEST_TOOLCHAIN_VAR).filter(|value| !value.is_empty());
    let cargo_home = cargo_home_from_env();
    let mut command = cargo_command(&CargoBuild {
        root: workspace,
        target_dir: &target_dir,
        crates: &names,
        locked: true,
        toolchain: guest_toolchain.as_deref(),
        cargo: env::var_os("CARGO").as_deref(),
        cargo_home: cargo_home.as_deref(),
    });
    command.arg("--quiet");
    let status = command
        .status()
        .map_err(|error| BuildError(format!("cannot run cargo to build guests: {error}")))?;
    if !status.success() {
        return Err(BuildError(format!(
            "building guests {names:?} for `{TARGET}` failed ({status}); is the target installed? \
             run `rustup target add {TARGET}`"
        )));
    }
    crate_dirs
        .iter()
        .zip(names)
        .map(|(dir, name)| {
            let wasm_path = wasm_path(&target_dir, &name);
            let bytes = fs::read(&wasm_path).map_err(|error| {
                BuildError(format!(
                    "cannot read built guest `{}`: {error}",
                    wasm_path.display()
                ))
            })?;
            Ok(Built {
                crate_name: name,
                crate_dir: dir.clone(),
                wasm_path,
                sha256: hex::encode(Sha256::digest(&bytes)),
            })
        })
        .collect()
}

/// One cargo build of guest crates.
#[derive(Debug, Clone, Copy)]
pub struct CargoBuild<'a> {
    /// The workspace root (or the crate's own folder, for a crate that is its own
    /// workspace): cargo runs there, and its path is remapped to `/medic` in the output.
    pub root: &'a Path,
    /// Where cargo builds.
    pub target_dir: &'a Path,
    /// The package names to build.
    pub crates: &'a [String],
    /// Pass `--locked` (a workspace whose `Cargo.lock` is committed).
    pub locked: bool,
    /// A rustup toolchain to build with instead of the calling one.
    pub toolchain: Option<&'a std::ffi::OsStr>,
    /// The cargo to run (default `cargo` from `PATH`).
    pub cargo: Option<&'a std::ffi::OsStr>,
    /// Cargo's home (`CARGO_HOME`, else `~/.cargo`), remapped to `/cargo` in the output so
    /// paths of dependencies' sources do not depend on the machine.
    pub cargo_home: Option<&'a Path>,
}

/// Cargo's home as a build script sees it: `CARGO_HOME`, else `$HOME/.cargo`.
pub fn cargo_home_from_env() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}

/// The cargo command that builds `build.crates` for `wasm32-wasip2` with medic's guest
/// profile and path remapping, its environment cleared of the calling build's flags.
/// The caller runs it (a build script, or medic's `process/`).
pub fn cargo_command(build: &CargoBuild<'_>) -> Command {
    // The guests' pinned hashes come from the project's toolchain. A build with another
    // one (cargo fuzz runs nightly, which may lack the wasm target) names the toolchain for
    // the guests in MEDIC_GUEST_TOOLCHAIN; rustup's cargo then runs it, and the outer
    // build's compiler is not passed down.
    let cargo = match (build.toolchain, build.cargo) {
        (Some(_), _) | (None, None) => std::ffi::OsStr::new("cargo"),
        (None, Some(cargo)) => cargo,
    };
    let mut command = Command::new(cargo);
    if let Some(toolchain) = build.toolchain {
        command
            .env("RUSTUP_TOOLCHAIN", toolchain)
            .env_remove("RUSTC")
            .env_remove("RUSTDOC")
            .env_remove("RUSTC_WRAPPER");
    }
    command
        .current_dir(build.root)
        .arg("build")
        .arg("--target")
        .arg(TARGET)
        .arg("--profile")
        .arg(PROFILE)
        .arg("--target-dir")
        .arg(build.target_dir);
    if build.locked {
        command.arg("--locked");
    }
    for (key, value) in PROFILE_SETTINGS {
        command
            .arg("--config")
            .arg(format!("profile.{PROFILE}.{key}={value}"));
    }
    for name in build.crates {
        command.arg("-p").arg(name);
    }
    // The outer build's flags and settings are not the guests': clear them, then set the
    // path remapping that makes the output independent of where the checkout lives.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_INCREMENTAL",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        command.env_remove(var);
    }
    command.env(
        "CARGO_ENCODED_RUSTFLAGS",
        remap_flags(build.root, build.cargo_home).join("\x1f"),
    );
    command
}

/// Where cargo leaves the component of crate `name` built under `target_dir`.
pub fn wasm_path(target_dir: &Path, name: &str) -> PathBuf {
    target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", name.replace('-', "_")))
}

fn remap_flags(workspace: &Path, cargo_home: Option<&Path>) -> Vec<String> {
    let mut flags = vec![format!(
        "--remap-path-prefix={}=/medic",
        workspace.display()
    )];
    if let Some(cargo_home) = cargo_home {
        flags.push(format!(
            "--remap-path-prefix={}=/cargo",
            cargo_home.display()
        ));
    }
    flags
}

/// The package name in `dir/Cargo.toml`.
pub fn crate_name(dir: &Path) -> Result<String, BuildError> {
    let manifest_path = dir.join("Cargo.toml");
    let text = fs::read_to_string(&manifest_path).map_err(|error| {
        BuildError(format!(
            "cannot read `{}`: {error}",
            manifest_path.display()
        ))
    })?;
    text.lines()
        .map(str::trim)
        .find_map(|line| {
            let rest = line.strip_prefix("name")?.trim_start().strip_prefix('=')?;
            Some(rest.trim().trim_matches('"').to_string())
        })
        .ok_or_else(|| BuildError(format!("`{}` has no package name", manifest_path.display())))
}
