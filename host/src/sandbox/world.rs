//! The world a gate acts on once it has allowed a call: this host, or a scripted one.
//!
//! Every gate decides a call the same way whatever the world: manifest, ceiling, plan's
//! dry-run rules, medic's protected state, rate limits, audit. Only what happens after
//! the decision differs. [`World::Real`] runs the checked program, sends the request,
//! opens the granted root on this host. [`World::Scripted`] is for `medic test`: a
//! scenario answers each program run, request and TCP check, and every granted root is
//! opened beneath the scenario's temporary directory, so a remediation is exercised
//! through the real sandbox without touching the host. Nothing but `scenario/` makes a
//! scripted world, and no configuration or command line of `medic run` or `medic heal`
//! can ask for one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Operation;

/// Where allowed calls take effect.
#[derive(Clone, Default)]
pub enum World {
    /// This host: programs run, requests are sent, roots are opened where they are.
    #[default]
    Real,
    /// A scenario's scripted answers and temporary root (`medic test`).
    Scripted(Arc<dyn Scripted>),
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            World::Real => f.write_str("Real"),
            World::Scripted(world) => write!(f, "Scripted({})", world.root().display()),
        }
    }
}

impl World {
    /// Where a granted root `path` is opened: itself on this host, or the same path
    /// beneath the scripted world's temporary directory.
    pub fn root_of(&self, path: &Path) -> PathBuf {
        match self {
            World::Real => path.to_path_buf(),
            World::Scripted(world) => {
                let relative = path.strip_prefix("/").unwrap_or(path);
                world.root().join(relative)
            }
        }
    }
}

/// What a scripted program run returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptedExec {
    /// The program ran: its status (`None`: killed by a signal) and output.
    Ran {
        /// Exit status.
        status: Option<i32>,
        /// Standard output.
        stdout: Vec<u8>,
        /// Standard error.
        stderr: Vec<u8>,
    },
    /// The program does not exist on the scripted host.
    Missing,
    /// Running it failed (the message the guest gets as `failed`).
    Failed(String),
}

/// What a scripted HTTP request returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// The answers of a scripted world. Called only after the gate allowed the call, and
/// with exactly what the guest asked for (the URL as the gate normalised it).
pub trait Scripted: Send + Sync {
    /// The temporary directory granted roots are opened beneath.
    fn root(&self) -> &Path;
    /// Run `program` with `args` during `operation`.
    fn exec(&self, operation: Operation, program: &str, args: &[String]) -> ScriptedExec;
    /// Send `method url` with `body` during `operation`; `Err` is a transport failure.
    fn http(
        &self,
        operation: Operation,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> Result<ScriptedResponse, String>;
    /// Open a TCP connection to `host:port`; `Err` when it is refused.
    fn connect(&self, operation: Operation, host: &str, port: u16) -> Result<(), String>;
    /// The value of environment variable `name` on the scripted host.
    fn env(&self, name: &str) -> Option<String>;
    /// The value of secret `handle`.
    fn secret(&self, handle: &str) -> Option<String>;
}
