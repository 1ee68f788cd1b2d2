//! Run a program through the host's `exec` capability.
//!
//! The host runs the program directly (never through a shell), with a cleared environment
//! holding only the manifest's env names, no stdin, a fixed working directory and a
//! timeout. The program must be an absolute path the manifest lists, and each argument
//! must match the manifest's pattern at its position.
//!
//! ```no_run
//! use medic_guest_sdk::{exec, Error};
//!
//! fn status(unit: &str) -> Result<bool, Error> {
//!     match exec::run("/usr/bin/systemctl", &["is-active", unit]) {
//!         Ok(output) => Ok(output.success()),
//!         // A refusal stays a refusal: the host has recorded it, and the run is `denied`.
//!         Err(denied @ Error::Denied { .. }) => Err(denied),
//!         Err(other) => Err(Error::failed(format!("cannot ask systemd: {other}"))),
//!     }
//! }
//! ```

use crate::Error;
use crate::bindings::medic::remediation::exec as wit;

/// What a program printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit status, or `None` when the program was killed by a signal or the timeout.
    pub status: Option<i32>,
    /// Captured standard output, up to the host's cap.
    pub stdout: Vec<u8>,
    /// Captured standard error, up to the host's cap.
    pub stderr: Vec<u8>,
    /// Standard output was longer than the cap and was cut.
    pub stdout_truncated: bool,
    /// Standard error was longer than the cap and was cut.
    pub stderr_truncated: bool,
}

impl Output {
    /// True when the program exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// Standard output as text, invalid UTF-8 replaced.
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text, invalid UTF-8 replaced.
    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Run `program` with `args` and wait for it.
///
/// In a native build (`cargo test`) there is no host: this returns
/// [`Error::NotInSandbox`] and runs nothing.
pub fn run(program: &str, args: &[&str]) -> Result<Output, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("exec::run"));
    }
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let output = wit::run(program, &args)?;
    Ok(Output {
        status: output.status,
        stdout: output.stdout,
        stderr: output.stderr,
        stdout_truncated: output.stdout_truncated,
        stderr_truncated: output.stderr_truncated,
    })
}
