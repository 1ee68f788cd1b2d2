//! The author's build tools, for `medic build`: cargo, rustup and componentize-py, run
//! with the author's own environment and rights in the remediation's folder, as the
//! author would run them by hand. Not sandboxed, and never used by a command that runs a
//! remediation: they build the author's code on the author's machine. Their standard
//! output goes to medic's standard error, which is where progress belongs.

use std::path::Path;
use std::process::{Command, Stdio};

use thiserror::Error;

/// Why a build tool did not succeed.
#[derive(Debug, Error)]
pub enum ToolError {
    /// It could not be started (not installed, not on `PATH`).
    #[error("cannot run `{program}`: {source}")]
    Start {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// It ran and failed.
    #[error("`{command}` failed ({status})")]
    Failed {
        /// The command line, for the message.
        command: String,
        /// How it ended.
        status: std::process::ExitStatus,
    },
}

/// A command for the build tool `program` (a name looked up on `PATH`, or a path).
pub fn tool_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    #[expect(
        clippy::disallowed_methods,
        reason = "process/ is the only spawner; this is the author's own build tool"
    )]
    Command::new(program)
}

/// Run `command` to completion, its output on medic's standard error.
pub fn run_tool(mut command: Command) -> Result<(), ToolError> {
    let shown = show(&command);
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|source| ToolError::Start {
            program: command.get_program().to_string_lossy().into_owned(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(ToolError::Failed {
            command: shown,
            status,
        })
    }
}

/// Run `program args...` in `dir` and return its standard output, or `None` when it
/// cannot be run or fails (for probing what is installed).
pub fn tool_output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let output = tool_command(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn show(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
