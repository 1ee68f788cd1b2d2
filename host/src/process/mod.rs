//! The only place medic starts a process: the exec gate's programs, the context probes'
//! status commands and the operator's own wrapped command (`medic heal -- CMD`,
//! `wrapped.rs`, which runs with the operator's environment and is not sandboxed), and the
//! author's build tools for `medic build` (`tool.rs`).
//!
//! Every sandboxed program and probe runs directly (never through a shell) with a cleared
//! environment holding only what the caller passes plus [`FIXED_ENV`], working directory [`WORKDIR`], stdin
//! from `/dev/null`, stdout and stderr captured up to a cap each (the rest drained and
//! dropped, truncation flagged), in its own process group and, where medic may create one,
//! its own cgroup (`contain.rs`). When the call ends (the program exits, times out, or a
//! [`StopSignal`] is raised) everything it started is killed, detached or not. A checked
//! program (`program.rs`) runs from the descriptor opened when it was checked. The
//! wrapped command and the build tools are the operator's and the author's own: they keep
//! their caller's environment and working directory.

mod contain;
mod elf;
pub mod launchers;
pub mod program;
pub mod tool;
pub mod wrapped;

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

pub use contain::{sweep_orphaned_cgroups, uses_cgroups};
pub use program::{CheckedProgram, ProgramError, ProgramKind, check_program};

use crate::nofollow::Identity;
use crate::stop::StopSignal;

/// The working directory of every program medic runs.
pub const WORKDIR: &str = "/";
/// Set for every program: pagers off, so a tool never waits on a terminal.
pub const FIXED_ENV: &[(&str, &str)] = &[
    ("PAGER", "cat"),
    ("SYSTEMD_PAGER", ""),
    ("GIT_PAGER", "cat"),
    ("LC_ALL", "C"),
];

/// Which file to run.
#[derive(Debug, Clone, Copy)]
pub enum Program<'a> {
    /// An absolute path the operator configured (a context probe's command).
    Path(&'a Path),
    /// A program checked at load; its open descriptor is what runs.
    Checked(&'a CheckedProgram),
}

impl Program<'_> {
    fn shown(&self) -> String {
        match self {
            Program::Path(path) => path.display().to_string(),
            Program::Checked(checked) => checked.declared.display().to_string(),
        }
    }
}

/// One program run.
#[derive(Debug, Clone, Copy)]
pub struct Spawn<'a> {
    /// What to run.
    pub program: Program<'a>,
    /// Its arguments.
    pub args: &'a [String],
    /// Its whole environment, besides [`FIXED_ENV`].
    pub env: &'a [(String, String)],
    /// Killed after this long.
    pub timeout: Duration,
    /// Bytes kept of stdout, and of stderr.
    pub output_cap: usize,
    /// Killed when this is raised.
    pub stop: Option<&'a StopSignal>,
}

/// What a finished program left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit status, `None` when a signal killed it.
    pub status: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// Captured stdout (at most the cap).
    pub stdout: Vec<u8>,
    /// Captured stderr (at most the cap).
    pub stderr: Vec<u8>,
    /// More stdout came than was kept.
    pub stdout_truncated: bool,
    /// More stderr came than was kept.
    pub stderr_truncated: bool,
}

/// Why a program did not run to completion.
#[derive(Debug, Error)]
pub enum ProcessError {
    /// It could not be started.
    #[error("cannot start `{program}`: {source}")]
    Start {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file at the program's path is no longer the one checked at load.
    #[error("`{program}` was replaced after medic checked it; not running it")]
    Replaced {
        /// The program.
        program: String,
    },
    /// Waiting for it failed.
    #[error("waiting for `{program}`: {source}")]
    Wait {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// It ran past its time and was killed.
    #[error("`{program}` timed out after {} and was killed", humantime::format_duration(*after))]
    TimedOut {
        /// The program.
        program: String,
        /// The timeout.
        after: Duration,
    },
    /// medic was asked to stop, and killed it.
    #[error("`{program}` was killed: medic was asked to stop (signal {signal})")]
    Stopped {
        /// The program.
        program: String,
        /// The signal medic received.
        signal: i32,
    },
}

/// Run a program to completion (or its timeout, or a stop), capturing its output.
pub async fn run(spawn: Spawn<'_>) -> Result<Output, ProcessError> {
    let shown = spawn.program.shown();
    let mut containment = contain::Containment::new();
    let mut command = command_for(&spawn, &containment)?;
    command
        .args(spawn.args)
        .env_clear()
        .envs(FIXED_ENV.iter().copied())
        .envs(
            spawn
                .env
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
        .current_dir(WORKDIR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(source) => {
            containment.end().await;
            return Err(ProcessError::Start {
                program: shown,
                source,
            });
        }
    };
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        containment.started(pid);
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let cap = spawn.output_cap;
    let finished = async {
        tokio::join!(
            read_capped(stdout, cap),
            read_capped(stderr, cap),
            child.wait()
        )
    };
    let stopped = async {
        match spawn.stop {
            Some(stop) => {
                stop.wait().await;
                stop.raised().unwrap_or(0)
            }
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        (stdout, stderr, status) = finished => {
            status
                .map_err(|source| ProcessError::Wait { program: shown.clone(), source })
                .map(|status| {
                    use std::os::unix::process::ExitStatusExt;
                    let ((stdout, stdout_truncated), (stderr, stderr_truncated)) = (stdout, stderr);
                    Output {
                        status: status.code(),
                        signal: status.signal(),
                        stdout,
                        stderr,
                        stdout_truncated,
                        stderr_truncated,
                    }
                })
        }
        () = tokio::time::sleep(spawn.timeout) => Err(ProcessError::TimedOut {
            program: shown.clone(),
            after: spawn.timeout,
        }),
        signal = stopped => Err(ProcessError::Stopped { program: shown.clone(), signal }),
    };
    containment.end().await;
    outcome
}

/// The `Command` for `spawn`'s program, set up to join its cgroup and to die with medic.
/// A checked binary runs from its descriptor (`/proc/self/fd/N`); a checked script runs as
/// its interpreter's descriptor with the script's descriptor as its first argument (kept
/// open across `exec` for the interpreter to read), so the kernel resolves no path of
/// either again.
fn command_for(
    spawn: &Spawn<'_>,
    containment: &contain::Containment,
) -> Result<Command, ProcessError> {
    let by_fd = |file: &std::fs::File| PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let (path, arg0, prefix, keep_fd): (PathBuf, Option<PathBuf>, Vec<String>, Option<i32>) =
        match spawn.program {
            Program::Path(path) => (path.to_path_buf(), None, Vec::new(), None),
            Program::Checked(checked) if !Path::new("/proc/self/fd").is_dir() => {
                // No /proc: run the path, after checking it is still the file checked.
                let now = std::fs::metadata(&checked.canonical).map(|metadata| Identity {
                    dev: metadata.dev(),
                    ino: metadata.ino(),
                });
                if now.ok() != Some(checked.identity) || checked.is_interpreted() {
                    return Err(ProcessError::Replaced {
                        program: checked.declared.display().to_string(),
                    });
                }
                (checked.canonical.clone(), None, Vec::new(), None)
            }
            Program::Checked(checked) => match &checked.kind {
                ProgramKind::Binary => (
                    by_fd(checked.file()),
                    Some(checked.canonical.clone()),
                    Vec::new(),
                    None,
                ),
                ProgramKind::Script {
                    interpreter,
                    argument,
                } => {
                    let script = by_fd(checked.file()).display().to_string();
                    let prefix = argument.iter().cloned().chain([script]).collect();
                    (
                        by_fd(interpreter.file()),
                        Some(interpreter.canonical.clone()),
                        prefix,
                        Some(checked.file().as_raw_fd()),
                    )
                }
            },
        };
    #[expect(
        clippy::disallowed_methods,
        reason = "process/ is the one place medic starts processes"
    )]
    let mut command = Command::new(&path);
    if let Some(arg0) = arg0 {
        command.arg0(arg0);
    }
    command.args(prefix);
    let join_fd = containment.join_fd();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it makes raw system calls only (`prctl` so the
    // child dies with medic, `write` on a descriptor opened before the fork to join the
    // call's cgroup, `fcntl` to keep the script's descriptor open across exec) and touches
    // no memory but its captured integers. It cannot be avoided: a process can be placed
    // in a cgroup, and tied to its parent's life, before it runs its program only by doing
    // it itself, and std offers no safe hook for that.
    #[expect(unsafe_code, reason = "setting up the child before exec; see SAFETY")]
    unsafe {
        command.pre_exec(move || {
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(fd) = join_fd {
                let written = nix::libc::write(fd, b"0".as_ptr().cast(), 1);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(fd) = keep_fd
                && nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) == -1
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(command)
}

/// Read all of `reader`, keeping the first `cap` bytes; the flag says whether more came.
async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
                truncated |= read > room;
            }
        }
    }
    (kept, truncated)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn spawn<'a>(program: Program<'a>, args: &'a [String]) -> Spawn<'a> {
        Spawn {
            program,
            args,
            env: &[],
            timeout: Duration::from_secs(10),
            output_cap: 1024,
            stop: None,
        }
    }

    #[tokio::test]
    async fn a_checked_program_runs_from_its_descriptor_even_after_a_swap() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hello");
        std::fs::write(&path, "#!/bin/sh\necho checked \"$@\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let checked = check_program(&path, &[]).unwrap().unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "#!/bin/sh\necho swapped\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let args = vec!["there".to_string()];
        let output = run(spawn(Program::Checked(&checked), &args)).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "checked there\n");
        assert_eq!(output.status, Some(0));
    }

    #[tokio::test]
    async fn detached_descendants_do_not_outlive_the_call() {
        let tmp = tempfile::tempdir().unwrap();
        let pid_file = tmp.path().join("pid");
        let script = tmp.path().join("detach");
        std::fs::write(
            &script,
            "#!/bin/sh\nsetsid sleep 60 </dev/null >/dev/null 2>&1 &\necho $! > \"$1\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let checked = check_program(&script, &[]).unwrap().unwrap();
        let args = vec![pid_file.display().to_string()];
        let output = run(spawn(Program::Checked(&checked), &args)).await.unwrap();
        assert_eq!(output.status, Some(0), "{output:?}");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let after = stat[stat.rfind(')').unwrap() + 1..].to_string();
                after.split_whitespace().next().map(str::to_string)
            });
        assert!(
            state.is_none() || state.as_deref() == Some("Z"),
            "the detached sleep {pid} still runs: {state:?}"
        );
    }

    #[tokio::test]
    async fn a_timeout_and_a_stop_kill_the_program() {
        let sleep = Path::new("/bin/sleep");
        let args = vec!["30".to_string()];
        let mut timed = spawn(Program::Path(sleep), &args);
        timed.timeout = Duration::from_millis(50);
        assert!(matches!(
            run(timed).await,
            Err(ProcessError::TimedOut { .. })
        ));
        let stop = StopSignal::new();
        stop.raise(15);
        let mut stoppable = spawn(Program::Path(sleep), &args);
        stoppable.stop = Some(&stop);
        assert!(matches!(
            run(stoppable).await,
            Err(ProcessError::Stopped { signal: 15, .. })
        ));
    }
}
