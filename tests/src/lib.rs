//! Helpers for medic's end-to-end tests: the hostile guests built by `build.rs`, a harness
//! that runs the real `medic` binary in a temporary directory with its own data directory
//! and configuration, and a loopback HTTP server that records every request it gets.
//! Tests use these; none copies setup code of its own.
#![expect(
    clippy::disallowed_methods,
    reason = "test helpers spawn medic and servers"
)]

mod harness;
mod kube_api;
mod server;

pub use harness::{Medic, Remediation, RunResult};
pub use kube_api::{KubeApi, Rollout};
pub use server::{Reply, Server};

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The built component of the test guest `name`.
pub fn guest_wasm(name: &str) -> std::path::PathBuf {
    let (_, path) = GUESTS
        .iter()
        .find(|(guest, _)| *guest == name)
        .unwrap_or_else(|| panic!("no test guest `{name}`"));
    std::path::PathBuf::from(path)
}

/// The sha256 of the test guest `name`'s component, as medic reports it.
pub fn guest_sha256(name: &str) -> String {
    use sha2::Digest;
    let wasm = std::fs::read(guest_wasm(name)).expect("guest component");
    hex::encode(sha2::Sha256::digest(wasm))
}

/// The workspace root, for bundled remediations' sources and fixtures.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The folder holding `componentize-py` (the one `scripts/setup` installs in
/// `target/py-tools`, else the first on `PATH`), for tests that build Python remediations;
/// `None` when there is none.
pub fn componentize_py_dir() -> Option<std::path::PathBuf> {
    let installed = workspace_root().join("target/py-tools/bin");
    if installed.join("componentize-py").is_file() {
        return Some(installed);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).find(|dir| dir.join("componentize-py").is_file())
    })
}

/// `PATH` with `dir` first, for running `medic build` with a tool it needs.
pub fn path_with(dir: &std::path::Path) -> String {
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", dir.display())
}
